{#- One row per row of people, visible only while the consent guard's latest check of its build passed. -#}
{{ config(alias='people') }}
{{ segmentation.published_activation('people') }}
