{#- One row per profile among the 25 with the most identifiers: what to look at first when a rule is too loose. -#}
with

sizes as (

    select * from {{ ref('int_identity__profile_sizes') }}

),

ranked as (

    select
        profile_id,
        identifiers,
        {%- for identifier_type in var('identifier_types') %}
        {{ identifier_type }}_count,
        {%- endfor %}
        first_seen_at,
        last_seen_at,
        row_number() over (order by identifiers desc, profile_id asc) as size_rank
    from sizes

)

select * from ranked
where size_rank <= 25
