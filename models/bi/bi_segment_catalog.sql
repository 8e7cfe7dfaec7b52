{{ config(alias='segment_catalog') }}
{{ segmentation.bi_view('segment_catalog') }}
