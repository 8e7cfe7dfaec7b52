{#-
    Classifies every raw order row (see the staging rules in docs/data-contract.md) and converts
    amounts to the reporting currency. The currency seed is the one lookup staging joins: it decides
    both validity (`unknown_currency`) and conversion.
-#}
with

orders as (

    select * from {{ source('shop', 'orders') }}

),

rates as (

    select
        currency,
        valid_from,
        units_per_eur,
        lead(valid_from) over (partition by currency order by valid_from) as valid_until,
        row_number() over (partition by currency order by valid_from) = 1 as is_first_rate
    from {{ ref('currency_rates') }}

),

typed as (

    select
        {{ segmentation.normalise_id('order_id') }} as order_id,
        {{ segmentation.normalise_id('customer_id') }} as customer_id,
        {{ segmentation.clean_email('email') }} as email,
        {{ segmentation.is_invalid_email('email') }} as is_email_invalid,
        {{ segmentation.normalise_phone('phone') }} as phone,
        {{ segmentation.is_invalid_phone('phone') }} as is_phone_invalid,
        {{ segmentation.normalise_id('anonymous_id') }} as anonymous_id,
        upper({{ segmentation.normalise_id('currency') }}) as currency,
        subtotal_amount,
        total_amount,
        coalesce(refunded_amount, 0) as refunded_amount,
        lower({{ segmentation.normalise_id('status') }}) as order_status,
        upper({{ segmentation.normalise_id('billing_country') }}) as billing_country_code,
        created_at,
        updated_at,
        refunded_at,
        _load_id,
        _file_name,
        _file_row_number,
        _loaded_at
    from orders

),

converted as (

    select
        typed.*,
        order_rate.units_per_eur as order_units_per_eur,
        reporting_rate.units_per_eur as reporting_units_per_eur
    from typed
    left join rates as order_rate
        on
            typed.currency = order_rate.currency
            and (cast(typed.created_at as date) >= order_rate.valid_from or order_rate.is_first_rate)
            and (cast(typed.created_at as date) < order_rate.valid_until or order_rate.valid_until is null)
    left join rates as reporting_rate
        on
            reporting_rate.currency = '{{ var("reporting_currency") }}'
            and (cast(typed.created_at as date) >= reporting_rate.valid_from or reporting_rate.is_first_rate)
            and (cast(typed.created_at as date) < reporting_rate.valid_until or reporting_rate.valid_until is null)

),

checked as (

    select
        *,
        case
            when order_id is null then 'missing_order_id'
            when created_at is null or updated_at is null then 'missing_timestamp'
            when customer_id is null and email is null then 'missing_customer'
            when order_units_per_eur is null then 'unknown_currency'
            when total_amount is null or total_amount < 0 then 'invalid_amount'
        end as quarantine_reason
    from converted

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_id, case when quarantine_reason is null then 1 else 0 end
            order by updated_at desc, _loaded_at desc, _file_name desc, _file_row_number desc
        ) as version_rank
    from checked

),

classified as (

    select
        *,
        coalesce(
            quarantine_reason,
            case when version_rank > 1 then 'duplicate_order_id' end
        ) as rejection_reason
    from ranked

)

select * from classified
