{#
    The text value at top-level key `key` of the JSON object held as text in `expression`;
    null when the key is missing or the value is JSON null. Booleans come back as 'true'/'false'.
    The portable default is the SQL:2016 JSON_VALUE function.
#}
{% macro json_text(expression, key) -%}
    {{ return(adapter.dispatch('json_text', 'segmentation')(expression, key)) }}
{%- endmacro %}

{% macro default__json_text(expression, key) -%}
    json_value({{ expression }}, '$.{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(expression, key) -%}
    json_extract_string({{ expression }}, '$.{{ key }}')
{%- endmacro %}

{% macro postgres__json_text(expression, key) -%}
    (cast({{ expression }} as jsonb) ->> '{{ key }}')
{%- endmacro %}

{% macro spark__json_text(expression, key) -%}
    get_json_object({{ expression }}, '$.{{ key }}')
{%- endmacro %}


{#
    True when `expression` (text) is a well-formed JSON object, false otherwise (null stays null).
    The portable default uses the SQL:2016 IS JSON predicate.
#}
{% macro is_json_object(expression) -%}
    {{ return(adapter.dispatch('is_json_object', 'segmentation')(expression)) }}
{%- endmacro %}

{% macro default__is_json_object(expression) -%}
    ({{ expression }} is json object)
{%- endmacro %}

{% macro duckdb__is_json_object(expression) -%}
    case
        when json_valid({{ expression }}) then json_type({{ expression }}) = 'OBJECT'
        when {{ expression }} is not null then false
    end
{%- endmacro %}

{% macro postgres__is_json_object(expression) -%}
    udf.is_json_object({{ expression }})
{%- endmacro %}

{% macro spark__is_json_object(expression) -%}
    (from_json({{ expression }}, 'map<string,string>') is not null)
{%- endmacro %}
