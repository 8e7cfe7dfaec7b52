{#-
    Every behavioural event (tracks, pages, screens) with the profile it is attributed to, stitched once
    for the models that work per profile (sessions, daily event counts, cart abandonment).

    Incremental by profile. A run
      - restitches every event of the profiles whose identity changed since the table last processed
        (found through the profiles' current identifiers, so events move with merges and splits),
      - stitches the events loaded since then for the other profiles and rewrites those profiles'
        rows with them (delete+insert), dropping an older row of a message id delivered again,
    and stamps what it writes with _processed_at (the run start), which the models built on it compare
    with their own newest stamp. The pre-hook drops the rows of changed profiles first, so a profile
    that lost every event or no longer exists loses its rows.
-#}
/* depends_on: {{ ref('privacy_suppressions') }} {{ ref('int_profiles__identity_changes') }} */
{{ config(
    pre_hook="{{ segmentation.delete_identity_changed_profiles(this) }}",
) }}
{%- set columns = [
    'message_id', 'event_type', 'event_name', 'product_category', 'event_at', 'page_url',
    'campaign_source', 'campaign_medium', '_loaded_at', 'profile_id'] %}
with

{%- if is_incremental() %}

changed_profiles as (

    {{ segmentation.identity_changed_since_sql(this) }}

),

new_events as (

    select {{ columns | join(', ') }}
    from (
        {{ segmentation.stitched_events_sql(
            event_filter="_loaded_at > (select coalesce(max(_loaded_at), cast('1900-01-01' as "
                ~ dbt.type_timestamp() ~ ")) from " ~ this ~ ")") }}
    ) as stitched

),

restitched as (

    select {{ columns | join(', ') }}
    from (
        {{ segmentation.stitched_events_sql(only_profiles="select profile_id from changed_profiles") }}
    ) as stitched

),

touched_profiles as (

    select profile_id from new_events
    union
    select profile_id from {{ this }}
    where message_id in (select message_id from new_events)

),

events as (

    select * from restitched
    union all
    select * from new_events
    where profile_id not in (select profile_id from changed_profiles)
    union all
    select {{ columns | join(', ') }}
    from {{ this }}
    where
        profile_id in (select profile_id from touched_profiles)
        and profile_id not in (select profile_id from changed_profiles)
        and message_id not in (select message_id from new_events)

)

{%- else %}

events as (

    select {{ columns | join(', ') }}
    from ({{ segmentation.stitched_events_sql() }}) as stitched

)

{%- endif %}

select
    *,
    {{ segmentation.run_timestamp() }} as _processed_at
from events
