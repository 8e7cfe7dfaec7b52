with

pages as (

    select * from {{ ref('base_segment__pages') }}
    where rejection_reason is null

),

renamed as (

    select
        message_id,
        anonymous_id,
        user_id,
        nullif(trim(name), '') as page_name,
        event_at,
        sent_at,
        received_at,
        is_clock_skew_corrected,
        ip_address,
        user_agent,
        device_id,
        page_url,
        campaign_source,
        campaign_medium,
        campaign_name,
        consent_preferences,
        properties,
        _load_id,
        _loaded_at,
        _processed_at
    from pages

)

select * from renamed
