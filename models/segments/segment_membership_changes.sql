{#-
    One row per membership change of a run: added (entered the segment), removed (left it, was merged
    into another profile, or was erased) or updated (still a member, but the definition version or
    whether it may be activated changed). Applying a run's changes to the previous run's memberships
    gives exactly this run's memberships. Appended, never rebuilt (full_refresh false).
-#}
{%- set run_time = segmentation.timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) %}
with

history as (

    select * from {{ ref('segment_membership_history') }}

),

erased as (

    select * from {{ ref('privacy_erased_memberships') }}
    where run_id = '{{ invocation_id }}'

),

changes as (

    select
        segment_name,
        profile_id,
        'added' as change_type,
        definition_version,
        is_activatable
    from history
    where entered_run_id = '{{ invocation_id }}'
    union all
    select
        segment_name,
        profile_id,
        'removed' as change_type,
        definition_version,
        false as is_activatable
    from history
    where exited_run_id = '{{ invocation_id }}'
    union all
    select
        segment_name,
        profile_id,
        'updated' as change_type,
        definition_version,
        is_activatable
    from history
    where
        updated_run_id = '{{ invocation_id }}'
        and entered_run_id != '{{ invocation_id }}'
        and exited_run_id is null
    union all
    select
        segment_name,
        profile_id,
        'removed' as change_type,
        cast(null as {{ dbt.type_string() }}) as definition_version,
        false as is_activatable
    from erased

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "'" ~ invocation_id ~ "'", "':'", 'segment_name', "':'", 'profile_id', "':'", 'change_type'])) }}
            as change_id,
        segment_name,
        profile_id,
        change_type,
        definition_version,
        is_activatable,
        {{ run_time }} as changed_at,
        '{{ invocation_id }}' as run_id
    from changes

)

select * from final
