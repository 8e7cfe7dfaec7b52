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
