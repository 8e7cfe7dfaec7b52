{#
    The rejected rows of a classified base model (rejection_reason not null), with the reason as
    `quarantine_reason`, the listed identifying columns and the loader's lineage columns, which point
    back to the untouched row in the raw table. `raw_row_key` is unique per raw row. `stamped`: the
    base model is incremental and carries _processed_at (the Segment message tables).
#}
{% macro quarantined_rows(base_relation, columns, stamped=false) %}
with

rejected as (

    select * from {{ base_relation }}
    where rejection_reason is not null

),

final as (

    select
        {{ segmentation.raw_row_key() }} as raw_row_key,
        rejection_reason as quarantine_reason,
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        _load_id,
        _file_name,
        _file_row_number,
        _loaded_at
        {%- if stamped %},
        _processed_at
        {%- endif %}
    from rejected

)

select * from final
{% endmacro %}


{# A key unique per raw row: the load, the file and the row number in that file. #}
{% macro raw_row_key() -%}
    {{ dbt.concat(["_load_id", "':'", "_file_name", "':'", dbt.cast("_file_row_number", dbt.type_string())]) }}
{%- endmacro %}
