{#- One row per row of audiences, visible only while the consent guard's latest check of its build passed. -#}
{{ config(alias='audiences') }}
{{ segmentation.published_activation('audiences') }}
