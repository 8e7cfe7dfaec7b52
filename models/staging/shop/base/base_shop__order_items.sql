with

order_items as (

    select * from {{ source('shop', 'order_items') }}

),

typed as (

    select
        {{ segmentation.normalise_id('order_item_id') }} as order_item_id,
        {{ segmentation.normalise_id('order_id') }} as order_id,
        {{ segmentation.normalise_id('product_id') }} as product_id,
        nullif(trim(product_name), '') as product_name,
        lower({{ segmentation.normalise_id('category') }}) as product_category,
        quantity,
        unit_price,
        _load_id,
        _file_name,
        _file_row_number,
        _loaded_at
    from order_items

),

checked as (

    select
        *,
        case
            when order_item_id is null or order_id is null or product_id is null then 'missing_id'
            when quantity is null or quantity <= 0 then 'invalid_quantity'
            when unit_price is null or unit_price < 0 then 'invalid_amount'
        end as quarantine_reason
    from typed

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_item_id, case when quarantine_reason is null then 1 else 0 end
            order by _loaded_at, _file_name, _file_row_number
        ) as delivery_rank
    from checked

),

classified as (

    select
        *,
        coalesce(
            quarantine_reason,
            case when delivery_rank > 1 then 'duplicate_order_item_id' end
        ) as rejection_reason
    from ranked

)

select * from classified
