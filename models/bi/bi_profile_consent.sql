{{ config(alias='profile_consent') }}
{{ segmentation.bi_view('profile_consent') }}
