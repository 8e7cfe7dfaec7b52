{{ segmentation.quarantined_rows(
    ref('base_segment__tracks'),
    ['message_id', 'anonymous_id', 'user_id', 'event_timestamp', 'event_at', 'received_at', 'event'],
    stamped=true
) }}
