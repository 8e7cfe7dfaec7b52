{{ segmentation.classify_segment_messages(source('segment', 'identifies'), payload_column='traits') }}
