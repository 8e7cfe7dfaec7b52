{#- Buyers whose favourite category of 90 days is shoes or outerwear and who viewed no accessories in 90 days. -#}
with

apparel_buyers as (

    {{ segmentation.trait_condition("traits.order_count >= 1 and traits.top_category_90d in ('shoes', 'outerwear')") }}

),

accessory_browsers as (

    {{ segmentation.did_event('Product Viewed', at_least=1, within_days=90, category='accessories') }}

),

final as (

    select profile_id from apparel_buyers
    except
    select profile_id from accessory_browsers

)

select * from final
