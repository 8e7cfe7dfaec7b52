{#-
    One row per run and table the erasure touched: rows deleted (counted before deleting), plus one
    row per run (relation_name '*') with the run's new suppressed identifiers and erased profiles, so
    every run leaves a trace even when it erased nobody. detail is the staging outcome of a
    deleted base row (staged or its quarantine reason) so staging still reconciles with what was loaded.
    Holds no personal data.
-#}
/* depends_on: {{ ref('privacy_erased_profiles') }} */
/* depends_on: {{ ref('privacy_erased_memberships') }} */
{%- set work_schema = ref('privacy_suppressions').schema ~ '_work' %}
{%- set counts = this.incorporate(path={'schema': work_schema, 'identifier': 'erasure_counts'}) %}
{#- The work tables have been read: drop them so erased profile ids live only in privacy_erased_profiles. -#}
{{ config(post_hook="{{ segmentation.drop_erasure_work_tables() }}") }}
{%- set run_started = segmentation.timestamp_literal(run_started_at.strftime("%Y-%m-%d %H:%M:%S")) %}
with

counts as (

    select
        relation_name,
        erasure_action,
        detail,
        sum(rows_affected) as rows_affected
    from {{ counts }}
    group by relation_name, erasure_action, detail

),

run_summary as (

    select
        '*' as relation_name,
        'summary' as erasure_action,
        'run' as detail,
        cast(0 as {{ dbt.type_bigint() }}) as rows_affected,
        (
            select count(*) from {{ ref('privacy_suppressions') }}
            where run_id = '{{ invocation_id }}'
        ) as identifiers_suppressed,
        (
            select count(*) from {{ ref('privacy_erased_profiles') }}
            where run_id = '{{ invocation_id }}'
        ) as profiles_erased

),

final as (

    select
        '{{ invocation_id }}' as run_id,
        {{ run_started }} as run_started_at,
        relation_name,
        erasure_action,
        detail,
        rows_affected,
        cast(null as {{ dbt.type_bigint() }}) as identifiers_suppressed,
        cast(null as {{ dbt.type_bigint() }}) as profiles_erased
    from counts
    union all
    select
        '{{ invocation_id }}' as run_id,
        {{ run_started }} as run_started_at,
        relation_name,
        erasure_action,
        detail,
        rows_affected,
        identifiers_suppressed,
        profiles_erased
    from run_summary

)

select * from final
