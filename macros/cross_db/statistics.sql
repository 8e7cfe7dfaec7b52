{#
    Post-hook of every model: refresh the planner's statistics of the table just built. PostgreSQL
    has none for a table created moments ago (autovacuum analyzes later), so the next model planned
    nested loops over what it took for a few rows: profile_consent_history took 580 s at 20k people
    without this and under a second with it. DuckDB keeps its statistics as it writes.
#}
{% macro refresh_statistics() -%}
    {{ return(adapter.dispatch('refresh_statistics', 'segmentation')()) }}
{%- endmacro %}

{% macro default__refresh_statistics() -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__refresh_statistics() -%}
    {%- if model.config.materialized in ('table', 'incremental', 'replace_rows') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
