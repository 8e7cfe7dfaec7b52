{#-
    One row per session: a profile's behavioural events (tracks, pages, screens) with no gap longer
    than var session_timeout_minutes (30) between consecutive events. Incremental: for a profile with
    events added, moved or removed since the model last processed, the pre-hook deletes the sessions
    that ended less than the timeout before the earliest change (every session of a profile whose
    identity changed); the run sessionizes the profile's events after its last kept session again and
    numbers them on from it, so a late event lands in its session and may join two
    (macros/profiles/incremental_profiles.sql).
-#}
/* depends_on: {{ ref('int_profiles__identity_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_changes_prepare('session') }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
{%- set timeout_minutes = var('session_timeout_minutes') %}
{%- if segmentation.profile_changes_empty(this) %}
{#- Nothing changed since the model last processed: no row to write, no input read. #}

select * from {{ this }}
where 1 = 0

{%- else %}
with

{%- if is_incremental() %}
{%- set bounds = segmentation.profile_change_bounds(this) %}
{#- No event before this can be in a session the pre-hook deleted: such a session ended at most the
    timeout before a change, and started at most the longest session's duration before it ended. #}
{%- set sessions_from = segmentation.sessions_resume_bound(bounds.partial_from, timeout_minutes) %}

changes as (

    select
        profile_id,
        changed_from
    from {{ segmentation.profile_changes_relation() }}

),

kept_sessions as (

    select
        kept.profile_id,
        max(kept.session_number) as kept_session_count,
        max(kept.ended_at) as kept_until
    from {{ this }} as kept
    inner join changes
        on kept.profile_id = changes.profile_id
    group by kept.profile_id

),

changed_events as (

    {#- The events of the changed profiles: found by profile_id and time, then read whole
        (rows_where_sql). A profile's changes row has a bound (changed_from) or none (the whole
        profile). #}
    {{ segmentation.rows_where_sql(ref('int_profiles__events'), ['*'], [
        'profile_id in (select profile_id from ' ~ segmentation.profile_changes_relation()
            ~ ' where changed_from is not null) and event_at >= ' ~ sessions_from,
        'profile_id in (select profile_id from ' ~ segmentation.profile_changes_relation()
            ~ ' where changed_from is null)'
            ~ (' and _processed_at > ' ~ bounds.whole_processed_after if bounds.whole_processed_after else ''),
    ]) }}

),

events as (

    select
        changed_events.*,
        coalesce(kept_sessions.kept_session_count, 0) as kept_session_count
    from changed_events
    left join kept_sessions
        on changed_events.profile_id = kept_sessions.profile_id
    where
        kept_sessions.kept_until is null
        or changed_events.event_at > kept_sessions.kept_until

),

{%- else %}

events as (

    select
        *,
        0 as kept_session_count
    from {{ ref('int_profiles__events') }}

),

{%- endif %}

gaps as (

    {#- One window (one sort) gives both neighbours. #}
    select
        *,
        lag(event_at) over (partition by profile_id order by event_at, message_id) as previous_event_at,
        lead(event_at) over (partition by profile_id order by event_at, message_id) as next_event_at
    from events

),

bounded as (

    select
        *,
        case
            when
                previous_event_at is null
                or event_at > {{ dbt.dateadd('minute', timeout_minutes, 'previous_event_at') }}
                then 1
            else 0
        end as is_session_start,
        case
            when
                next_event_at is null
                or next_event_at > {{ dbt.dateadd('minute', timeout_minutes, 'event_at') }}
                then 1
            else 0
        end as is_session_end
    from gaps

),

numbered as (

    select
        *,
        kept_session_count + sum(is_session_start) over (
            partition by profile_id order by event_at, message_id rows between unbounded preceding and current row
        ) as session_number
    from bounded

),

single_event_sessions as (

    {#- A session of one event (its start and its end) is that event's row as it is; only the events of longer
        sessions are grouped. The hash aggregation's cost follows its number of groups: at size L 95 % of the
        sessions are one event, and the model took 39 s instead of 66 s on its own (docs/benchmarks.md). #}
    select
        profile_id,
        session_number,
        event_at as started_at,
        event_at as ended_at,
        1 as event_count,
        case when event_type = 'page' then 1 else 0 end as page_views,
        case when event_type = 'screen' then 1 else 0 end as screen_views,
        case when event_type = 'track' then 1 else 0 end as track_events,
        case when event_name = 'Order Completed' then 1 else 0 end as orders_completed,
        message_id as first_message_id,
        page_url as landing_page_url,
        campaign_source,
        campaign_medium,
        _loaded_at as _max_loaded_at
    from numbered
    where is_session_start = 1 and is_session_end = 1

),

longer_sessions as (

    select
        profile_id,
        session_number,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        count(*) as event_count,
        sum(case when event_type = 'page' then 1 else 0 end) as page_views,
        sum(case when event_type = 'screen' then 1 else 0 end) as screen_views,
        sum(case when event_type = 'track' then 1 else 0 end) as track_events,
        sum(case when event_name = 'Order Completed' then 1 else 0 end) as orders_completed,
        max(case when is_session_start = 1 then message_id end) as first_message_id,
        max(case when is_session_start = 1 then page_url end) as landing_page_url,
        max(case when is_session_start = 1 then campaign_source end) as campaign_source,
        max(case when is_session_start = 1 then campaign_medium end) as campaign_medium,
        max(_loaded_at) as _max_loaded_at
    from numbered
    where is_session_start = 0 or is_session_end = 0
    group by profile_id, session_number

),

sessions as (

    select * from single_event_sessions
    union all
    select * from longer_sessions

),

final as (

    select
        {{ dbt.hash(dbt.concat(["sessions.profile_id", "':'", "sessions.first_message_id"])) }} as session_id,
        sessions.profile_id,
        sessions.session_number,
        sessions.started_at,
        sessions.ended_at,
        {{ dbt.datediff('sessions.started_at', 'sessions.ended_at', 'second') }}
            as duration_seconds,
        sessions.event_count,
        sessions.page_views,
        sessions.screen_views,
        sessions.track_events,
        sessions.orders_completed > 0 as has_order,
        sessions.event_count = 1 as is_bounce,
        case when sessions.screen_views > 0 then 'app' else 'web' end as channel,
        sessions.landing_page_url,
        sessions.campaign_source,
        sessions.campaign_medium,
        sessions._max_loaded_at,
        {{ segmentation.run_timestamp() }} as _processed_at
    from sessions

)

select * from final

{%- endif %}
