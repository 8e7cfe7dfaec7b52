{#
    Scoped data tests: on an incremental run a test of an incremental model checks only what the
    model's newest run wrote, not the whole table.

    A test opts in with the placeholder `__written_this_run__` in its `where` config (dbt renders
    `where` at parse time, where project macros are not available; get_where_subquery below, called
    when the test runs, replaces the placeholder, as the dbt docs of `where` suggest):

      where: __written_this_run__                     rows the newest run wrote (not_null, accepted_values)
      where: __written_this_run__(key=message_id)     every row whose key the newest run wrote (unique)
      where: __written_this_run__(key=profile_id, marker=changed_at)

    `marker` (default _processed_at) is the column every write stamps with the run start; the newest
    run is the one with the newest stamp in the relation (a separate `dbt test` after `dbt run` scopes
    to that run too). Soundness:
      - a row-wise test (not_null, accepted_values) is complete on the written rows: rows no run wrote
        since the previous test run are the ones that test checked;
      - a uniqueness test needs a key set, not a row filter: every duplicate of a written key is kept,
        so each duplicate involving a written row is found; the key must be a column of the tested
        key (for a combination, one that is never null, so `in` keeps the whole group) and deletes
        cannot create duplicates among the rows left.

    A run that wrote nothing (no new data) leaves the newest stamp to an earlier run, whose rows that
    run's tests checked. The placeholder then stands for `1 = 0`: the test reads no row. Which case
    applies is read from the run stamp of the relation's writer (macros/run_stamps.sql: the model
    itself, or the incremental model under a view, scoped_test_writer), the start of its last
    successful run, which its post-hook
    saves with the literal it stamps its rows with: the run wrote no row of the relation exactly when
    the run stamp is later than every stamp in the relation (compared in SQL, to the microsecond, on
    both engines; a run that wrote rows leaves its own start as the newest stamp). Why this is sound:
      - a failed run saves no run stamp: a row it wrote (if any) is newer than the run stamp, so
        tests until the model's next successful run scope to the newest stamp, as without the stamp;
      - a separate `dbt test` after `dbt run` reads the run stamp that run saved;
      - no run stamp (a model without the post-hook, a warehouse built before it, `dbt compile` of a
        model never run): the newest stamp, as before;
      - --full-refresh and test_scope 'all' test everything (below), whatever the run stamp says.
    Left to the full test, as the rows of a failed run are: rows of a run whose tests did not run or
    failed, when the next run writes nothing (before the run stamp, that run tested them again).

    The placeholder stands for `true` (the whole table is tested) when
      - the run is a --full-refresh (the nightly job),
      - var test_scope is 'all' (`--vars '{test_scope: all}'`), e.g. after a failed hourly run, whose
        rows the next hourly run would not test again, or after a test or a staging view changed,
      - the relation has no marker column, or no stamped row, or the test is only being parsed,
      - every row carries the newest stamp (a first build wrote them all; the filter would keep every
        row at the cost of a second scan: at L it made the first build's uniqueness test of
        profile_event_daily take 39.4 s instead of 11.9 s).
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__written_this_run__' in where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ segmentation.expand_written_this_run(where, relation) }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) -%}
{%- endmacro %}


{# `where` with its `__written_this_run__[(key=..., marker=...)]` placeholder replaced. #}
{% macro expand_written_this_run(where, relation) -%}
    {%- set token = '__written_this_run__' -%}
    {%- set head, tail = where.split(token, 1) -%}
    {%- set arguments = {'key': none, 'marker': '_processed_at'} -%}
    {%- if tail.startswith('(') -%}
        {%- set closing = tail.index(')') -%}
        {%- for argument in tail[1:closing].split(',') if argument.strip() -%}
            {%- set name, value = argument.split('=', 1) -%}
            {%- if name.strip() not in arguments -%}
                {{ exceptions.raise_compiler_error(token ~ ': unknown argument ' ~ name.strip() ~ ' in ' ~ where) }}
            {%- endif -%}
            {%- do arguments.update({name.strip(): value.strip()}) -%}
        {%- endfor -%}
        {%- set tail = tail[closing + 1:] -%}
    {%- endif -%}
    {{ head }}{{ segmentation.rows_written_this_run(relation, key=arguments.key, marker=arguments.marker,
        tested_node=model.get('attached_node')) }}{{ tail }}
{%- endmacro %}


{#
    A condition on `relation` selecting what its newest run wrote, `1 = 0` when the last successful run
    of its writer wrote none of its rows, or `true` (see above).
    key: none for the written rows, else a column: every row whose key is a written row's key.
    marker: the column stamped with the start of the run that wrote the row.
    tested_node: the unique id of the model `relation` is built by (the test's attached_node), whose
    writer's run stamp tells whether its last run wrote anything (scoped_test_writer), or none.

    Two queries: the columns of `relation` together with whether the writer's run stamp exists, then
    the newest and oldest stamp and, in SQL (exact on both engines), whether the run stamp is newer
    than every stamp.
#}
{% macro rows_written_this_run(relation, key=none, marker='_processed_at', tested_node=none) -%}
    {%- set scope = var('test_scope', 'written') -%}
    {%- if scope not in ('written', 'all') -%}
        {{ exceptions.raise_compiler_error("var test_scope must be 'written' or 'all', not " ~ scope) }}
    {%- endif -%}
    {%- if not execute or flags.FULL_REFRESH or scope == 'all' -%}
        true
    {%- else -%}
        {%- set writer = segmentation.scoped_test_writer(tested_node) -%}
        {%- set stamp = segmentation.run_stamp_relation(writer) if writer is not none else none -%}
        {#- For a view, the stamps are read from its writer's table when that has the marker column: the
            view's rows carry their base rows' stamps, so the writer's newest stamp scopes the view the
            same way, and the view's own columns (JSON parsed, a filter on them) are never computed for
            every row just to find the newest stamp (stg_segment__consent_preferences: 0.8 s per test
            at L on a quiet machine, against 0.02 s on base_segment__tracks). -#}
        {%- set reader = writer if writer is not none and (writer.schema | lower, writer.identifier | lower)
            != (relation.schema | lower, relation.identifier | lower) else none -%}
        {%- set found = segmentation.relation_columns_and_run_stamp(relation, stamp, reader) -%}
        {%- set newest, oldest, is_idle = none, none, false -%}
        {%- if marker | lower in found.columns -%}
            {%- set is_idle_sql = 'max(' ~ marker ~ ') < (select max(processed_at) from ' ~ stamp ~ ')'
                if found.has_run_stamp else 'false' -%}
            {%- set stamps = run_query('select max(' ~ marker ~ '), min(' ~ marker ~ '), ' ~ is_idle_sql
                ~ ' from ' ~ (reader if marker | lower in found.reader_columns else relation)) -%}
            {%- set newest, oldest, is_idle = stamps[0][0], stamps[0][1], stamps[0][2] -%}
        {%- endif -%}
        {#- The writer's last successful run wrote no row of `relation`: the rows there were tested by
            the runs that wrote them. -#}
        {%- if is_idle -%}
            1 = 0
        {#- No stamp, or the newest run wrote every row (a first build): the filter would keep every row,
            and only cost a second scan. -#}
        {%- elif newest is none or newest == oldest -%}
            true
        {%- else -%}
            {%- set written = marker ~ ' = ' ~ segmentation.timestamp_literal(newest) -%}
            {%- if key is none -%}
                {{ written }}
            {%- else -%}
                {{ key }} in (select {{ key }} from {{ relation }} where {{ written }})
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#
    The relation of the model whose runs write the rows of the model `unique_id` (a scoped test's
    attached_node) and stamp them: the model itself, or for a view the writer of its only parent model
    (the staged and quarantine views of the Segment base models pass their _processed_at on). none when
    there is none or more than one: the test then scopes by the newest stamp alone.
#}
{% macro scoped_test_writer(unique_id) -%}
    {%- set node = graph.nodes.get(unique_id) if unique_id else none -%}
    {%- if node is none or node.resource_type != 'model' -%}{{ return(none) }}{%- endif -%}
    {%- if node.config.materialized != 'view' -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endif -%}
    {%- set parents = [] -%}
    {%- for parent in node.depends_on.nodes if parent.startswith('model.') -%}
        {%- do parents.append(parent) -%}
    {%- endfor -%}
    {{ return(segmentation.scoped_test_writer(parents[0]) if parents | length == 1 else none) }}
{%- endmacro %}


{#
    In one query: the lower-cased column names of `relation` (a table or view), whether the table
    `stamp` (a run stamp, or none) exists, and the column names of `reader` (the writer's table the
    stamps of a view are read from, or none; `reader_columns`). It replaces
    adapter.get_columns_in_relation, so the run stamp and the reader cost no extra query.
#}
{% macro relation_columns_and_run_stamp(relation, stamp, reader=none) -%}
    {%- set wanted = [relation] + ([stamp] if stamp is not none else []) + ([reader] if reader is not none else []) -%}
    {%- set conditions = [] -%}
    {%- for wanted_relation in wanted -%}
        {%- do conditions.append("(table_schema = '" ~ wanted_relation.schema ~ "' and table_name = '"
            ~ wanted_relation.identifier ~ "')") -%}
    {%- endfor -%}
    {%- set rows = run_query('select table_schema, table_name, column_name from information_schema.columns'
        ~ ' where lower(table_catalog) = \'' ~ relation.database | lower ~ '\' and (' ~ conditions | join(' or ') ~ ')') -%}
    {%- set columns, stamp_columns, reader_columns = [], [], [] -%}
    {%- for row in rows -%}
        {%- if row[0] == relation.schema and row[1] == relation.identifier -%}
            {%- do columns.append(row[2] | lower) -%}
        {%- elif reader is not none and row[0] == reader.schema and row[1] == reader.identifier -%}
            {%- do reader_columns.append(row[2] | lower) -%}
        {%- else -%}
            {%- do stamp_columns.append(row[2] | lower) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({'columns': columns, 'has_run_stamp': 'processed_at' in stamp_columns, 'reader_columns': reader_columns}) }}
{%- endmacro %}
