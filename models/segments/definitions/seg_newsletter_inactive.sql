{#- Newsletter subscribers who consented to email marketing but opened no email in 60 days. -#}
with

subscribers as (

    {{ segmentation.trait_condition('traits.last_newsletter_subscribed_at is not null') }}

),

consented as (

    {{ segmentation.has_consent('email_marketing') }}

),

recent_openers as (

    {{ segmentation.did_event('Email Opened', at_least=1, within_days=60) }}

),

final as (

    select profile_id from subscribers
    intersect
    select profile_id from consented
    except
    select profile_id from recent_openers

)

select * from final
