{{ segmentation.classify_segment_messages(
    source('segment', 'screens'),
    payload_column='properties',
    extra_columns=['name']
) }}
