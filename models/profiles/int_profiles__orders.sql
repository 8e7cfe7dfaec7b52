{#-
    One row per staged order attributed to a profile through its most specific identifier:
    customer_id, else email, else phone, else anonymous_id. Orders whose identifiers are all
    blocklisted have no profile and are left out. Incremental by profile: the orders of the profiles
    int_profiles__mart_changes logged since are attributed again (macros/profiles/incremental_marts.sql).
-#}
/* depends_on: {{ ref('privacy_suppressions') }} {{ ref('int_profiles__mart_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_mart_prepare() }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
with

orders as (

    select * from {{ ref('stg_shop__orders') }}
    {%- if is_incremental() %}
    where
        customer_id in ({{ segmentation.changed_identifiers_sql('customer_id') }})
        or email in ({{ segmentation.changed_identifiers_sql('email') }})
        or phone in ({{ segmentation.changed_identifiers_sql('phone') }})
        or anonymous_id in ({{ segmentation.changed_identifiers_sql('anonymous_id') }})
    {%- endif %}

),

identity_map as (

    select * from {{ ref('identity_map') }}

),

attributed as (

    select
        orders.order_id,
        coalesce(
            customer_map.profile_id, email_map.profile_id, phone_map.profile_id, anonymous_map.profile_id
        ) as profile_id,
        orders.order_status,
        orders.order_status in ('placed', 'fulfilled', 'refunded', 'partially_refunded') as is_counted,
        orders.billing_country_code,
        orders.currency,
        orders.total_amount_reporting,
        orders.refunded_amount_reporting,
        orders.net_amount_reporting,
        orders.created_at,
        orders.refunded_at,
        orders._loaded_at,
        {{ segmentation.run_timestamp() }} as _processed_at
    from orders
    left join identity_map as customer_map
        on customer_map.identifier_type = 'customer_id' and orders.customer_id = customer_map.identifier_value
    left join identity_map as email_map
        on email_map.identifier_type = 'email' and orders.email = email_map.identifier_value
    left join identity_map as phone_map
        on phone_map.identifier_type = 'phone' and orders.phone = phone_map.identifier_value
    left join identity_map as anonymous_map
        on anonymous_map.identifier_type = 'anonymous_id' and orders.anonymous_id = anonymous_map.identifier_value

)

select * from attributed
where profile_id is not null and {{ segmentation.is_changed_profile('profile_id') }}
