{#
    Segment's clock-skew correction: the device's clock offset is (sent_at - event_timestamp) measured on
    the device, so the event happened at received_at - (sent_at - event_timestamp) on the server's clock.
#}
{% macro clock_skew_corrected(event_timestamp, sent_at, received_at) -%}
    {{ return(adapter.dispatch('clock_skew_corrected', 'segmentation')(event_timestamp, sent_at, received_at)) }}
{%- endmacro %}

{% macro default__clock_skew_corrected(event_timestamp, sent_at, received_at) -%}
    ({{ received_at }} - ({{ sent_at }} - {{ event_timestamp }}))
{%- endmacro %}

{% macro spark__clock_skew_corrected(event_timestamp, sent_at, received_at) -%}
    timestamp_micros(
        unix_micros({{ received_at }}) - (unix_micros({{ sent_at }}) - unix_micros({{ event_timestamp }}))
    )
{%- endmacro %}


{#
    `value` (a timestamp as text, e.g. read with run_query or formatted from run_started_at) as a
    timestamp literal. The project writes watermarks and run stamps into its SQL as literals: a filter
    on a literal is pushed into the scan (DuckDB skips the row groups it rules out), one on a scalar
    subquery is not.
#}
{% macro timestamp_literal(value) -%}
    {{ return("cast('" ~ (value | string | replace("'", "''")) ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}
