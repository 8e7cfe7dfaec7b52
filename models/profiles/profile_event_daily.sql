{#-
    One row per profile, UTC day, event name and product category (null when the event has none):
    how many such events the profile had and the first and last of them. Traits read these daily
    counts instead of the raw events. Incremental by profile, like sessions.
-#}
/* depends_on: {{ ref('privacy_suppressions') }} */
{{ config(
    pre_hook="{{ segmentation.delete_identity_changed_profiles(this) }}",
) }}
with

events as (

    {{ segmentation.events_to_process() }}

),

profile_identity as (

    select
        profile_id,
        identity_fingerprint
    from {{ ref('int_profiles__identity') }}

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
        daily.*,
        profile_identity.identity_fingerprint
    from daily
    inner join profile_identity on daily.profile_id = profile_identity.profile_id

)

select * from final
