{#-
    One row per profile, UTC day, event name and product category (null when the event has none):
    how many such events the profile had and the first and last of them. Traits read these daily
    counts instead of the raw events. Incremental by profile, like sessions.
-#}
/* depends_on: {{ ref('int_profiles__identity_changes') }} */
{{ config(
    pre_hook="{{ segmentation.delete_identity_changed_profiles(this) }}",
) }}
with

events as (

    {{ segmentation.profile_events_to_process() }}

),

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
