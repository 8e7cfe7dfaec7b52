{#
    The raw rows an incremental base model (delete+insert on `key`) classifies in this run: the body of
    its `source` CTE.

    Full build (first run or --full-refresh): every raw row.
    Incremental run, the union of
      - the rows of loads the base table does not hold yet: raw tables are append-only and a load
        commits all its rows in one transaction with one _load_id, so a load is in the base table
        entirely or not at all (compared by _load_id, not by a _loaded_at watermark, which a load
        committed after a later-started one would slip under);
      - every raw row whose key is the key of such a new row: all deliveries of a touched key are
        ranked again, so a redelivery that arrives late but was received earlier takes the staged
        place, exactly as in a full build. The earlier deliveries are found through the base table,
        which holds one row per raw row (by _load_id, _file_name, _file_row_number) with the key
        already computed: computing raw_key over every raw row cost 7.6 s of raw tracks at L, the
        lookup through the base table 2.8 s;
      - the loads are named as literals (found by one query on the two tables' _load_id columns before
        the model runs): with `_load_id not in (subquery)` or-ed with the row-key lookup, DuckDB read
        every column of every raw row before filtering (6.6 s of raw pages at L for a batch of 131 k
        rows); a literal list is pushed into the scan and the two parts are unioned;
      - every raw row of a key whose ranks have a gap in the base table: the erasure deleted some of
        its rows (raw and base together), a full build would number the remaining ones 1..n. A group of
        n ranks has a gap exactly when max(rank) <> count(*). Only the erasure makes gaps, and it records
        the keys of the base rows it deletes in <privacy>_work.erased_keys__<model> (erased_keys_relation
        in macros/privacy/erasure.sql), so only the keys recorded by earlier runs are checked; the
        model's post-hook (consume_erased_keys) then removes them. Without the record (a warehouse
        built before it existed, privacy_work dropped) every key with a rank above 1 is checked, as
        before: scanning the whole base table cost 2.8 s of pages at L in every run, erasure or not.
    delete+insert then replaces every base row of the classified keys. Rows without a key are only
    selected as rows of new loads and a null key matches no row in the delete, so they are inserted
    once and never removed (their rank is always 1, it does not depend on other rows).

    source_relation: the raw table (a source()).
    raw_key: the expression over the raw table that the model's unique key is computed from.
    key: the model's unique key column.
    rank_column: the model's rank among the rows of one key.
    rank_partition: further expressions the rank is partitioned by besides the key.
#}
{% macro incremental_raw_rows(
    source_relation,
    raw_key,
    key,
    rank_column='delivery_rank',
    rank_partition=['quarantine_reason is null']
) %}
{%- if is_incremental() -%}
{%- set new_loads = segmentation.unstaged_load_filter(source_relation) -%}
{%- set erased_keys = segmentation.erased_keys_relation(model.name) -%}
{%- set recorded = segmentation.existing_relation(erased_keys.schema, erased_keys.identifier) -%}
{%- set pending = segmentation.erased_keys_pending(erased_keys) if recorded is not none else none -%}
with

new_rows as (

    select {{ raw_key }} as touched_key
    from {{ source_relation }}
    where {{ new_loads }}

),

{#- Nothing recorded and not consumed yet: no key can have a gap, the base table is not read for it. #}
{%- if recorded is none or pending > 0 %}

gapped_keys as (

    select {{ key }} as touched_key
    from {{ this }}
    {%- if recorded is none %}
    where {{ key }} in (select ranked.{{ key }} from {{ this }} as ranked where ranked.{{ rank_column }} > 1)
    {%- else %}
    where {{ key }} in (
        select erased.{{ key }} from {{ erased_keys }} as erased
        where {{ segmentation.erased_keys_recorded_before_this_run('erased.run_id') }}
    )
    {%- endif %}
    group by {{ key }}, {{ rank_partition | join(', ') }}
    having max({{ rank_column }}) <> count(*)

),
{%- endif %}

touched_keys as (

    select touched_key from new_rows
    where touched_key is not null
    {%- if recorded is none or pending > 0 %}
    union
    select touched_key from gapped_keys
    {%- endif %}

)

{#- Rows of new loads are not in the base table yet, so the two parts never share a row. #}
select * from {{ source_relation }}
where {{ new_loads }}
union all
select * from {{ source_relation }}
where (_load_id, _file_name, _file_row_number) in (
    select staged._load_id, staged._file_name, staged._file_row_number
    from {{ this }} as staged
    where staged.{{ key }} in (select touched_keys.touched_key from touched_keys)
)
{%- else -%}
select * from {{ source_relation }}
{%- endif -%}
{% endmacro %}


{#
    The condition that selects the raw rows of loads the base table (this) does not hold yet, with the
    load ids as literals; `1 = 0` when there are none. More than 1,000 new loads (a backlog) keep the
    subquery form rather than a statement of unbounded length.
#}
{% macro unstaged_load_filter(source_relation) -%}
    {%- set subquery = "_load_id not in (select staged_loads._load_id from " ~ this
        ~ " as staged_loads where staged_loads._load_id is not null)" -%}
    {%- if not execute -%}{{ return(subquery) }}{%- endif -%}
    {%- set loads = run_query("select distinct _load_id from " ~ source_relation ~ " where _load_id is not null except "
        ~ "select distinct _load_id from " ~ this ~ " where _load_id is not null order by 1").columns[0].values() -%}
    {%- if loads | length == 0 -%}{{ return('1 = 0') }}{%- endif -%}
    {%- if loads | length > 1000 -%}{{ return(subquery) }}{%- endif -%}
    {%- set quoted = [] -%}
    {%- for load in loads -%}
        {%- do quoted.append("'" ~ (load | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {{ return('_load_id in (' ~ quoted | join(', ') ~ ')') }}
{%- endmacro %}


{#
    How many keys <privacy>_work.erased_keys__<model> (`erased_keys`) holds that earlier runs recorded.
#}
{% macro erased_keys_pending(erased_keys) -%}
    {{ return(run_query('select count(*) from ' ~ erased_keys ~ ' where '
        ~ segmentation.erased_keys_recorded_before_this_run()).columns[0].values()[0] | int) }}
{%- endmacro %}


{#
    The condition on the record's run_id (`column`) that keeps keys recorded by other invocations
    than this one. In one `dbt build` the base models run before the erasure
    (privacy_suppressions), so the keys it records now are checked by the next run; comparing run ids
    rather than timestamps does not depend on clocks.
#}
{% macro erased_keys_recorded_before_this_run(column='run_id') -%}
    {{ return(column ~ " <> '" ~ invocation_id ~ "'") }}
{%- endmacro %}


{#
    Post-hook of the incremental base models: the keys recorded by earlier runs were checked for gaps
    (and reprocessed) by this run, which succeeded, so they are removed from the record; a failed or
    skipped run keeps them for the next one. A --full-refresh ranks every key again, so it consumes
    them too. The record is created here when missing: this run checked every key (full scan or full
    build), so from now on the record holds every key that can have a gap. The erasure only appends to
    an existing record and never creates one, or keys erased before it existed would be forgotten.
    Its schema is made by create_erased_keys_schema (on-run-start).
#}
{% macro consume_erased_keys() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set key = config.get('unique_key') -%}
    {%- set erased_keys = segmentation.erased_keys_relation(model.name) -%}
    {%- if segmentation.existing_relation(erased_keys.schema, erased_keys.identifier) is none -%}
        {%- do run_query('create table ' ~ erased_keys ~ ' as select ' ~ key ~ ', cast(null as ' ~ dbt.type_timestamp()
            ~ ') as erased_at, cast(null as ' ~ dbt.type_string() ~ ') as run_id from ' ~ this ~ ' where 1 = 0') -%}
    {%- else -%}
        {%- do run_query('delete from ' ~ erased_keys ~ ' where '
            ~ segmentation.erased_keys_recorded_before_this_run()) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#
    on-run-start: the schema of the records of erased keys (<privacy>_work) exists before the base
    models create their records in parallel (creating it from two threads at once conflicts on DuckDB).
#}
{% macro create_erased_keys_schema() -%}
    {%- if execute -%}
        {%- do adapter.create_schema(segmentation.erased_keys_relation('')) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
