{#-
    One row per component of the identity graph with its anchor: the oldest identifier (earliest
    first_seen_at, then type priority, type and value): the anchor of a new id, used only when the
    component holds no active id (identity_profile_registry).
    Incremental: a run rewrites the anchors of the components that changed in it
    (macros/identity/incremental_graph.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    post_hook="{{ segmentation.identity_chain_finish('int_identity__profile_anchors') }}",
) }}
{%- set changed_labels = segmentation.identity_changed_labels_sql() %}
{%- set mode = segmentation.identity_chain_prepare(
    'int_identity__profile_anchors',
    ['int_identity__components_limited'],
    'component_id in (' ~ changed_labels ~ ' union select component_id from '
    ~ segmentation.identity_old_labels_relation() ~ ')'
) %}
with

components as (

    select * from {{ ref('int_identity__components_limited') }}
    {%- if mode == 'incremental' %}
    where component_id in ({{ segmentation.identity_changed_labels_sql(literal=true) }})
    {%- endif %}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked

),

identifier_types as (

    select * from {{ ref('identity_identifier_types') }}

),

members as (

    select
        components.component_id,
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.first_seen_at,
        row_number() over (
            partition by components.component_id
            order by
                identifiers.first_seen_at asc,
                identifier_types.priority asc,
                identifiers.identifier_type asc,
                identifiers.identifier_value asc
        ) as age_rank,
        count(*) over (partition by components.component_id) as identifiers
    from identifiers
    inner join components on identifiers.node_id = components.node_id
    left join identifier_types on identifiers.identifier_type = identifier_types.identifier_type

),

anchors as (

    select
        component_id,
        identifier_type as anchor_type,
        identifier_value as anchor_value,
        first_seen_at as anchor_first_seen_at,
        identifiers
    from members
    where age_rank = 1

)

select * from anchors
