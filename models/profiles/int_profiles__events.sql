{#-
    Every behavioural event (tracks, pages, screens) with the profile it is attributed to, stitched once
    for the models that work per profile (sessions, daily event counts, cart abandonment).

    Incremental (macros/profiles/incremental_profiles.sql). The pre-hook removes the rows of message ids
    loaded again since the table last processed (logging them for sessions and daily counts) and every
    row of the profiles whose identity changed since. The run appends
      - every event of those profiles, restitched through their current identifiers (so events move with
        merges and splits),
      - the events loaded since then, for the other profiles,
    stamped with _processed_at (the run start). Rows of unchanged events are never rewritten.
-#}
/* depends_on: {{ ref('privacy_suppressions') }} {{ ref('int_profiles__identity_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_events_prepare() }}",
    post_hook="{{ segmentation.run_stamp_save() }}",
) }}
{%- set columns = [
    'message_id', 'event_type', 'event_name', 'product_category', 'event_at', 'page_url',
    'campaign_source', 'campaign_medium', '_loaded_at', 'profile_id'] %}
with

{%- if is_incremental() %}
{#- A part of the change set that is empty renders as nothing: no scan of the staged events. #}
{%- set changes = segmentation.profile_events_changes() %}

changed_profiles as (

    {{ segmentation.profile_events_changed_profiles_sql(changes.processed) }}

),

{%- if changes.has_new_events %}

new_events as (

    select {{ columns | join(', ') }}
    from (
        {{ segmentation.stitched_events_sql(
            event_filter="_loaded_at > " ~ changes.loaded) }}
    ) as stitched

),
{%- endif %}

{%- if changes.has_changed_profiles %}

restitched as (

    select {{ columns | join(', ') }}
    from (
        {{ segmentation.stitched_events_sql(only_profiles="select profile_id from changed_profiles") }}
    ) as stitched

),
{%- endif %}

events as (

    {%- if changes.has_changed_profiles %}
    select * from restitched
    {%- endif %}
    {%- if changes.has_changed_profiles and changes.has_new_events %}
    union all
    {%- endif %}
    {%- if changes.has_new_events %}
    select * from new_events
    where profile_id not in (select profile_id from changed_profiles)
    {%- endif %}
    {%- if not (changes.has_changed_profiles or changes.has_new_events) %}
    select {{ columns | join(', ') }} from {{ this }}
    where 1 = 0
    {%- endif %}

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
