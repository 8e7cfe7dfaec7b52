{#
    Salted SHA-256 (64 lowercase hex characters) of an identifier: the only form in which an erased
    person's identifiers stay in the warehouse. The salt comes from env var SEGMENTATION_ERASURE_SALT
    (never from the repository); it must stay the same for the life of the warehouse, or suppressed
    identifiers would no longer be recognised (privacy_salt_check fails the run when it changes).
#}
{% macro erasure_salt() -%}
    {%- set salt = env_var('SEGMENTATION_ERASURE_SALT', '') -%}
    {%- if execute and salt | length < 16 -%}
        {{ exceptions.raise_compiler_error(
            "Set env var SEGMENTATION_ERASURE_SALT to a secret of at least 16 characters (e.g. `openssl rand -hex 32`)"
            ~ " and keep it for the life of the warehouse: erasure stores identifiers only as hashes salted with it.") }}
    {%- endif -%}
    {{ return(salt) }}
{%- endmacro %}


{# SHA-256 of a text expression as 64 lowercase hex characters. #}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'segmentation')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    lower(sha2({{ expression }}, 256))
{%- endmacro %}

{% macro duckdb__sha256_hex(expression) -%}
    sha256({{ expression }})
{%- endmacro %}

{% macro postgres__sha256_hex(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}


{# Salted hash of a typed identifier: sha256(salt ':' type ':' value). #}
{% macro identifier_hash(type_expression, value_expression) -%}
    {%- set salt = segmentation.erasure_salt() | replace("'", "''") -%}
    {{ segmentation.sha256_hex(dbt.concat(["'" ~ salt ~ ":'", type_expression, "':'", value_expression])) }}
{%- endmacro %}
