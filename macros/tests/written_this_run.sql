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
    {{ head }}{{ segmentation.rows_written_this_run(relation, key=arguments.key, marker=arguments.marker) }}{{ tail }}
{%- endmacro %}


{#
    A condition on `relation` selecting what its newest run wrote, or `true` (see above).
    key: none for the written rows, else a column: every row whose key is a written row's key.
    marker: the column stamped with the start of the run that wrote the row.
#}
{% macro rows_written_this_run(relation, key=none, marker='_processed_at') -%}
    {%- set scope = var('test_scope', 'written') -%}
    {%- if scope not in ('written', 'all') -%}
        {{ exceptions.raise_compiler_error("var test_scope must be 'written' or 'all', not " ~ scope) }}
    {%- endif -%}
    {%- if not execute or flags.FULL_REFRESH or scope == 'all' -%}
        true
    {%- else -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
        {%- set newest, oldest = none, none -%}
        {%- if marker | lower in columns -%}
            {%- set stamps = run_query('select max(' ~ marker ~ '), min(' ~ marker ~ ') from ' ~ relation) -%}
            {%- set newest, oldest = stamps[0][0], stamps[0][1] -%}
        {%- endif -%}
        {#- No stamp, or the newest run wrote every row (a first build): the filter would keep every row,
            and only cost a second scan. -#}
        {%- if newest is none or newest == oldest -%}
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
