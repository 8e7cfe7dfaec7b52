{#-
    One row per profile id ever issued; never rebuilt from scratch (full_refresh=false), so ids stay
    stable across full refreshes and are never reused.
    - A component holding the anchor of an active id keeps that id; holding several (a merge), it keeps
      the oldest one (issued first, then the older anchor) and the others are retired as 'merged'.
      A late-arriving identifier older than the anchor does not change the id.
    - A component holding no active anchor gets a new id derived from its oldest identifier and a
      generation (how many ids that identifier anchored before), so a retired id is never issued again.
    - An active id whose anchor left the graph is retired as 'anchor_removed'.
    - A new id whose anchor belonged to a still-active profile before this run is a split
      (split_from_profile_id). The previous membership is read from the identity_map table as the
      last run left it, before this run rebuilds it.
-#}
{#-
    Incremental (macros/identity/incremental_graph.sql): a run decides only the components that changed
    in it and the active ids anchored in them; any other component keeps its id and issues nothing.
-#}
{{ config(post_hook="{{ segmentation.identity_chain_finish('identity_profile_registry') }}") }}
{%- set previous_map = adapter.get_relation(database=this.database, schema=this.schema, identifier='identity_map')
    if execute else none -%}
{%- set changed_only = false %}
{%- if execute and flags.WHICH in ('run', 'build') and model.resource_type == 'model' %}
    {%- set mode = segmentation.identity_chain_mode(
        'identity_profile_registry', ['int_identity__components_limited', 'int_identity__profile_anchors']) %}
    {%- do segmentation.identity_chain_start('identity_profile_registry', mode) %}
    {%- set changed_only = mode == 'incremental' %}
{%- endif %}
{%- set changed_anchors = '' %}
{%- if changed_only %}
    {#- Small change sets as literals (identity_keys), read once here. -#}
    {%- set changed_labels = segmentation.identity_changed_labels_sql(literal=true) %}
    {#- Active ids anchored in a changed component or at an identifier the inputs touched (it may have left the graph);
        their values as literals too when few, a filter DuckDB applies in the scan before the exact pair check. -#}
    {%- set changed_identifiers = segmentation.identity_changed_identifiers_sql() %}
    {%- set changed_values_sql = 'select identifier_value from (' ~ changed_identifiers ~ ') as changed_identifiers' %}
    {%- set changed_values = segmentation.identity_keys(changed_values_sql) %}
    {%- set changed_anchors = ' and (anchor_type, anchor_value) in (' ~ changed_identifiers ~ ')' %}
    {%- if changed_values != changed_values_sql %}
        {%- set changed_anchors = ' and anchor_value in (' ~ changed_values ~ ')' ~ changed_anchors %}
    {%- endif %}
    {#- The nodes and anchor values of the changed components: the identifiers, generations and previous
        map rows read are only theirs (each is joined to nothing else; a value of another type never joins). -#}
    {%- set changed_nodes = segmentation.identity_keys('select node_id from ' ~ ref('int_identity__components_limited')
        ~ ' where component_id in (' ~ changed_labels ~ ')', integer=true) %}
    {%- set changed_anchor_values = segmentation.identity_keys('select anchor_value from '
        ~ ref('int_identity__profile_anchors') ~ ' where component_id in (' ~ changed_labels ~ ')') %}
{%- endif %}
with

anchors as (

    select * from {{ ref('int_identity__profile_anchors') }}
    {%- if changed_only %}
    where component_id in ({{ changed_labels }})
    {%- endif %}

),

components as (

    select * from {{ ref('int_identity__components_limited') }}
    {%- if changed_only %}
    where component_id in ({{ changed_labels }})
    {%- endif %}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked{{ ' and node_id in (' ~ changed_nodes ~ ')' if changed_only else '' }}

),

previous as (

    {%- if is_incremental() %}
    select * from {{ this }}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as profile_id,
        cast(null as {{ dbt.type_string() }}) as anchor_type,
        cast(null as {{ dbt.type_string() }}) as anchor_value,
        cast(null as {{ dbt.type_int() }}) as generation,
        cast(null as {{ dbt.type_timestamp() }}) as issued_at,
        cast(null as {{ dbt.type_string() }}) as issued_run_id,
        cast(null as {{ dbt.type_string() }}) as split_from_profile_id,
        cast(null as {{ dbt.type_timestamp() }}) as retired_at,
        cast(null as {{ dbt.type_string() }}) as retired_run_id,
        cast(null as {{ dbt.type_string() }}) as retired_reason,
        cast(null as {{ dbt.type_string() }}) as merged_into_profile_id
    where 1 = 0
    {%- endif %}

),

previous_membership as (

    {%- if is_incremental() and previous_map is not none %}
    select
        identifier_type,
        identifier_value,
        profile_id
    from {{ previous_map }}
    {%- if changed_only %}
    where identifier_value in ({{ changed_anchor_values }})
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as identifier_type,
        cast(null as {{ dbt.type_string() }}) as identifier_value,
        cast(null as {{ dbt.type_string() }}) as profile_id
    where 1 = 0
    {%- endif %}

),

active as (

    select * from {{ this if changed_only else 'previous' }}
    where retired_at is null{{ changed_anchors }}

),

generations as (

    select
        anchor_type,
        anchor_value,
        count(*) as ids_before
    {#- Read from the table, not the CTE (so is active): DuckDB filtered the shared CTE after reading all of it. #}
    {%- if changed_only %}
    from {{ this }}
    where anchor_value in ({{ changed_anchor_values }})
    {%- else %}
    from previous
    {%- endif %}
    group by anchor_type, anchor_value

),

members as (

    select
        components.component_id,
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.first_seen_at
    from components
    inner join identifiers on components.node_id = identifiers.node_id

),

active_in_components as (

    select
        members.component_id,
        active.profile_id,
        row_number() over (
            partition by members.component_id
            order by active.issued_at asc, members.first_seen_at asc, active.profile_id asc
        ) as keep_rank
    from active
    inner join members
        on
            active.anchor_type = members.identifier_type
            and active.anchor_value = members.identifier_value

),

kept as (

    select
        component_id,
        profile_id
    from active_in_components
    where keep_rank = 1

),

issued as (

    select
        anchors.component_id,
        {%- set anchor_key = dbt.concat([
            "'" ~ var('identity_id_salt') ~ "|'", "anchors.anchor_type", "':'", "anchors.anchor_value",
            "case when coalesce(generations.ids_before, 0) = 0 then '' else '#' || "
            ~ dbt.cast("generations.ids_before", dbt.type_string()) ~ " end"
        ]) %}
        'prof_' || substring({{ dbt.hash(anchor_key) }}, 1, 20) as profile_id,
        anchors.anchor_type,
        anchors.anchor_value,
        coalesce(generations.ids_before, 0) as generation,
        previous_membership.profile_id as previous_profile_id
    from anchors
    left join kept on anchors.component_id = kept.component_id
    left join generations
        on
            anchors.anchor_type = generations.anchor_type
            and anchors.anchor_value = generations.anchor_value
    left join previous_membership
        on
            anchors.anchor_type = previous_membership.identifier_type
            and anchors.anchor_value = previous_membership.identifier_value
    where kept.profile_id is null

),

current_ids as (

    select
        component_id,
        profile_id
    from kept
    union all
    select
        component_id,
        profile_id
    from issued

),

issued_rows as (

    select
        issued.profile_id,
        issued.anchor_type,
        issued.anchor_value,
        issued.generation,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as issued_at,
        '{{ invocation_id }}' as issued_run_id,
        case when still_active.profile_id is not null then issued.previous_profile_id end as split_from_profile_id,
        cast(null as {{ dbt.type_timestamp() }}) as retired_at,
        cast(null as {{ dbt.type_string() }}) as retired_run_id,
        cast(null as {{ dbt.type_string() }}) as retired_reason,
        cast(null as {{ dbt.type_string() }}) as merged_into_profile_id
    from issued
    left join kept as still_active on issued.previous_profile_id = still_active.profile_id

),

retired_rows as (

    select
        active.profile_id,
        active.anchor_type,
        active.anchor_value,
        active.generation,
        active.issued_at,
        active.issued_run_id,
        active.split_from_profile_id,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as retired_at,
        '{{ invocation_id }}' as retired_run_id,
        case when current_ids.profile_id is not null then 'merged' else 'anchor_removed' end as retired_reason,
        current_ids.profile_id as merged_into_profile_id
    from active
    left join active_in_components on active.profile_id = active_in_components.profile_id
    left join current_ids on active_in_components.component_id = current_ids.component_id
    where active_in_components.profile_id is null or active_in_components.keep_rank > 1

),

changes as (

    select * from issued_rows
    union all
    select * from retired_rows

)

select * from changes
