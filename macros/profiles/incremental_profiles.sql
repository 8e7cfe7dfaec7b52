{#
    Profile-partitioned incremental models: int_profiles__events (every attributed behavioural event with
    its profile) and the models built on it, sessions and profile_event_daily. Each stamps the rows it
    writes with _processed_at, the start of the run; a model's watermark is its newest stamp. An
    incremental run writes only what changed since its watermark, so its cost follows the new events:

    int_profiles__events (pre-hook profile_events_prepare):
      - reads its watermarks (newest _loaded_at and _processed_at) before it changes anything;
      - removes the rows of message ids loaded again since (a redelivery whose staged version changed)
        and logs each removed row's profile_id and event_at in <profiles>_work.int_profiles__events_removed,
        stamped with this run, for the models built on it;
      - copies every row of the profiles whose identity changed since (int_profiles__identity_changes:
        merges, splits, new identifiers, vanished profiles) into <profiles>_work.int_profiles__events__restitch
        and removes them;
      then the model appends those events attributed again through the current identity_map, and the
      events loaded since. A run whose identity inputs (blocklist, sources) changed since rebuilds every
      row instead, logging them all as removed (the model's header says why).

    sessions and profile_event_daily (pre-hook profile_changes_prepare): the changes since the model's
    watermark are (profile_id, event_at) of the event rows written since, of the rows logged as removed
    since, and (profile_id, null: the whole profile) for profiles whose identity changed since. The
    pre-hook pins them in a work table at the model's grain, deletes the rows they make stale, and the
    model appends what it recomputes from them:
      - profile_event_daily: the (profile, day) pairs with a change (a pair may end up with no row);
      - sessions: a session that ended more than session_timeout_minutes before a profile's earliest
        change cannot change (neither its events nor the gap after it do), nor can those before it. The
        later sessions are deleted and the profile's events after the last kept session are
        sessionized again, numbered on from it.

    Both read int_profiles__events through literal bounds rendered before the pre-hook deletes anything
    (profile_change_bounds, sessions_resume_bound): the rows of profiles whose identity changed are all
    newer than the model's watermark (they were restitched), the other profiles' changed events are no
    older than their earliest change, so the scans skip the rest before joining.

    Events move between profiles only when identifiers do, which changes both profiles' identity. A
    model's watermark is the later of its newest stamp and the start of its last successful run (its
    run stamp, saved by its post-hook, macros/run_stamps.sql): a run that wrote no row (e.g. the
    restitch of an erased profile, which has no event left) processed every change up to its start all
    the same, and with its newest stamp alone every later run would process those changes again. One
    that stays behind (a failed run) only widens the next run's work: recomputing a change twice gives
    the same rows. The result equals a full rebuild. The removed-rows log is pruned to what the models
    built on int_profiles__events (and profile_traits) have not processed yet.
#}

{# The start of this run, to the microsecond: the _processed_at stamp of incremental profile models. #}
{% macro run_timestamp() -%}
    {{ return(segmentation.timestamp_literal(run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f"))) }}
{%- endmacro %}


{#
    The watermark of `target` (an incremental profile model): the later of its newest _processed_at and
    its run stamp (see above), or a time before any run, read when the SQL that uses it is rendered and
    written into it as a literal: a filter on a literal is pushed into the scan (DuckDB skips the row
    groups it rules out), one on a scalar subquery is not.
    Every caller renders it before the statements of its run change `target`.
#}
{% macro processed_watermark(target) -%}
    {%- set stamp = segmentation.run_stamp_relation(target) -%}
    {%- if execute and segmentation.existing_relation(stamp.schema, stamp.identifier) is not none -%}
        {{ return(segmentation.column_watermark('(select _processed_at from ' ~ target ~ ' union all select processed_at from '
            ~ stamp ~ ') as stamps', '_processed_at')) }}
    {%- endif -%}
    {{ return(segmentation.column_watermark(target, '_processed_at')) }}
{%- endmacro %}


{# max(`column`) of `relation` as a timestamp literal, 1900-01-01 when it has no rows (see above). #}
{% macro column_watermark(relation, column) -%}
    {%- set expression = "coalesce(max(" ~ column ~ "), cast('1900-01-01' as " ~ dbt.type_timestamp() ~ "))" -%}
    {%- if not execute -%}
        {{ return('(select ' ~ expression ~ ' from ' ~ relation ~ ')') }}
    {%- endif -%}
    {%- set value = run_query('select cast(' ~ expression ~ ' as ' ~ dbt.type_string() ~ ') from ' ~ relation).columns[0].values()[0] -%}
    {{ return(segmentation.timestamp_literal(value)) }}
{%- endmacro %}


{#
    Whether `sql` selects no row, read when the calling SQL renders (false when not executing, so a
    compiled model shows every branch). A model renders a branch whose input is empty as nothing (or
    `select * from {{ this }} where 1 = 0`), so the engine never scans the big inputs behind it.
    Every caller reads it before the statements of its run change what `sql` reads.
#}
{% macro selects_nothing(sql) -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query('select count(*) from (select 1 as found from (' ~ sql
        ~ ') as candidates limit 1) as probe').columns[0].values()[0] -%}
    {{ return(found | int == 0) }}
{%- endmacro %}


{# A table of the profile models' work schema (<schema of int_profiles__events>_work). #}
{% macro profile_work_relation(identifier) -%}
    {%- set events = segmentation.graph_relation('int_profiles__events') -%}
    {{ return(api.Relation.create(database=events.database, schema=events.schema ~ '_work', identifier=identifier)) }}
{%- endmacro %}


{# The removed-rows log of int_profiles__events (profile_id, event_at, _processed_at), created when missing. #}
{% macro profile_events_removed_log() -%}
    {%- set log = segmentation.profile_work_relation('int_profiles__events_removed') -%}
    {%- do segmentation.ensure_schema(log) -%}
    {%- do run_query('create table if not exists ' ~ log ~ ' as select profile_id, event_at, _processed_at from '
        ~ segmentation.graph_relation('int_profiles__events') ~ ' where 1 = 0') -%}
    {{ return(log) }}
{%- endmacro %}


{# The message ids of the staged events loaded after `loaded_watermark` (a SQL expression). #}
{% macro loaded_message_ids_sql(loaded_watermark) -%}
    {%- set selects = [] -%}
    {%- for model in ['stg_segment__tracks', 'stg_segment__pages', 'stg_segment__screens'] -%}
        {%- do selects.append('select message_id from ' ~ ref(model) ~ ' where _loaded_at > ' ~ loaded_watermark) -%}
    {%- endfor -%}
    {{ return(selects | join(' union all ')) }}
{%- endmacro %}


{#
    The watermarks of int_profiles__events as literals: its newest _loaded_at and _processed_at before
    this run changes it. The model's body and its pre-hook both read them before the pre-hook deletes
    anything (dbt compiles a model before it runs the model's hooks), so both see the same values.
#}
{% macro profile_events_watermarks() -%}
    {{ return({'loaded': segmentation.column_watermark(this, '_loaded_at'),
               'processed': segmentation.processed_watermark(this)}) }}
{%- endmacro %}


{# The profiles whose identity changed since int_profiles__events last processed (`processed_watermark`). #}
{% macro profile_events_changed_profiles_sql(processed_watermark) -%}
    select profile_id from {{ ref('int_profiles__identity_changes') }}
    where changed_at > {{ processed_watermark }}
{%- endmacro %}


{# The columns of int_profiles__events that the restitch work table holds: all but profile_id and _processed_at. #}
{% macro profile_events_restitch_columns() -%}
    {{ return(['message_id', 'event_type', 'event_name', 'product_category', 'event_at', 'page_url',
        'campaign_source', 'campaign_medium', 'anonymous_id', 'user_id', 'device_id', '_loaded_at']) }}
{%- endmacro %}


{# The rows of the profiles whose identity changed, copied by the pre-hook of int_profiles__events for its body. #}
{% macro profile_events_restitch_relation() -%}
    {{ return(segmentation.profile_work_relation('int_profiles__events__restitch')) }}
{%- endmacro %}


{# The identity inputs int_profiles__events last ran with (saved by its post-hook). #}
{% macro profile_events_identity_inputs_relation() -%}
    {{ return(segmentation.profile_work_relation('int_profiles__events__identity_inputs')) }}
{%- endmacro %}


{#
    The fingerprint of the identity inputs (blocklist, identifier sources) that int_identity__identifiers,
    and so identity_map, was last built with (identity_work.identity_inputs_state), '' when unknown.
#}
{% macro profile_events_identity_inputs() -%}
    {%- set state = segmentation.identity_work_relation('identity_inputs_state') -%}
    {%- if segmentation.existing_relation(state.schema, state.identifier) is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set rows = run_query("select fingerprint from " ~ state ~ " where model_name = 'int_identity__identifiers'") -%}
    {{ return(rows[0][0] if rows | length == 1 and rows[0][0] is not none else '') }}
{%- endmacro %}


{#
    Whether int_profiles__events must rebuild every row (see its header): the identity inputs differ
    from those of its last run, or either is unknown. Raises when the table lacks a column the model
    writes (built before the identifier columns existed): it needs --full-refresh.
#}
{% macro profile_events_needs_rebuild() -%}
    {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set missing = [] -%}
    {%- for column in segmentation.profile_events_restitch_columns() + ['profile_id', '_processed_at'] -%}
        {%- if column not in existing -%}{%- do missing.append(column) -%}{%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(this ~ ' has no column ' ~ missing | join(', ') ~ ': it was built by an '
            ~ 'older version of the project. Rebuild it once: dbt build --full-refresh --select int_profiles__events+') }}
    {%- endif -%}
    {%- set current = segmentation.profile_events_identity_inputs() -%}
    {%- set saved = segmentation.profile_events_identity_inputs_relation() -%}
    {%- if current == '' or segmentation.existing_relation(saved.schema, saved.identifier) is none -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set rows = run_query('select fingerprint from ' ~ saved) -%}
    {{ return(rows | length != 1 or rows[0][0] != current) }}
{%- endmacro %}


{#
    The change set of int_profiles__events, read before its run changes anything (see
    profile_events_watermarks): the watermarks, rebuild (see profile_events_needs_rebuild),
    has_new_events (a staged event was loaded since) and has_changed_profiles (a profile's identity
    changed since). The body leaves out the branch of an empty part and the pre-hook its deletes, so a
    run with nothing new scans no staged event.
#}
{% macro profile_events_changes() -%}
    {%- set watermarks = segmentation.profile_events_watermarks() -%}
    {{ return({
        'loaded': watermarks.loaded,
        'processed': watermarks.processed,
        'rebuild': execute and segmentation.profile_events_needs_rebuild(),
        'has_new_events': not segmentation.selects_nothing(segmentation.loaded_message_ids_sql(watermarks.loaded)),
        'has_changed_profiles': not segmentation.selects_nothing(
            segmentation.profile_events_changed_profiles_sql(watermarks.processed)),
    }) }}
{%- endmacro %}


{# Pre-hook of int_profiles__events (see the header). #}
{% macro profile_events_prepare() -%}
    {%- if not execute or not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- set changes = segmentation.profile_events_changes() -%}
    {%- set log = segmentation.profile_events_removed_log() -%}
    {%- if changes.rebuild -%}
        {%- do run_query('insert into ' ~ log ~ ' (profile_id, event_at, _processed_at) select profile_id, event_at, '
            ~ segmentation.run_timestamp() ~ ' from ' ~ this) -%}
        {%- do run_query('delete from ' ~ this) -%}
    {%- else -%}
        {%- if changes.has_new_events -%}
            {%- set loaded_again = segmentation.loaded_message_ids_sql(changes.loaded) -%}
            {%- do run_query('insert into ' ~ log ~ ' (profile_id, event_at, _processed_at) select profile_id, event_at, '
                ~ segmentation.run_timestamp() ~ ' from ' ~ this ~ ' where message_id in (' ~ loaded_again ~ ')') -%}
            {%- do run_query('delete from ' ~ this ~ ' where message_id in (' ~ loaded_again ~ ')') -%}
        {%- endif -%}
        {%- if changes.has_changed_profiles -%}
            {%- set changed = segmentation.profile_events_changed_profiles_sql(changes.processed) -%}
            {%- set restitch = segmentation.profile_events_restitch_relation() -%}
            {%- do run_query('drop table if exists ' ~ restitch) -%}
            {%- do run_query('create table ' ~ restitch ~ ' as ' ~ segmentation.rows_where_sql(
                this, segmentation.profile_events_restitch_columns(), ['profile_id in (' ~ changed ~ ')'])) -%}
            {%- do run_query('delete from ' ~ this ~ ' where profile_id in (' ~ changed ~ ')') -%}
        {%- endif -%}
    {%- endif -%}
    {#- The log keeps what a model built on the events has not processed yet. -#}
    {%- set readers = [] -%}
    {%- set names = ['sessions', 'profile_event_daily', 'profile_traits'] -%}
    {%- for name in names -%}
        {%- set relation = segmentation.graph_relation_if_built(name) -%}
        {%- if relation is not none -%}
            {%- do readers.append('select ' ~ segmentation.processed_watermark(relation) ~ ' as watermark') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if readers | length == names | length -%}
        {%- do run_query('delete from ' ~ log ~ ' where _processed_at <= (select min(watermark) from ('
            ~ readers | join(' union all ') ~ ') as readers)') -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{# Post-hook of int_profiles__events: drops the restitch work table, saves the identity inputs it ran with
   and the run stamp (run_stamp_save, macros/run_stamps.sql). #}
{% macro profile_events_finish() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- do run_query('drop table if exists ' ~ segmentation.profile_events_restitch_relation()) -%}
    {%- set saved = segmentation.profile_events_identity_inputs_relation() -%}
    {%- do segmentation.ensure_schema(saved) -%}
    {%- do run_query('drop table if exists ' ~ saved) -%}
    {%- do run_query('create table ' ~ saved ~ ' as select cast(\'' ~ segmentation.profile_events_identity_inputs()
        ~ '\' as ' ~ dbt.type_string() ~ ') as fingerprint') -%}
    {%- do segmentation.run_stamp_save() -%}
    {{ return('') }}
{%- endmacro %}


{# The changes of int_profiles__events since `target` last processed: (profile_id, event_at), event_at
   null for a whole profile (see the header). #}
{% macro profile_changes_sql(target) -%}
    {%- set log = segmentation.profile_events_removed_log() -%}
    {%- set watermark = segmentation.processed_watermark(target) -%}
    select profile_id, event_at from {{ ref('int_profiles__events') }}
    where _processed_at > {{ watermark }}
    union all
    select profile_id, event_at from {{ log }}
    where _processed_at > {{ watermark }}
    union all
    select profile_id, cast(null as {{ dbt.type_timestamp() }}) as event_at
    from {{ ref('int_profiles__identity_changes') }}
    where changed_at > {{ watermark }}
{%- endmacro %}


{#
    Literal bounds on the rows of int_profiles__events that a model built on it reads for its changes
    since `target` last processed, read when the SQL renders (see processed_watermark): a filter on a
    literal is evaluated in the scan, before the other columns are read and the join with the changes
    runs, so the cost follows the rows that pass it.
      partial_from: the earliest event time of a change of a profile whose identity did not change
        ('9999-12-31' when there is none); partial_from_day: the start of its day.
      whole_processed_after: every row of a profile whose identity changed has a newer _processed_at
        (`target`'s watermark), or none. Such a profile had every row deleted and restitched, stamped
        with that run, by the int_profiles__events run that followed its change, so its rows are newer
        than the change, which is newer than the watermark: they sit in the newest row groups. That holds
        once int_profiles__events has run since the newest identity change (its newest stamp is not
        older); otherwise (e.g. only a model built on it was run) it is none and every row is read.
#}
{% macro profile_change_bounds(target) -%}
    {%- if not execute -%}
        {{ return({'partial_from': 'null', 'partial_from_day': 'null', 'whole_processed_after': none}) }}
    {%- endif -%}
    {%- set events = ref('int_profiles__events') -%}
    {%- set identity_changes = ref('int_profiles__identity_changes') -%}
    {%- set watermark = segmentation.processed_watermark(target) -%}
    {%- set row = run_query(
        'select cast(coalesce(min(changes.event_at), cast(\'9999-12-31\' as ' ~ dbt.type_timestamp() ~ ')) as ' ~ dbt.type_string() ~ '), '
        ~ 'cast(coalesce(cast(min(changes.event_at) as date), cast(\'9999-12-31\' as date)) as ' ~ dbt.type_string() ~ '), '
        ~ 'cast(case when (select max(_processed_at) from ' ~ events ~ ') >= (select max(changed_at) from ' ~ identity_changes
        ~ ') then 1 else 0 end as integer) '
        ~ 'from (' ~ segmentation.profile_changes_sql(target) ~ ') as changes '
        ~ 'left join (select distinct profile_id from ' ~ identity_changes ~ ' where changed_at > ' ~ watermark ~ ') as whole_profiles '
        ~ 'on changes.profile_id = whole_profiles.profile_id '
        ~ 'where changes.event_at is not null and whole_profiles.profile_id is null').rows[0] -%}
    {{ return({
        'partial_from': segmentation.timestamp_literal(row[0]),
        'partial_from_day': segmentation.timestamp_literal(row[1]),
        'whole_processed_after': watermark if row[2] == 1 else none,
    }) }}
{%- endmacro %}


{#
    sessions: the earliest event a session the pre-hook deletes for a profile whose identity did not
    change can hold, as a literal: such a session ended at most `timeout_minutes` before the profile's
    earliest change (>= `partial_from`), and started at most the longest session's duration (plus a
    second: durations are whole seconds) before it ended. Read before the pre-hook deletes anything.
#}
{% macro sessions_resume_bound(partial_from, timeout_minutes) -%}
    {%- if not execute -%}{{ return('null') }}{%- endif -%}
    {%- set longest = 'coalesce(max(duration_seconds), 0) + 1' -%}
    {%- set value = run_query('select cast(' ~ dbt.dateadd('second', '-(' ~ longest ~ ')', dbt.dateadd('minute', -timeout_minutes, partial_from))
        ~ ' as ' ~ dbt.type_string() ~ ') from ' ~ this).columns[0].values()[0] -%}
    {{ return(segmentation.timestamp_literal(value)) }}
{%- endmacro %}


{# Whether `target` (sessions, profile_event_daily) has no change to process: an incremental run renders
   it as no rows (the pre-hook then finds none and deletes nothing). #}
{% macro profile_changes_empty(target) -%}
    {{ return(is_incremental() and segmentation.selects_nothing(segmentation.profile_changes_sql(target))) }}
{%- endmacro %}


{# The work table that holds a model's pinned changes for this run. #}
{% macro profile_changes_relation() -%}
    {{ return(segmentation.profile_work_relation(this.identifier ~ '__changes')) }}
{%- endmacro %}


{#
    Pre-hook of sessions (grain 'session') and profile_event_daily (grain 'day'): pins the changes since
    the model last processed in its work table and deletes the rows they make stale (see the header):
      session: profile_id, changed_from (the earliest change; null: the whole profile);
      day: profile_id, event_date (null: the whole profile; then no other row of the profile).
#}
{% macro profile_changes_prepare(grain) -%}
    {%- if not execute or not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- set changes = segmentation.profile_changes_relation() -%}
    {%- set changes_sql = segmentation.profile_changes_sql(this) -%}
    {%- do run_query('drop table if exists ' ~ changes) -%}
    {%- if grain == 'session' -%}
        {%- do run_query('create table ' ~ changes ~ ' as select profile_id, '
            ~ 'case when count(event_at) = count(*) then min(event_at) end as changed_from '
            ~ 'from (' ~ changes_sql ~ ') as changes group by profile_id') -%}
        {#- A join, not `session_id in (a self-join)`: one scan of the table instead of two (one row of
            changes per profile, so no session is matched twice). No change: no scan. -#}
        {%- if not segmentation.selects_nothing('select profile_id from ' ~ changes) -%}
            {%- do run_query('delete from ' ~ this ~ ' using ' ~ changes ~ ' as changes'
                ~ ' where ' ~ this ~ '.profile_id = changes.profile_id and (changes.changed_from is null or '
                ~ dbt.dateadd('minute', var('session_timeout_minutes'), this ~ '.ended_at') ~ ' >= changes.changed_from)') -%}
        {%- endif -%}
    {%- elif grain == 'day' -%}
        {%- do run_query('create table ' ~ changes ~ ' as select distinct changes.profile_id, '
            ~ 'case when whole_profiles.profile_id is null then cast(changes.event_at as date) end as event_date '
            ~ 'from (' ~ changes_sql ~ ') as changes left join (select distinct profile_id from ' ~ ref('int_profiles__identity_changes')
            ~ ' where changed_at > ' ~ segmentation.processed_watermark(this) ~ ') as whole_profiles'
            ~ ' on changes.profile_id = whole_profiles.profile_id') -%}
        {%- set whole_profiles = 'select profile_id from ' ~ changes ~ ' where event_date is null' -%}
        {%- if not segmentation.selects_nothing(whole_profiles) -%}
            {%- do run_query('delete from ' ~ this ~ ' where profile_id in (' ~ whole_profiles ~ ')') -%}
        {%- endif -%}
        {#- The literal bound (no stale day is older) is evaluated in the scan, before the join. -#}
        {%- set partial_from = run_query('select cast(min(event_date) as ' ~ dbt.type_string() ~ ') from ' ~ changes).rows[0][0] -%}
        {%- if partial_from is not none -%}
            {%- do run_query('delete from ' ~ this ~ ' where event_date >= cast(\'' ~ partial_from ~ '\' as date)'
                ~ ' and (profile_id, event_date) in (select profile_id, event_date from ' ~ changes ~ ' where event_date is not null)') -%}
        {%- endif -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error("profile_changes_prepare: grain is 'session' or 'day', not " ~ grain) }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{# Post-hook of the models built on int_profiles__events and of the per-profile marts: drops this run's work
   table and saves the run stamp (run_stamp_save, macros/run_stamps.sql). #}
{% macro profile_changes_finish(identifier) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- do run_query('drop table if exists ' ~ segmentation.profile_work_relation(identifier)) -%}
    {%- do segmentation.run_stamp_save() -%}
    {{ return('') }}
{%- endmacro %}
