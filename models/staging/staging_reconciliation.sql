{#-
    One row per raw table: raw rows, rows staged, duplicates removed and rows quarantined, each counted
    from its own relation. `is_reconciled` is true when raw = staged + duplicates + quarantined;
    the test assert_staging_reconciles fails on any row where it is not.
-#}
{%- set tables = [
    ('segment', 'identifies', 'stg_segment__identifies', 'quarantine_segment__identifies'),
    ('segment', 'tracks', 'stg_segment__tracks', 'quarantine_segment__tracks'),
    ('segment', 'pages', 'stg_segment__pages', 'quarantine_segment__pages'),
    ('segment', 'screens', 'stg_segment__screens', 'quarantine_segment__screens'),
    ('shop', 'orders', 'stg_shop__orders', 'quarantine_shop__orders'),
    ('shop', 'order_items', 'stg_shop__order_items', 'quarantine_shop__order_items'),
    ('crm', 'crm_contacts', 'stg_crm__contacts', 'quarantine_crm__contacts'),
    ('privacy', 'deletion_requests', 'stg_privacy__deletion_requests', 'quarantine_privacy__deletion_requests'),
] -%}
with

counts as (

    {%- for source_name, table_name, staged_model, quarantine_model in tables %}
    select
        '{{ source_name }}' as source_name,
        '{{ table_name }}' as table_name,
        (select count(*) from {{ source(source_name, table_name) }}) as raw_rows,
        (select count(*) from {{ ref(staged_model) }}) as staged_rows,
        (
            select count(*) from {{ ref(quarantine_model) }}
            where quarantine_reason like 'duplicate%'
        ) as duplicate_rows,
        (
            select count(*) from {{ ref(quarantine_model) }}
            where quarantine_reason not like 'duplicate%'
        ) as quarantined_rows
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

reconciled as (

    select
        source_name,
        table_name,
        raw_rows,
        staged_rows,
        duplicate_rows,
        quarantined_rows,
        raw_rows = staged_rows + duplicate_rows + quarantined_rows as is_reconciled
    from counts

)

select * from reconciled
