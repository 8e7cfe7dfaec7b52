{#-
    One row per non-blocked identifier (node) with its connected component over the kept links,
    computed by randomized contraction in O(log n) SQL rounds (macros/identity/connected_components.sql).
-#}
{{ segmentation.connected_components(
    edges_relation='(select node_a, node_b from ' ~ ref('int_identity__links_ruled') ~ ' where is_kept)',
    nodes_relation='(select node_id from ' ~ ref('int_identity__identifiers') ~ ' where not is_blocked)',
    max_rounds=var('identity_max_rounds', 64),
    stats_identifier='identity_component_rounds'
) }}
