{{ segmentation.quarantined_rows(
    ref('base_privacy__deletion_requests'),
    ['request_id', 'identifier_type', 'requested_at']
) }}
