{#- Product viewers of the last 7 days who did not add to cart within 7 days of viewing, excluding
    people already targeted as cart abandoners. -#}
with

viewed_not_added as (

    {{ segmentation.did_then_not('Product Viewed', 'Product Added', within_days=7) }}

),

cart_abandoners as (

    {{ segmentation.in_segment('seg_cart_abandoners_24h') }}

),

final as (

    select profile_id from viewed_not_added
    except
    select profile_id from cart_abandoners

)

select * from final
