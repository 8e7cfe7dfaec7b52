{#- One row per explicit consent decision (consent-spec event) and purpose named in it. -#}
with

consent_events as (

    select * from {{ ref('base_segment__tracks') }}
    where
        rejection_reason is null
        and trim(event) = '{{ var("consent_event_name") }}'

),

purposes as (

    {%- for purpose in var('consent_purposes') %}
    select
        message_id,
        anonymous_id,
        user_id,
        event_at as decided_at,
        received_at,
        coalesce(lower({{ segmentation.json_text('properties', 'source') }}), 'unspecified') as decision_source,
        '{{ purpose }}' as purpose,
        lower({{ segmentation.json_text('consent_preferences', purpose) }}) as decision,
        _processed_at
    from consent_events
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

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
