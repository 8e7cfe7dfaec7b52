{#
    Warn-level monitors on segment_size_history, evaluated on the current run's rows:
    a size change larger than `max_change_percent` since the segment's previous run, an empty
    segment, and a changed definition. They alert (severity warn), they never block the build.
#}
{% test segment_size_change_within(model, max_change_percent) %}
select segment_name, previous_members, members, size_change_percent
from {{ model }}
where
    run_id = '{{ invocation_id }}'
    and abs(size_change_percent) > {{ max_change_percent }}
{% endtest %}


{% test segment_not_empty(model) %}
select segment_name, members
from {{ model }}
where run_id = '{{ invocation_id }}' and members = 0
{% endtest %}


{% test segment_definition_unchanged(model) %}
select segment_name, definition_version
from {{ model }}
where run_id = '{{ invocation_id }}' and is_definition_changed
{% endtest %}
