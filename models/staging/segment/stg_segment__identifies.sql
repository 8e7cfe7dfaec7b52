with

identifies as (

    select * from {{ ref('base_segment__identifies') }}
    where rejection_reason is null

),

traits_extracted as (

    select
        message_id,
        anonymous_id,
        user_id,
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
        traits,
        {{ segmentation.json_text('traits', 'email') }} as trait_email,
        {{ segmentation.json_text('traits', 'phone') }} as trait_phone,
        {{ segmentation.json_text('traits', 'first_name') }} as trait_first_name,
        {{ segmentation.json_text('traits', 'last_name') }} as trait_last_name,
        {{ segmentation.json_text('traits', 'country') }} as trait_country,
        {{ segmentation.json_text('traits', 'crm_id') }} as trait_crm_id,
        {{ segmentation.json_text('traits', 'customer_id') }} as trait_customer_id,
        _load_id,
        _loaded_at,
        _processed_at
    from identifies

),

normalised as (

    select
        message_id,
        anonymous_id,
        user_id,
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
        traits,
        {{ segmentation.clean_email('trait_email') }} as email,
        {{ segmentation.is_invalid_email('trait_email') }} as is_email_invalid,
        {{ segmentation.normalise_phone('trait_phone') }} as phone,
        {{ segmentation.is_invalid_phone('trait_phone') }} as is_phone_invalid,
        nullif(trim(trait_first_name), '') as first_name,
        nullif(trim(trait_last_name), '') as last_name,
        upper({{ segmentation.normalise_id('trait_country') }}) as country_code,
        {{ segmentation.normalise_id('trait_crm_id') }} as crm_id,
        {{ segmentation.normalise_id('trait_customer_id') }} as customer_id,
        _load_id,
        _loaded_at,
        _processed_at
    from traits_extracted

)

select * from normalised
