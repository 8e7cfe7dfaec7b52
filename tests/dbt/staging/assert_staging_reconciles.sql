{#- Nothing is lost silently: per raw table, raw rows = staged + duplicates removed + quarantined. -#}
select
    source_name,
    table_name,
    raw_rows,
    staged_rows,
    duplicate_rows,
    quarantined_rows
from {{ ref('staging_reconciliation') }}
where not is_reconciled
