{#- The post-hook removes the erased keys this run checked for rank gaps (macros/staging/incremental_raw_rows.sql). -#}
{{ config(post_hook="{{ segmentation.consume_erased_keys() }}") }}
{{ segmentation.classify_segment_messages(
    source('segment', 'tracks'),
    payload_column='properties',
    extra_columns=['event'],
    event_name_column='event'
) }}
