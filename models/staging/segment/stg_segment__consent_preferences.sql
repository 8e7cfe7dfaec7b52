{#- One row per explicit consent decision (consent-spec event) and purpose named in it. -#}
with

consent_events as (

    select * from {{ ref('base_segment__tracks') }}
    where
        rejection_reason is null
        and trim(event) = '{{ var("consent_event_name") }}'

),

purposes as (

    {#- One scan of the consent events, a row per purpose: a CTE read once per purpose would be
        materialized by DuckDB, and a filter on the view (a scoped test's _processed_at, the consent
        history's identifiers) would no longer reach the base table's scan. -#}
    select
        consent_events.message_id,
        consent_events.anonymous_id,
        consent_events.user_id,
        consent_events.event_at as decided_at,
        consent_events.received_at,
        coalesce(
            lower({{ segmentation.json_text('consent_events.properties', 'source') }}), 'unspecified'
        ) as decision_source,
        purpose_names.purpose,
        case purpose_names.purpose
            {%- for purpose in var('consent_purposes') %}
            when '{{ purpose }}' then lower({{ segmentation.json_text('consent_events.consent_preferences', purpose) }})
            {%- endfor %}
        end as decision,
        consent_events._processed_at
    from consent_events
    cross join (
        values
        {%- for purpose in var('consent_purposes') %}
        ('{{ purpose }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as purpose_names (purpose)

),

decisions as (

    select
        message_id,
        anonymous_id,
        user_id,
        decided_at,
        received_at,
        decision_source,
        purpose,
        decision = 'true' as is_granted,
        _processed_at
    from purposes
    where decision in ('true', 'false')

)

select * from decisions
