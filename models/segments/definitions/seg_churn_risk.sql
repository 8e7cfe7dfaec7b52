{#- Repeat customers who have not ordered for 60 to 180 days and have not browsed products in 30 days. -#}
with

lapsing_repeat_buyers as (

    {{ segmentation.trait_condition(
        'traits.order_count >= 2 and traits.days_since_last_order between 60 and 180') }}

),

recent_browsers as (

    {{ segmentation.did_event('Product Viewed', at_least=1, within_days=30) }}

),

final as (

    select profile_id from lapsing_repeat_buyers
    except
    select profile_id from recent_browsers

)

select * from final
