{{ config(alias='profiles') }}
{{ segmentation.bi_view('profiles') }}
