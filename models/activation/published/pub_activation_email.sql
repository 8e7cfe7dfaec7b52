{#- One row per row of activation_email, visible only while the consent guard's latest check of its build passed. -#}
{{ config(alias='activation_email') }}
{{ segmentation.published_activation('activation_email') }}
