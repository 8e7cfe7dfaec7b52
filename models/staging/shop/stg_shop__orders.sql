with

orders as (

    select * from {{ ref('base_shop__orders') }}
    where rejection_reason is null

),

final as (

    select
        order_id,
        customer_id,
        email,
        is_email_invalid,
        phone,
        is_phone_invalid,
        anonymous_id,
        customer_id is null as is_guest_checkout,
        order_status,
        billing_country_code,
        currency,
        subtotal_amount,
        total_amount,
        refunded_amount,
        total_amount - refunded_amount as net_amount,
        '{{ var("reporting_currency") }}' as reporting_currency,
        cast(total_amount / order_units_per_eur * reporting_units_per_eur as decimal(18, 4))
            as total_amount_reporting,
        cast(refunded_amount / order_units_per_eur * reporting_units_per_eur as decimal(18, 4))
            as refunded_amount_reporting,
        cast((total_amount - refunded_amount) / order_units_per_eur * reporting_units_per_eur as decimal(18, 4))
            as net_amount_reporting,
        created_at,
        updated_at,
        refunded_at,
        _load_id,
        _loaded_at
    from orders

)

select * from final
