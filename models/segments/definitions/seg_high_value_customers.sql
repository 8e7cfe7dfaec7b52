{#- Customers whose net revenue puts them in the top fifth of buyers, with at least two orders. -#}
with

high_value as (

    {{ segmentation.trait_condition('traits.monetary_score = 5 and traits.order_count >= 2') }}

),

traits as (

    select * from {{ ref('profile_traits') }}

),

final as (

    select
        high_value.profile_id,
        traits.revenue,
        traits.order_count
    from high_value
    inner join traits on high_value.profile_id = traits.profile_id

)

select * from final
