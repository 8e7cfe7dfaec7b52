{#-
    One row per identifier (not blocklisted) with the profile it belongs to. Profile ids come from
    identity_profile_registry: a profile keeps its id across runs and full refreshes, merges keep the
    id of the oldest profile (the one holding the oldest identifier), and ids are never reused.
-#}
with

components as (

    select * from {{ ref('int_identity__components_limited') }}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked

),

anchors as (

    select * from {{ ref('int_identity__profile_anchors') }}

),

registry as (

    select * from {{ ref('identity_profile_registry') }}
    where retired_at is null

),

identity_map as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        registry.profile_id,
        identifiers.first_seen_at,
        identifiers.last_seen_at
    from identifiers
    inner join components on identifiers.node_id = components.node_id
    inner join anchors on components.component_id = anchors.component_id
    inner join registry
        on
            anchors.anchor_type = registry.anchor_type
            and anchors.anchor_value = registry.anchor_value

)

select * from identity_map
