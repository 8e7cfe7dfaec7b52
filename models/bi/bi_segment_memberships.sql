{{ config(alias='segment_memberships') }}
{{ segmentation.bi_view('segment_memberships') }}
