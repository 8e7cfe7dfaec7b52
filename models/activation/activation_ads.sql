{#-
    One row per segment and member for ad platforms' customer match: SHA-256 of the normalised email
    (trimmed, lower-cased) and of the phone in E.164 with its leading + (Google Customer Match's rule;
    strip the + for Meta), for activatable members of segments with destination ads whose profile
    granted advertising plus every purpose the segment requires. No raw identifier leaves in this table.
-#}
with

members as (

    {{ segmentation.activatable_members_sql('ads', 'advertising') }}

),

profiles as (

    select * from {{ ref('profiles') }}

),

current_rows as (

    select
        {{ dbt.hash(dbt.concat(['members.segment_name', "':'", 'members.profile_id'])) }} as activation_id,
        members.segment_name,
        members.profile_id,
        {{ segmentation.sha256_hex('lower(trim(profiles.email))') }} as hashed_email,
        {{ segmentation.sha256_hex('profiles.phone') }} as hashed_phone,
        profiles.country_code,
        {{ dbt.hash(dbt.concat([
            "coalesce(profiles.email, '')", "'|'", "coalesce(profiles.phone, '')", "'|'",
            "coalesce(profiles.country_code, '')"])) }} as row_hash
    from members
    inner join profiles on members.profile_id = profiles.profile_id
    where profiles.email is not null or profiles.phone is not null

),

final as (

    {{ segmentation.carry_updated_at('current_rows', 'activation_id') }}

)

select * from final
