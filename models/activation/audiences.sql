{#-
    One row per segment in the shape of Census's warehouse-managed audiences: audience_id (the segment
    name), its description, owner, consent purposes, destinations, definition version and sizes.
-#}
{%- set definitions = segmentation.segment_definitions() %}
with

definitions as (

    {%- for definition in definitions %}
    select
        '{{ definition.name }}' as audience_id,
        '{{ definition.description | replace("'", "''") }}' as description,
        '{{ definition.owner }}' as owner,
        '{{ definition.purposes | join(",") }}' as consent_purposes,
        '{{ definition.destinations | join(",") }}' as destinations,
        {{ definition.holdout_percent or 0 }} as holdout_percent
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as audience_id,
        cast(null as {{ dbt.type_string() }}) as description,
        cast(null as {{ dbt.type_string() }}) as owner,
        cast(null as {{ dbt.type_string() }}) as consent_purposes,
        cast(null as {{ dbt.type_string() }}) as destinations,
        0 as holdout_percent
    where 1 = 0
    {%- endfor %}

),

sizes as (

    select
        segment_name,
        max(definition_version) as definition_version,
        count(*) as members,
        sum(case when is_activatable then 1 else 0 end) as activatable_members
    from {{ ref('segment_memberships') }}
    group by segment_name

),

current_rows as (

    select
        definitions.*,
        sizes.definition_version,
        coalesce(sizes.members, 0) as members,
        coalesce(sizes.activatable_members, 0) as activatable_members,
        {{ dbt.hash(dbt.concat([
            'definitions.description', "'|'", 'definitions.owner', "'|'", 'definitions.consent_purposes', "'|'",
            'definitions.destinations', "'|'", "coalesce(sizes.definition_version, '')", "'|'",
            dbt.cast('coalesce(sizes.members, 0)', dbt.type_string())])) }} as row_hash
    from definitions
    left join sizes on definitions.audience_id = sizes.segment_name

),

final as (

    {{ segmentation.carry_updated_at('current_rows', 'audience_id') }}

)

select * from final
