{#-
    One row per pair of non-blocked identifiers observed together in at least one record, or linked
    by a force_merge override; node_a < node_b. Links touching a blocked identifier are not formed.
    Incremental: a run recomputes every link with an endpoint int_identity__identifiers touched in this
    run, over all its staged records; a change of the blocklist, the force_merge overrides or the
    sources rebuilds it (macros/identity/incremental_inputs.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ segmentation.identity_links_prepare() }}",
    post_hook="{{ segmentation.identity_links_finish() }}",
) }}
{%- set incremental_run = segmentation.identity_inputs_mode('int_identity__links') == 'incremental' %}
{%- set touched_overrides = '' %}
{%- if incremental_run %}
    {%- set touched = segmentation.identity_work_relation('int_identity__touched') %}
    {#- Only overrides with a touched identifier: the others' links are kept as they are. -#}
    {%- set touched_overrides = ' and (identifier_value_a in (select identifier_value from ' ~ touched
        ~ ' where identifier_type = identifier_type_a) or identifier_value_b in (select identifier_value from '
        ~ touched ~ ' where identifier_type = identifier_type_b))' %}
{%- endif %}
with

pairs as (

    {%- if incremental_run %}
    {{ segmentation.identity_pairs_sql(touched=true) }}
    {%- else %}
    {{ segmentation.identity_pairs_sql() }}
    {%- endif %}

),

overrides as (

    select * from {{ ref('identity_overrides') }}
    where action = 'force_merge'{{ touched_overrides }}

),

observed_and_forced as (

    select
        type_i,
        value_i,
        type_j,
        value_j,
        source_model,
        first_seen_at,
        last_seen_at,
        observations
    from pairs
    union all
    select
        identifier_type_a as type_i,
        identifier_value_a as value_i,
        identifier_type_b as type_j,
        identifier_value_b as value_j,
        'identity_overrides' as source_model,
        requested_at as first_seen_at,
        requested_at as last_seen_at,
        0 as observations
    from overrides

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked

),

resolved as (

    select
        case when node_i.node_id < node_j.node_id then node_i.node_id else node_j.node_id end as node_a,
        case when node_i.node_id < node_j.node_id then node_j.node_id else node_i.node_id end as node_b,
        observed_and_forced.source_model,
        observed_and_forced.first_seen_at,
        observed_and_forced.last_seen_at,
        observed_and_forced.observations
    from observed_and_forced
    inner join identifiers as node_i
        on
            observed_and_forced.type_i = node_i.identifier_type
            and observed_and_forced.value_i = node_i.identifier_value
    inner join identifiers as node_j
        on
            observed_and_forced.type_j = node_j.identifier_type
            and observed_and_forced.value_j = node_j.identifier_value
    where node_i.node_id <> node_j.node_id

),

links as (

    select
        node_a,
        node_b,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(observations) as observations,
        max(case when source_model = 'identity_overrides' then 1 else 0 end) = 1 as is_forced,
        {{ dbt.listagg('source_model', "', '", "order by source_model") }} as source_models
    from resolved
    group by node_a, node_b

)

select * from links
