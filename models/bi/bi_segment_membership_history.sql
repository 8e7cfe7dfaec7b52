{{ config(alias='segment_membership_history') }}
{{ segmentation.bi_view('segment_membership_history') }}
