{#-
    One row per typed identifier (identifier_type, identifier_value) seen in any staged source.
    Incremental: a run recomputes only the identifiers of rows loaded since the last run (and those the
    erasure left dirty) over all their staged rows; a change of the blocklist or of the sources rebuilds
    it (macros/identity/incremental_inputs.sql).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    pre_hook="{{ segmentation.identity_identifiers_prepare() }}",
    post_hook="{{ segmentation.identity_identifiers_finish() }}",
) }}
{%- set regex_rules = segmentation.identity_blocklist_regex_rules() %}
with

observations as (

    {%- if segmentation.identity_inputs_mode('int_identity__identifiers') == 'incremental' %}
    {{ segmentation.identity_identifiers_sql(touched=true) }}
    {%- else %}
    {{ segmentation.identity_identifiers_sql() }}
    {%- endif %}

),

identifiers as (

    select
        identifier_type,
        identifier_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(observations) as observations,
        count(distinct source_model) as source_count
    from observations
    group by identifier_type, identifier_value

),

blocklist as (

    select * from {{ ref('identity_blocklist') }}

),

exact_hits as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        'exact "' || blocklist.pattern || '": ' || blocklist.reason as block_reason
    from identifiers
    inner join blocklist
        on
            lower(identifiers.identifier_value) = lower(blocklist.pattern)
            and blocklist.match_type = 'exact'
            and blocklist.identifier_type in ('*', identifiers.identifier_type)

),

regex_hits as (

    {%- if regex_rules is none %}

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        'regex "' || blocklist.pattern || '": ' || blocklist.reason as block_reason
    from identifiers
    cross join blocklist
    where
        blocklist.match_type = 'regex'
        and blocklist.identifier_type in ('*', identifiers.identifier_type)
        and {{ segmentation.regex_matches('lower(identifiers.identifier_value)', 'blocklist.pattern') }}
    {%- elif regex_rules | length == 0 %}

    select
        identifier_type,
        identifier_value,
        cast(null as {{ dbt.type_string() }}) as block_reason
    from identifiers
    where 1 = 0
    {%- else %}
    {#- One branch per rule, its pattern a literal (macros/identity/identifier_links.sql). #}
    {%- for rule in regex_rules %}

    select
        identifier_type,
        identifier_value,
        {{ segmentation.sql_string('regex "' ~ rule.pattern ~ '": ' ~ rule.reason) }} as block_reason
    from identifiers
    where
        {{ segmentation.regex_matches('lower(identifier_value)', segmentation.sql_string(rule.pattern)) }}
        {%- if rule.identifier_type != '*' %}
        and identifier_type = {{ segmentation.sql_string(rule.identifier_type) }}
        {%- endif %}
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}
    {%- endif %}

),

blocked as (

    select
        identifier_type,
        identifier_value,
        min(block_reason) as block_reason
    from (
        select * from exact_hits
        union all
        select * from regex_hits
    ) as hits
    group by identifier_type, identifier_value

),

numbered as (

    select
        {%- set node_key = dbt.concat(['identifiers.identifier_type', "':'", 'identifiers.identifier_value']) %}
        {{ segmentation.stable_node_id(node_key) }} as node_id,
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.first_seen_at,
        identifiers.last_seen_at,
        identifiers.observations,
        identifiers.source_count,
        blocked.block_reason is not null as is_blocked,
        blocked.block_reason
    from identifiers
    left join blocked
        on
            identifiers.identifier_type = blocked.identifier_type
            and identifiers.identifier_value = blocked.identifier_value

)

select * from numbered
