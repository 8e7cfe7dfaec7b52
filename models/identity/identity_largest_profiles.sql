{#- One row per profile among the 25 with the most identifiers: what to look at first when a rule is too loose. -#}
/* depends_on: {{ ref('privacy_suppressions') }} */
with

identity_map as (

    select * from {{ ref('identity_map') }}

),

sizes as (

    select
        profile_id,
        count(*) as identifiers,
        {%- for identifier_type in var('identifier_types') %}
        sum(case when identifier_type = '{{ identifier_type }}' then 1 else 0 end) as {{ identifier_type }}_count,
        {%- endfor %}
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from identity_map
    group by profile_id

),

ranked as (

    select
        *,
        row_number() over (order by identifiers desc, profile_id asc) as size_rank
    from sizes

)

select * from ranked
where size_rank <= 25
