{#
    replace_rows: a table whose rows are replaced in one transaction (delete, then insert from a staged
    copy), instead of dbt's table materialization, which builds a new table and swaps names.

    Why: on PostgreSQL the name swap drops the old table with CASCADE, so every view on it (the BI
    views, activation_published) disappears until the run rebuilds it, and a reader that was waiting
    for the swap can read the new table with an older snapshot and see no rows. Replacing rows is
    plain MVCC: readers see the old rows until the commit and the new rows after it, never an error,
    never a half-built table, and dependent views and grants stay in place.

    When the model's columns change (a deploy), the table is rebuilt once the ordinary way. The
    staged copy is a regular table next to the target (`<name>__dbt_tmp`), dropped after the commit.
#}
{% materialization replace_rows, default %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set staged_relation = make_intermediate_relation(target_relation) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ drop_relation_if_exists(load_cached_relation(staged_relation)) }}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- if existing_relation is none or existing_relation.type != 'table' -%}
        {{ drop_relation_if_exists(existing_relation) }}
        {%- call statement('main') -%}
            {{ get_create_table_as_sql(False, target_relation, sql) }}
        {%- endcall -%}
    {%- else -%}
        {%- call statement('stage') -%}
            {{ get_create_table_as_sql(False, staged_relation, sql) }}
        {%- endcall -%}
        {%- set staged_columns = adapter.get_columns_in_relation(staged_relation) | map(attribute='name') | map('lower') | list -%}
        {%- set existing_columns = adapter.get_columns_in_relation(target_relation) | map(attribute='name') | map('lower') | list -%}
        {%- if staged_columns == existing_columns -%}
            {%- set column_list = staged_columns | map('string') | list -%}
            {%- set quoted = [] -%}
            {%- for name in column_list -%}{%- do quoted.append(adapter.quote(name)) -%}{%- endfor -%}
            {%- call statement('delete_rows') -%}
                delete from {{ target_relation }}
            {%- endcall -%}
            {%- call statement('main') -%}
                insert into {{ target_relation }} ({{ quoted | join(', ') }})
                select {{ quoted | join(', ') }} from {{ staged_relation }}
            {%- endcall -%}
        {%- else -%}
            {{ log("replace_rows: the columns of " ~ target_relation ~ " changed; rebuilding the table", info=True) }}
            {{ drop_relation_if_exists(existing_relation) }}
            {{ adapter.rename_relation(staged_relation, target_relation) }}
            {%- call statement('main') -%}
                select 1
            {%- endcall -%}
        {%- endif -%}
    {%- endif -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- set should_revoke = should_revoke(existing_relation, full_refresh_mode=False) -%}
    {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke) -%}
    {%- do persist_docs(target_relation, model) -%}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(load_cached_relation(staged_relation) or staged_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
