{# True when `expression` matches the regular expression `pattern` (a SQL string literal). #}
{% macro regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'segmentation')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    regexp_like({{ expression }}, {{ pattern }})
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ pattern }})
{%- endmacro %}

{% macro postgres__regex_matches(expression, pattern) -%}
    ({{ expression }} ~ {{ pattern }})
{%- endmacro %}

{% macro spark__regex_matches(expression, pattern) -%}
    ({{ expression }} rlike {{ pattern }})
{%- endmacro %}


{# Replace every match of `pattern` in `expression` with `replacement` (both SQL string literals). #}
{% macro regex_replace_all(expression, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all', 'segmentation')(expression, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro spark__regex_replace_all(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}


{#
    A select-list expression that yields one row per match of `pattern` (a SQL string literal) in
    `expression`: use it alone in a select list, e.g. `select id, {{ regex_all_matches('body', "'[0-9]+'") }} as token`.
#}
{% macro regex_all_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_all_matches', 'segmentation')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_all_matches(expression, pattern) -%}
    unnest(regexp_extract_all({{ expression }}, {{ pattern }}))
{%- endmacro %}

{% macro postgres__regex_all_matches(expression, pattern) -%}
    (regexp_matches({{ expression }}, {{ pattern }}, 'g'))[1]
{%- endmacro %}

{% macro spark__regex_all_matches(expression, pattern) -%}
    explode(regexp_extract_all({{ expression }}, {{ pattern }}, 0))
{%- endmacro %}
