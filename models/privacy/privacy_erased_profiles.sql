{#-
    One row per profile id erased (the person's current id and every id merged into it earlier), with
    the run that erased it. Profile ids are pseudonyms derived from identifiers that no longer exist;
    segments read this table to emit "removed" changes for erased people.
-#}
/* depends_on: {{ ref('privacy_suppressions') }} */
{%- set work_schema = ref('privacy_suppressions').schema ~ '_work' %}
{%- set erased = this.incorporate(path={'schema': work_schema, 'identifier': 'erased_profiles'}) %}
with

erased as (

    select distinct profile_id from {{ erased }}

),

{%- if is_incremental() %}

unseen as (

    select erased.profile_id
    from erased
    left join {{ this }} as known on erased.profile_id = known.profile_id
    where known.profile_id is null

),
{%- else %}

unseen as (

    select * from erased

),
{%- endif %}

final as (

    select
        profile_id,
        '{{ invocation_id }}' as run_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as erased_at
    from unseen

)

select * from final
