with

order_items as (

    select * from {{ ref('base_shop__order_items') }}
    where rejection_reason is null

),

final as (

    select
        order_item_id,
        order_id,
        product_id,
        product_name,
        product_category,
        quantity,
        unit_price,
        quantity * unit_price as line_amount,
        _load_id,
        _loaded_at
    from order_items

)

select * from final
