{#- People whose first order was placed in the last 14 days: the onboarding series. -#}
with

new_customers as (

    {{ segmentation.trait_condition(
        'traits.first_order_at > ' ~ dbt.dateadd('day', -14, segmentation.as_of_timestamp())) }}

),

traits as (

    select * from {{ ref('profile_traits') }}

),

final as (

    select
        new_customers.profile_id,
        traits.first_order_at
    from new_customers
    inner join traits on new_customers.profile_id = traits.profile_id

)

select * from final
