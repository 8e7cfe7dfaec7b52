{#
    A BI view of `model_name`: every column except the pii-tagged ones (pii_safe_columns, mode
    'drop'), so a role that can read schema bi reads no personal data, whatever the model gains later.
#}
{% macro bi_view(model_name) -%}
    select
        {{ segmentation.pii_safe_columns(model_name, 'drop') }}
    from {{ ref(model_name) }}
{%- endmacro %}


{#
    on-run-end: the reader roles may look up objects in the schemas they are granted (dbt grants cover
    the relations, not their schema). PostgreSQL only; other engines have no such roles.
#}
{% macro grant_schema_usage() -%}
    {{ return(adapter.dispatch('grant_schema_usage', 'segmentation')()) }}
{%- endmacro %}

{% macro default__grant_schema_usage() -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__grant_schema_usage() -%}
    {%- if execute -%}
        {%- set grants = {
            'bi': env_var('SEGMENTATION_BI_READER_ROLE', 'bi_reader'),
            'activation_published': env_var('SEGMENTATION_REVERSE_ETL_ROLE', 'reverse_etl'),
        } -%}
        {%- for schema, role in grants.items() -%}
            {%- set exists = run_query("select 1 from information_schema.schemata where schema_name = '" ~ schema ~ "'") -%}
            {%- if exists | length > 0 -%}
                {%- do run_query('grant usage on schema ' ~ adapter.quote(schema) ~ ' to ' ~ adapter.quote(role)) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
