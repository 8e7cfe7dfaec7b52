{#-
    One row per non-blocked identifier with its final component: the connected component, split where
    it would hold more values of a type than max_per_profile allows (macros/identity/limit_components.sql).
    Incremental: a run recomputes only the components that changed in it; the others keep their rows.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    post_hook="{{ segmentation.identity_chain_finish('int_identity__components_limited') }}",
) }}
{{ segmentation.limit_components_incremental(
    components_model='int_identity__components',
    links_relation='(select node_a, node_b from ' ~ ref('int_identity__links_ruled') ~ ' where is_kept)',
    identifiers_relation=ref('int_identity__identifiers'),
    types_relation=ref('identity_identifier_types')
) }}
