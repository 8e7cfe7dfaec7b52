{#-
    One row per candidate value of a golden-record attribute: every value a source offers for a
    profile, with the source, its survivorship priority (1 wins) and when it was observed. The profile
    keeps, per attribute, the candidate with the best priority, then the most recent observation.

      attribute        priority 1                  priority 2                 priority 3
      first/last_name  CRM contact (current)       identify traits
      country_code     CRM contact (current)       identify traits            order billing country
      email, phone,    identity graph: the most recently seen identifier of the type
      user_id, crm_id,
      customer_id
      lifecycle_stage  CRM contact (current)       derived: customer (has an order), lead (known), visitor

    Incremental by profile: the candidates of the profiles int_profiles__mart_changes logged since are
    gathered again (macros/profiles/incremental_marts.sql); their identifies are the staged view's SQL
    with the changed identifiers as a filter before the traits JSON is read (macros/staging/identifies.sql).
-#}
/* depends_on: {{ ref('privacy_suppressions') }} {{ ref('int_profiles__mart_changes') }} */
/* depends_on: {{ ref('base_segment__identifies') }} */
{{ config(
    pre_hook="{{ segmentation.profile_mart_prepare() }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
{%- if segmentation.profile_mart_unchanged() %}
{#- Nothing changed since the model last processed: no row to write, no input read. #}

select * from {{ this }}
where 1 = 0

{%- else %}
with

identity_map as (

    select * from {{ ref('identity_map') }}

),

crm_contacts as (

    select
        contacts.*,
        crm_map.profile_id
    from {{ ref('stg_crm__contacts') }} as contacts
    inner join identity_map as crm_map
        on crm_map.identifier_type = 'crm_id' and contacts.crm_id = crm_map.identifier_value
    where contacts.is_current_version and {{ segmentation.is_changed_profile('crm_map.profile_id') }}

),

staged_identifies as (

    {#- Incremental: the identifies of the changed profiles' identifiers, filtered before their traits
        JSON is read (macros/staging/identifies.sql). #}
    {%- if is_incremental() %}
    {{ segmentation.identifies_sql(
        "user_id in (" ~ segmentation.changed_identifiers_sql('user_id') ~ ")"
        ~ " or anonymous_id in (" ~ segmentation.changed_identifiers_sql('anonymous_id') ~ ")"
    ) | indent(4) }}
    {%- else %}
    select * from {{ ref('stg_segment__identifies') }}
    {%- endif %}

),

identifies as (

    select
        identifies.*,
        coalesce(user_map.profile_id, anonymous_map.profile_id) as profile_id
    from staged_identifies as identifies
    left join identity_map as user_map
        on user_map.identifier_type = 'user_id' and identifies.user_id = user_map.identifier_value
    left join identity_map as anonymous_map
        on anonymous_map.identifier_type = 'anonymous_id' and identifies.anonymous_id = anonymous_map.identifier_value

),

orders as (

    select * from {{ ref('int_profiles__orders') }}
    {%- if is_incremental() %}
    where profile_id in ({{ segmentation.changed_profiles_sql() }})
    {%- endif %}

),

identifier_candidates as (

    select
        profile_id,
        identifier_type as attribute_name,
        identifier_value as attribute_value,
        'identity_graph' as value_source,
        1 as source_priority,
        last_seen_at as observed_at
    from identity_map
    where identifier_type in ('email', 'phone', 'user_id', 'crm_id', 'customer_id')

),

crm_candidates as (

    select
        profile_id,
        'first_name' as attribute_name,
        first_name as attribute_value,
        'crm' as value_source,
        1 as source_priority,
        updated_at as observed_at
    from crm_contacts
    union all
    select
        profile_id,
        'last_name' as attribute_name,
        last_name as attribute_value,
        'crm' as value_source,
        1 as source_priority,
        updated_at as observed_at
    from crm_contacts
    union all
    select
        profile_id,
        'country_code' as attribute_name,
        country_code as attribute_value,
        'crm' as value_source,
        1 as source_priority,
        updated_at as observed_at
    from crm_contacts
    union all
    select
        profile_id,
        'lifecycle_stage' as attribute_name,
        lower(lifecycle_stage) as attribute_value,
        'crm' as value_source,
        1 as source_priority,
        updated_at as observed_at
    from crm_contacts

),

identify_candidates as (

    select
        profile_id,
        'first_name' as attribute_name,
        first_name as attribute_value,
        'identify' as value_source,
        2 as source_priority,
        event_at as observed_at
    from identifies
    union all
    select
        profile_id,
        'last_name' as attribute_name,
        last_name as attribute_value,
        'identify' as value_source,
        2 as source_priority,
        event_at as observed_at
    from identifies
    union all
    select
        profile_id,
        'country_code' as attribute_name,
        country_code as attribute_value,
        'identify' as value_source,
        2 as source_priority,
        event_at as observed_at
    from identifies

),

order_candidates as (

    select
        profile_id,
        'country_code' as attribute_name,
        billing_country_code as attribute_value,
        'order' as value_source,
        3 as source_priority,
        created_at as observed_at
    from orders

),

customers as (

    select distinct profile_id from orders
    where is_counted

),

derived_lifecycle as (

    select
        profile_identity.profile_id,
        'lifecycle_stage' as attribute_name,
        case
            when customers.profile_id is not null then 'customer'
            when
                profile_identity.email_count + profile_identity.phone_count + profile_identity.user_id_count
                + profile_identity.crm_id_count + profile_identity.customer_id_count > 0
                then 'lead'
            else 'visitor'
        end as attribute_value,
        'derived' as value_source,
        2 as source_priority,
        profile_identity.last_seen_at as observed_at
    from {{ ref('int_profiles__identity') }} as profile_identity
    left join customers on profile_identity.profile_id = customers.profile_id
    {%- if is_incremental() %}
    where profile_identity.profile_id in ({{ segmentation.changed_profiles_sql() }})
    {%- endif %}

),

candidates as (

    select * from identifier_candidates
    union all
    select * from crm_candidates
    union all
    select * from identify_candidates
    union all
    select * from order_candidates
    union all
    select * from derived_lifecycle

),

final as (

    select
        *,
        {{ segmentation.run_timestamp() }} as _processed_at
    from candidates
    where
        profile_id is not null
        and attribute_value is not null
        and {{ segmentation.is_changed_profile('profile_id') }}

)

select * from final

{%- endif %}
