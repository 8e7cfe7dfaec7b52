{#- One row per row of audience_memberships, visible while the consent guard's latest check of its build passed. -#}
{{ config(alias='audience_memberships') }}
{{ segmentation.published_activation('audience_memberships') }}
