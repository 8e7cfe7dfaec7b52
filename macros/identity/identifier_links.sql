{#
    The identifier sources of the identity graph: which staged models carry which identifier types,
    and when each record was observed. Extend with var `identity_extra_sources` (same shape) to add
    types a project declares, e.g. {'model': 'stg_app__logins', 'observed_at': 'logged_in_at',
    'identifiers': {'loyalty_id': 'loyalty_card'}} (declare the type in identity_identifier_types too).
#}
{% macro identity_sources() -%}
    {%- set sources = [
        {'model': 'stg_segment__identifies', 'observed_at': 'event_at', 'identifiers': {
            'anonymous_id': 'anonymous_id', 'user_id': 'user_id', 'email': 'email', 'phone': 'phone',
            'crm_id': 'crm_id', 'customer_id': 'customer_id', 'device_id': 'device_id'}},
        {'model': 'stg_segment__tracks', 'observed_at': 'event_at', 'identifiers': {
            'anonymous_id': 'anonymous_id', 'user_id': 'user_id', 'device_id': 'device_id'}},
        {'model': 'stg_segment__pages', 'observed_at': 'event_at', 'identifiers': {
            'anonymous_id': 'anonymous_id', 'user_id': 'user_id', 'device_id': 'device_id'}},
        {'model': 'stg_segment__screens', 'observed_at': 'event_at', 'identifiers': {
            'anonymous_id': 'anonymous_id', 'user_id': 'user_id', 'device_id': 'device_id'}},
        {'model': 'stg_shop__orders', 'observed_at': 'created_at', 'identifiers': {
            'customer_id': 'customer_id', 'email': 'email', 'phone': 'phone', 'anonymous_id': 'anonymous_id'}},
        {'model': 'stg_crm__contacts', 'observed_at': 'updated_at', 'identifiers': {
            'crm_id': 'crm_id', 'email': 'email', 'phone': 'phone', 'user_id': 'user_id',
            'customer_id': 'customer_id'}},
    ] -%}
    {{ return(sources + var('identity_extra_sources', [])) }}
{%- endmacro %}


{#
    One row per (identifier pair, source) observed together in one record: every pair of non-null
    identifiers of a record, in canonical order (type_a, value_a) < (type_b, value_b), aggregated.
    touched=true (incremental runs, macros/identity/incremental_inputs.sql): only pairs with at least one
    identifier in this run's touched set, read from the touched rows of each source (every staged row
    that carries a touched identifier), so each such pair is aggregated over all its records.
#}
{% macro identity_pairs_sql(touched=false) -%}
    {%- set selects = [] -%}
    {%- for source in segmentation.identity_sources() -%}
        {%- set source_index = loop.index -%}
        {%- set types = source['identifiers'] | list -%}
        {%- for i in range(types | length) -%}
            {%- for j in range(i + 1, types | length) -%}
                {%- set type_i, type_j = types[i], types[j] -%}
                {%- if touched -%}
                    {%- set column_i, column_j, observed_at = type_i, type_j, 'observed_at' -%}
                    {%- set relation = segmentation.identity_touched_rows_relation(source_index) -%}
                {%- else -%}
                    {%- set column_i, column_j = source['identifiers'][type_i], source['identifiers'][type_j] -%}
                    {%- set observed_at, relation = source['observed_at'], ref(source['model']) -%}
                {%- endif -%}
                {%- set sql -%}
    select
        '{{ type_i }}' as type_i,
        {{ column_i }} as value_i,
        '{{ type_j }}' as type_j,
        {{ column_j }} as value_j,
        '{{ source["model"] }}' as source_model,
        min({{ observed_at }}) as first_seen_at,
        max({{ observed_at }}) as last_seen_at,
        count(*) as observations
    from {{ relation }}
    where {{ column_i }} is not null and {{ column_j }} is not null
    {%- if touched %}
        and (
            {{ column_i }} in ({{ segmentation.identity_touched_values_sql(type_i) }})
            or {{ column_j }} in ({{ segmentation.identity_touched_values_sql(type_j) }})
        )
    {%- endif %}
    group by {{ column_i }}, {{ column_j }}
                {%- endset -%}
                {%- do selects.append(sql) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ selects | join('\n    union all\n') }}
{%- endmacro %}


{#
    One row per (identifier, source model) observation aggregate. touched=true (incremental runs): only
    the touched identifiers, read from the touched rows of each source (all their records).
#}
{% macro identity_identifiers_sql(touched=false) -%}
    {%- set selects = [] -%}
    {%- for source in segmentation.identity_sources() -%}
        {%- set source_index = loop.index -%}
        {%- for identifier_type, source_column in source['identifiers'].items() -%}
            {%- if touched -%}
                {%- set column, observed_at = identifier_type, 'observed_at' -%}
                {%- set relation = segmentation.identity_touched_rows_relation(source_index) -%}
            {%- else -%}
                {%- set column, observed_at, relation = source_column, source['observed_at'], ref(source['model']) -%}
            {%- endif -%}
            {%- set sql -%}
    select
        '{{ identifier_type }}' as identifier_type,
        {{ column }} as identifier_value,
        '{{ source["model"] }}' as source_model,
        min({{ observed_at }}) as first_seen_at,
        max({{ observed_at }}) as last_seen_at,
        count(*) as observations
    from {{ relation }}
    where {{ column }} is not null
    {%- if touched %}
        and {{ column }} in ({{ segmentation.identity_touched_values_sql(identifier_type) }})
    {%- endif %}
    group by {{ column }}
            {%- endset -%}
            {%- do selects.append(sql) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ selects | join('\n    union all\n') }}
{%- endmacro %}


{#-
    The blocklist's regex rules (identifier_type, pattern, reason), for int_identity__identifiers to
    match each as a literal; none where the seed cannot be read when the SQL is rendered (parsing, a
    unit test, whose given rows stand in for the seed, a warehouse without the seed yet): the model then
    joins the seed's rows. DuckDB compiles a regex given as a literal once per query and one given as a
    column for every row: at size L the join's regex matches were 96 of the model's 135 s of operator
    time, and the model's query took 73.2 s against 19.3 s with literals (docs/identity.md). A rule
    with an empty type, pattern or reason matches nothing, as in the join.
-#}
{% macro identity_blocklist_regex_rules() -%}
    {%- if not execute or model.resource_type != 'model' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set blocklist = segmentation.identity_node_relation('identity_blocklist') -%}
    {%- if segmentation.existing_relation(blocklist.schema, blocklist.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rules = [] -%}
    {%- for row in run_query(
        "select identifier_type, pattern, reason from " ~ blocklist
        ~ " where match_type = 'regex' and identifier_type is not null and pattern is not null"
        ~ " and reason is not null order by 1, 2, 3") -%}
        {%- do rules.append({'identifier_type': row[0], 'pattern': row[1], 'reason': row[2]}) -%}
    {%- endfor -%}
    {{ return(rules) }}
{%- endmacro %}


{#- A SQL string literal holding `value` (quotes doubled; backslashes are plain characters on DuckDB and PostgreSQL). -#}
{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
