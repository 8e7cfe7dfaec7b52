{#
    on-run-start: helper functions an engine lacks. PostgreSQL before 16 has no IS JSON predicate and
    no way to test a cast without raising, so it gets udf.is_json_object(text): true for a JSON object,
    false for any other JSON or malformed text, null for null. Other engines need nothing. It is
    parallel unsafe because its exception block is a subtransaction, which parallel workers cannot start.
#}
{% macro create_functions() -%}
    {{ return(adapter.dispatch('create_functions', 'segmentation')()) }}
{%- endmacro %}

{% macro default__create_functions() -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__create_functions() -%}
    {%- if execute -%}
        {%- do adapter.create_schema(api.Relation.create(database=target.database, schema='udf')) -%}
        {%- call statement('create_is_json_object') -%}
            create or replace function udf.is_json_object(value text) returns boolean
            language plpgsql immutable parallel unsafe as $fn$
            begin
                if value is null then
                    return null;
                end if;
                return jsonb_typeof(value::jsonb) = 'object';
            exception when invalid_text_representation then
                return false;
            end
            $fn$
        {%- endcall -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{#- `materialized` for a CTE that several parts of a query read, where the engine supports it (DuckDB and
    PostgreSQL 12+ compute it once; DuckDB otherwise inlines it into each reader). -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'segmentation')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
    materialized
{%- endmacro %}

{% macro spark__materialized_cte() -%}
{%- endmacro %}


{#- `not materialized` for a CTE that several parts of a query read but that is cheaper to compute again in
    each (a projection of a large table), where the engine supports it (DuckDB, PostgreSQL 12+). -#}
{% macro inlined_cte() -%}
    {{ return(adapter.dispatch('inlined_cte', 'segmentation')()) }}
{%- endmacro %}

{% macro default__inlined_cte() -%}
    not materialized
{%- endmacro %}

{% macro spark__inlined_cte() -%}
{%- endmacro %}


{#-
    SQL selecting `columns` (a list) of the rows of `relation` that meet any of `conditions` (a list), for
    conditions that keep few of many rows (a key in a small set). A row meeting several conditions comes
    once; `columns` must hold a key of the rows (other engines union the selects, which would also merge
    two rows equal in every column). `relation` must be a table: a view has no row ids on DuckDB.
    DuckDB evaluates each condition on its own columns and then fetches the other columns of the matching
    rows only, by row id; a plain filter reads every column of every row. At L, on a quiet machine:
      - the events of 1,000 profiles (28 M events, 13 columns): 1.4 to 1.8 s against 3.5 to 3.8 s (of
        100,000 profiles: 3.8 to 4.1 s against 4.5 to 4.9 s);
      - the erasure's rows of 1,260 identifiers in base_segment__tracks (13 M rows; anonymous ids, user
        ids, device ids, three conditions): 1.9 s against 2.7 to 3.6 s; in the erasure of 2,139 requests
        on copies of the L warehouse, the four Segment base tables 6.7 / 6.7 s against 11.4 / 8.5 s.
    Other engines get one select per condition, unioned (an `or` of `in (subquery)` conditions made DuckDB
    mark every row against every subquery; the union was the faster plan before row ids).
-#}
{% macro rows_where_sql(relation, columns, conditions) -%}
    {{ return(adapter.dispatch('rows_where_sql', 'segmentation')(relation, columns, conditions)) }}
{%- endmacro %}

{% macro default__rows_where_sql(relation, columns, conditions) -%}
    {%- for condition in conditions %}
    {{ 'union' if not loop.first }}
    select {{ columns | join(', ') }} from {{ relation }} where {{ condition }}
    {%- endfor %}
{%- endmacro %}

{% macro duckdb__rows_where_sql(relation, columns, conditions) -%}
    select {{ columns | join(', ') }} from {{ relation }}
    where rowid in (
    {%- for condition in conditions %}
        {{ 'union all' if not loop.first }}
        select rowid from {{ relation }} where {{ condition }}
    {%- endfor %}
    )
{%- endmacro %}
