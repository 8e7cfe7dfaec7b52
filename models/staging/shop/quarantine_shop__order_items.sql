{{ segmentation.quarantined_rows(
    ref('base_shop__order_items'),
    ['order_item_id', 'order_id', 'product_id', 'quantity', 'unit_price']
) }}
