{#-
    One row per profile: how many identifiers of each type it holds, when it was first and last seen,
    and identity_fingerprint, a hash of its full identifier set. A profile whose fingerprint changed
    since an incremental model last ran (merge, split, new identifier) is recomputed there.
-#}
/* depends_on: {{ ref('privacy_suppressions') }} */
with

identity_map as (

    select * from {{ ref('identity_map') }}

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
            "order by identifier_type, identifier_value")) }} as identity_fingerprint
    from identity_map
    group by profile_id

)

select * from summarised
