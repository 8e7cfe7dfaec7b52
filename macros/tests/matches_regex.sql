{# Fails for every non-null value of `column_name` that does not match the regular expression `pattern`. #}
{% test matches_regex(model, column_name, pattern) %}

select {{ column_name }}
from {{ model }}
where
    {{ column_name }} is not null
    and not {{ segmentation.regex_matches(column_name, "'" ~ pattern ~ "'") }}

{% endtest %}
