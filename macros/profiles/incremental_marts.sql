{#
    Per-profile marts incremental by profile: int_profiles__identity, int_profiles__orders,
    int_profiles__attribute_candidates, profile_consent_history, profiles and profiles_pseudonymised.
    Each row of these models is a function of one profile's inputs only (no window or rank across
    profiles, no as-of time), so a profile whose inputs did not change keeps its rows.

    int_profiles__mart_changes logs, one row per profile id, changed_at: the start of the run that last
    saw an input of that profile change. It finds, for what changed since its previous run:
      - identity: every identity_map row (identifier, profile, first/last seen) added, removed or
        changed, compared with the copy the previous run left in <profiles>_work.identity_map__previous;
        the old and the new profile id of the row (merges, splits, new identifiers, blocked or erased
        identifiers, first/last seen moving with any new data of an identifier);
      - orders: every staged order not in int_profiles__orders as it was (new, reloaded, or not
        attributed), through every identifier it carries, and the previous profile of every order row
        that was reloaded or is no longer staged (erased);
      - consent decisions staged since (base _processed_at), through their user_id and anonymous_id, and
        the previous profile of a decision whose message was delivered again;
      - identifies loaded since, through their user_id and anonymous_id;
      - CRM contact versions loaded since, through their crm_id.
    "Since" for the staged sources is the newest _loaded_at / _processed_at the previous run saw, kept
    in <profiles>_work.int_profiles__mart_changes__sources (pinned by the pre-hook, saved by the
    post-hook; without it every staged row counts as new). A full build logs every profile.

    A mart's watermark is its newest _processed_at (the run start that wrote the row), or the start of
    its last successful run when later (processed_watermark). Its pre-hook (profile_mart_prepare) pins
    the profiles logged after the watermark in <profiles>_work.<model>__changes and deletes their rows;
    the model appends their rows computed from scratch. A watermark that stays behind (a failed run)
    only widens the next run's work. Rows erased by the erasure
    hook are deleted in every table already (keyed by profile id).

    Not covered (as for int_profiles__events): a staged identify, consent or CRM row that is removed or
    re-attributed without any of its identifiers' identity_map rows changing, e.g. a row shared by an
    erased person and a profile the identity rules keep apart; a --full-refresh rebuilds it.
#}


{# The profiles (profile_id) a per-profile mart recomputes in this run (the pinned work table). #}
{% macro changed_profiles_sql() -%}
    select profile_id from {{ segmentation.profile_changes_relation() }}
{%- endmacro %}


{# A condition on `column` (a profile id): it is a profile recomputed in this run; `true` on a full build. #}
{% macro is_changed_profile(column) -%}
    {%- if is_incremental() -%}
        {{ column }} in ({{ segmentation.changed_profiles_sql() }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{# The identifier values of `identifier_type` held by the profiles recomputed in this run. #}
{% macro changed_identifiers_sql(identifier_type) -%}
    select identifier_value from {{ ref('identity_map') }}
    where
        identifier_type = '{{ identifier_type }}'
        and profile_id in ({{ segmentation.changed_profiles_sql() }})
{%- endmacro %}


{#
    Pre-hook of a per-profile mart: pins the profiles changed since its watermark and deletes their
    rows. as_of_column: the model's column holding the as-of time it was evaluated at; when any row
    holds another as-of than this run's, every row changes (the column alone does), so every profile
    is pinned and every row deleted. with_event_changes: also the profiles with events written or
    removed since (int_profiles__events, its removed-rows log: profile_changes_sql).
#}
{% macro profile_mart_prepare(as_of_column=none, with_event_changes=false) -%}
    {%- if not execute or not is_incremental() -%}{{ return('') }}{%- endif -%}
    {%- set changes = segmentation.profile_changes_relation() -%}
    {%- do segmentation.ensure_schema(changes) -%}
    {%- do run_query('drop table if exists ' ~ changes) -%}
    {%- if segmentation.profile_mart_as_of_moved(as_of_column) -%}
        {%- do run_query('create table ' ~ changes ~ ' as select profile_id from '
            ~ segmentation.graph_relation('int_profiles__identity')) -%}
        {%- do run_query('delete from ' ~ this) -%}
    {%- else -%}
        {%- do run_query('create table ' ~ changes ~ ' as select distinct profile_id from ('
            ~ segmentation.profile_mart_changed_sql(with_event_changes) ~ ') as changed') -%}
        {#- No change: no scan of the table. -#}
        {%- if not segmentation.selects_nothing('select profile_id from ' ~ changes) -%}
            {%- do run_query('delete from ' ~ this ~ ' where profile_id in (select profile_id from ' ~ changes ~ ')') -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{# Whether a row of the mart (this) holds another as-of than this run's in `as_of_column` (none: false). #}
{% macro profile_mart_as_of_moved(as_of_column) -%}
    {%- if as_of_column is none -%}{{ return(false) }}{%- endif -%}
    {{ return(run_query('select count(*) from ' ~ this ~ ' where ' ~ as_of_column ~ ' <> '
        ~ segmentation.as_of_timestamp()).columns[0].values()[0] | int > 0) }}
{%- endmacro %}


{# The profiles changed since the mart's (this) watermark, with duplicates (see profile_mart_prepare). #}
{% macro profile_mart_changed_sql(with_event_changes=false) -%}
    {%- set changed_sql = 'select profile_id from ' ~ segmentation.graph_relation('int_profiles__mart_changes')
        ~ ' where changed_at > ' ~ segmentation.processed_watermark(this) -%}
    {%- if with_event_changes -%}
        {%- set changed_sql = changed_sql ~ ' union all select profile_id from ('
            ~ segmentation.profile_changes_sql(this) ~ ') as event_changes' -%}
    {%- endif -%}
    {{ return(changed_sql) }}
{%- endmacro %}


{#
    Whether an incremental run of a per-profile mart has no profile to recompute, read when the model
    renders (before its pre-hook pins and deletes anything): the model then renders as
    `select * from {{ this }} where 1 = 0` and reads none of its inputs. Pass the arguments of the
    model's profile_mart_prepare.
#}
{% macro profile_mart_unchanged(as_of_column=none, with_event_changes=false) -%}
    {%- if not execute or not is_incremental() -%}{{ return(false) }}{%- endif -%}
    {{ return(not segmentation.profile_mart_as_of_moved(as_of_column)
        and segmentation.selects_nothing(segmentation.profile_mart_changed_sql(with_event_changes))) }}
{%- endmacro %}


{# The staged sources int_profiles__mart_changes reads by time: (name, model, stamp column). #}
{% macro mart_change_sources() -%}
    {{ return([
        ('consent', 'stg_segment__consent_preferences', '_processed_at'),
        ('identifies', 'stg_segment__identifies', '_loaded_at'),
        ('contacts', 'stg_crm__contacts', '_loaded_at'),
    ]) }}
{%- endmacro %}


{#
    The newest stamp of each staged source the previous run saw (int_profiles__mart_changes__sources),
    as timestamp literals by source name: 1900-01-01 when none was saved (every staged row is new).
    Literals, read when the model renders (before its pre-hook pins this run's stamps), let DuckDB
    skip the row groups of older loads; a scalar subquery in the filter made it read every row.
#}
{% macro mart_change_sources_since() -%}
    {%- set never = segmentation.timestamp_literal('1900-01-01') -%}
    {%- set since = {} -%}
    {%- set sources = segmentation.mart_change_sources() -%}
    {%- for name, model, stamp in sources -%}
        {%- do since.update({name: never}) -%}
    {%- endfor -%}
    {%- set saved = segmentation.profile_work_relation('int_profiles__mart_changes__sources') -%}
    {%- if execute and segmentation.existing_relation(saved.schema, saved.identifier) is not none -%}
        {%- set columns = [] -%}
        {%- for name, model, stamp in sources -%}
            {%- do columns.append('cast(' ~ name ~ ' as ' ~ dbt.type_string() ~ ')') -%}
        {%- endfor -%}
        {%- set rows = run_query('select ' ~ columns | join(', ') ~ ' from ' ~ saved) -%}
        {%- if rows | length == 1 -%}
            {%- for name, model, stamp in sources -%}
                {%- if rows[0][loop.index0] is not none -%}
                    {%- do since.update({name: segmentation.timestamp_literal(rows[0][loop.index0])}) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(since) }}
{%- endmacro %}


{# SQL selecting, in one row, the newest stamp of each source (a column per source name). #}
{% macro mart_change_sources_now_sql() -%}
    {%- set columns = [] -%}
    {%- for name, model, stamp in segmentation.mart_change_sources() -%}
        {%- do columns.append('(select max(' ~ stamp ~ ') from ' ~ ref(model) ~ ') as ' ~ name) -%}
    {%- endfor -%}
    select {{ columns | join(', ') }}
{%- endmacro %}


{#
    Pre-hook of int_profiles__mart_changes: pins the newest stamps of the staged sources now
    (<work>.int_profiles__mart_changes__pending) and makes sure the saved ones exist (a first
    incremental run without them reads every staged row as new). On an incremental run it writes the
    identity_map rows added or removed since the previous run (a changed row is both: its old version
    removed, its new one added) to <work>.identity_map__diff, from the copy that run left; the model
    reads the changed profiles from it and the post-hook applies it to the copy.
#}
{% macro mart_changes_prepare() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set pending = segmentation.profile_work_relation('int_profiles__mart_changes__pending') -%}
    {%- set saved = segmentation.profile_work_relation('int_profiles__mart_changes__sources') -%}
    {%- set previous = segmentation.profile_work_relation('identity_map__previous') -%}
    {%- do segmentation.ensure_schema(pending) -%}
    {%- do run_query('drop table if exists ' ~ pending) -%}
    {%- do run_query('create table ' ~ pending ~ ' as ' ~ segmentation.mart_change_sources_now_sql()) -%}
    {%- do run_query('create table if not exists ' ~ saved ~ ' as select * from ' ~ pending ~ ' where 1 = 0') -%}
    {%- do run_query('create table if not exists ' ~ previous ~ ' as select ' ~ segmentation.identity_map_copy_columns()
        ~ ' from ' ~ ref('identity_map') ~ ' where 1 = 0') -%}
    {%- set diff = segmentation.profile_work_relation('identity_map__diff') -%}
    {%- do run_query('drop table if exists ' ~ diff) -%}
    {%- if is_incremental() -%}
        {%- do run_query('create table ' ~ diff ~ ' as ' ~ segmentation.identity_map_diff_sql(ref('identity_map'), previous)) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#
    SQL for the rows of `current` (identity_map) and `previous` (its copy) that differ, as the two-way
    set difference of the copied columns: side 'added' for a row of `current` that `previous` lacks,
    'removed' for a row of `previous` that `current` lacks; a changed row is both. One full outer join
    on the key (identifier_type, identifier_value: never null, one row per key on both sides) finds
    them, where two `except`s built a hash table of every column of each side: at L, 3.8 M rows on a
    side, 1.0 to 1.2 s against 2.2 to 2.5 s (single queries; the same rows with or without changes).
#}
{% macro identity_map_diff_sql(current, previous) -%}
    {%- set key = ['identifier_type', 'identifier_value'] -%}
    {%- set compared = [] -%}
    {%- for column in segmentation.identity_map_copy_columns().split(',') if column.strip() not in key -%}
        {%- do compared.append(column.strip()) -%}
    {%- endfor -%}
    with

    joined as (

        select
            current_rows.identifier_type is not null as in_current,
            previous_rows.identifier_type is not null as in_previous,
            {%- for column in key + compared %}
            current_rows.{{ column }} as current_{{ column }},
            previous_rows.{{ column }} as previous_{{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ current }} as current_rows
        full outer join {{ previous }} as previous_rows
            on
                current_rows.identifier_type = previous_rows.identifier_type
                and current_rows.identifier_value = previous_rows.identifier_value
        where
            current_rows.identifier_type is null
            or previous_rows.identifier_type is null
            {%- for column in compared %}
            or current_rows.{{ column }} is distinct from previous_rows.{{ column }}
            {%- endfor %}

    )

    {% for side, flag, prefix in [('added', 'in_current', 'current_'), ('removed', 'in_previous', 'previous_')] -%}
    {{ 'union all' if not loop.first }}
    select
        '{{ side }}' as side,
        {%- for column in key + compared %}
        {{ prefix ~ column }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from joined
    where {{ flag }}
    {% endfor %}
{%- endmacro %}


{# The columns of identity_map whose changes int_profiles__mart_changes logs (and keeps a copy of). #}
{% macro identity_map_copy_columns() -%}
    {{ return('identifier_type, identifier_value, profile_id, first_seen_at, last_seen_at') }}
{%- endmacro %}


{#
    Post-hook of int_profiles__mart_changes: saves the pinned stamps and the identity_map this run saw.
    An incremental run applies its diff to the copy (the rows of a changed or removed identifier out,
    the added rows in; (identifier_type, identifier_value) is identity_map's key): at L that is about
    0.3 s, against 4 to 6 s for a new copy of 3.8 M rows, which also left that much more for DuckDB's
    next checkpoint to write. A full build copies the whole table.
#}
{% macro mart_changes_finish() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set pending = segmentation.profile_work_relation('int_profiles__mart_changes__pending') -%}
    {%- set saved = segmentation.profile_work_relation('int_profiles__mart_changes__sources') -%}
    {%- set previous = segmentation.profile_work_relation('identity_map__previous') -%}
    {%- do run_query('drop table if exists ' ~ saved) -%}
    {%- do run_query('create table ' ~ saved ~ ' as select * from ' ~ pending) -%}
    {%- do run_query('drop table if exists ' ~ pending) -%}
    {%- set diff = segmentation.profile_work_relation('identity_map__diff') -%}
    {%- set columns = segmentation.identity_map_copy_columns() -%}
    {%- if is_incremental() -%}
        {%- do run_query('delete from ' ~ previous ~ ' where (identifier_type, identifier_value) in ('
            ~ 'select identifier_type, identifier_value from ' ~ diff ~ ')') -%}
        {%- do run_query('insert into ' ~ previous ~ ' (' ~ columns ~ ') select ' ~ columns ~ ' from ' ~ diff
            ~ " where side = 'added'") -%}
        {%- do run_query('drop table if exists ' ~ diff) -%}
    {%- else -%}
        {%- do run_query('drop table if exists ' ~ previous) -%}
        {%- do run_query('create table ' ~ previous ~ ' as select ' ~ columns ~ ' from ' ~ ref('identity_map')) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
