{#-
    One row per non-blocked identifier with its final component: the connected component, split where
    it would hold more values of a type than max_per_profile allows (macros/identity/limit_components.sql).
-#}
{{ segmentation.limit_components(
    components_relation=ref('int_identity__components'),
    links_relation='(select node_a, node_b from ' ~ ref('int_identity__links_ruled') ~ ' where is_kept)',
    identifiers_relation=ref('int_identity__identifiers'),
    types_relation=ref('identity_identifier_types')
) }}
