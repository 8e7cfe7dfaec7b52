{#-
    One row per audience and member in Census's audience_memberships shape (audience_id, person_id),
    only members that may be activated: not held out, not suppressed by a higher-priority segment, and
    with every consent purpose the audience requires granted as of the run.
-#}
with

members as (

    select
        memberships.segment_name as audience_id,
        memberships.profile_id as person_id,
        memberships.definition_version
    from {{ ref('segment_memberships') }} as memberships
    where memberships.is_activatable

),

consented as (

    {{ segmentation.activatable_members_sql() }}

),

current_rows as (

    select
        {{ dbt.hash(dbt.concat(['members.audience_id', "':'", 'members.person_id'])) }} as audience_membership_id,
        members.audience_id,
        members.person_id,
        members.definition_version,
        {{ dbt.hash("coalesce(members.definition_version, '')") }} as row_hash
    from members
    inner join consented
        on members.audience_id = consented.segment_name and members.person_id = consented.profile_id

),

final as (

    {{ segmentation.carry_updated_at('current_rows', 'audience_membership_id') }}

)

select * from final
