{#- VIPs by RFM: recency, frequency and monetary scores all 4 or 5. -#}
with

vips as (

    {{ segmentation.trait_condition(
        'traits.recency_score >= 4 and traits.frequency_score >= 4 and traits.monetary_score >= 4') }}

),

traits as (

    select * from {{ ref('profile_traits') }}

),

final as (

    select
        vips.profile_id,
        traits.rfm_segment
    from vips
    inner join traits on vips.profile_id = traits.profile_id

)

select * from final
