{{ config(alias='segment_size_history') }}
{{ segmentation.bi_view('segment_size_history') }}
