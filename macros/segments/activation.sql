{#
    Activation rows for `destination` (email, ads, crm; none for every segment): memberships that are
    activatable (not holdout, not suppressed by priority) in segments that list the destination, of
    profiles that granted every consent purpose the segment requires plus `destination_purpose`, as of
    the run. Erased people have no profile, so they never appear.
#}
{% macro activatable_members_sql(destination=none, destination_purpose=none) -%}
    {%- set definitions = segmentation.segment_definitions() -%}
    {%- set requirements = [] -%}
    {%- for definition in definitions if destination is none or destination in definition.destinations -%}
        {%- set purposes = definition.purposes | list -%}
        {%- if destination_purpose and destination_purpose not in purposes -%}
            {%- do purposes.append(destination_purpose) -%}
        {%- endif -%}
        {%- for purpose in purposes -%}
            {%- do requirements.append("select '" ~ definition.name ~ "' as segment_name, '" ~ purpose ~ "' as purpose") -%}
        {%- endfor -%}
    {%- endfor -%}
    with

    requirements as (

        {{ requirements | join('\n        union all\n        ') if requirements else
            "select cast(null as " ~ dbt.type_string() ~ ") as segment_name, cast(null as " ~ dbt.type_string()
            ~ ") as purpose where 1 = 0" }}

    ),

    memberships as (

        select * from {{ ref('segment_memberships') }}
        where is_activatable

    ),

    consent as (

        select * from {{ ref('profile_consent') }}
        where is_granted

    ),

    checked as (

        select
            memberships.segment_name,
            memberships.profile_id,
            count(*) as required_purposes,
            count(consent.profile_id) as granted_purposes,
            max(consent.decided_at) as consent_decided_at
        from memberships
        inner join requirements on memberships.segment_name = requirements.segment_name
        left join consent
            on
                memberships.profile_id = consent.profile_id
                and requirements.purpose = consent.purpose
        group by memberships.segment_name, memberships.profile_id

    )

    select
        segment_name,
        profile_id,
        consent_decided_at
    from checked
    where granted_purposes = required_purposes
{%- endmacro %}


{#
    updated_at and build_run_id (the dbt run that built the table; the consent guard opens or closes
    the gate per build) for a table rebuilt every run: a row keeps the updated_at of the previous build while its
    content (row_hash) is unchanged, else gets the run time. External reverse-ETL tools diff on the
    key and updated_at.
#}
{% macro carry_updated_at(current_cte, key_column) -%}
    {%- set previous = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    select
        {{ current_cte }}.*,
        {%- if previous is not none and not flags.FULL_REFRESH %}
        case
            when previous_rows.row_hash = {{ current_cte }}.row_hash then previous_rows.updated_at
            else cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }})
        end as updated_at,
        '{{ invocation_id }}' as build_run_id
    from {{ current_cte }}
    left join {{ previous }} as previous_rows on {{ current_cte }}.{{ key_column }} = previous_rows.{{ key_column }}
        {%- else %}
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as updated_at,
        '{{ invocation_id }}' as build_run_id
    from {{ current_cte }}
        {%- endif %}
{%- endmacro %}


{#
    on-run-start: the consent guard's gate table exists before the published views are built. One row
    per check of a build: quality.activation_gate(build_run_id, quality_run_id, checked_at, is_open).
#}
{% macro create_activation_gate() -%}
    {%- if execute -%}
        {%- do adapter.create_schema(api.Relation.create(database=target.database, schema='quality')) -%}
        {%- do run_query('create table if not exists ' ~ segmentation.activation_gate_relation() ~ ' (build_run_id '
            ~ dbt.type_string() ~ ', quality_run_id ' ~ dbt.type_string() ~ ', checked_at ' ~ dbt.type_timestamp()
            ~ ', is_open boolean)') -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}


{% macro activation_gate_relation() -%}
    {{ return(api.Relation.create(database=target.database, schema='quality', identifier='activation_gate')) }}
{%- endmacro %}


{#
    A published activation table: the rows of `model` only when the latest consent-guard check of the
    build that wrote them passed. Between a build and its check, and after a failed check, readers
    of the published view see nothing.
#}
{% macro published_activation(model) -%}
    select built.*
    from {{ ref(model) }} as built
    where built.build_run_id in (
        select gate.build_run_id
        from {{ segmentation.activation_gate_relation() }} as gate
        where
            gate.is_open
            and gate.checked_at = (
                select max(latest.checked_at) from {{ segmentation.activation_gate_relation() }} as latest
                where latest.build_run_id = gate.build_run_id
            )
    )
{%- endmacro %}
