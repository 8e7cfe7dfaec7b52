{#-
    One row per link with the rule decision: kept, or cut by
      hub: an endpoint is linked to more than hub_max_links values of one other type (shared device);
      limit: an identifier linked to more values of a type than max_per_profile allows (a family tablet
             with two logins) keeps only its strongest links of that type (force_merge links first, then most
             observations, most recent, lowest node id), and its links to other identifiers survive only when those
             are linked to a kept value too, so the second person's email does not follow the tablet
             into the first person's profile;
      force_split: a manual override says the two identifiers are different people.
    A force_merge link is never cut.
    Incremental: a run decides again only the links with an endpoint in D0 (the identifiers the inputs
    touched and their neighbours), reading the links around them (macros/identity/incremental_graph.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ segmentation.identity_links_ruled_prepare() }}",
    post_hook="{{ segmentation.identity_links_ruled_finish() }}",
) }}
{%- set incremental_run = segmentation.identity_ruled_mode() == 'incremental' %}
with

links as (

    select * from {{ ref('int_identity__links') }}
    {%- if incremental_run %}
    where
        node_a in (select node_id from {{ segmentation.identity_ruled_context_relation() }})
        or node_b in (select node_id from {{ segmentation.identity_ruled_context_relation() }})
    {%- endif %}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked

),

identifier_types as (

    select * from {{ ref('identity_identifier_types') }}

),

directed as (

    select
        links.node_a as node_id,
        links.node_b as neighbour_id,
        links.node_a,
        links.node_b,
        links.observations,
        links.last_seen_at,
        links.is_forced
    from links
    union all
    select
        links.node_b as node_id,
        links.node_a as neighbour_id,
        links.node_a,
        links.node_b,
        links.observations,
        links.last_seen_at,
        links.is_forced
    from links

),

directed_typed as (

    select
        directed.*,
        node.identifier_type as node_type,
        neighbour.identifier_type as neighbour_type,
        node_rules.hub_max_links as node_hub_max_links,
        neighbour_rules.max_per_profile as neighbour_max_per_profile
    from directed
    inner join identifiers as node on directed.node_id = node.node_id
    inner join identifiers as neighbour on directed.neighbour_id = neighbour.node_id
    left join identifier_types as node_rules on node.identifier_type = node_rules.identifier_type
    left join identifier_types as neighbour_rules on neighbour.identifier_type = neighbour_rules.identifier_type

),

ranked as (

    select
        *,
        count(*) over (partition by node_id, neighbour_type) as neighbours_of_type,
        row_number() over (
            partition by node_id, neighbour_type
            order by is_forced desc, observations desc, last_seen_at desc, neighbour_id asc
        ) as strength_rank
    from directed_typed

),

hubs as (

    select
        node_id,
        max(neighbours_of_type) as max_neighbours_of_one_type
    from ranked
    where neighbours_of_type > node_hub_max_links
    group by node_id

),

conflicts as (

    select distinct
        node_id,
        neighbour_type as limited_type
    from ranked
    where neighbours_of_type > neighbour_max_per_profile

),

winners as (

    select
        node_id,
        neighbour_type as limited_type,
        neighbour_id as winner_id
    from ranked
    where neighbours_of_type > neighbour_max_per_profile and strength_rank <= neighbour_max_per_profile

),

conflicted_other_links as (

    select
        ranked.node_id,
        ranked.neighbour_id,
        ranked.node_a,
        ranked.node_b,
        ranked.node_type,
        conflicts.limited_type
    from ranked
    inner join conflicts
        on
            ranked.node_id = conflicts.node_id
            and ranked.neighbour_type <> conflicts.limited_type

),

supported as (

    select distinct
        conflicted_other_links.node_id,
        conflicted_other_links.neighbour_id,
        conflicted_other_links.limited_type
    from conflicted_other_links
    inner join winners
        on
            conflicted_other_links.node_id = winners.node_id
            and conflicted_other_links.limited_type = winners.limited_type
    inner join directed as winner_links
        on
            conflicted_other_links.neighbour_id = winner_links.node_id
            and winners.winner_id = winner_links.neighbour_id

),

limited as (

    select
        node_a,
        node_b,
        min(limit_reason) as limit_reason
    from (
        select
            node_a,
            node_b,
            node_type || ' ' || cast(node_id as {{ dbt.type_string() }}) || ' holds more ' || neighbour_type
            || ' values than the limit of ' || cast(neighbour_max_per_profile as {{ dbt.type_string() }})
            || ' and this is not one of its strongest links' as limit_reason
        from ranked
        where strength_rank > neighbour_max_per_profile
        union all
        select
            conflicted_other_links.node_a,
            conflicted_other_links.node_b,
            (
                conflicted_other_links.node_type || ' '
                || cast(conflicted_other_links.node_id as {{ dbt.type_string() }}) || ' is shared by several '
                || conflicted_other_links.limited_type || ' values and this identifier is not linked to the kept one'
            ) as limit_reason
        from conflicted_other_links
        left join supported
            on
                conflicted_other_links.node_id = supported.node_id
                and conflicted_other_links.neighbour_id = supported.neighbour_id
                and conflicted_other_links.limited_type = supported.limited_type
        where supported.node_id is null
    ) as reasons
    group by node_a, node_b

),

split_overrides as (

    select
        least(node_a.node_id, node_b.node_id) as node_a,
        greatest(node_a.node_id, node_b.node_id) as node_b,
        overrides.reason
    from {{ ref('identity_overrides') }} as overrides
    inner join identifiers as node_a
        on
            overrides.identifier_type_a = node_a.identifier_type
            and overrides.identifier_value_a = node_a.identifier_value
    inner join identifiers as node_b
        on
            overrides.identifier_type_b = node_b.identifier_type
            and overrides.identifier_value_b = node_b.identifier_value
    where overrides.action = 'force_split'

),

decided as (

    select
        links.node_a,
        links.node_b,
        links.first_seen_at,
        links.last_seen_at,
        links.observations,
        links.is_forced,
        links.source_models,
        case
            when links.is_forced then null
            when split_overrides.node_a is not null then 'force_split'
            when hub_a.node_id is not null or hub_b.node_id is not null then 'hub'
            when limited.node_a is not null then 'limit'
        end as cut_by_rule,
        case
            when links.is_forced then null
            when split_overrides.node_a is not null then 'manual override: ' || split_overrides.reason
            when hub_a.node_id is not null
                then
                    'node ' || cast(links.node_a as {{ dbt.type_string() }}) || ' is linked to '
                    || cast(hub_a.max_neighbours_of_one_type as {{ dbt.type_string() }}) || ' values of one type'
            when hub_b.node_id is not null
                then
                    'node ' || cast(links.node_b as {{ dbt.type_string() }}) || ' is linked to '
                    || cast(hub_b.max_neighbours_of_one_type as {{ dbt.type_string() }}) || ' values of one type'
            when limited.node_a is not null then limited.limit_reason
        end as cut_reason
    from links
    left join split_overrides
        on links.node_a = split_overrides.node_a and links.node_b = split_overrides.node_b
    left join hubs as hub_a on links.node_a = hub_a.node_id
    left join hubs as hub_b on links.node_b = hub_b.node_id
    left join limited on links.node_a = limited.node_a and links.node_b = limited.node_b

),

final as (

    select
        *,
        cut_by_rule is null as is_kept
    from decided
    {%- if incremental_run %}
    where
        node_a in (select node_id from {{ segmentation.identity_ruled_dirty_relation() }})
        or node_b in (select node_id from {{ segmentation.identity_ruled_dirty_relation() }})
    {%- endif %}

)

select * from final
