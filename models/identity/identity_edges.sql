{#-
    One row per kept link between two identifiers (lower node first), after every rule including component limits.
    Incremental: after an incremental int_identity__links_ruled, a run rewrites only the edges of the nodes
    whose rule decisions or limit cuts can have changed (macros/identity/incremental_graph.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ segmentation.identity_edges_prepare() }}",
    post_hook="{{ segmentation.identity_edges_finish() }}",
) }}
{%- set dirty_filter = '' %}
{%- if segmentation.identity_edges_mode() == 'incremental' %}
    {%- set dirty = segmentation.identity_edges_dirty_relation() %}
    {%- set dirty_filter = ' and (node_a in (select node_id from ' ~ dirty ~ ') or node_b in (select node_id from '
        ~ dirty ~ '))' %}
{%- endif %}
with

links as (

    select * from {{ ref('int_identity__links_ruled') }}
    where is_kept{{ dirty_filter }}

),

limit_cuts as (

    select * from {{ ref('int_identity__limit_cuts') }}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}

),

edges as (

    select
        node_a.identifier_type as identifier_type_a,
        node_a.identifier_value as identifier_value_a,
        node_b.identifier_type as identifier_type_b,
        node_b.identifier_value as identifier_value_b,
        links.first_seen_at,
        links.last_seen_at,
        links.observations,
        links.is_forced,
        links.source_models
    from links
    inner join identifiers as node_a on links.node_a = node_a.node_id
    inner join identifiers as node_b on links.node_b = node_b.node_id
    left join limit_cuts on links.node_a = limit_cuts.node_a and links.node_b = limit_cuts.node_b
    where limit_cuts.node_a is null

)

select * from edges
