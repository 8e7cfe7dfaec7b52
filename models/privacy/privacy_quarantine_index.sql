{#-
    One row per raw table: how many of its quarantined rows the erasure's token index holds and how many
    tokens (macros/privacy/erasure.sql, erasure_index_quarantined_rows). Counts only, no personal data.
    The pre-hook brings the index up to date; this model depends on the base tables only, so dbt runs it
    beside the identity models and the erasure (privacy_suppressions, which waits for it and runs alone)
    has nothing left to index. Counted before this run's erasure removes the entries of the rows it erases.
-#}
{{ config(pre_hook="{{ segmentation.erasure_index_all_quarantined_rows() }}") }}
/* depends_on: {{ ref('base_crm__contacts') }} {{ ref('base_privacy__deletion_requests') }} */
/* depends_on: {{ ref('base_segment__identifies') }} {{ ref('base_segment__pages') }} */
/* depends_on: {{ ref('base_segment__screens') }} {{ ref('base_segment__tracks') }} */
/* depends_on: {{ ref('base_shop__order_items') }} {{ ref('base_shop__orders') }} */
{%- set parents = (model.get('depends_on') or {}).get('nodes') or [] %}
{%- set indexed = [] %}
{#- The graph is empty while dbt parses (and while sqlfluff templates the model). #}
{%- for entry in (segmentation.erasure_raw_tables() if execute and graph.get('nodes') else []) %}
{#- Refs are read while parsing, so the base tables are named above; one missing there would be indexed
    in the erasure, on the critical path: stop instead. #}
{%- if parents and 'model.segmentation.' ~ entry.base not in parents %}
{{ exceptions.raise_compiler_error("privacy_quarantine_index must depend on " ~ entry.base
    ~ ": add it to the depends_on lines of models/privacy/privacy_quarantine_index.sql") }}
{%- endif %}
{%- set base = segmentation.graph_relation(entry.base) %}
{%- set raw = segmentation.graph_relation(entry.table, entry.source) %}
{%- if segmentation.existing_relation(base.schema, base.identifier) is not none
    and segmentation.existing_relation(raw.schema, raw.identifier) is not none %}
{%- do indexed.append(entry.base) %}
{%- endif %}
{%- endfor %}
{%- for base_model in indexed %}
select
    '{{ base_model }}' as base_model,
    (
        select count(*)
        from {{ segmentation.erasure_work_relation('quarantine_rows__' ~ base_model) }}
    ) as indexed_rows,
    (
        select count(*)
        from {{ segmentation.erasure_work_relation('quarantine_tokens__' ~ base_model) }}
    ) as tokens,
    {{ segmentation.run_timestamp() }} as indexed_at
union all
{%- endfor %}
select
    cast(null as {{ dbt.type_string() }}) as base_model,
    cast(null as {{ dbt.type_bigint() }}) as indexed_rows,
    cast(null as {{ dbt.type_bigint() }}) as tokens,
    {{ segmentation.run_timestamp() }} as indexed_at
where 1 = 0
