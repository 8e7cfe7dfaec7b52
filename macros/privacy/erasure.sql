{#
    Erasure: a deletion request keyed by any identifier erases the whole person, everywhere.

    privacy_suppressions runs after the identity layer and before anything else. Its pre-hook
    (prepare_erasure_batch) collects this run's erasure batch in <privacy>_work.erasure_batch:
      - the identifiers named by staged deletion requests,
      - every identifier of a profile that holds a suppressed identifier (a new request's person, or an
        erased person whose identifiers arrive again in new data),
      - identifiers in raw rows loaded since the last run that hash to a suppressed identifier.
    The model appends the batch's salted hashes to the suppression list. Its post-hook
    (erase_batch) then deletes, in one pass:
      1. raw rows (and their base_* rows) that carry a batch identifier: typed columns, identifiers
         extracted from JSON, quarantined rows by text (looked up in a token index kept between runs,
         see erasure_index_quarantined_rows), and order items of erased orders;
      2. in every other table of the warehouse, rows keyed by an erased profile id (profile_id,
         related_profile_id, merged_into_profile_id, split_from_profile_id), by a batch identifier
         (columns named like an identifier type, *_type/*_value pairs, or any pii-tagged text column)
         or by an erased identity node;
    and leaves the erased profile ids and per-table row counts for privacy_erased_profiles and
    privacy_erasure_log. Downstream models (profiles, segments) are built after it.
#}

{% macro erasure_work_relation(identifier) -%}
    {{ return(this.incorporate(path={'schema': this.schema ~ '_work', 'identifier': identifier})) }}
{%- endmacro %}


{#
    The relation of a model or source found through the graph. The erasure hooks touch tables all
    over the project; refs inside hooks would have to be declared as dependencies of the model.
#}
{% macro graph_relation(name, source_name=none) -%}
    {%- for node in graph.nodes.values() if source_name is none and node.resource_type == 'model' and node.name == name -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endfor -%}
    {%- for node in graph.sources.values() if source_name is not none and node.source_name == source_name and node.name == name -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.identifier)) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error('No ' ~ ('source ' ~ source_name ~ '.' if source_name else 'model ') ~ name ~ ' in the project') }}
{%- endmacro %}


{# The relation of a model when it exists in the warehouse right now, else none. #}
{% macro graph_relation_if_built(name) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name == name -%}
        {{ return(segmentation.existing_relation(node.schema, node.alias)) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{#
    The keys of an incremental base model whose rows the erasure deleted and that the model has not
    checked yet: <privacy>_work.erased_keys__<base model> (<unique key>, erased_at, run_id). Deleting
    some deliveries of a key leaves a gap in its delivery ranks, which the model's next incremental run
    closes by ranking the key again (macros/staging/incremental_raw_rows.sql); the record spares it a
    scan of the whole base table for gaps. The model creates the record (and removes the keys it has
    checked); the erasure appends to it only when it exists, so a missing record (a warehouse built
    before it, privacy_work dropped) makes the model check every key.
#}
{% macro erased_keys_relation(base_name) -%}
    {%- set privacy = segmentation.graph_relation('privacy_suppressions') -%}
    {{ return(privacy.incorporate(path={'schema': privacy.schema ~ '_work', 'identifier': 'erased_keys__' ~ base_name})) }}
{%- endmacro %}


{% macro erasure_create_table_as(relation, sql) -%}
    {%- do segmentation.ensure_schema(relation) -%}
    {%- do run_query('drop table if exists ' ~ relation) -%}
    {%- do run_query('create table ' ~ relation ~ ' as ' ~ sql) -%}
{%- endmacro %}


{#
    Base tables whose rows come one-to-one from a raw table: (base model name, source name, table, and
    the unique key of an incremental base model, else none).
#}
{% macro erasure_raw_tables() -%}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='name') -%}
        {%- if node.resource_type == 'model' and node.name.startswith('base_') and node.sources | length == 1 -%}
            {%- do found.append({'base': node.name, 'source': node.sources[0][0], 'table': node.sources[0][1],
                'key': node.config.get('unique_key') if node.config.get('materialized') == 'incremental' else none}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{#
    Rows of a base table that belong to an erased person although no typed column says so:
    identifiers a staged model extracts from JSON (matched through the staged row's key), and child
    rows of an erased parent row.
#}
{% macro erasure_linked_rows() -%}
    {{ return({
        'base_segment__identifies': [{'staged': 'stg_segment__identifies', 'key': 'message_id',
            'identifiers': {'email': 'email', 'phone': 'phone', 'crm_id': 'crm_id', 'customer_id': 'customer_id'}}],
        'base_shop__order_items': [{'parent': 'base_shop__orders', 'key': 'order_id'}],
    }) }}
{%- endmacro %}


{# Columns of every table in the target database, as {(schema, table): [(column, data_type), ...]}. #}
{% macro erasure_catalog() -%}
    {%- set rows = run_query(
        "select c.table_schema, c.table_name, c.column_name, lower(c.data_type) "
        ~ "from information_schema.columns as c "
        ~ "inner join information_schema.tables as t "
        ~ "on c.table_catalog = t.table_catalog and c.table_schema = t.table_schema and c.table_name = t.table_name "
        ~ "where t.table_type = 'BASE TABLE' and c.table_catalog = '" ~ target.database ~ "' "
        ~ "and c.table_schema not in ('information_schema', 'pg_catalog') "
        ~ "order by c.table_schema, c.table_name, c.ordinal_position") -%}
    {%- set catalog = {} -%}
    {%- for row in rows -%}
        {%- set key = row[0] ~ '.' ~ row[1] -%}
        {%- if key not in catalog -%}
            {%- do catalog.update({key: {'schema': row[0], 'table': row[1], 'columns': []}}) -%}
        {%- endif -%}
        {%- do catalog[key]['columns'].append({'name': row[2] | lower, 'type': row[3]}) -%}
    {%- endfor -%}
    {{ return(catalog) }}
{%- endmacro %}


{% macro erasure_is_text(data_type) -%}
    {{ return(data_type.startswith('varchar') or data_type.startswith('character') or data_type in ('text', 'string')) }}
{%- endmacro %}


{#
    Pre-hook of privacy_suppressions: builds <privacy>_work.erasure_batch (identifier_type,
    identifier_value, identifier_hash, profile_id, origin) and checks the salt did not change.
#}
{% macro prepare_erasure_batch() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set batch = segmentation.erasure_work_relation('erasure_batch') -%}
    {%- set previous = segmentation.existing_relation(this.schema, this.identifier) -%}
    {%- set fingerprint = segmentation.sha256_hex("'fingerprint:" ~ (segmentation.erasure_salt() | replace("'", "''")) ~ "'") -%}
    {%- if previous is not none -%}
        {%- set mismatched = run_query('select count(*) from ' ~ previous ~ ' where salt_fingerprint <> ' ~ fingerprint).columns[0].values()[0] -%}
        {%- if mismatched | int > 0 -%}
            {{ exceptions.raise_compiler_error(
                "SEGMENTATION_ERASURE_SALT differs from the salt the suppression list was written with: "
                ~ mismatched ~ " suppressed identifiers would no longer be recognised. Restore the original salt.") }}
        {%- endif -%}
    {%- endif -%}
    {%- set log = segmentation.existing_relation(this.schema, 'privacy_erasure_log') -%}
    {%- set since = none -%}
    {%- if log is not none -%}
        {%- set since = run_query('select max(run_started_at) from ' ~ log).columns[0].values()[0] -%}
    {%- endif -%}
    {%- set identifier_types = var('identifier_types') -%}
    {%- set new_data = [] -%}
    {%- if previous is not none -%}
        {%- set catalog = segmentation.erasure_catalog() -%}
        {%- for entry in segmentation.erasure_raw_tables() -%}
            {%- set base = segmentation.graph_relation(entry.base) -%}
            {%- set info = catalog.get(base.schema ~ '.' ~ base.identifier) -%}
            {%- if info -%}
                {%- for column in info.columns if column.name in identifier_types -%}
                    {%- do new_data.append("select distinct '" ~ column.name ~ "' as identifier_type, " ~ column.name
                        ~ " as identifier_value from " ~ base ~ " where " ~ column.name ~ " is not null"
                        ~ ((' and _loaded_at > ' ~ segmentation.timestamp_literal(since)) if since else "")) -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set sql -%}
        with

        requests as (

            select
                identifier_type,
                identifier_value,
                {{ segmentation.identifier_hash('identifier_type', 'identifier_value') }} as identifier_hash
            from {{ segmentation.graph_relation('stg_privacy__deletion_requests') }}

        ),

        suppressed as (

            select identifier_type, identifier_hash from requests
            {%- if previous is not none %}
            union
            select identifier_type, identifier_hash from {{ previous }}
            {%- endif %}

        ),

        hashed_map as (

            select
                identifier_type,
                identifier_value,
                profile_id,
                {{ segmentation.identifier_hash('identifier_type', 'identifier_value') }} as identifier_hash
            from {{ segmentation.graph_relation('identity_map') }}

        ),

        erased_profiles as (

            select distinct hashed_map.profile_id
            from hashed_map
            inner join suppressed
                on
                    hashed_map.identifier_type = suppressed.identifier_type
                    and hashed_map.identifier_hash = suppressed.identifier_hash

        ),

        {%- if new_data %}

        new_data as (

            select
                identifier_type,
                identifier_value,
                {{ segmentation.identifier_hash('identifier_type', 'identifier_value') }} as identifier_hash
            from (
                {{ new_data | join('\n                union\n                ') }}
            ) as new_identifiers

        ),
        {%- endif %}

        batch as (

            select
                identifier_type,
                identifier_value,
                identifier_hash,
                profile_id,
                'same_person' as origin
            from hashed_map
            where profile_id in (select profile_id from erased_profiles)
            union all
            select
                identifier_type,
                identifier_value,
                identifier_hash,
                cast(null as {{ dbt.type_string() }}) as profile_id,
                'request' as origin
            from requests
            {%- if new_data %}
            union all
            select
                new_data.identifier_type,
                new_data.identifier_value,
                new_data.identifier_hash,
                cast(null as {{ dbt.type_string() }}) as profile_id,
                'new_data' as origin
            from new_data
            inner join suppressed
                on
                    new_data.identifier_type = suppressed.identifier_type
                    and new_data.identifier_hash = suppressed.identifier_hash
            {%- endif %}

        )

        select
            identifier_type,
            identifier_value,
            identifier_hash,
            max(profile_id) as profile_id,
            min(origin) as origin,
            {{ segmentation.stable_node_id(dbt.concat(['identifier_type', "':'", 'identifier_value'])) }} as node_id
        from batch
        group by identifier_type, identifier_value, identifier_hash
    {%- endset -%}
    {%- do segmentation.erasure_create_table_as(batch, sql) -%}
    {{ return('') }}
{%- endmacro %}


{#
    Deletes the rows of `relation` matching `condition` (a condition, or a list of conditions of which
    any one matches: see erasure_delete_rows) and records how many there were in `counted` (a list of
    value rows that erase_batch writes to <privacy>_work.erasure_counts in one insert at the end), per
    value of `detail_expression` when given (base tables: the staging outcome of each row, so staging
    counts plus erased counts still equal what was loaded; then `condition` is one condition). `skip`:
    the caller knows no row matches; nothing runs and a zero is recorded.
#}
{% macro erasure_delete(relation, condition, counted, detail_expression=none, skip=false) -%}
    {%- set name = relation.schema ~ '.' ~ relation.identifier -%}
    {%- set found = {} -%}
    {%- if skip -%}
    {%- elif detail_expression -%}
        {#- Counts per detail first, then the delete (a delete ... returning fetched every column of the
            deleted rows on DuckDB: slower than the two scans). -#}
        {%- for row in run_query('select ' ~ detail_expression ~ ' as detail, count(*) as found from ' ~ relation
            ~ ' where ' ~ condition ~ ' group by ' ~ detail_expression) -%}
            {%- do found.update({row[0]: row[1]}) -%}
        {%- endfor -%}
        {%- if found -%}
            {%- do run_query('delete from ' ~ relation ~ ' where ' ~ condition) -%}
        {%- endif -%}
    {%- else -%}
        {%- set deleted = segmentation.erasure_delete_rows(relation, [condition] if condition is string else condition) -%}
        {%- if deleted | int > 0 -%}
            {%- do found.update({'all': deleted | int}) -%}
        {%- endif -%}
    {%- endif -%}
    {%- set total = found.values() | sum -%}
    {%- for detail in found | sort -%}
        {%- do counted.append("('" ~ name ~ "', 'deleted', '" ~ detail ~ "', " ~ found[detail] ~ ")") -%}
    {%- endfor -%}
    {%- if total == 0 -%}
        {%- do counted.append("('" ~ name ~ "', 'deleted', 'all', 0)") -%}
    {%- endif -%}
    {{ return(total) }}
{%- endmacro %}


{#
    Deletes the rows of `relation` matching any of `conditions` and returns how many it deleted, from
    the deletes' own row counts (DuckDB returns it as a row, PostgreSQL as rows affected).
    PostgreSQL: one delete, the conditions or-ed (one scan; each `in (subquery)` a hashed subplan).
#}
{% macro erasure_delete_rows(relation, conditions) -%}
    {{ return(adapter.dispatch('erasure_delete_rows', 'segmentation')(relation, conditions)) }}
{%- endmacro %}

{% macro erasure_delete_statement(statement) -%}
    {%- set response, result = adapter.execute(statement, fetch=True) -%}
    {{ return(response.rows_affected if response.rows_affected is not none and response.rows_affected >= 0
        else (result.rows[0][0] if result.rows | length > 0 else 0) | int) }}
{%- endmacro %}

{% macro default__erasure_delete_rows(relation, conditions) -%}
    {{ return(segmentation.erasure_delete_statement('delete from ' ~ relation ~ ' where ' ~ conditions | join(' or '))) }}
{%- endmacro %}

{#
    DuckDB: one delete per condition, the counts summed (a row deleted by one is gone for the next, so
    the sum is exact). Or-ed `in (...)` conditions made DuckDB join every row against every set and
    kept a literal list out of the scan; alone, each reads its one column and filters it in the scan.
#}
{% macro duckdb__erasure_delete_rows(relation, conditions) -%}
    {%- set deleted = [] -%}
    {%- for condition in conditions -%}
        {%- do deleted.append(segmentation.erasure_delete_statement('delete from ' ~ relation ~ ' where ' ~ condition) | int) -%}
    {%- endfor -%}
    {{ return(deleted | sum) }}
{%- endmacro %}


{#
    The token index of a raw table's quarantined rows, kept in <privacy>_work between runs so that an
    erasure reads only its batch's matches instead of cutting every quarantined row ever loaded into
    words again (about 9 s of a 22 s erasure at size L; measurements in docs/privacy.md).
    Two tables per base model:
      quarantine_rows__<base>   the raw rows indexed (_load_id, _file_name, _file_row_number);
      quarantine_tokens__<base> their tokens (token_kind 'text': a word, lower-cased; 'phone': the last
                                9 digits of a phone-like run), one row per token found in a row.
    Each call first indexes the rows of `base` quarantined now and not indexed yet: rows of new loads,
    and old rows that became quarantined since (a redelivery with an earlier received_at makes the
    staged row a duplicate). A raw row never changes under its key (load ids are unique), so an entry
    stays true as long as the row exists; the erasure deletes the entries of the rows it erases, and
    the lookup keeps only rows that are quarantined now, so an entry of a row staged since is inert.
    Missing tables are created (empty when `index_new` is false); privacy_quarantine_index's hook drops
    them on --full-refresh. Returns the tokens relation.
#}
{% macro erasure_index_quarantined_rows(entry, raw, base, raw_info, catalog, index_new=true) -%}
    {%- set rows = segmentation.erasure_work_relation('quarantine_rows__' ~ entry.base) -%}
    {%- set tokens = segmentation.erasure_work_relation('quarantine_tokens__' ~ entry.base) -%}
    {%- set fresh = segmentation.erasure_work_relation('quarantine_new__' ~ entry.base) -%}
    {%- set row_key = '(_load_id, _file_name, _file_row_number)' -%}
    {%- if not catalog.get(rows.schema ~ '.' ~ rows.identifier) or not catalog.get(tokens.schema ~ '.' ~ tokens.identifier) -%}
        {%- do segmentation.erasure_create_table_as(rows,
            'select _load_id, _file_name, _file_row_number from ' ~ raw ~ ' where 1 = 0') -%}
        {%- do segmentation.erasure_create_table_as(tokens,
            "select _load_id, _file_name, _file_row_number, cast('' as " ~ dbt.type_string() ~ ") as token_kind, cast('' as "
            ~ dbt.type_string() ~ ") as token from " ~ raw ~ " where 1 = 0") -%}
    {%- endif -%}
    {%- if not index_new -%}{{ return(tokens) }}{%- endif -%}
    {%- do segmentation.erasure_create_table_as(fresh,
        'select quarantined._load_id, quarantined._file_name, quarantined._file_row_number from ' ~ base ~ ' as quarantined'
        ~ ' left join ' ~ rows ~ ' as indexed on quarantined._load_id = indexed._load_id'
        ~ ' and quarantined._file_name = indexed._file_name and quarantined._file_row_number = indexed._file_row_number'
        ~ ' where quarantined.rejection_reason is not null and indexed._load_id is null') -%}
    {%- set fresh_count = run_query('select count(*) from ' ~ fresh).columns[0].values()[0] | int -%}
    {%- if fresh_count > 0 -%}
        {#- Words (ids, emails) and phone-like digit runs are cut out of the text columns joined with '|'
            (in neither token class, so no token spans two columns): one regex pass per row and kind. -#}
        {%- set text_columns = [] -%}
        {%- for column in raw_info.columns if segmentation.erasure_is_text(column.type)
            and column.name not in ['_load_id', '_file_name', '_file_row_number', '_loaded_at'] -%}
            {%- do text_columns.append('quarantined.' ~ adapter.quote(column.name)) -%}
        {%- endfor -%}
        {%- if text_columns -%}
            {%- set text = "concat_ws('|', " ~ text_columns | join(', ') ~ ")" -%}
            {%- set digits = "right(" ~ segmentation.regex_replace_all('token', "'[^0-9]'", "''") ~ ", 9)" -%}
            {%- set index_sql -%}
                with

                {#- Materialized: both token selects read it (inlined, each one scanned the raw table). #}
                quarantined as {{ segmentation.materialized_cte() }} (

                    select raw_rows.*
                    from {{ raw }} as raw_rows
                    where {{ row_key }} in (select _load_id, _file_name, _file_row_number from {{ fresh }})

                ),

                words as (

                    select
                        _load_id,
                        _file_name,
                        _file_row_number,
                        {{ segmentation.regex_all_matches(text, "'[A-Za-z0-9][A-Za-z0-9._%+@-]{3,}'") }} as token
                    from quarantined

                ),

                phones as (

                    select
                        _load_id,
                        _file_name,
                        _file_row_number,
                        {{ segmentation.regex_all_matches(text, "'[+]?[0-9][0-9 ().-]{6,}[0-9]'") }} as token
                    from quarantined

                )

                {#- union all: a token twice in a row is stored twice; deduplicating cost 12 % more at L. #}
                select _load_id, _file_name, _file_row_number, 'text' as token_kind, lower(token) as token
                from words
                union all
                select _load_id, _file_name, _file_row_number, 'phone' as token_kind, {{ digits }} as token
                from phones
            {%- endset -%}
            {%- do run_query('insert into ' ~ tokens ~ ' ' ~ index_sql) -%}
        {%- endif -%}
        {%- do run_query('insert into ' ~ rows ~ ' select _load_id, _file_name, _file_row_number from ' ~ fresh) -%}
    {%- endif -%}
    {%- do run_query('drop table if exists ' ~ fresh) -%}
    {{ return(tokens) }}
{%- endmacro %}


{# The token index tables of every raw table (see erasure_index_quarantined_rows). #}
{% macro erasure_quarantine_index_tables() -%}
    {%- set found = [] -%}
    {%- for entry in segmentation.erasure_raw_tables() -%}
        {%- for prefix in ['quarantine_rows__', 'quarantine_tokens__'] -%}
            {%- do found.append(segmentation.erasure_work_relation(prefix ~ entry.base)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{#
    Pre-hook of privacy_quarantine_index: brings the token index of every raw table up to date before
    the erasure runs. The model depends only on the base tables, so dbt runs it beside the identity
    models, and the erasure (alone on the critical path) finds nothing left to index. The erasure
    still calls erasure_index_quarantined_rows itself, so a run that selects it without this model
    indexes what is new there. A full refresh rebuilds the index from scratch.
#}
{% macro erasure_index_all_quarantined_rows() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- if flags.FULL_REFRESH -%}
        {%- for relation in segmentation.erasure_quarantine_index_tables() -%}
            {%- do run_query('drop table if exists ' ~ relation) -%}
        {%- endfor -%}
    {%- endif -%}
    {#- A warehouse that never had a deletion request keeps the index empty (filling it would copy words
        of raw rows for nothing): the first request fills it, and this hook keeps it up to date after. -#}
    {%- set requests = segmentation.graph_relation('base_privacy__deletion_requests') -%}
    {%- set suppressions = segmentation.graph_relation_if_built('privacy_suppressions') -%}
    {%- set wanted = run_query('select count(*) from (select 1 as found from ' ~ requests ~ ' where rejection_reason is null'
        ~ (' union all select 1 from ' ~ suppressions if suppressions is not none else '') ~ ') as requested').columns[0].values()[0] | int > 0 -%}
    {%- set catalog = segmentation.erasure_catalog() -%}
    {%- for entry in segmentation.erasure_raw_tables() -%}
        {%- set base = segmentation.graph_relation(entry.base) -%}
        {%- set raw = segmentation.graph_relation(entry.table, entry.source) -%}
        {%- set raw_info = catalog.get(raw.schema ~ '.' ~ raw.identifier) -%}
        {%- if catalog.get(base.schema ~ '.' ~ base.identifier) and raw_info -%}
            {%- do segmentation.erasure_index_quarantined_rows(entry, raw, base, raw_info, catalog, index_new=wanted) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}


{#
    Post-hook of privacy_suppressions: erases every row of the batch's people from the warehouse and
    leaves <privacy>_work.erased_profiles and <privacy>_work.erasure_counts for the log models.
#}
{% macro erase_batch() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set batch = segmentation.erasure_work_relation('erasure_batch') -%}
    {%- set erased = segmentation.erasure_work_relation('erased_profiles') -%}
    {%- set counts = segmentation.erasure_work_relation('erasure_counts') -%}
    {%- do segmentation.erasure_create_table_as(counts,
        "select cast('' as " ~ dbt.type_string() ~ ") as relation_name, cast('' as " ~ dbt.type_string()
        ~ ") as erasure_action, cast('' as " ~ dbt.type_string() ~ ") as detail, cast(0 as " ~ dbt.type_bigint()
        ~ ") as rows_affected where 1 = 0") -%}
    {%- set counted = [] -%}
    {%- set registry = segmentation.graph_relation('identity_profile_registry') -%}
    {%- do segmentation.erasure_create_table_as(erased,
        "select distinct profile_id from " ~ batch ~ " where profile_id is not null"
        ~ " union select profile_id from " ~ registry
        ~ " where (anchor_type, anchor_value) in (select identifier_type, identifier_value from " ~ batch ~ ")") -%}
    {%- do segmentation.erasure_create_table_as(segmentation.erasure_work_relation('erased_memberships'),
        "select cast('' as " ~ dbt.type_string() ~ ") as segment_name, cast('' as " ~ dbt.type_string()
        ~ ") as profile_id where 1 = 0") -%}
    {%- set batch_size = run_query('select count(*) from ' ~ batch).columns[0].values()[0] | int -%}
    {%- if batch_size == 0 -%}
        {%- do run_query('drop table if exists ' ~ batch) -%}
        {{ return('') }}
    {%- endif -%}
    {#- Ids merged into an erased profile in earlier runs belong to the same person. -#}
    {%- for round_number in range(32) -%}
        {%- set added = run_query('select count(*) from ' ~ registry ~ ' where merged_into_profile_id in (select profile_id from '
            ~ erased ~ ') and profile_id not in (select profile_id from ' ~ erased ~ ')').columns[0].values()[0] | int -%}
        {%- if added == 0 -%}{%- break -%}{%- endif -%}
        {%- do run_query('insert into ' ~ erased ~ ' select distinct profile_id from ' ~ registry
            ~ ' where merged_into_profile_id in (select profile_id from ' ~ erased ~ ') and profile_id not in (select profile_id from '
            ~ erased ~ ')') -%}
    {%- endfor -%}

    {%- set identifier_types = var('identifier_types') -%}
    {#- The key sets of the deletes, read once: small ones as literals (identity_keys, up to var
        identity_literal_keys_max), larger ones as their subquery. They do not change during the deletes
        (they live in privacy_work, which part 2 skips). An empty set (no erased profile id, an
        identifier type absent from the batch) matches nothing: its conditions are left out, and a table
        with no condition left is not read (a zero is recorded, as for a delete of no rows). -#}
    {%- set erased_count = run_query('select count(*) from ' ~ erased).columns[0].values()[0] | int -%}
    {%- set profile_keys = segmentation.identity_keys('select profile_id from ' ~ erased) if erased_count > 0 else none -%}
    {%- set node_keys = segmentation.identity_keys('select node_id from ' ~ batch, integer=true) -%}
    {%- set lowered_keys = segmentation.identity_keys('select lower(identifier_value) from ' ~ batch) -%}
    {#- A *_type/*_value pair matches through its subquery; when the batch's values fit in literals, a
        filter on the value alone goes first (a conjunct DuckDB applies in the scan). -#}
    {%- set values_sql = 'select identifier_value from ' ~ batch -%}
    {%- set all_values = segmentation.identity_keys(values_sql) -%}
    {%- set value_keys = {} -%}
    {%- for row in run_query('select distinct identifier_type from ' ~ batch) -%}
        {%- do value_keys.update({row[0]: segmentation.identity_keys("select identifier_value from " ~ batch
            ~ " where identifier_type = '" ~ row[0] ~ "'")}) -%}
    {%- endfor -%}

    {#- A staged model that extracts identifiers (from JSON) is read once here, its key and identifier
        columns copied to a temporary table (not written to the database file, not in the catalog part 2
        reads): the identity note below and the linked rows of part 1 then read the copy, one select per
        identifier, instead of evaluating the model once per select (at L the identifies view's email
        branch took 2.4 s, and the two readers 7 and 3 to 5 s from the view). Only when a batch
        identifier is one of its columns. -#}
    {%- set linked = segmentation.erasure_linked_rows() -%}
    {%- set staged_copies = {} -%}
    {%- for rules in linked.values() -%}
        {%- for rule in rules if rule.staged is defined and rule.staged not in staged_copies -%}
            {%- set copy_columns = [rule.key] -%}
            {%- set copy_types = [] -%}
            {%- for identifiers in [rule.identifiers] + segmentation.identity_sources()
                | selectattr('model', 'equalto', rule.staged) | map(attribute='identifiers') | list -%}
                {%- for identifier_type, column in identifiers.items() -%}
                    {%- do copy_types.append(identifier_type) -%}
                    {%- if column not in copy_columns -%}{%- do copy_columns.append(column) -%}{%- endif -%}
                {%- endfor -%}
            {%- endfor -%}
            {%- if copy_types | select('in', value_keys) | list -%}
                {%- set copy = 'erasure_staged__' ~ rule.staged -%}
                {%- do run_query('drop table if exists ' ~ copy) -%}
                {%- do run_query('create temporary table ' ~ copy ~ ' as select ' ~ copy_columns | join(', ')
                    ~ ' from ' ~ segmentation.graph_relation(rule.staged)) -%}
                {%- do staged_copies.update({rule.staged: copy}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}

    {#- Identifiers that share a row with the batch lose those rows: the next identity run recomputes them. -#}
    {%- do segmentation.identity_note_erased_rows(batch, value_keys, node_keys, staged_copies) -%}

    {#- Open segment stays of the erased ids, kept (segment and pseudonymous id only) for the change feed. -#}
    {%- set memberships = segmentation.erasure_work_relation('erased_memberships') -%}
    {%- set history = segmentation.graph_relation_if_built('segment_membership_history') -%}
    {%- if history is not none and profile_keys is not none -%}
        {%- do segmentation.erasure_create_table_as(memberships, 'select segment_name, profile_id from ' ~ history
            ~ ' where exited_at is null and profile_id in (' ~ profile_keys ~ ')') -%}
    {%- endif -%}
    {%- set catalog = segmentation.erasure_catalog() -%}
    {%- set row_key = '(_load_id, _file_name, _file_row_number)' -%}
    {%- set handled = [] -%}
    {%- set parent_keys = {} -%}
    {%- for rules in linked.values() -%}
        {%- for rule in rules if rule.parent is defined -%}
            {%- do parent_keys.update({rule.parent: rule.key}) -%}
        {%- endfor -%}
    {%- endfor -%}

    {#- 1. Raw rows and their base rows; tables with a parent rule after the parent. -#}
    {%- set entries = segmentation.erasure_raw_tables() -%}
    {%- set ordered = [] -%}
    {%- for entry in entries if not (linked.get(entry.base, []) | selectattr('parent', 'defined') | list) -%}
        {%- do ordered.append(entry) -%}
    {%- endfor -%}
    {%- for entry in entries if entry not in ordered -%}
        {%- do ordered.append(entry) -%}
    {%- endfor -%}
    {%- for entry in ordered -%}
        {%- set base = segmentation.graph_relation(entry.base) -%}
        {%- set raw = segmentation.graph_relation(entry.table, entry.source) -%}
        {%- set base_info = catalog.get(base.schema ~ '.' ~ base.identifier) -%}
        {%- set raw_info = catalog.get(raw.schema ~ '.' ~ raw.identifier) -%}
        {%- if base_info and raw_info -%}
            {%- set base_columns = base_info.columns | map(attribute='name') | list -%}
            {%- set conditions = [] -%}
            {%- for column in base_columns if column in identifier_types and column in value_keys -%}
                {%- do conditions.append(column ~ ' in (' ~ value_keys[column] ~ ')') -%}
            {%- endfor -%}
            {%- if 'identifier_type' in base_columns and 'identifier_value' in base_columns -%}
                {%- do conditions.append("(identifier_type, identifier_value) in (select identifier_type, identifier_value from " ~ batch ~ ")") -%}
            {%- endif -%}
            {%- for rule in linked.get(entry.base, []) -%}
                {%- if rule.staged is defined -%}
                    {#- One select per identifier, unioned: an `or` of literal lists is evaluated per row
                        and list value on DuckDB. -#}
                    {%- set staged_selects = [] -%}
                    {%- for identifier_type, column in rule.identifiers.items() if identifier_type in value_keys -%}
                        {%- do staged_selects.append('select ' ~ rule.key ~ ' from '
                            ~ staged_copies.get(rule.staged, segmentation.graph_relation(rule.staged))
                            ~ ' where ' ~ column ~ ' in (' ~ value_keys[identifier_type] ~ ')') -%}
                    {%- endfor -%}
                    {%- if staged_selects -%}
                        {%- do conditions.append(rule.key ~ ' in (' ~ staged_selects | join(' union all ') ~ ')') -%}
                    {%- endif -%}
                {%- else -%}
                    {%- do conditions.append(rule.key ~ " in (select " ~ rule.key ~ " from "
                        ~ segmentation.erasure_work_relation('erasure_rows__' ~ rule.parent) ~ ")") -%}
                {%- endif -%}
            {%- endfor -%}
            {%- set key_column = parent_keys.get(entry.base) -%}
            {#- The keys of the deleted rows go to the model's record of erased keys, when it keeps one. -#}
            {%- set erased_keys = segmentation.erased_keys_relation(entry.base) if entry.key else none -%}
            {%- set record_key = entry.key if erased_keys is not none
                and catalog.get(erased_keys.schema ~ '.' ~ erased_keys.identifier) and entry.key != key_column else none -%}
            {#- Quarantined rows: their identifiers may sit unparsed in any text column of the raw row. The
                persistent token index (erasure_index_quarantined_rows) holds their words and phone digits;
                the batch is looked up in it, and only rows still quarantined count. -#}
            {%- set index_tokens = segmentation.erasure_index_quarantined_rows(entry, raw, base, raw_info, catalog) -%}
            {%- set phone_digits = "right(" ~ segmentation.regex_replace_all('token', "'[^0-9]'", "''") ~ ", 9)" -%}
            {%- set rows_sql -%}
                with

                batch_tokens as (

                    select 'text' as token_kind, lower(identifier_value) as token from {{ batch }}
                    where identifier_type <> 'phone'
                    union all
                    select 'phone' as token_kind, {{ phone_digits.replace('token', 'identifier_value') }} as token
                    from {{ batch }}
                    where identifier_type = 'phone'

                ),

                matched as (

                    select distinct tokens._load_id, tokens._file_name, tokens._file_row_number
                    from {{ index_tokens }} as tokens
                    inner join batch_tokens
                        on
                            tokens.token_kind = batch_tokens.token_kind
                            and tokens.token = batch_tokens.token

                )

                {#- One scan per condition (or-ed `in (subquery)` conditions made DuckDB mark every row
                    against every subquery: 1.3 s against 0.5 s on raw pages at L), see rows_where_sql. #}
                {{ segmentation.rows_where_sql(base,
                    ['_load_id', '_file_name', '_file_row_number'] + ([key_column] if key_column else [])
                    + ([record_key] if record_key else []),
                    conditions + ['rejection_reason is not null and ' ~ row_key
                        ~ ' in (select _load_id, _file_name, _file_row_number from matched)']) }}
            {%- endset -%}
            {%- set rows = segmentation.erasure_work_relation('erasure_rows__' ~ entry.base) -%}
            {%- do segmentation.erasure_create_table_as(rows, rows_sql) -%}
            {%- set in_rows = row_key ~ ' in (select _load_id, _file_name, _file_row_number from ' ~ rows ~ ')' -%}
            {%- set nothing = run_query('select count(*) from ' ~ rows).columns[0].values()[0] | int == 0 -%}
            {#- Recorded before the rows are deleted: a run failing in between leaves a key recorded whose
                ranks have no gap (checked for nothing), never a gap unrecorded. -#}
            {%- if record_key and not nothing -%}
                {%- do run_query('insert into ' ~ erased_keys ~ ' (' ~ record_key ~ ', erased_at, run_id) select distinct '
                    ~ record_key ~ ', ' ~ segmentation.timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S'))
                    ~ ", '" ~ invocation_id ~ "' from " ~ rows ~ ' where ' ~ record_key ~ ' is not null') -%}
            {%- endif -%}
            {%- set erased_rows = segmentation.erasure_delete(raw, in_rows, counted, skip=nothing) -%}
            {%- do segmentation.erasure_delete(base, in_rows, counted, "coalesce(rejection_reason, 'staged')", skip=nothing) -%}
            {#- The index forgets the erased rows it holds (their words are personal data too); the check
                on the small rows table spares a scan of the tokens when none of them was indexed. -#}
            {%- set index_rows = segmentation.erasure_work_relation('quarantine_rows__' ~ entry.base) -%}
            {%- if erased_rows | int > 0
                and run_query('select count(*) from ' ~ index_rows ~ ' where ' ~ in_rows).columns[0].values()[0] | int > 0 -%}
                {%- for relation in [index_tokens, index_rows] -%}
                    {%- do run_query('delete from ' ~ relation ~ ' where ' ~ in_rows) -%}
                {%- endfor -%}
            {%- endif -%}
            {%- do handled.append(raw.schema ~ '.' ~ raw.identifier) -%}
            {%- do handled.append(base.schema ~ '.' ~ base.identifier) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for entry in ordered -%}
        {%- do run_query('drop table if exists ' ~ segmentation.erasure_work_relation('erasure_rows__' ~ entry.base)) -%}
    {%- endfor -%}
    {%- for copy in staged_copies.values() -%}
        {%- do run_query('drop table if exists ' ~ copy) -%}
    {%- endfor -%}

    {#- 2. Every other table, by the names of its columns. -#}
    {%- set profile_columns = ['profile_id', 'related_profile_id', 'merged_into_profile_id', 'split_from_profile_id'] -%}
    {%- set node_columns = ['node_id', 'node_a', 'node_b'] -%}
    {%- set label_columns = ['component_id', 'representative_id', 'seed_id'] -%}
    {#- pii-tagged columns of the project's models and seeds, by relation: they also match any batch value. -#}
    {%- set tagged_columns = {} -%}
    {%- for node in graph.nodes.values() if node.resource_type in ('model', 'seed', 'snapshot') -%}
        {%- set tagged = segmentation.pii_columns(node.name) -%}
        {%- if tagged -%}
            {%- do tagged_columns.update({(node.schema ~ '.' ~ node.alias) | lower: tagged}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for key, info in catalog.items() -%}
        {%- set skip = key in handled or info.schema in (batch.schema, this.schema, var('raw_schema')) -%}
        {%- if not skip -%}
            {%- set relation = api.Relation.create(database=target.database, schema=info.schema, identifier=info.table) -%}
            {%- set columns = info.columns | map(attribute='name') | list -%}
            {%- set conditions = [] -%}
            {%- set matchable = [] -%}
            {%- for column in columns -%}
                {%- if column in profile_columns -%}
                    {%- do matchable.append(column) -%}
                    {%- if profile_keys is not none -%}
                        {%- do conditions.append(column ~ ' in (' ~ profile_keys ~ ')') -%}
                    {%- endif -%}
                {%- elif column in identifier_types -%}
                    {%- do matchable.append(column) -%}
                    {%- if column in value_keys -%}
                        {%- do conditions.append(column ~ ' in (' ~ value_keys[column] ~ ')') -%}
                    {%- endif -%}
                {%- elif column in node_columns -%}
                    {%- do conditions.append(column ~ ' in (' ~ node_keys ~ ')') -%}
                {%- elif column in label_columns and 'node_id' not in columns -%}
                    {%- do conditions.append(column ~ ' in (' ~ node_keys ~ ')') -%}
                {%- elif 'value' in column and column.replace('value', 'type') in columns -%}
                    {%- do conditions.append('(' ~ (column ~ ' in (' ~ all_values ~ ') and ' if all_values != values_sql else '')
                        ~ '(' ~ column.replace('value', 'type') ~ ', ' ~ column ~ ') in (select identifier_type, identifier_value from ' ~ batch ~ '))') -%}
                {%- elif column in tagged_columns.get(key | lower, []) and segmentation.erasure_is_text((info.columns | selectattr('name', 'equalto', column) | first).type) -%}
                    {%- do conditions.append('lower(' ~ column ~ ') in (' ~ lowered_keys ~ ')') -%}
                {%- endif -%}
            {%- endfor -%}
            {%- if conditions or matchable -%}
                {%- do segmentation.erasure_delete(relation, conditions, counted, skip=not conditions) -%}
            {%- endif -%}
            {#- A component labelled by an erased node takes its smallest remaining node as label. -#}
            {%- if 'node_id' in columns -%}
                {%- for column in label_columns if column in columns -%}
                    {%- do run_query('update ' ~ relation ~ ' set ' ~ column ~ ' = (select min(labelled.node_id) from ' ~ relation
                        ~ ' as labelled where labelled.' ~ column ~ ' = ' ~ relation ~ '.' ~ column ~ ') where ' ~ column
                        ~ ' in (' ~ node_keys ~ ')') -%}
                {%- endfor -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {#- The per-table counts, in one insert per 500 rows (one statement per table cost a round trip each). -#}
    {%- for chunk in counted | batch(500) -%}
        {%- do run_query('insert into ' ~ counts ~ ' values ' ~ chunk | join(', ')) -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ batch) -%}
    {{ return('') }}
{%- endmacro %}


{# Post-hook of privacy_erasure_log: the work tables have been read, erased ids now live only in
   privacy_erased_profiles. #}
{% macro drop_erasure_work_tables() -%}
    {%- for identifier in ['erasure_counts', 'erased_profiles', 'erased_memberships'] -%}
        {%- do run_query('drop table if exists ' ~ segmentation.erasure_work_relation(identifier)) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
