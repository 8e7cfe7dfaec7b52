{#-
    One row per identifier or link an identity rule removed: blocklisted identifiers (rule blocklist)
    and links cut by force_split, hub or limit, with the reason.
-#}
with

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}

),

links as (

    select * from {{ ref('int_identity__links_ruled') }}
    where not is_kept

),

blocked_identifiers as (

    select
        'blocklist' as rule_name,
        block_reason as reason,
        identifier_type as identifier_type_a,
        identifier_value as identifier_value_a,
        cast(null as {{ dbt.type_string() }}) as identifier_type_b,
        cast(null as {{ dbt.type_string() }}) as identifier_value_b,
        observations
    from identifiers
    where is_blocked

),

limit_cuts as (

    select * from {{ ref('int_identity__limit_cuts') }}

),

component_limit_cuts as (

    select
        'limit' as rule_name,
        (
            'the profile would hold more values of a type than its per-profile limit (max_per_profile), '
            || 'joined through other identifiers; each identifier stays with the nearest value, and values '
            || 'beyond the limit leave with theirs'
        ) as reason,
        node_a.identifier_type as identifier_type_a,
        node_a.identifier_value as identifier_value_a,
        node_b.identifier_type as identifier_type_b,
        node_b.identifier_value as identifier_value_b,
        links.observations
    from limit_cuts
    inner join {{ ref('int_identity__links_ruled') }} as links
        on limit_cuts.node_a = links.node_a and limit_cuts.node_b = links.node_b
    inner join identifiers as node_a on limit_cuts.node_a = node_a.node_id
    inner join identifiers as node_b on limit_cuts.node_b = node_b.node_id

),

cut_links as (

    select
        links.cut_by_rule as rule_name,
        links.cut_reason as reason,
        node_a.identifier_type as identifier_type_a,
        node_a.identifier_value as identifier_value_a,
        node_b.identifier_type as identifier_type_b,
        node_b.identifier_value as identifier_value_b,
        links.observations
    from links
    inner join identifiers as node_a on links.node_a = node_a.node_id
    inner join identifiers as node_b on links.node_b = node_b.node_id

),

audit as (

    select * from blocked_identifiers
    union all
    select * from cut_links
    union all
    select * from component_limit_cuts

)

select * from audit
