{#- People whose cart was abandoned in the last 24 hours and who have not ordered since. -#}
with

abandoners as (

    {{ segmentation.trait_condition(
        'traits.has_open_abandoned_cart and traits.cart_abandoned_at > '
        ~ dbt.dateadd('hour', -24 - var('cart_abandonment_hours'), segmentation.as_of_timestamp())) }}

),

traits as (

    select * from {{ ref('profile_traits') }}

),

final as (

    select
        abandoners.profile_id,
        traits.cart_abandoned_at
    from abandoners
    inner join traits on abandoners.profile_id = traits.profile_id

)

select * from final
