{#-
    One row per identifier (not blocklisted) with the profile it belongs to. Profile ids come from
    identity_profile_registry: a profile keeps its id across runs and full refreshes, merges keep the
    id of the oldest profile, and ids are never reused.
    Incremental: a run rewrites the rows of the identifiers of the components that changed in it and of
    the identifiers the inputs touched (macros/identity/incremental_graph.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    post_hook="{{ segmentation.identity_chain_finish('identity_map') }}",
) }}
{%- set changed_identifiers = segmentation.identity_changed_identifiers_sql() %}
{%- set mode = segmentation.identity_chain_prepare(
    'identity_map',
    ['int_identity__components_limited', 'identity_profile_registry'],
    '(identifier_type, identifier_value) in (' ~ changed_identifiers ~ ')',
    keep_before_delete=(
        segmentation.identity_work_relation('identity_map__old_profiles'),
        'select distinct profile_id from ' ~ this ~ ' where (identifier_type, identifier_value) in ('
        ~ changed_identifiers ~ ')'
    )
) %}
{%- set changed_filter = '' %}
{%- if mode == 'incremental' %}
    {%- set changed_filter = ' and node_id in (select node_id from ' ~ segmentation.identity_dirty_nodes_relation() ~ ')' %}
{%- endif %}
with

components as (

    select * from {{ ref('int_identity__components_limited') }}
    {%- if mode == 'incremental' %}
    where node_id in (select node_id from {{ segmentation.identity_dirty_nodes_relation() }})
    {%- endif %}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked{{ changed_filter }}

),

registry as (

    select * from {{ ref('identity_profile_registry') }}
    where retired_at is null

),

component_profiles as (

    select
        components.component_id,
        registry.profile_id
    from registry
    inner join identifiers
        on
            registry.anchor_type = identifiers.identifier_type
            and registry.anchor_value = identifiers.identifier_value
    inner join components on identifiers.node_id = components.node_id

),

identity_map as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        component_profiles.profile_id,
        identifiers.first_seen_at,
        identifiers.last_seen_at
    from identifiers
    inner join components on identifiers.node_id = components.node_id
    inner join component_profiles on components.component_id = component_profiles.component_id

)

select
    *,
    {{ segmentation.run_timestamp() }} as _processed_at
from identity_map
