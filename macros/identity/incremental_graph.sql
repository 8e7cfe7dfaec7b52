{#
    Incremental rule decisions and edges of the identity graph: int_identity__links_ruled and
    identity_edges rewrite only the rows an incremental run can change.

    A link's rule decision (hub, limit, force_split) depends on every link of both its endpoints and on
    the links of their neighbours to the kept values (the `supported` check). A run of the inputs
    recomputes the identifiers it touched (T, identity_work.int_identity__touched, kept until the next
    run of the identifiers) and every link with an endpoint in T; no other link or identifier changes.
    So the links whose decision can change are exactly the links with an endpoint in
        D0 = T + the neighbours of T, before (this table) and after (int_identity__links) the run,
    and deciding them needs every link with an endpoint in D1 = D0 + the neighbours of D0. The
    pre-hook writes D0 and D1 (identity_work.int_identity__links_ruled__dirty / __context), deletes the
    rows with an endpoint in D0, and the model inserts their new decisions.

    An erasure deletes the erased identifiers' rows from these tables as from every other; the
    identifiers that shared a row or a link with them are recorded as dirty
    (identity_note_erased_rows) and are in T of the next run, so the decisions that lost a neighbour
    are recomputed too.

    The model rebuilds (every row deleted and recomputed) when its incremental state does not hold:
    the first run after the identifiers ran without it (the run it last consumed is not the one before
    this run's identifiers), the identifiers or links did not run incrementally in this invocation, or
    the rules it reads changed (identity_identifier_types, identity_overrides, and the inputs'
    fingerprints). `dbt build --full-refresh` builds it from scratch.
#}

{% macro identity_ruled_fingerprint() -%}
    {%- set parts = [
        segmentation.identity_inputs_fingerprint('int_identity__identifiers'),
        segmentation.identity_inputs_fingerprint('int_identity__links'),
    ] -%}
    {%- for seed in ['identity_identifier_types', 'identity_overrides'] -%}
        {%- set relation = segmentation.identity_node_relation(seed) -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- set casts = [] -%}
        {%- for column in columns -%}
            {%- do casts.append(dbt.cast(column, dbt.type_string())) -%}
        {%- endfor -%}
        {%- for row in run_query('select ' ~ casts | join(', ') ~ ' from ' ~ relation ~ ' order by ' ~ casts | join(', ')) -%}
            {%- do parts.append(seed ~ '|' ~ (row | map('string') | join('|'))) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('\n'))) }}
{%- endmacro %}


{#-
    How int_identity__links_ruled is built in this run: full (new table), rebuild (delete all, insert
    all) or incremental (only links with an endpoint in D0). The same answer in the model's SQL and its
    hooks: it reads only state written before the model starts.
-#}
{% macro identity_ruled_mode() -%}
    {%- if not execute or model.resource_type != 'model' or not is_incremental() -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set work_schema = segmentation.identity_work_relation('identity_inputs_state').schema -%}
    {%- set state = segmentation.existing_relation(work_schema, 'identity_inputs_state') -%}
    {%- set run_table = segmentation.existing_relation(work_schema, 'int_identity__identifiers__run') -%}
    {%- set touched = segmentation.existing_relation(work_schema, 'int_identity__touched') -%}
    {%- if state is none or run_table is none or touched is none -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {%- set run = run_query('select run_id, previous_run_id, build_mode from ' ~ run_table) -%}
    {%- if run | length != 1 or run[0][0] != invocation_id or run[0][2] != 'incremental' -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {%- set rows = run_query("select model_name, run_id, fingerprint from " ~ state
        ~ " where model_name in ('int_identity__links', 'int_identity__links_ruled') order by model_name") -%}
    {%- if rows | length != 2 or rows[0][1] != invocation_id or rows[1][1] != run[0][1]
        or rows[1][2] != segmentation.identity_ruled_fingerprint() -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {{ return('incremental') }}
{%- endmacro %}


{#- Nodes whose links' decisions this run rewrites (D0) and nodes whose links they read (D1). -#}
{% macro identity_ruled_dirty_relation() -%}
    {{ return(segmentation.identity_work_relation('int_identity__links_ruled__dirty')) }}
{%- endmacro %}

{% macro identity_ruled_context_relation() -%}
    {{ return(segmentation.identity_work_relation('int_identity__links_ruled__context')) }}
{%- endmacro %}


{#- Pre-hook of int_identity__links_ruled. -#}
{% macro identity_links_ruled_prepare() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set mode = segmentation.identity_ruled_mode() -%}
    {%- set dirty = segmentation.identity_ruled_dirty_relation() -%}
    {%- set context = segmentation.identity_ruled_context_relation() -%}
    {%- set run_table = segmentation.identity_work_relation('int_identity__links_ruled__run') -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- set previous_run = 'none' -%}
    {%- if segmentation.existing_relation(run_table.schema, run_table.identifier) is not none -%}
        {%- set rows = run_query('select run_id from ' ~ run_table) -%}
        {%- if rows | length == 1 -%}{%- set previous_run = rows[0][0] -%}{%- endif -%}
    {%- endif -%}
    {%- do run_query('drop table if exists ' ~ run_table) -%}
    {%- do run_query("create table " ~ run_table ~ " as select cast('" ~ invocation_id ~ "' as " ~ dbt.type_string()
        ~ ") as run_id, cast('" ~ previous_run ~ "' as " ~ dbt.type_string() ~ ") as previous_run_id, cast('"
        ~ mode ~ "' as " ~ dbt.type_string() ~ ") as build_mode") -%}
    {%- if mode == 'incremental' -%}
        {%- set touched = segmentation.identity_work_relation('int_identity__touched') -%}
        {%- set links = segmentation.identity_node_relation('int_identity__links') -%}
        {%- set touched_links -%}
            select node_a, node_b from {{ links }}
            where node_a in (select node_id from {{ touched }}) or node_b in (select node_id from {{ touched }})
            union all
            select node_a, node_b from {{ this }}
            where node_a in (select node_id from {{ touched }}) or node_b in (select node_id from {{ touched }})
        {%- endset -%}
        {%- do run_query(segmentation.cc_create_table_as(dirty,
            'select node_id from ' ~ touched ~ ' union select node_a from (' ~ touched_links ~ ') as touched_links'
            ~ ' union select node_b from (' ~ touched_links ~ ') as touched_links')) -%}
        {%- set dirty_links -%}
            select node_a, node_b from {{ links }}
            where node_a in (select node_id from {{ dirty }}) or node_b in (select node_id from {{ dirty }})
        {%- endset -%}
        {%- do run_query(segmentation.cc_create_table_as(context,
            'select node_id from ' ~ dirty ~ ' union select node_a from (' ~ dirty_links ~ ') as dirty_links'
            ~ ' union select node_b from (' ~ dirty_links ~ ') as dirty_links')) -%}
        {%- do run_query('delete from ' ~ this ~ ' where node_a in (select node_id from ' ~ dirty
            ~ ') or node_b in (select node_id from ' ~ dirty ~ ')') -%}
        {%- set counts = run_query('select (select count(*) from ' ~ dirty ~ '), (select count(*) from ' ~ context ~ ')') -%}
        {%- do log('identity rules: incremental; ' ~ counts[0][0] ~ ' nodes whose links are decided again, '
            ~ counts[0][1] ~ ' nodes read', info=true) -%}
    {%- elif mode == 'rebuild' -%}
        {%- do log('identity rules: rebuilding int_identity__links_ruled', info=true) -%}
        {%- do run_query('delete from ' ~ this) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- Post-hook of int_identity__links_ruled: records the identifiers' run it consumed and its rules' fingerprint. -#}
{% macro identity_links_ruled_finish() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set state = segmentation.identity_work_relation('identity_inputs_state') -%}
    {%- set run_table = segmentation.identity_work_relation('int_identity__identifiers__run') -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- set consumed = 'none' -%}
    {%- if segmentation.existing_relation(run_table.schema, run_table.identifier) is not none -%}
        {%- set run = run_query('select run_id from ' ~ run_table) -%}
        {%- set links = run_query("select run_id from " ~ state ~ " where model_name = 'int_identity__links'") -%}
        {#- Consumed only when the links consumed the same run of the identifiers: both saw the same T. -#}
        {%- if run | length == 1 and run[0][0] == invocation_id and links | length == 1 and links[0][0] == invocation_id -%}
            {%- set consumed = invocation_id -%}
        {%- endif -%}
    {%- endif -%}
    {%- do run_query("delete from " ~ state ~ " where model_name = 'int_identity__links_ruled'") -%}
    {%- do run_query("insert into " ~ state ~ " (model_name, run_id, fingerprint) values ('int_identity__links_ruled', '"
        ~ consumed ~ "', '" ~ segmentation.identity_ruled_fingerprint() ~ "')") -%}
    {{ return('') }}
{%- endmacro %}


{#
    identity_edges: a kept link not cut by a component-level limit, with its identifiers. A run after
    an incremental int_identity__links_ruled rewrites the edges with an endpoint in D0 and the links
    whose limit cut appeared or disappeared (int_identity__limit_cuts against the copy the last run
    kept, identity_work.identity_edges__limit_cuts). It rebuilds when int_identity__links_ruled did not
    run incrementally in this invocation, or ran without it in between.
#}
{% macro identity_edges_mode() -%}
    {%- if not execute or model.resource_type != 'model' or not is_incremental() -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set work_schema = segmentation.identity_work_relation('identity_inputs_state').schema -%}
    {%- set state = segmentation.existing_relation(work_schema, 'identity_inputs_state') -%}
    {%- set run_table = segmentation.existing_relation(work_schema, 'int_identity__links_ruled__run') -%}
    {%- set cuts = segmentation.existing_relation(work_schema, 'identity_edges__limit_cuts') -%}
    {%- if state is none or run_table is none or cuts is none -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {%- set run = run_query('select run_id, previous_run_id, build_mode from ' ~ run_table) -%}
    {%- set rows = run_query("select run_id from " ~ state ~ " where model_name = 'identity_edges'") -%}
    {%- if run | length != 1 or run[0][0] != invocation_id or run[0][2] != 'incremental'
        or rows | length != 1 or rows[0][0] != run[0][1] -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {{ return('incremental') }}
{%- endmacro %}


{#- The nodes whose edges this run rewrites: D0 and the endpoints of limit cuts that appeared or disappeared. -#}
{% macro identity_edges_dirty_relation() -%}
    {{ return(segmentation.identity_work_relation('identity_edges__dirty')) }}
{%- endmacro %}


{#- Pre-hook of identity_edges. -#}
{% macro identity_edges_prepare() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set mode = segmentation.identity_edges_mode() -%}
    {%- if mode == 'incremental' -%}
        {%- set previous_cuts = segmentation.identity_work_relation('identity_edges__limit_cuts') -%}
        {%- set cuts = segmentation.identity_node_relation('int_identity__limit_cuts') -%}
        {%- set identifiers = segmentation.identity_node_relation('int_identity__identifiers') -%}
        {%- set dirty = segmentation.identity_edges_dirty_relation() -%}
        {%- set values = segmentation.identity_work_relation('identity_edges__dirty_values') -%}
        {%- set changed_cuts -%}
            select node_a, node_b from (
                select node_a, node_b from {{ cuts }} union select node_a, node_b from {{ previous_cuts }}
            ) as all_cuts
            except
            select node_a, node_b from (
                select node_a, node_b from {{ cuts }} intersect select node_a, node_b from {{ previous_cuts }}
            ) as unchanged_cuts
        {%- endset -%}
        {%- do run_query(segmentation.cc_create_table_as(dirty,
            'select node_id from ' ~ segmentation.identity_ruled_dirty_relation()
            ~ ' union select node_a from (' ~ changed_cuts ~ ') as changed_a'
            ~ ' union select node_b from (' ~ changed_cuts ~ ') as changed_b')) -%}
        {#- The touched identifiers too: one that left the graph is in no other table. -#}
        {%- do run_query(segmentation.cc_create_table_as(values,
            'select identifier_type, identifier_value from ' ~ identifiers ~ ' where node_id in (select node_id from '
            ~ dirty ~ ') union select identifier_type, identifier_value from '
            ~ segmentation.identity_work_relation('int_identity__touched'))) -%}
        {%- do run_query('delete from ' ~ this ~ ' where (identifier_type_a, identifier_value_a) in (select identifier_type, identifier_value from '
            ~ values ~ ') or (identifier_type_b, identifier_value_b) in (select identifier_type, identifier_value from ' ~ values ~ ')') -%}
        {%- do run_query('drop table if exists ' ~ values) -%}
        {%- set counts = run_query('select count(*) from ' ~ dirty) -%}
        {%- do log('identity edges: incremental; edges of ' ~ counts[0][0] ~ ' nodes rewritten', info=true) -%}
    {%- elif mode == 'rebuild' -%}
        {%- do log('identity edges: rebuilding identity_edges', info=true) -%}
        {%- do run_query('delete from ' ~ this) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- Post-hook of identity_edges: keeps this run's limit cuts and the run of int_identity__links_ruled it consumed. -#}
{% macro identity_edges_finish() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set state = segmentation.identity_work_relation('identity_inputs_state') -%}
    {%- set run_table = segmentation.identity_work_relation('int_identity__links_ruled__run') -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- set consumed = segmentation.identity_run_consumed(run_table) -%}
    {%- do run_query(segmentation.cc_create_table_as(segmentation.identity_work_relation('identity_edges__limit_cuts'),
        'select node_a, node_b from ' ~ segmentation.identity_node_relation('int_identity__limit_cuts'))) -%}
    {%- do run_query("delete from " ~ state ~ " where model_name = 'identity_edges'") -%}
    {%- do run_query("insert into " ~ state ~ " (model_name, run_id) values ('identity_edges', '" ~ consumed ~ "')") -%}
    {{ return('') }}
{%- endmacro %}


{#
    The models after the components (int_identity__components_limited, int_identity__limit_cuts,
    int_identity__profile_anchors, identity_profile_registry, identity_map) are incremental over the
    same unit: the nodes of every connected component that changed in this run (recomputed or merged
    by int_identity__components, or holding an identifier the inputs touched), written by
    int_identity__components_limited to identity_work.int_identity__components_limited__dirty with
    their new labels, and the labels they had before in ..__old_labels. A limit, an anchor, a profile id
    and the map rows of a component depend only on its own nodes, links and identifiers, so every
    other component keeps its rows.

    Each of these models records its run (identity_work.<model>__run: run_id, previous_run_id,
    build_mode) and, when it finished, the invocation it consumed (identity_inputs_state). A model runs
    incrementally only when each model it follows ran incrementally in this invocation and the model
    consumed that model's previous run, so no run of an upstream model was missed.
#}
{% macro identity_run_relation(model_name) -%}
    {{ return(segmentation.identity_work_relation(model_name ~ '__run')) }}
{%- endmacro %}


{% macro identity_chain_mode(model_name, upstream_models) -%}
    {%- if not execute or model.resource_type != 'model' or not is_incremental() or flags.FULL_REFRESH -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set work_schema = segmentation.identity_work_relation('identity_inputs_state').schema -%}
    {%- set state = segmentation.existing_relation(work_schema, 'identity_inputs_state') -%}
    {%- if state is none -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {%- set consumed = run_query("select run_id from " ~ state ~ " where model_name = '" ~ model_name ~ "'") -%}
    {%- if consumed | length != 1 -%}
        {{ return('rebuild') }}
    {%- endif -%}
    {%- for upstream in upstream_models -%}
        {%- set run_table = segmentation.identity_run_relation(upstream) -%}
        {%- if segmentation.existing_relation(run_table.schema, run_table.identifier) is none -%}
            {{ return('rebuild') }}
        {%- endif -%}
        {%- set run = run_query('select run_id, previous_run_id, build_mode from ' ~ run_table) -%}
        {%- if run | length != 1 or run[0][0] != invocation_id or run[0][2] != 'incremental' or run[0][1] != consumed[0][0] -%}
            {{ return('rebuild') }}
        {%- endif -%}
    {%- endfor -%}
    {{ return('incremental') }}
{%- endmacro %}


{#- Writes <model>__run for this invocation; returns nothing. -#}
{% macro identity_chain_start(model_name, mode) -%}
    {%- set run_table = segmentation.identity_run_relation(model_name) -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- set previous_run = 'none' -%}
    {%- if segmentation.existing_relation(run_table.schema, run_table.identifier) is not none -%}
        {%- set rows = run_query('select run_id from ' ~ run_table) -%}
        {%- if rows | length == 1 -%}{%- set previous_run = rows[0][0] -%}{%- endif -%}
    {%- endif -%}
    {%- do run_query('drop table if exists ' ~ run_table) -%}
    {%- do run_query("create table " ~ run_table ~ " as select cast('" ~ invocation_id ~ "' as " ~ dbt.type_string()
        ~ ") as run_id, cast('" ~ previous_run ~ "' as " ~ dbt.type_string() ~ ") as previous_run_id, cast('"
        ~ mode ~ "' as " ~ dbt.type_string() ~ ") as build_mode") -%}
{%- endmacro %}


{#- Post-hook: this model consumed this invocation's runs of the models it follows. -#}
{% macro identity_chain_finish(model_name) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set state = segmentation.identity_work_relation('identity_inputs_state') -%}
    {%- do segmentation.identity_ensure_state_tables() -%}
    {%- do run_query("delete from " ~ state ~ " where model_name = '" ~ model_name ~ "'") -%}
    {%- do run_query("insert into " ~ state ~ " (model_name, run_id) values ('" ~ model_name ~ "', '" ~ invocation_id ~ "')") -%}
    {{ return('') }}
{%- endmacro %}


{% macro identity_dirty_nodes_relation() -%}
    {{ return(segmentation.identity_work_relation('int_identity__components_limited__dirty')) }}
{%- endmacro %}

{% macro identity_old_labels_relation() -%}
    {{ return(segmentation.identity_work_relation('int_identity__components_limited__old_labels')) }}
{%- endmacro %}


{#-
    Pre-step of an incremental model keyed by component: runs at render time (before the model's
    SQL), records the run, deletes the rows `delete_condition` selects when incremental, all rows when
    rebuilding. Returns the mode.
-#}
{% macro identity_chain_prepare(model_name, upstream_models, delete_condition, keep_before_delete=none) -%}
    {%- if not execute or flags.WHICH not in ('run', 'build') or model.resource_type != 'model' -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set mode = segmentation.identity_chain_mode(model_name, upstream_models) -%}
    {%- do segmentation.identity_chain_start(model_name, mode) -%}
    {%- if mode == 'incremental' -%}
        {#- keep_before_delete: (relation, select) written before the rows go, for the models after this one. -#}
        {%- if keep_before_delete -%}
            {%- do run_query(segmentation.cc_create_table_as(keep_before_delete[0], keep_before_delete[1])) -%}
        {%- endif -%}
        {%- do run_query('delete from ' ~ this ~ ' where ' ~ delete_condition) -%}
    {%- elif mode == 'rebuild' -%}
        {%- do log('identity: rebuilding ' ~ model_name, info=true) -%}
        {%- do run_query('delete from ' ~ this) -%}
    {%- endif -%}
    {{ return(mode) }}
{%- endmacro %}


{#- The labels, after int_identity__components_limited ran, of the components that changed in this run. -#}
{% macro identity_changed_labels_sql(literal=false) -%}
    {%- if not execute -%}{{ return('select 1 as component_id') }}{%- endif -%}
    {%- set labels = 'select component_id from ' ~ segmentation.identity_node_relation('int_identity__components_limited')
        ~ ' where node_id in (select node_id from ' ~ segmentation.identity_dirty_nodes_relation() ~ ')' -%}
    {{ return(segmentation.identity_keys(labels, integer=true) if literal else labels) }}
{%- endmacro %}


{#- The identifiers whose map rows a run rewrites: those of the changed components and the touched ones. -#}
{% macro identity_changed_identifiers_sql() -%}
    {%- if not execute -%}{{ return("select 'x' as identifier_type, 'x' as identifier_value") }}{%- endif -%}
    {{ return('select changed.identifier_type, changed.identifier_value from '
        ~ segmentation.identity_node_relation('int_identity__identifiers') ~ ' as changed where changed.node_id in '
        ~ '(select dirty.node_id from ' ~ segmentation.identity_dirty_nodes_relation() ~ ' as dirty) '
        ~ 'union select touched.identifier_type, touched.identifier_value from '
        ~ segmentation.identity_work_relation('int_identity__touched') ~ ' as touched') }}
{%- endmacro %}


{#- The profiles whose map rows a run of identity_map rewrote: their ids before and after. -#}
{% macro identity_changed_profiles_sql() -%}
    {%- if not execute -%}{{ return("select 'x' as profile_id") }}{%- endif -%}
    {{ return('select profile_id from ' ~ segmentation.identity_work_relation('identity_map__old_profiles')
        ~ ' union select profile_id from ' ~ segmentation.identity_node_relation('identity_map')
        ~ ' where (identifier_type, identifier_value) in (' ~ segmentation.identity_changed_identifiers_sql() ~ ')') }}
{%- endmacro %}


{#-
    A small key set as literals: what goes inside `in (...)` for the rows of `select_sql` (one or more
    columns of text or integers). DuckDB pushes a filter on literal values into the scan and reads the
    other columns only where it matches; a filter on a subquery it runs as a join over every row.
    Up to var identity_literal_keys_max rows (default 1000; 0 always keeps the subquery) are read now,
    at render time, and written as literals; a larger set or a call before execution keeps
    `select_sql`. Keys of an integer set (`integer`) are written as numbers, others as quoted text.
    Null keys are dropped (they never match `in`); an empty set gives a null list, which matches no
    row. Only for sets that already exist when the model is rendered, and for a filter that is a
    conjunct: DuckDB does not push an `or` of literal lists into the scan (slower than the subquery).
-#}
{% macro identity_keys(select_sql, columns=1, integer=false) -%}
    {%- set bound = var('identity_literal_keys_max', 1000) | int -%}
    {%- if not execute or bound <= 0 -%}
        {{ return(select_sql) }}
    {%- endif -%}
    {#- Each key as 'k' || text: dbt reads query results through agate, which would turn '007' or a
        date-like text into a number or date; the prefix keeps every key a string. -#}
    {%- set keys = [] -%}
    {%- set names = [] -%}
    {%- for index in range(columns) -%}
        {%- do keys.append("'k' || cast(keys.key_" ~ index ~ " as " ~ dbt.type_string() ~ ")") -%}
        {%- do names.append('key_' ~ index) -%}
    {%- endfor -%}
    {%- set rows = run_query('select distinct ' ~ keys | join(', ') ~ ' from (' ~ select_sql ~ ') as keys ('
        ~ names | join(', ') ~ ') limit ' ~ (bound + 1)) -%}
    {%- if rows | length > bound -%}
        {{ return(select_sql) }}
    {%- endif -%}
    {%- set literals = [] -%}
    {%- for row in rows -%}
        {%- set values = [] -%}
        {%- for value in row if value is not none -%}
            {%- if integer and value[1:].lstrip('-').isdigit() -%}
                {%- do values.append(value[1:]) -%}
            {%- else -%}
                {%- do values.append("'" ~ (value[1:] | replace("'", "''")) ~ "'") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if values | length == columns -%}
            {%- do literals.append(values[0] if columns == 1 else '(' ~ values | join(', ') ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if literals | length == 0 -%}
        {{ return('null' if columns == 1 else '(' ~ (['null'] * columns) | join(', ') ~ ')') }}
    {%- endif -%}
    {{ return(literals | join(', ')) }}
{%- endmacro %}
