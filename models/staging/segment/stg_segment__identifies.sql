{#- One row per identify message with traits extracted and normalised
    (macros/staging/identifies.sql, shared with int_profiles__attribute_candidates' incremental run). -#}
{{ segmentation.identifies_sql() }}
