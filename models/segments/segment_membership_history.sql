{#-
    One row per stay of a profile in a segment: entered_at, exited_at (null while still a member), the
    runs that opened and closed it, and the current definition version and activatability (updated in
    place, with updated_run_id and updated_at, when they change). Never rebuilt from scratch (full_refresh false).
-#}
{%- set run_time = segmentation.timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) %}
with

current_members as (

    select * from {{ ref('segment_memberships') }}

),

open_stays as (

    {%- if is_incremental() %}
    select * from {{ this }}
    where exited_at is null
    {%- else %}
    select
        segment_name,
        profile_id,
        {{ run_time }} as entered_at,
        cast(null as {{ dbt.type_timestamp() }}) as exited_at,
        cast(null as {{ dbt.type_string() }}) as entered_run_id,
        cast(null as {{ dbt.type_string() }}) as exited_run_id,
        definition_version,
        is_activatable,
        cast(null as {{ dbt.type_string() }}) as updated_run_id,
        cast(null as {{ dbt.type_timestamp() }}) as updated_at
    from current_members
    where 1 = 0
    {%- endif %}

),

entered as (

    select
        current_members.segment_name,
        current_members.profile_id,
        {{ run_time }} as entered_at,
        cast(null as {{ dbt.type_timestamp() }}) as exited_at,
        '{{ invocation_id }}' as entered_run_id,
        cast(null as {{ dbt.type_string() }}) as exited_run_id,
        current_members.definition_version,
        current_members.is_activatable,
        '{{ invocation_id }}' as updated_run_id,
        {{ run_time }} as updated_at
    from current_members
    left join open_stays
        on
            current_members.segment_name = open_stays.segment_name
            and current_members.profile_id = open_stays.profile_id
    where open_stays.profile_id is null

),

exited as (

    select
        open_stays.segment_name,
        open_stays.profile_id,
        open_stays.entered_at,
        {{ run_time }} as exited_at,
        open_stays.entered_run_id,
        '{{ invocation_id }}' as exited_run_id,
        open_stays.definition_version,
        open_stays.is_activatable,
        '{{ invocation_id }}' as updated_run_id,
        {{ run_time }} as updated_at
    from open_stays
    left join current_members
        on
            open_stays.segment_name = current_members.segment_name
            and open_stays.profile_id = current_members.profile_id
    where current_members.profile_id is null

),

updated as (

    select
        open_stays.segment_name,
        open_stays.profile_id,
        open_stays.entered_at,
        open_stays.exited_at,
        open_stays.entered_run_id,
        open_stays.exited_run_id,
        current_members.definition_version,
        current_members.is_activatable,
        '{{ invocation_id }}' as updated_run_id,
        {{ run_time }} as updated_at
    from open_stays
    inner join current_members
        on
            open_stays.segment_name = current_members.segment_name
            and open_stays.profile_id = current_members.profile_id
    where
        coalesce(open_stays.definition_version, '') != coalesce(current_members.definition_version, '')
        or open_stays.is_activatable != current_members.is_activatable

)

select * from entered
union all
select * from exited
union all
select * from updated
