{#-
    One row per profile (person): the golden record. Each attribute is the surviving candidate of
    int_profiles__attribute_candidates (best source priority, then most recent), with the source it
    came from; identifier counts and first/last seen come from the identity graph. Incremental by
    profile: the profiles int_profiles__mart_changes logged since are rebuilt
    (macros/profiles/incremental_marts.sql).
-#}
/* depends_on: {{ ref('int_profiles__mart_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_mart_prepare() }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
{%- set attributes = ['email', 'phone', 'user_id', 'crm_id', 'customer_id', 'first_name', 'last_name',
    'country_code', 'lifecycle_stage'] %}
with

profile_identity as (

    select * from {{ ref('int_profiles__identity') }}
    {%- if is_incremental() %}
    where profile_id in ({{ segmentation.changed_profiles_sql() }})
    {%- endif %}

),

candidates as (

    select * from {{ ref('int_profiles__attribute_candidates') }}
    {%- if is_incremental() %}
    where profile_id in ({{ segmentation.changed_profiles_sql() }})
    {%- endif %}

),

ranked as (

    select
        profile_id,
        attribute_name,
        attribute_value,
        value_source,
        row_number() over (
            partition by profile_id, attribute_name
            order by source_priority asc, observed_at desc, attribute_value asc
        ) as candidate_rank
    from candidates

),

survivors as (

    select
        profile_id,
        {%- for attribute in attributes %}
        max(case when attribute_name = '{{ attribute }}' then attribute_value end) as {{ attribute }},
        max(case when attribute_name = '{{ attribute }}' then value_source end) as {{ attribute }}_source,
        {%- endfor %}
        count(*) as surviving_attributes
    from ranked
    where candidate_rank = 1
    group by profile_id

),

golden_record as (

    select
        profile_identity.profile_id,
        {%- for attribute in attributes %}
        survivors.{{ attribute }},
        {%- endfor %}
        {%- for attribute in ['first_name', 'last_name', 'country_code', 'lifecycle_stage'] %}
        survivors.{{ attribute }}_source,
        {%- endfor %}
        survivors.email is not null as has_email,
        survivors.phone is not null as has_phone,
        coalesce(
            survivors.email, survivors.user_id, survivors.crm_id, survivors.customer_id, survivors.phone
        ) is not null as is_known,
        profile_identity.identifier_count,
        {%- for identifier_type in var('identifier_types') %}
        profile_identity.{{ identifier_type }}_count,
        {%- endfor %}
        profile_identity.first_seen_at,
        profile_identity.last_seen_at,
        {{ segmentation.run_timestamp() }} as _processed_at
    from profile_identity
    left join survivors on profile_identity.profile_id = survivors.profile_id

)

select * from golden_record
