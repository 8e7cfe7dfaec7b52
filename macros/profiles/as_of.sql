{#
    The moment traits, windows and consent expiry are evaluated at: var `as_of` when given (a date
    or timestamp in UTC, e.g. --vars '{as_of: "2026-11-01"}' to rebuild a past day), else the time the
    run started. Every "last N days" window counts back from here, so people leave a window when they
    go quiet even if no new data arrives.
#}
{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of', none) -%}
    {%- if as_of -%}
        {%- set text = as_of | string -%}
        {%- if not modules.re.match('^\\d{4}-\\d{2}-\\d{2}([ T]\\d{2}:\\d{2}(:\\d{2})?)?$', text) -%}
            {{ exceptions.raise_compiler_error(
                "var as_of must be a UTC date or timestamp like 2026-11-01 or 2026-11-01 09:30:00, got '"
                ~ text ~ "'") }}
        {%- endif -%}
        cast('{{ text | replace("T", " ") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}


{# The calendar date of as_of_timestamp(). #}
{% macro as_of_date() -%}
    cast({{ segmentation.as_of_timestamp() }} as date)
{%- endmacro %}
