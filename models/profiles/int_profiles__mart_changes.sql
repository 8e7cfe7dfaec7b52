{#-
    The log the per-profile marts read to find the profiles whose inputs changed: one row per profile
    id with changed_at, the start of the run that last saw an input of the profile change (identity_map
    rows, orders, consent decisions, identifies, CRM contacts; macros/profiles/incremental_marts.sql).
    A full build logs every profile, so every mart built on it recomputes everything. The run stamp
    (macros/run_stamps.sql) tells the scoped data tests whether a run logged anything.
-#}
/* depends_on: {{ ref('privacy_suppressions') }} {{ ref('stg_segment__consent_preferences') }}
   {{ ref('stg_segment__identifies') }} {{ ref('stg_crm__contacts') }} {{ ref('stg_shop__orders') }} */
{{ config(
    pre_hook="{{ segmentation.mart_changes_prepare() }}",
    post_hook=["{{ segmentation.mart_changes_finish() }}", "{{ segmentation.run_stamp_save() }}"],
) }}
with

identity_map as (

    select
        identifier_type,
        identifier_value,
        profile_id,
        first_seen_at,
        last_seen_at
    from {{ ref('identity_map') }}

),

{%- if is_incremental() %}
{%- set since = segmentation.mart_change_sources_since() %}
{%- set previous_orders = segmentation.graph_relation_if_built('int_profiles__orders') %}
{%- set previous_consent = segmentation.graph_relation_if_built('profile_consent_history') %}

identity_changes as (

    {#- identity_map rows added or removed since the previous run (mart_changes_prepare). #}
    select profile_id from {{ segmentation.profile_work_relation('identity_map__diff') }}

),

staged_orders as (

    select
        order_id,
        customer_id,
        email,
        phone,
        anonymous_id,
        _loaded_at
    from {{ ref('stg_shop__orders') }}

),

previous_orders as (

    {%- if previous_orders is not none %}
    select
        order_id,
        profile_id,
        _loaded_at
    from {{ previous_orders }}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as order_id,
        cast(null as {{ dbt.type_string() }}) as profile_id,
        cast(null as {{ dbt.type_timestamp() }}) as _loaded_at
    where 1 = 0
    {%- endif %}

),

changed_orders as (

    select staged_orders.*
    from staged_orders
    left join previous_orders
        on
            staged_orders.order_id = previous_orders.order_id
            and staged_orders._loaded_at = previous_orders._loaded_at
    where previous_orders.order_id is null

),

order_identifiers as (

    select
        'customer_id' as identifier_type,
        customer_id as identifier_value
    from changed_orders
    union all
    select
        'email' as identifier_type,
        email as identifier_value
    from changed_orders
    union all
    select
        'phone' as identifier_type,
        phone as identifier_value
    from changed_orders
    union all
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value
    from changed_orders

),

order_changes as (

    select previous_orders.profile_id
    from previous_orders
    left join staged_orders
        on
            previous_orders.order_id = staged_orders.order_id
            and previous_orders._loaded_at = staged_orders._loaded_at
    where staged_orders.order_id is null

),

consent_decisions as (

    select
        message_id,
        user_id,
        anonymous_id
    from {{ ref('stg_segment__consent_preferences') }}
    where _processed_at > {{ since.consent }}

),

identifies as (

    select
        user_id,
        anonymous_id
    from {{ ref('stg_segment__identifies') }}
    where _loaded_at > {{ since.identifies }}

),

source_identifiers as (

    select * from order_identifiers
    union all
    select
        'user_id' as identifier_type,
        user_id as identifier_value
    from consent_decisions
    union all
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value
    from consent_decisions
    union all
    select
        'user_id' as identifier_type,
        user_id as identifier_value
    from identifies
    union all
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value
    from identifies
    union all
    select
        'crm_id' as identifier_type,
        crm_id as identifier_value
    from {{ ref('stg_crm__contacts') }}
    where _loaded_at > {{ since.contacts }}

),

touched_identifiers as (

    select distinct
        identifier_type,
        identifier_value
    from source_identifiers
    where identifier_value is not null

),

source_changes as (

    select identity_map.profile_id
    from touched_identifiers as touched
    inner join identity_map
        on
            touched.identifier_type = identity_map.identifier_type
            and touched.identifier_value = identity_map.identifier_value

),

consent_changes as (

    {%- if previous_consent is not none %}
    select previous_consent.profile_id
    from {{ previous_consent }} as previous_consent
    where previous_consent.message_id in (select consent_decisions.message_id from consent_decisions)
    {%- else %}
    select cast(null as {{ dbt.type_string() }}) as profile_id
    where 1 = 0
    {%- endif %}

),

changed as (

    select profile_id from identity_changes
    union
    select profile_id from order_changes
    union
    select profile_id from source_changes
    union
    select profile_id from consent_changes

)

{%- else %}

changed as (

    select distinct profile_id from identity_map

)

{%- endif %}

select
    profile_id,
    {{ segmentation.run_timestamp() }} as changed_at
from changed
where profile_id is not null
