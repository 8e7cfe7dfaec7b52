{{ segmentation.quarantined_rows(
    ref('base_crm__contacts'),
    ['crm_id', 'created_at', 'updated_at']
) }}
