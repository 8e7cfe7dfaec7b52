{#
    Incremental inputs of the identity graph: int_identity__identifiers and int_identity__links.

    A run recomputes only the *touched* identifiers, exactly, from all their staged records:
      - every identifier of a staged row loaded since the last run (_loaded_at above the watermark the
        last run stored), which also covers a row that replaced an older delivery or version of the
        same record when both carry the same identifiers;
      - every identifier that shared a staged row with an erased identifier (written by the erasure,
        identity_note_erased_rows, into identity_work.identity_dirty_identifiers: a hub device, a
        blocklisted value or an identifier cut off by a rule, whose counts lose the erased rows).
    The pre-hook of int_identity__identifiers copies, per source, every staged row that carries a
    touched identifier (identity_work.int_identity__touched_rows_<n>) and deletes the touched
    identifiers' rows; the model then aggregates the touched identifiers over those rows. The links
    model deletes and recomputes every link with a touched endpoint the same way. Aggregating a key over
    all its records (instead of adding a batch to a stored sum) keeps every aggregate exact: first and
    last seen, observations, count(distinct source_model), the sources list, an identifier or link
    that lost all its records disappears.

    Rules and sources: a run whose blocklist (both models), force_merge overrides (links) or identity
    sources differ from the last run's (a fingerprint in identity_work.identity_inputs_state) rebuilds
    the model from all staged rows, and so does the links model when int_identity__identifiers did not
    run incrementally in the same invocation right after the run links last consumed.
    `dbt build --full-refresh` (the nightly job) rebuilds both from scratch.
#}

{% macro identity_node_relation(name) -%}
    {%- for node in graph.nodes.values() if node.resource_type in ('model', 'seed') and node.name == name -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('No model or seed ' ~ name ~ ' in the project') }}
{%- endmacro %}


{% macro identity_work_relation(identifier) -%}
    {%- if not execute -%}
        {#- Parsing: the graph is not known yet; the name only has to render. -#}
        {{ return(api.Relation.create(database=target.database, schema='identity_work', identifier=identifier)) }}
    {%- endif -%}
    {%- set identifiers_model = segmentation.identity_node_relation('int_identity__identifiers') -%}
    {{ return(api.Relation.create(
        database=identifiers_model.database, schema=identifiers_model.schema ~ '_work', identifier=identifier)) }}
{%- endmacro %}


{% macro identity_touched_rows_relation(source_index) -%}
    {{ return(segmentation.identity_work_relation('int_identity__touched_rows_' ~ source_index)) }}
{%- endmacro %}


{% macro identity_touched_values_sql(identifier_type) -%}
    select identifier_value from {{ segmentation.identity_work_relation('int_identity__touched') }}
    where identifier_type = '{{ identifier_type }}'
{%- endmacro %}


{#- What decides whether stored rows are still valid: the sources, the blocklist and (links) the force_merge overrides. -#}
{% macro identity_inputs_fingerprint(model_name) -%}
    {%- set parts = [tojson(segmentation.identity_sources())] -%}
    {%- set blocklist = segmentation.identity_node_relation('identity_blocklist') -%}
    {%- for row in run_query('select identifier_type, match_type, pattern, reason from ' ~ blocklist ~ ' order by 1, 2, 3, 4') -%}
        {%- do parts.append('blocklist|' ~ (row | map('string') | join('|'))) -%}
    {%- endfor -%}
    {%- if model_name == 'int_identity__links' -%}
        {%- set overrides = segmentation.identity_node_relation('identity_overrides') -%}
        {%- for row in run_query(
            "select identifier_type_a, identifier_value_a, identifier_type_b, identifier_value_b, "
            ~ dbt.cast('requested_at', dbt.type_string()) ~ " from " ~ overrides
            ~ " where action = 'force_merge' order by 1, 2, 3, 4, 5") -%}
            {%- do parts.append('force_merge|' ~ (row | map('string') | join('|'))) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(local_md5(parts | join('\n'))) }}
{%- endmacro %}


{#-
    How a model of the identity inputs is built in this run:
      full: a new table (first run, --full-refresh);
      rebuild: the table exists but its rows cannot be carried over (rules or sources changed, no state,
               links missed a run of the identifiers): every row is deleted and recomputed;
      incremental: only the touched identifiers (and links with a touched endpoint) are recomputed.
-#}
{% macro identity_inputs_mode(model_name) -%}
    {%- if not execute or model.resource_type != 'model' or not is_incremental() -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set work_schema = segmentation.identity_work_relation('identity_inputs_state').schema -%}
    {%- set state = segmentation.existing_relation(work_schema, 'identity_inputs_state') -%}
    {%- if state is none -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {%- set rows = run_query("select fingerprint, run_id from " ~ state ~ " where model_name = '" ~ model_name ~ "'") -%}
    {%- if rows | length != 1 or rows[0][0] != segmentation.identity_inputs_fingerprint(model_name) -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {%- if model_name == 'int_identity__links' -%}
        {%- set run_table = segmentation.existing_relation(work_schema, 'int_identity__identifiers__run') -%}
        {%- if run_table is none -%}
            {{ return('rebuild') }}
        {%- endif -%}
        {%- set run = run_query('select run_id, previous_run_id, build_mode from ' ~ run_table) -%}
        {%- if run | length != 1 or run[0][0] != invocation_id or run[0][2] != 'incremental' or run[0][1] != rows[0][1] -%}
            {{ return('rebuild') }}
        {%- endif -%}
    {%- endif -%}
    {{ return('incremental') }}
{%- endmacro %}


{#- The touched identifiers (int_identity__touched) stay until the next run of the identifiers:
    int_identity__links_ruled reads them (macros/identity/incremental_graph.sql). -#}
{% macro identity_drop_touched_tables(keep_touched=false) -%}
    {%- if not keep_touched -%}
        {%- do run_query('drop table if exists ' ~ segmentation.identity_work_relation('int_identity__touched')) -%}
    {%- endif -%}
    {%- for source in segmentation.identity_sources() -%}
        {%- do run_query('drop table if exists ' ~ segmentation.identity_touched_rows_relation(loop.index)) -%}
    {%- endfor -%}
{%- endmacro %}


{% macro identity_ensure_state_tables() -%}
    {%- set state = segmentation.identity_work_relation('identity_inputs_state') -%}
    {%- set dirty = segmentation.identity_work_relation('identity_dirty_identifiers') -%}
    {%- do segmentation.ensure_schema(state) -%}
    {%- do run_query('create table if not exists ' ~ state ~ ' (model_name ' ~ dbt.type_string() ~ ', run_id '
        ~ dbt.type_string() ~ ', fingerprint ' ~ dbt.type_string() ~ ', loaded_at_watermark ' ~ dbt.type_timestamp() ~ ')') -%}
    {%- do run_query('create table if not exists ' ~ dirty ~ ' (identifier_type ' ~ dbt.type_string()
        ~ ', identifier_value ' ~ dbt.type_string() ~ ')') -%}
{%- endmacro %}


{#- Pre-hook of int_identity__identifiers. -#}
{% macro identity_identifiers_prepare() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set mode = segmentation.identity_inputs_mode('int_identity__identifiers') -%}
    {%- set state = segmentation.identity_work_relation('identity_inputs_state') -%}
    {%- set dirty = segmentation.identity_work_relation('identity_dirty_identifiers') -%}
    {%- set run_table = segmentation.identity_work_relation('int_identity__identifiers__run') -%}
    {%- set touched = segmentation.identity_work_relation('int_identity__touched') -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- do segmentation.identity_drop_touched_tables() -%}
    {%- set sources = segmentation.identity_sources() -%}
    {#- The previous watermark as a literal: a scalar subquery in the filter keeps DuckDB from pruning the scan by _loaded_at. -#}
    {%- set previous = run_query("select cast(loaded_at_watermark as " ~ dbt.type_string() ~ ") from " ~ state
        ~ " where model_name = 'int_identity__identifiers'") -%}
    {%- set watermark = none -%}
    {%- if previous | length == 1 and previous[0][0] is not none -%}
        {%- set watermark = segmentation.timestamp_literal(previous[0][0]) -%}
    {%- endif -%}
    {%- set newest = [] -%}
    {%- for source in sources -%}
        {%- do newest.append('select max(_loaded_at) as loaded_at from ' ~ segmentation.graph_relation(source.model)) -%}
    {%- endfor -%}
    {#- The run's record: the watermark is taken before reading the rows, so a row loaded while this runs is read again next time. -#}
    {%- do run_query('drop table if exists ' ~ run_table) -%}
    {%- do run_query(
        "create table " ~ run_table ~ " as select cast('" ~ invocation_id ~ "' as " ~ dbt.type_string() ~ ") as run_id, "
        ~ "(select run_id from " ~ state ~ " where model_name = 'int_identity__identifiers') as previous_run_id, "
        ~ "cast('" ~ mode ~ "' as " ~ dbt.type_string() ~ ") as build_mode, "
        ~ "(select max(loaded_at) from (" ~ newest | join(' union all ') ~ ") as newest) as loaded_at_watermark") -%}
    {%- if mode == 'incremental' -%}
        {%- set new_identifiers = [] -%}
        {%- for source in sources -%}
            {%- set relation = segmentation.graph_relation(source.model) -%}
            {%- for identifier_type, column in source.identifiers.items() -%}
                {%- do new_identifiers.append(
                    "select '" ~ identifier_type ~ "' as identifier_type, " ~ column ~ " as identifier_value from " ~ relation
                    ~ " where " ~ column ~ " is not null" ~ ("" if watermark is none else " and _loaded_at > " ~ watermark)) -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- do new_identifiers.append('select identifier_type, identifier_value from ' ~ dirty) -%}
        {%- do run_query(
            'create table ' ~ touched ~ ' as select identifier_type, identifier_value, '
            ~ segmentation.stable_node_id(dbt.concat(['identifier_type', "':'", 'identifier_value'])) ~ ' as node_id '
            ~ 'from (select distinct identifier_type, identifier_value from (' ~ new_identifiers | join(' union all ')
            ~ ') as touched_values) as touched_identifiers') -%}
        {%- for source in sources -%}
            {%- set columns = [] -%}
            {%- set conditions = [] -%}
            {%- for identifier_type, column in source.identifiers.items() -%}
                {%- do columns.append(column ~ ' as ' ~ identifier_type) -%}
                {%- do conditions.append(column ~ ' in (' ~ segmentation.identity_touched_values_sql(identifier_type) ~ ')') -%}
            {%- endfor -%}
            {%- do run_query(
                'create table ' ~ segmentation.identity_touched_rows_relation(loop.index) ~ ' as select '
                ~ columns | join(', ') ~ ', ' ~ source.observed_at ~ ' as observed_at from '
                ~ segmentation.graph_relation(source.model) ~ ' where ' ~ conditions | join(' or ')) -%}
        {%- endfor -%}
        {%- do run_query('delete from ' ~ this ~ ' where node_id in (select node_id from ' ~ touched ~ ')') -%}
        {%- set counts = run_query('select count(*) from ' ~ touched) -%}
        {%- do log('identity inputs: incremental; ' ~ counts[0][0] ~ ' touched identifiers', info=true) -%}
    {%- elif mode == 'rebuild' -%}
        {%- do log('identity inputs: rebuilding int_identity__identifiers from all staged rows', info=true) -%}
        {%- do run_query('delete from ' ~ this) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- Post-hook of int_identity__identifiers: the watermark and fingerprint move only when the table was written. -#}
{% macro identity_identifiers_finish() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set state = segmentation.identity_work_relation('identity_inputs_state') -%}
    {%- set run_table = segmentation.identity_work_relation('int_identity__identifiers__run') -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- do run_query("delete from " ~ state ~ " where model_name = 'int_identity__identifiers'") -%}
    {%- do run_query("insert into " ~ state ~ " select 'int_identity__identifiers', run_id, '"
        ~ segmentation.identity_inputs_fingerprint('int_identity__identifiers') ~ "', loaded_at_watermark from " ~ run_table) -%}
    {%- do run_query('delete from ' ~ segmentation.identity_work_relation('identity_dirty_identifiers')) -%}
    {{ return('') }}
{%- endmacro %}


{#- Pre-hook of int_identity__links. -#}
{% macro identity_links_prepare() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set mode = segmentation.identity_inputs_mode('int_identity__links') -%}
    {%- if mode == 'incremental' -%}
        {%- set touched = segmentation.identity_work_relation('int_identity__touched') -%}
        {%- do run_query('delete from ' ~ this ~ ' where node_a in (select node_id from ' ~ touched
            ~ ') or node_b in (select node_id from ' ~ touched ~ ')') -%}
    {%- elif mode == 'rebuild' -%}
        {%- do log('identity inputs: rebuilding int_identity__links from all staged rows', info=true) -%}
        {%- do run_query('delete from ' ~ this) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- This invocation's id when `run_table` (a model's one-row run record) says the model ran in this
    invocation, else 'none': the run a downstream model consumed, kept in identity_inputs_state. -#}
{% macro identity_run_consumed(run_table) -%}
    {%- if segmentation.existing_relation(run_table.schema, run_table.identifier) is not none -%}
        {%- set run = run_query('select run_id from ' ~ run_table) -%}
        {%- if run | length == 1 and run[0][0] == invocation_id -%}
            {{ return(invocation_id) }}
        {%- endif -%}
    {%- endif -%}
    {{ return('none') }}
{%- endmacro %}


{#- Post-hook of int_identity__links: records which run of the identifiers it consumed; drops the touched rows. -#}
{% macro identity_links_finish() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set state = segmentation.identity_work_relation('identity_inputs_state') -%}
    {%- set run_table = segmentation.identity_work_relation('int_identity__identifiers__run') -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- set consumed = segmentation.identity_run_consumed(run_table) -%}
    {%- do run_query("delete from " ~ state ~ " where model_name = 'int_identity__links'") -%}
    {%- do run_query("insert into " ~ state ~ " (model_name, run_id, fingerprint) values ('int_identity__links', '"
        ~ consumed ~ "', '" ~ segmentation.identity_inputs_fingerprint('int_identity__links') ~ "')") -%}
    {%- do segmentation.identity_drop_touched_tables(keep_touched=true) -%}
    {{ return('') }}
{%- endmacro %}


{#
    Called by the erasure (erase_batch) before it deletes anything: every identifier that shares a
    staged row with an identifier of the erasure batch, other than the batch's own, is recorded as
    dirty, so the next identity run recomputes it without the erased rows. Only these identifiers are
    written (never the batch's), and the erasure's own scan of every table then runs over this one too.
    `value_keys`: the batch's values per identifier type present in it, as erase_batch renders them
    for `in (...)` (literals or a subquery); `node_keys` likewise its node ids. `staged_copies`: source
    models erase_batch has copied (their identifier columns, same names) to read instead of the model.
#}
{% macro identity_note_erased_rows(batch, value_keys, node_keys, staged_copies={}) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set identifiers_model = segmentation.identity_node_relation('int_identity__identifiers') -%}
    {%- if segmentation.existing_relation(identifiers_model.schema, identifiers_model.identifier) is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- set selects = [] -%}
    {%- set scratch = [] -%}
    {%- for source in segmentation.identity_sources() -%}
        {%- set conditions = [] -%}
        {%- set columns = [] -%}
        {%- for identifier_type, column in source.identifiers.items() -%}
            {%- do columns.append(column ~ ' as ' ~ identifier_type) -%}
            {%- if identifier_type in value_keys -%}
                {%- do conditions.append(column ~ ' in (' ~ value_keys[identifier_type] ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
        {#- The source's rows that carry a batch identifier (dropped again below): one select per
            condition, unioned (a row found twice adds nothing to the distinct insert below); or-ed
            `in (...)` conditions made DuckDB join every row against every set. No condition (none of
            the source's types in the batch): no row. -#}
        {%- set erased_rows = segmentation.identity_work_relation('identity_erased_rows_' ~ loop.index) -%}
        {%- do scratch.append(erased_rows) -%}
        {%- set row_selects = [] -%}
        {%- for condition in conditions or ['1 = 0'] -%}
            {%- do row_selects.append('select ' ~ columns | join(', ') ~ ' from '
                ~ staged_copies.get(source.model, segmentation.graph_relation(source.model))
                ~ ' where ' ~ condition) -%}
        {%- endfor -%}
        {%- do run_query('drop table if exists ' ~ erased_rows) -%}
        {%- do run_query('create table ' ~ erased_rows ~ ' as ' ~ row_selects | join(' union all ')) -%}
        {%- for identifier_type in source.identifiers -%}
            {%- do selects.append("select '" ~ identifier_type ~ "' as identifier_type, " ~ identifier_type
                ~ " as identifier_value from " ~ erased_rows) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set dirty = segmentation.identity_work_relation('identity_dirty_identifiers') -%}
    {%- do run_query(
        'insert into ' ~ dirty ~ ' select distinct collateral.identifier_type, collateral.identifier_value from ('
        ~ selects | join(' union all ') ~ ') as collateral left join ' ~ batch ~ ' as batch'
        ~ ' on collateral.identifier_type = batch.identifier_type and collateral.identifier_value = batch.identifier_value'
        ~ ' where collateral.identifier_value is not null and batch.identifier_value is null') -%}
    {#- And every identifier linked to one of the batch (a force_merge link shares no row): the rule
        decisions of its links lose a neighbour (macros/identity/incremental_graph.sql). -#}
    {%- set links = segmentation.identity_node_relation('int_identity__links') -%}
    {%- if segmentation.existing_relation(links.schema, links.identifier) is not none -%}
        {%- do run_query(
            'insert into ' ~ dirty ~ ' select distinct identifiers.identifier_type, identifiers.identifier_value from ('
            ~ 'select node_b as node_id from ' ~ links ~ ' where node_a in (' ~ node_keys ~ ')'
            ~ ' union select node_a from ' ~ links ~ ' where node_b in (' ~ node_keys ~ ')'
            ~ ') as neighbours inner join ' ~ identifiers_model ~ ' as identifiers on neighbours.node_id = identifiers.node_id'
            ~ ' where identifiers.node_id not in (select node_id from ' ~ batch ~ ')') -%}
    {%- endif -%}
    {%- for relation in scratch -%}
        {%- do run_query('drop table if exists ' ~ relation) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
