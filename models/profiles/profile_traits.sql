{#-
    One row per profile: computed traits evaluated as of the run (var as_of, default the run start),
    so every window decays: a profile that goes quiet drops out of "last 7 days" counts without new
    data. Behaviour comes from profile_event_daily (day granularity: "last N days" is the N calendar
    days ending on the as-of date), orders from int_profiles__orders, cart abandonment from the
    attributed events (int_profiles__events).

    Incremental by profile (macros/profiles/incremental_marts.sql) while the as-of stays the same: the
    profiles int_profiles__mart_changes logged since, those with events written or removed since, and
    the buyers whose RFM scores moved (they rank among all buyers, so one buyer's new order can move
    another's score: the scores of all buyers are computed and compared with the stored ones; dbt's
    delete+insert replaces those rows). With another as-of every profile is evaluated again (windows,
    expiry of carts and traits_as_of move on every row).
-#}
/* depends_on: {{ ref('int_profiles__mart_changes') }} {{ ref('int_profiles__identity_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_mart_prepare(as_of_column='traits_as_of', with_event_changes=true) }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
{%- set windows = var('trait_windows_days') %}
{%- set trait_events = var('trait_events') %}
{%- set weights = var('engagement_weights') %}
{%- set as_of = segmentation.as_of_timestamp() %}
{%- set as_of_day = segmentation.as_of_date() %}
{%- set abandonment_hours = var('cart_abandonment_hours') %}
{%- set abandonment_lookback = var('cart_abandonment_lookback_days') %}
{%- set is_evaluated = 'profile_id in (select evaluated.profile_id from evaluated)' if is_incremental() else 'true' %}
with

profile_identity as (

    select profile_id from {{ ref('int_profiles__identity') }}

),

orders as (

    select * from {{ ref('int_profiles__orders') }}
    where is_counted and created_at <= {{ as_of }}

),

order_traits as (

    select
        profile_id,
        count(*) as order_count,
        sum(net_amount_reporting) as revenue,
        sum(refunded_amount_reporting) as refunded_revenue,
        min(created_at) as first_order_at,
        max(created_at) as last_order_at
    from orders
    group by profile_id

),

rfm as (

    select
        profile_id,
        {{ dbt.datediff('last_order_at', as_of, 'day') }}
            as days_since_last_order,
        least(5, 1 + floor(5 * percent_rank() over (order by last_order_at))) as recency_score,
        least(5, 1 + floor(5 * percent_rank() over (order by order_count))) as frequency_score,
        least(5, 1 + floor(5 * percent_rank() over (order by revenue))) as monetary_score
    from order_traits

),

{%- if is_incremental() %}

rescored as (

    select rfm.profile_id
    from rfm
    inner join {{ this }} as stored_traits on rfm.profile_id = stored_traits.profile_id
    where
        cast(rfm.recency_score as integer) != stored_traits.recency_score
        or cast(rfm.frequency_score as integer) != stored_traits.frequency_score
        or cast(rfm.monetary_score as integer) != stored_traits.monetary_score
        or stored_traits.recency_score is null

),

evaluated as (

    select profile_id from profile_identity
    where profile_id in ({{ segmentation.changed_profiles_sql() }})
    union
    select profile_id from rescored

),

{%- else %}

evaluated as (

    select profile_id from profile_identity

),

{%- endif %}

daily as (

    select
        *,
        {{ dbt.datediff('event_date', as_of_day, 'day') }} as days_ago
    from {{ ref('profile_event_daily') }}
    where
        event_date <= {{ as_of_day }}
        and {{ is_evaluated }}

),

event_traits as (

    select
        profile_id,
        {%- for trait, event_name in trait_events.items() %}
        {%- for days in windows %}
        sum(case when event_name = '{{ event_name }}' and days_ago < {{ days }} then event_count else 0 end)
            as {{ trait }}_{{ days }}d,
        {%- endfor %}
        max(case when event_name = '{{ event_name }}' then last_event_at end) as last_{{ trait }}_at,
        {%- endfor %}
        max(last_event_at) as last_event_at,
        round(cast(sum(
            case
                {%- for event_name, weight in weights.items() %}
                when event_name = '{{ event_name }}' then {{ weight }}
                {%- endfor %}
                else 0
            end
            * event_count
            * power(0.5, days_ago / {{ var('engagement_half_life_days') }}.0)
        ) as {{ dbt.type_numeric() }}), 2) as engagement_score
    from daily
    group by profile_id

),

category_counts as (

    select
        profile_id,
        product_category,
        sum(event_count) as category_events,
        max(last_event_at) as last_category_event_at
    from daily
    where product_category is not null and days_ago < 90
    group by profile_id, product_category

),

top_categories as (

    select
        profile_id,
        product_category as top_category_90d
    from (
        select
            *,
            row_number() over (
                partition by profile_id
                order by category_events desc, last_category_event_at desc, product_category asc
            ) as category_rank
        from category_counts
    ) as ranked
    where category_rank = 1

),

cart_events as (

    select
        profile_id,
        event_name,
        event_at
    from {{ ref('int_profiles__events') }}
    where
        event_name in ('Product Added', 'Order Completed')
        and event_at <= {{ as_of }}
        and event_at > {{ dbt.dateadd('day', -abandonment_lookback, as_of) }}
        and {{ is_evaluated }}

),

purchases as (

    select
        profile_id,
        event_at as purchased_at
    from cart_events
    where event_name = 'Order Completed'
    union all
    select
        profile_id,
        created_at as purchased_at
    from orders

),

cart_adds as (

    select
        cart_events.profile_id,
        cart_events.event_at as added_at,
        max(case
            when
                purchases.purchased_at >= cart_events.event_at
                and purchases.purchased_at <= {{ dbt.dateadd('hour', abandonment_hours, 'cart_events.event_at') }}
                then 1
            else 0
        end) as is_converted,
        max(case when purchases.purchased_at >= cart_events.event_at then 1 else 0 end) as has_later_purchase
    from cart_events
    left join purchases on cart_events.profile_id = purchases.profile_id
    where
        cart_events.event_name = 'Product Added'
        and {{ dbt.dateadd('hour', abandonment_hours, 'cart_events.event_at') }} <= {{ as_of }}
    group by cart_events.profile_id, cart_events.event_at

),

cart_traits as (

    select
        profile_id,
        max(added_at) as last_cart_add_at,
        max(case when is_converted = 0 then added_at end) as cart_abandoned_at,
        max(case when is_converted = 0 and has_later_purchase = 0 then 1 else 0 end) = 1 as has_open_abandoned_cart
    from cart_adds
    group by profile_id

),

traits as (

    select
        profile_identity.profile_id,
        {%- for trait in trait_events %}
        {%- for days in windows %}
        coalesce(event_traits.{{ trait }}_{{ days }}d, 0) as {{ trait }}_{{ days }}d,
        {%- endfor %}
        event_traits.last_{{ trait }}_at,
        {%- endfor %}
        event_traits.last_event_at,
        coalesce(event_traits.engagement_score, 0) as engagement_score,
        top_categories.top_category_90d,
        coalesce(order_traits.order_count, 0) as order_count,
        coalesce(order_traits.revenue, 0) as revenue,
        coalesce(order_traits.refunded_revenue, 0) as refunded_revenue,
        case
            when order_traits.order_count > 0
                then cast(order_traits.revenue / order_traits.order_count as {{ dbt.type_numeric() }})
        end as average_order_value,
        order_traits.first_order_at,
        order_traits.last_order_at,
        rfm.days_since_last_order,
        cast(rfm.recency_score as integer) as recency_score,
        cast(rfm.frequency_score as integer) as frequency_score,
        cast(rfm.monetary_score as integer) as monetary_score,
        {{ dbt.concat([dbt.cast('cast(rfm.recency_score as integer)', dbt.type_string()),
            dbt.cast('cast(rfm.frequency_score as integer)', dbt.type_string()),
            dbt.cast('cast(rfm.monetary_score as integer)', dbt.type_string())]) }} as rfm_segment,
        cart_traits.last_cart_add_at,
        cart_traits.cart_abandoned_at,
        coalesce(cart_traits.has_open_abandoned_cart, false) as has_open_abandoned_cart,
        {{ as_of }} as traits_as_of,
        {{ segmentation.run_timestamp() }} as _processed_at
    from evaluated as profile_identity
    left join event_traits on profile_identity.profile_id = event_traits.profile_id
    left join top_categories on profile_identity.profile_id = top_categories.profile_id
    left join order_traits on profile_identity.profile_id = order_traits.profile_id
    left join rfm on profile_identity.profile_id = rfm.profile_id
    left join cart_traits on profile_identity.profile_id = cart_traits.profile_id

)

select * from traits
