{#-
    One row per profile, UTC day, event name and product category (null when the event has none):
    how many such events the profile had and the first and last of them. Traits read these daily
    counts instead of the raw events. Incremental by (profile, day): the pre-hook deletes the days with
    an event added, moved or removed since the model last processed (every day of a profile whose
    identity changed) and the run recomputes them (macros/profiles/incremental_profiles.sql). Literal
    bounds (profile_change_bounds) keep the scans of the events to the days and rows that can match.
-#}
/* depends_on: {{ ref('int_profiles__identity_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_changes_prepare('day') }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
{%- if segmentation.profile_changes_empty(this) %}
{#- Nothing changed since the model last processed: no row to write, no input read. #}

select * from {{ this }}
where 1 = 0

{%- else %}
with

{%- if is_incremental() %}
{%- set bounds = segmentation.profile_change_bounds(this) %}

all_events as (

    select * from {{ ref('int_profiles__events') }}

),

changes as (

    select * from {{ segmentation.profile_changes_relation() }}

),

events as (

    select all_events.*
    from all_events
    inner join changes
        on all_events.profile_id = changes.profile_id
    where
        changes.event_date is null
        {%- if bounds.whole_processed_after %}
        and all_events._processed_at > {{ bounds.whole_processed_after }}
        {%- endif %}
    union all
    select all_events.*
    from all_events
    inner join changes
        on
            all_events.profile_id = changes.profile_id
            and cast(all_events.event_at as date) = changes.event_date
    where all_events.event_at >= {{ bounds.partial_from_day }}

),

{%- else %}

events as (

    select * from {{ ref('int_profiles__events') }}

),

{%- endif %}

daily as (

    select
        profile_id,
        cast(event_at as date) as event_date,
        event_type,
        event_name,
        product_category,
        count(*) as event_count,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        max(_loaded_at) as _max_loaded_at
    from events
    group by profile_id, cast(event_at as date), event_type, event_name, product_category

),

final as (

    select
        *,
        {{ segmentation.run_timestamp() }} as _processed_at
    from daily

)

select * from final

{%- endif %}
