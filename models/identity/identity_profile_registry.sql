{#-
    One row per profile id ever issued; never rebuilt from scratch (full_refresh=false), so ids stay
    stable across full refreshes and are never reused.
    - A component whose anchor already holds an active id keeps it.
    - Otherwise the component gets a new id derived from its anchor and a generation (how many ids that
      anchor held before), so an id that was retired is never issued again.
    - An active id whose anchor is no longer an anchor is retired: 'merged' when the anchor now sits in
      another profile (merged_into_profile_id), 'anchor_removed' when it left the graph.
    - A new id whose anchor belonged to a still-active profile before this run is a split
      (split_from_profile_id). The previous membership is read from the identity_map table as the
      last run left it, before this run rebuilds it.
-#}
{%- set previous_map = adapter.get_relation(database=this.database, schema=this.schema, identifier='identity_map')
    if execute else none -%}
with

anchors as (

    select * from {{ ref('int_identity__profile_anchors') }}

),

components as (

    select * from {{ ref('int_identity__components_limited') }}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked

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
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as identifier_type,
        cast(null as {{ dbt.type_string() }}) as identifier_value,
        cast(null as {{ dbt.type_string() }}) as profile_id
    where 1 = 0
    {%- endif %}

),

active as (

    select * from previous
    where retired_at is null

),

generations as (

    select
        anchor_type,
        anchor_value,
        count(*) as ids_before
    from previous
    group by anchor_type, anchor_value

),

kept as (

    select
        anchors.component_id,
        active.profile_id
    from anchors
    inner join active
        on
            anchors.anchor_type = active.anchor_type
            and anchors.anchor_value = active.anchor_value

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
    left join active
        on
            anchors.anchor_type = active.anchor_type
            and anchors.anchor_value = active.anchor_value
    left join generations
        on
            anchors.anchor_type = generations.anchor_type
            and anchors.anchor_value = generations.anchor_value
    left join previous_membership
        on
            anchors.anchor_type = previous_membership.identifier_type
            and anchors.anchor_value = previous_membership.identifier_value
    where active.profile_id is null

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
    left join kept
        on active.profile_id = kept.profile_id
    left join identifiers
        on
            active.anchor_type = identifiers.identifier_type
            and active.anchor_value = identifiers.identifier_value
    left join components on identifiers.node_id = components.node_id
    left join current_ids on components.component_id = current_ids.component_id
    where kept.profile_id is null

),

changes as (

    select * from issued_rows
    union all
    select * from retired_rows

)

select * from changes
