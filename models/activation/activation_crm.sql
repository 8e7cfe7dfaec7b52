{#-
    One row per segment and member with a CRM record: activatable members of segments with destination
    crm whose profile has a crm_id and granted every purpose the segment requires; the CRM is updated
    by crm_id.
-#}
with

members as (

    {{ segmentation.activatable_members_sql('crm') }}

),

profiles as (

    select * from {{ ref('profiles') }}

),

current_rows as (

    select
        {{ dbt.hash(dbt.concat(['members.segment_name', "':'", 'members.profile_id'])) }} as activation_id,
        members.segment_name,
        members.profile_id,
        profiles.crm_id,
        profiles.lifecycle_stage,
        {{ dbt.hash(dbt.concat(["coalesce(profiles.crm_id, '')", "'|'", "coalesce(profiles.lifecycle_stage, '')"])) }}
            as row_hash
    from members
    inner join profiles on members.profile_id = profiles.profile_id
    where profiles.crm_id is not null

),

final as (

    {{ segmentation.carry_updated_at('current_rows', 'activation_id') }}

)

select * from final
