{#-
    One row per component size bucket of the current identity graph (1, 2, 3-5, 6-10, 11-50, 51-100,
    101-1000, over 1000): how many profiles and identifiers fall in it, the largest size, and the
    rounds the last components run needed (the same on every row).
-#}
/* depends_on: {{ ref('privacy_suppressions') }} */
{#- The rounds table is written by the components macro during this run, so the relation cache does not
    know it yet: ask the information schema. -#}
{%- set rounds_relation = segmentation.existing_relation(this.schema ~ '_work', 'identity_component_rounds') -%}
with

identity_map as (

    select * from {{ ref('identity_map') }}

),

profile_sizes as (

    select
        profile_id,
        count(*) as identifiers
    from identity_map
    group by profile_id

),

bucketed as (

    select
        profile_id,
        identifiers,
        case
            when identifiers = 1 then '01: 1'
            when identifiers = 2 then '02: 2'
            when identifiers <= 5 then '03: 3-5'
            when identifiers <= 10 then '04: 6-10'
            when identifiers <= 50 then '05: 11-50'
            when identifiers <= 100 then '06: 51-100'
            when identifiers <= 1000 then '07: 101-1000'
            else '08: over 1000'
        end as size_bucket
    from profile_sizes

),

rounds as (

    {%- if rounds_relation is not none %}
    select max(round_number) as components_rounds from {{ rounds_relation }}
    {%- else %}
    select cast(null as {{ dbt.type_int() }}) as components_rounds
    {%- endif %}

),

health as (

    select
        bucketed.size_bucket,
        count(*) as profiles,
        sum(bucketed.identifiers) as identifiers,
        max(bucketed.identifiers) as largest_profile_identifiers,
        max(rounds.components_rounds) as components_rounds
    from bucketed
    cross join rounds
    group by bucketed.size_bucket

)

select * from health
