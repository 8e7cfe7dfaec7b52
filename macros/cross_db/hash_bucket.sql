{# A bucket 0..buckets-1 from the MD5 of a text expression: the same on every engine. #}
{% macro hash_bucket(expression, buckets) -%}
    {{ return(adapter.dispatch('hash_bucket', 'segmentation')(expression, buckets)) }}
{%- endmacro %}

{% macro default__hash_bucket(expression, buckets) -%}
    (cast(('0x' || substr(md5({{ expression }}), 1, 8)) as bigint) % {{ buckets }})
{%- endmacro %}

{% macro postgres__hash_bucket(expression, buckets) -%}
    ((('x' || substr(md5({{ expression }}), 1, 8))::bit(32)::bigint) % {{ buckets }})
{%- endmacro %}

{% macro spark__hash_bucket(expression, buckets) -%}
    pmod(cast(conv(substr(md5({{ expression }}), 1, 8), 16, 10) as bigint), {{ buckets }})
{%- endmacro %}
