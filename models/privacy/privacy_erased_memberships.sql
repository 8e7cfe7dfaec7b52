{#-
    One row per segment an erased profile was in when it was erased (segment name and the pseudonymous
    profile id only), so the change feed can tell destinations to remove the person.
-#}
/* depends_on: {{ ref('privacy_suppressions') }} */
{%- set work_schema = ref('privacy_suppressions').schema ~ '_work' %}
{%- set erased = this.incorporate(path={'schema': work_schema, 'identifier': 'erased_memberships'}) %}
with

erased as (

    select distinct
        segment_name,
        profile_id
    from {{ erased }}

),

final as (

    select
        segment_name,
        profile_id,
        '{{ invocation_id }}' as run_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as erased_at
    from erased

)

select * from final
