{#-
    One row per kept link that joins two territories of a component split by limit_components: the
    links a per-profile limit of one cuts across a whole component.
    Incremental: a run rewrites the links of the nodes of changed components and of the nodes whose
    links' rule decisions changed (macros/identity/incremental_graph.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    post_hook="{{ segmentation.identity_chain_finish('int_identity__limit_cuts') }}",
) }}
{%- set changed_nodes = '(select node_id from ' ~ segmentation.identity_dirty_nodes_relation()
    ~ ' union select node_id from ' ~ segmentation.identity_ruled_dirty_relation() ~ ')' %}
{%- set mode = segmentation.identity_chain_prepare(
    'int_identity__limit_cuts',
    ['int_identity__components_limited', 'int_identity__links_ruled'],
    'node_a in ' ~ changed_nodes ~ ' or node_b in ' ~ changed_nodes
) %}
{%- set changed_filter = '' %}
{%- if mode == 'incremental' %}
    {%- set changed_filter = ' and (node_a in ' ~ changed_nodes ~ ' or node_b in ' ~ changed_nodes ~ ')' %}
{%- endif %}
with

links as (

    select * from {{ ref('int_identity__links_ruled') }}
    where is_kept{{ changed_filter }}

),

limited as (

    select * from {{ ref('int_identity__components_limited') }}

),

cuts as (

    select
        links.node_a,
        links.node_b
    from links
    inner join limited as limited_a on links.node_a = limited_a.node_id
    inner join limited as limited_b on links.node_b = limited_b.node_id
    where limited_a.component_id <> limited_b.component_id

)

select * from cuts
