{{ config(alias='profile_traits') }}
{{ segmentation.bi_view('profile_traits') }}
