{{ config(alias='segment_overlap') }}
{{ segmentation.bi_view('segment_overlap') }}
