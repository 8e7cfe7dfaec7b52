{#-
    One row per non-blocked identifier (node) with its connected component over the kept links.
    Randomized contraction in O(log n) SQL rounds; after the first run only the components a run
    touches are recomputed (macros/identity/connected_components.sql), with the same result as a full
    computation. `dbt build --full-refresh` recomputes everything.
-#}
{%- set kept_links = '(select node_a, node_b from ' ~ ref('int_identity__links_ruled') ~ ' where is_kept)' -%}
{%- set snapshot_name = 'int_identity__components__kept_links' -%}
{{ config(post_hook="{{ segmentation.cc_save_snapshot('int_identity__links_ruled', '" ~ snapshot_name ~ "') }}") }}
{{ segmentation.connected_components_incremental(
    edges_relation=kept_links,
    nodes_relation='(select node_id from ' ~ ref('int_identity__identifiers') ~ ' where not is_blocked)',
    snapshot_identifier=snapshot_name,
    max_rounds=var('identity_max_rounds', 64),
    stats_identifier='identity_component_rounds'
) }}
