{#-
    One row per profile: how many identifiers of each type it holds, when it was first and last seen,
    and identity_fingerprint, a hash of its full identifier set. A profile whose fingerprint changed
    since an incremental model last ran (merge, split, new identifier) is recomputed there.
    Incremental by profile: the profiles int_profiles__mart_changes logged since are recomputed
    (macros/profiles/incremental_marts.sql).
-#}
/* depends_on: {{ ref('privacy_suppressions') }} {{ ref('int_profiles__mart_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_mart_prepare() }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
with

identity_map as (

    select * from {{ ref('identity_map') }}
    {%- if is_incremental() %}
    where profile_id in ({{ segmentation.changed_profiles_sql() }})
    {%- endif %}

),

summarised as (

    select
        profile_id,
        count(*) as identifier_count,
        {%- for identifier_type in var('identifier_types') %}
        sum(case when identifier_type = '{{ identifier_type }}' then 1 else 0 end) as {{ identifier_type }}_count,
        {%- endfor %}
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        {{ dbt.hash(dbt.listagg(
            dbt.concat(["identifier_type", "':'", "identifier_value"]),
            "'|'",
            "order by identifier_type, identifier_value")) }} as identity_fingerprint,
        {{ segmentation.run_timestamp() }} as _processed_at
    from identity_map
    group by profile_id

)

select * from summarised
