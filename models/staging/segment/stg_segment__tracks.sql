with

tracks as (

    select * from {{ ref('base_segment__tracks') }}
    where rejection_reason is null

),

renamed as (

    select
        message_id,
        anonymous_id,
        user_id,
        trim(event) as event_name,
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
        {{ segmentation.normalise_id(segmentation.json_text('properties', 'product_id')) }} as product_id,
        lower({{ segmentation.normalise_id(segmentation.json_text('properties', 'category')) }}) as product_category,
        {{ segmentation.normalise_id(segmentation.json_text('properties', 'order_id')) }} as order_id,
        upper({{ segmentation.normalise_id(segmentation.json_text('properties', 'currency')) }}) as currency,
        _load_id,
        _loaded_at,
        _processed_at
    from tracks

)

select * from renamed
