{#-
    One row per profile: `profiles` with every pii-tagged column replaced by a salted SHA-256
    pseudonym (macro pii_safe_columns), for readers that must not see personal data (BI roles).
    A table, not a view: a view's definition would show the salt to whoever can read the view.
-#}
with

profiles as (

    select * from {{ ref('profiles') }}

),

pseudonymised as (

    select {{ segmentation.pii_safe_columns('profiles', mode='hash') }}
    from profiles

)

select * from pseudonymised
