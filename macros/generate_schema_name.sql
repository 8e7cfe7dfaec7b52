{#
    Models land in the schema their folder declares (staging, identity, profiles, ...) exactly,
    without dbt's default "<target schema>_" prefix, so BI tools and syncs find stable names.
    Models without a custom schema land in the target's schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
