{#- One row per pair of segments (segment_a < segment_b): members of each, of both, and Jaccard. -#}
with

memberships as (

    select
        segment_name,
        profile_id
    from {{ ref('segment_memberships') }}

),

sizes as (

    select
        segment_name,
        count(*) as members
    from memberships
    group by segment_name

),

pairs as (

    select
        sizes_a.segment_name as segment_a,
        sizes_b.segment_name as segment_b,
        sizes_a.members as members_a,
        sizes_b.members as members_b
    from sizes as sizes_a
    inner join sizes as sizes_b on sizes_a.segment_name < sizes_b.segment_name

),

shared as (

    select
        memberships_a.segment_name as segment_a,
        memberships_b.segment_name as segment_b,
        count(*) as members_both
    from memberships as memberships_a
    inner join memberships as memberships_b
        on
            memberships_a.profile_id = memberships_b.profile_id
            and memberships_a.segment_name < memberships_b.segment_name
    group by memberships_a.segment_name, memberships_b.segment_name

),

final as (

    select
        pairs.segment_a,
        pairs.segment_b,
        pairs.members_a,
        pairs.members_b,
        coalesce(shared.members_both, 0) as members_both,
        round(
            1.0 * coalesce(shared.members_both, 0)
            / nullif(pairs.members_a + pairs.members_b - coalesce(shared.members_both, 0), 0), 4
        ) as jaccard
    from pairs
    left join shared on pairs.segment_a = shared.segment_a and pairs.segment_b = shared.segment_b

)

select * from final
