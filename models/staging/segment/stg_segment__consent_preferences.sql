{#- One row per explicit consent decision (consent-spec event) and purpose named in it
    (macros/staging/consent_decisions.sql, shared with profile_consent_history's incremental run). -#}
{{ segmentation.consent_decisions_sql() }}
