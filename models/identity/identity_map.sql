{#-
    One row per identifier (not blocklisted) with the profile it belongs to. Profile ids come from
    identity_profile_registry: a profile keeps its id across runs and full refreshes, merges keep the
    id of the oldest profile, and ids are never reused.
-#}
with

components as (

    select * from {{ ref('int_identity__components_limited') }}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked

),

registry as (

    select * from {{ ref('identity_profile_registry') }}
    where retired_at is null

),

component_profiles as (

    select
        components.component_id,
        registry.profile_id
    from registry
    inner join identifiers
        on
            registry.anchor_type = identifiers.identifier_type
            and registry.anchor_value = identifiers.identifier_value
    inner join components on identifiers.node_id = components.node_id

),

identity_map as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        component_profiles.profile_id,
        identifiers.first_seen_at,
        identifiers.last_seen_at
    from identifiers
    inner join components on identifiers.node_id = components.node_id
    inner join component_profiles on components.component_id = component_profiles.component_id

)

select
    *,
    {{ segmentation.run_timestamp() }} as _processed_at
from identity_map
