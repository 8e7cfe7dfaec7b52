{{ segmentation.classify_segment_messages(
    source('segment', 'tracks'),
    payload_column='properties',
    extra_columns=['event'],
    event_name_column='event'
) }}
