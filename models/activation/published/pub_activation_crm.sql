{#- One row per row of activation_crm, visible only while the consent guard's latest check of its build passed. -#}
{{ config(alias='activation_crm') }}
{{ segmentation.published_activation('activation_crm') }}
