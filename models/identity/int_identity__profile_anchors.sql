{#-
    One row per component of the identity graph with its anchor: the oldest identifier (earliest
    first_seen_at, then type priority, type and value): the anchor of a new id, used only when the
    component holds no active id (identity_profile_registry).
-#}
with

components as (

    select * from {{ ref('int_identity__components_limited') }}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where not is_blocked

),

identifier_types as (

    select * from {{ ref('identity_identifier_types') }}

),

members as (

    select
        components.component_id,
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.first_seen_at,
        row_number() over (
            partition by components.component_id
            order by
                identifiers.first_seen_at asc,
                identifier_types.priority asc,
                identifiers.identifier_type asc,
                identifiers.identifier_value asc
        ) as age_rank,
        count(*) over (partition by components.component_id) as identifiers
    from identifiers
    inner join components on identifiers.node_id = components.node_id
    left join identifier_types on identifiers.identifier_type = identifier_types.identifier_type

),

anchors as (

    select
        component_id,
        identifier_type as anchor_type,
        identifier_value as anchor_value,
        first_seen_at as anchor_first_seen_at,
        identifiers
    from members
    where age_rank = 1

)

select * from anchors
