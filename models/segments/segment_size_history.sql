{#-
    One row per segment and run: members, activatable members, added and removed this run, the
    definition version, and the change against the segment's previous run (size change percent,
    whether the definition changed). Warn-level tests read the current run's rows. Appended, never
    rebuilt (full_refresh false).
-#}
{%- set run_time = segmentation.timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) %}
with

audiences as (

    select * from {{ ref('audiences') }}

),

changes as (

    select
        segment_name,
        sum(case when change_type = 'added' then 1 else 0 end) as added,
        sum(case when change_type = 'removed' then 1 else 0 end) as removed
    from {{ ref('segment_membership_changes') }}
    where run_id = '{{ invocation_id }}'
    group by segment_name

),

previous_runs as (

    {%- if is_incremental() %}
    select
        segment_name,
        members as previous_members,
        definition_version as previous_definition_version
    from (
        select
            *,
            row_number() over (partition by segment_name order by measured_at desc) as recency
        from {{ this }}
    ) as ranked
    where recency = 1
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as segment_name,
        cast(null as {{ dbt.type_bigint() }}) as previous_members,
        cast(null as {{ dbt.type_string() }}) as previous_definition_version
    where 1 = 0
    {%- endif %}

),

final as (

    select
        '{{ invocation_id }}' as run_id,
        {{ run_time }} as measured_at,
        audiences.audience_id as segment_name,
        audiences.definition_version,
        cast(audiences.members as {{ dbt.type_bigint() }}) as members,
        audiences.activatable_members,
        coalesce(changes.added, 0) as added,
        coalesce(changes.removed, 0) as removed,
        previous_runs.previous_members,
        case
            when previous_runs.previous_members > 0
                then round(
                    100.0 * (audiences.members - previous_runs.previous_members) / previous_runs.previous_members, 1
                )
        end as size_change_percent,
        previous_runs.previous_definition_version is not null
        and previous_runs.previous_definition_version != coalesce(audiences.definition_version, '')
            as is_definition_changed
    from audiences
    left join changes on audiences.audience_id = changes.segment_name
    left join previous_runs on audiences.audience_id = previous_runs.segment_name

)

select * from final
