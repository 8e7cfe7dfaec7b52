{#-
    Every behavioural event (tracks, pages, screens) with the profile it is attributed to and the
    identifiers it carries (anonymous_id, user_id, device_id), stitched once for the models that work
    per profile (sessions, daily event counts, cart abandonment).

    Incremental (macros/profiles/incremental_profiles.sql). The pre-hook removes the rows of message ids
    loaded again since the table last processed (logging them for sessions and daily counts), copies the
    rows of the profiles whose identity changed since into a work table and removes them. The run appends
      - those rows attributed again through the current identity_map (so events move with merges and
        splits): the cost follows the changed profiles' events, not every staged event,
      - the events loaded since then, for every profile,
    stamped with _processed_at (the run start). Rows of unchanged events are never rewritten.

    Why the changed profiles' rows are every event whose attribution can change. An event goes to the
    profile of its first identifier (user_id, anonymous_id, device_id) that has one. Its attribution
    changes only when that identifier's profile changes (it moved, its profile merged or split, it was
    blocked or erased: its old profile lost it, so that profile's identity changed and the row is
    copied), or when an identifier of the event that had no profile gets one. Every identifier of a
    staged event is in the identity graph (tracks, pages and screens are sources of identity_map, built
    before this model from the same staged rows), so an identifier without a profile is blocklisted, and
    only a change of the blocklist gives it one (an event whose identifiers all had none has no row).
    An erased identifier's raw rows are deleted, so no event of it remains to restitch.
    Hence a run whose identity inputs (blocklist, identifier sources: the fingerprint identity_map's
    identifiers were last built with, identity_inputs_state) differ from those of this model's last run,
    or that finds no record of them, rebuilds: every row is logged as removed, deleted and stitched again
    from the staged events. The result equals a full rebuild.

    A table built before the identifier columns existed fails with an error asking for --full-refresh.
-#}
/* depends_on: {{ ref('privacy_suppressions') }} {{ ref('int_profiles__identity_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_events_prepare() }}",
    post_hook="{{ segmentation.profile_events_finish() }}",
) }}
{%- set columns = segmentation.profile_events_restitch_columns() + ['profile_id'] %}
with

{%- if is_incremental() %}
{#- A part of the change set that is empty renders as nothing: no scan of the staged events. #}
{%- set changes = segmentation.profile_events_changes() %}

{%- if changes.rebuild %}

events as (

    select {{ columns | join(', ') }}
    from ({{ segmentation.stitched_events_sql() }}) as stitched

)

{%- else %}

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
        {{ segmentation.stitched_events_sql(events_relation=segmentation.profile_events_restitch_relation()) }}
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
    {%- endif %}
    {%- if not (changes.has_changed_profiles or changes.has_new_events) %}
    select {{ columns | join(', ') }} from {{ this }}
    where 1 = 0
    {%- endif %}

)

{%- endif %}

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
