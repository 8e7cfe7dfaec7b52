{#-
    One row per identifier (not blocklisted) with the profile it belongs to. A profile's id is derived
    from its anchor, the oldest identifier of the component (earliest first_seen_at, then type priority,
    then value): merging profiles keeps the oldest profile's id, and a full rebuild over the same data
    gives the same ids.
-#}
with

components as (

    select * from {{ ref('int_identity__components') }}

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
        identifiers.node_id,
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.first_seen_at,
        identifiers.last_seen_at,
        components.component_id,
        row_number() over (
            partition by components.component_id
            order by
                identifiers.first_seen_at asc,
                identifier_types.priority asc,
                identifiers.identifier_type asc,
                identifiers.identifier_value asc
        ) as age_rank
    from identifiers
    inner join components on identifiers.node_id = components.node_id
    left join identifier_types on identifiers.identifier_type = identifier_types.identifier_type

),

anchors as (

    select
        component_id,
        {%- set anchor_key = dbt.concat([
            "'" ~ var('identity_id_salt') ~ "|'", "identifier_type", "':'", "identifier_value"
        ]) %}
        'prof_' || substring({{ dbt.hash(anchor_key) }}, 1, 20) as profile_id
    from members
    where age_rank = 1

),

identity_map as (

    select
        members.identifier_type,
        members.identifier_value,
        anchors.profile_id,
        members.first_seen_at,
        members.last_seen_at
    from members
    inner join anchors on members.component_id = anchors.component_id

)

select * from identity_map
