{{ segmentation.classify_segment_messages(
    source('segment', 'pages'),
    payload_column='properties',
    extra_columns=['name']
) }}
