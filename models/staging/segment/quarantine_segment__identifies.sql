{{ segmentation.quarantined_rows(
    ref('base_segment__identifies'),
    ['message_id', 'anonymous_id', 'user_id', 'event_timestamp', 'event_at', 'received_at'],
    stamped=true
) }}
