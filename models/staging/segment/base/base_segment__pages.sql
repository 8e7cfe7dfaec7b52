{#- The post-hooks remove the erased keys this run checked for rank gaps (macros/staging/incremental_raw_rows.sql)
    and save the run stamp that the scoped data tests of the staged views read (macros/run_stamps.sql). -#}
{{ config(post_hook=["{{ segmentation.consume_erased_keys() }}", "{{ segmentation.run_stamp_save() }}"]) }}
{{ segmentation.classify_segment_messages(
    source('segment', 'pages'),
    payload_column='properties',
    extra_columns=['name']
) }}
