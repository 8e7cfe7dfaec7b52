{#- One row per row of activation_ads, visible only while the consent guard's latest check of its build passed. -#}
{{ config(alias='activation_ads') }}
{{ segmentation.published_activation('activation_ads') }}
