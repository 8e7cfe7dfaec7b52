{#-
    One row per segment and member to email: activatable members of segments with destination email
    whose profile has an email and granted email_marketing plus every purpose the segment requires.
    activation_id is stable (segment and profile); updated_at changes only when the row's content does.
-#}
with

members as (

    {{ segmentation.activatable_members_sql('email', 'email_marketing') }}

),

profiles as (

    select * from {{ ref('profiles') }}

),

current_rows as (

    select
        {{ dbt.hash(dbt.concat(['members.segment_name', "':'", 'members.profile_id'])) }} as activation_id,
        members.segment_name,
        members.profile_id,
        profiles.email,
        profiles.first_name,
        profiles.last_name,
        profiles.country_code,
        {{ dbt.hash(dbt.concat([
            "coalesce(profiles.email, '')", "'|'", "coalesce(profiles.first_name, '')", "'|'",
            "coalesce(profiles.last_name, '')", "'|'", "coalesce(profiles.country_code, '')"])) }} as row_hash
    from members
    inner join profiles on members.profile_id = profiles.profile_id
    where profiles.email is not null

),

final as (

    {{ segmentation.carry_updated_at('current_rows', 'activation_id') }}

)

select * from final
