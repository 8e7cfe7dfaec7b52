{#-
    One row per person in at least one audience they may be activated for, in Census's `people` shape:
    person_id (the profile id), contact attributes and consent per purpose as of the run.
-#}
{%- set purposes = var('consent_purposes') %}
{%- set hash_parts = [] %}
{%- for column in ['email', 'phone', 'first_name', 'last_name', 'country_code', 'lifecycle_stage'] %}
{%- do hash_parts.extend(["coalesce(profiles." ~ column ~ ", '')", "'|'"]) %}
{%- endfor %}
{%- for purpose in purposes %}
{%- set flag = 'coalesce(consent.has_' ~ purpose ~ '_consent, false)' %}
{%- do hash_parts.extend([dbt.cast(flag, dbt.type_string()), "'|'"]) %}
{%- endfor %}
with

people_in_audiences as (

    select distinct person_id from {{ ref('audience_memberships') }}

),

profiles as (

    select * from {{ ref('profiles') }}

),

consent as (

    select
        profile_id,
        {%- for purpose in purposes %}
        max(case when purpose = '{{ purpose }}' and is_granted then 1 else 0 end) = 1 as has_{{ purpose }}_consent,
        {%- endfor %}
        count(*) as purposes_known
    from {{ ref('profile_consent') }}
    group by profile_id

),

current_rows as (

    select
        people_in_audiences.person_id,
        profiles.email,
        profiles.phone,
        profiles.first_name,
        profiles.last_name,
        profiles.country_code,
        profiles.lifecycle_stage,
        {%- for purpose in purposes %}
        consent.has_{{ purpose }}_consent,
        {%- endfor %}
        {{ dbt.hash(dbt.concat(hash_parts)) }} as row_hash
    from people_in_audiences
    inner join profiles on people_in_audiences.person_id = profiles.profile_id
    left join consent on people_in_audiences.person_id = consent.profile_id

),

final as (

    {{ segmentation.carry_updated_at('current_rows', 'person_id') }}

)

select * from final
