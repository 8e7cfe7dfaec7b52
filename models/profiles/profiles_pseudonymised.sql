{#-
    One row per profile: `profiles` with every pii-tagged column replaced by a salted SHA-256
    pseudonym (macro pii_safe_columns), for readers that must not see personal data (BI roles).
    A table, not a view: a view's definition would show the salt to whoever can read the view.
    Incremental by profile (macros/profiles/incremental_marts.sql); _processed_at is the profiles row's.
-#}
/* depends_on: {{ ref('int_profiles__mart_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_mart_prepare() }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
with

profiles as (

    select * from {{ ref('profiles') }}
    {%- if is_incremental() %}
    where profile_id in ({{ segmentation.changed_profiles_sql() }})
    {%- endif %}

),

pseudonymised as (

    select {{ segmentation.pii_safe_columns('profiles', mode='hash') }}
    from profiles

)

select * from pseudonymised
