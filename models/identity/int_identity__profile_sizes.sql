{#-
    One row per profile in identity_map with its identifier counts per type and first/last seen: what
    identity_largest_profiles ranks. Incremental: a run rewrites the profiles whose map rows identity_map
    rewrote in it, before and after (macros/identity/incremental_graph.sql).
-#}
/* depends_on: {{ ref('privacy_suppressions') }} */
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    post_hook="{{ segmentation.identity_chain_finish('int_identity__profile_sizes') }}",
) }}
{%- set changed_profiles = segmentation.identity_changed_profiles_sql() %}
{%- set mode = segmentation.identity_chain_prepare(
    'int_identity__profile_sizes', ['identity_map'], 'profile_id in (' ~ changed_profiles ~ ')'
) %}
with

identity_map as (

    select * from {{ ref('identity_map') }}
    {%- if mode == 'incremental' %}
    where profile_id in ({{ changed_profiles }})
    {%- endif %}

),

sizes as (

    select
        profile_id,
        count(*) as identifiers,
        {%- for identifier_type in var('identifier_types') %}
        sum(case when identifier_type = '{{ identifier_type }}' then 1 else 0 end) as {{ identifier_type }}_count,
        {%- endfor %}
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from identity_map
    group by profile_id

)

select * from sizes
