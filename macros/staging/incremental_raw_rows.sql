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
        n ranks has a gap exactly when max(rank) <> count(*), and only keys with a rank above 1 can.
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
with

new_rows as (

    select {{ raw_key }} as touched_key
    from {{ source_relation }}
    where {{ new_loads }}

),

gapped_keys as (

    select {{ key }} as touched_key
    from {{ this }}
    where {{ key }} in (select ranked.{{ key }} from {{ this }} as ranked where ranked.{{ rank_column }} > 1)
    group by {{ key }}, {{ rank_partition | join(', ') }}
    having max({{ rank_column }}) <> count(*)

),

touched_keys as (

    select touched_key from new_rows
    where touched_key is not null
    union
    select touched_key from gapped_keys

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
