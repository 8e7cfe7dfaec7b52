{#-
    One row per segment: what it is (name, description, owner, purposes, destinations, holdout), its
    current definition version and size, when its membership last changed and when its definition
    last changed.
-#}
with

audiences as (

    select * from {{ ref('audiences') }}

),

last_changes as (

    select
        segment_name,
        max(changed_at) as membership_changed_at
    from {{ ref('segment_membership_changes') }}
    group by segment_name

),

versions as (

    select
        history.segment_name,
        min(history.measured_at) as version_since
    from {{ ref('segment_size_history') }} as history
    inner join audiences
        on
            history.segment_name = audiences.audience_id
            and history.definition_version = audiences.definition_version
    group by history.segment_name

),

final as (

    select
        audiences.audience_id as segment_name,
        audiences.description,
        audiences.owner,
        audiences.consent_purposes,
        audiences.destinations,
        audiences.holdout_percent,
        audiences.definition_version,
        versions.version_since as definition_changed_at,
        audiences.members,
        audiences.activatable_members,
        last_changes.membership_changed_at
    from audiences
    left join last_changes on audiences.audience_id = last_changes.segment_name
    left join versions on audiences.audience_id = versions.segment_name

)

select * from final
