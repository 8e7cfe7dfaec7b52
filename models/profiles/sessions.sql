{#-
    One row per session: a profile's behavioural events (tracks, pages, screens) with no gap longer
    than var session_timeout_minutes (30) between consecutive events. Incremental by profile: a
    profile whose events int_profiles__events rewrote (newly loaded events, late ones included, or a
    changed identity) is re-sessionized from all its events, so a late event lands in the right session
    and merged profiles' sessions merge (see macros/profiles/stitching.sql).
-#}
/* depends_on: {{ ref('int_profiles__identity_changes') }} */
{{ config(
    pre_hook="{{ segmentation.delete_identity_changed_profiles(this) }}",
) }}
{%- set timeout_minutes = var('session_timeout_minutes') %}
with

events as (

    {{ segmentation.profile_events_to_process() }}

),

gaps as (

    select
        *,
        case
            when
                lag(event_at) over (partition by profile_id order by event_at, message_id) is null
                or event_at > {{ dbt.dateadd(
                    'minute', timeout_minutes,
                    'lag(event_at) over (partition by profile_id order by event_at, message_id)') }}
                then 1
            else 0
        end as is_session_start
    from events

),

numbered as (

    select
        *,
        sum(is_session_start) over (
            partition by profile_id order by event_at, message_id rows between unbounded preceding and current row
        ) as session_number
    from gaps

),

sessions as (

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
    group by profile_id, session_number

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
