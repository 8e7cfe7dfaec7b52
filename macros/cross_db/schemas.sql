{#
    Creates the schema of `relation` when missing, inside the current transaction. Hooks and
    materializations use this instead of adapter.create_schema, which commits: on PostgreSQL that
    ends the transaction a materialization opened and its own commit then fails.
#}
{% macro ensure_schema(relation) -%}
    {%- do run_query('create schema if not exists ' ~ adapter.quote_as_configured(relation.schema, 'schema')) -%}
{%- endmacro %}
