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
