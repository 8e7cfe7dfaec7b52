{#
    PII tags: a column holding personal data carries `config: {meta: {pii: true}}` in its model's
    YAML (sources: `meta: {pii: true}`). The tags are the single source of truth: the erasure scan
    test reads them, pii_safe_columns masks them, and database grants (bi_reader) follow them.
#}

{# Names of the pii-tagged columns of a model or seed, from the project graph. #}
{% macro pii_columns(model_name) -%}
    {%- set tagged = [] -%}
    {%- for node in graph.nodes.values() if node.name == model_name and node.resource_type in ('model', 'seed', 'snapshot') -%}
        {%- for column in node.columns.values() -%}
            {%- set meta = column.meta or {} -%}
            {%- set config_meta = (column.config or {}).get('meta', {}) if column.config is mapping else {} -%}
            {%- if meta.get('pii') or config_meta.get('pii') -%}
                {%- do tagged.append(column.name | lower) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(tagged) }}
{%- endmacro %}


{#
    The select list of `model_name` with every pii-tagged column either replaced by a salted SHA-256
    pseudonym (mode 'hash': sha256(salt ':pii:' column ':' value), stable across runs so BI can still
    count and join distinct people) or left out (mode 'drop'). Untagged columns pass unchanged.
#}
{% macro pii_safe_columns(model_name, mode='hash', relation_alias=none) -%}
    {%- if mode not in ('hash', 'drop') -%}
        {{ exceptions.raise_compiler_error("pii_safe_columns: mode must be 'hash' or 'drop', got '" ~ mode ~ "'") }}
    {%- endif -%}
    {%- if not execute -%}{{ return('*') }}{%- endif -%}
    {%- set tagged = segmentation.pii_columns(model_name) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    {%- set salt = segmentation.erasure_salt() | replace("'", "''") -%}
    {%- set selected = [] -%}
    {%- for column in adapter.get_columns_in_relation(ref(model_name)) -%}
        {%- set name = column.name | lower -%}
        {%- if name not in tagged -%}
            {%- do selected.append(prefix ~ adapter.quote(column.name)) -%}
        {%- elif mode == 'hash' -%}
            {%- do selected.append(segmentation.sha256_hex(dbt.concat(["'" ~ salt ~ ":pii:" ~ name ~ ":'",
                dbt.cast(prefix ~ adapter.quote(column.name), dbt.type_string())])) ~ ' as ' ~ adapter.quote(column.name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(selected | join(',\n    ')) }}
{%- endmacro %}
