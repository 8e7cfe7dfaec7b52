{{ segmentation.quarantined_rows(
    ref('base_shop__orders'),
    ['order_id', 'customer_id', 'currency', 'total_amount', 'created_at', 'updated_at']
) }}
