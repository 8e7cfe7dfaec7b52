{#
    Behavioural events (tracks, pages, screens) attributed to the profile of their most specific
    identifier: user_id, else anonymous_id, else device_id (identity_map; blocklisted identifiers have
    no profile, so an event whose only identifiers are blocked is not attributed).

    event_filter: SQL condition on the staged columns (message_id, event_at, _loaded_at, ...) applied
        before stitching, e.g. "_loaded_at > ..." for new events only.
    events_relation: a table of events already stitched once (int_profiles__events' columns without
        profile_id and _processed_at) to attribute again instead of the staged events; the cost follows
        its size (int_profiles__events' restitch of changed profiles, macros/profiles/incremental_profiles.sql).
#}
{% macro stitched_events_sql(event_filter=none, events_relation=none) -%}
with

{%- if events_relation %}

event_rows as (

    select * from {{ events_relation }}

),
{%- else %}

event_rows as (

    select
        message_id,
        'track' as event_type,
        event_name,
        cast(null as {{ dbt.type_string() }}) as page_name,
        product_id,
        product_category,
        event_at,
        page_url,
        campaign_source,
        campaign_medium,
        anonymous_id,
        user_id,
        device_id,
        _loaded_at
    from {{ ref('stg_segment__tracks') }}
    union all
    select
        message_id,
        'page' as event_type,
        'Page Viewed' as event_name,
        page_name,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_category,
        event_at,
        page_url,
        campaign_source,
        campaign_medium,
        anonymous_id,
        user_id,
        device_id,
        _loaded_at
    from {{ ref('stg_segment__pages') }}
    union all
    select
        message_id,
        'screen' as event_type,
        'Screen Viewed' as event_name,
        screen_name as page_name,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_category,
        event_at,
        page_url,
        campaign_source,
        campaign_medium,
        anonymous_id,
        user_id,
        device_id,
        _loaded_at
    from {{ ref('stg_segment__screens') }}

),
{%- endif %}

filtered_events as (

    select * from event_rows
    {%- if event_filter %}
    where {{ event_filter }}
    {%- endif %}

),

identity_map as (

    select * from {{ ref('identity_map') }}

),

stitched as (

    select
        filtered_events.*,
        coalesce(user_map.profile_id, anonymous_map.profile_id, device_map.profile_id) as profile_id
    from filtered_events
    left join identity_map as user_map
        on
            user_map.identifier_type = 'user_id'
            and filtered_events.user_id = user_map.identifier_value
    left join identity_map as anonymous_map
        on
            anonymous_map.identifier_type = 'anonymous_id'
            and filtered_events.anonymous_id = anonymous_map.identifier_value
    left join identity_map as device_map
        on
            device_map.identifier_type = 'device_id'
            and filtered_events.device_id = device_map.identifier_value

)

select * from stitched
where profile_id is not null
{%- endmacro %}
