{#- Buyers whose last order is more than 180 days old: win-back campaigns. -#}
with

lapsed as (

    {{ segmentation.trait_condition('traits.order_count >= 1 and traits.days_since_last_order > 180') }}

),

traits as (

    select * from {{ ref('profile_traits') }}

),

final as (

    select
        lapsed.profile_id,
        traits.days_since_last_order
    from lapsed
    inner join traits on lapsed.profile_id = traits.profile_id

)

select * from final
