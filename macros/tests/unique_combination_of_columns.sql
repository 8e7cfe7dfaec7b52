{#
    Fails for every combination of `combination_of_columns` that occurs more than once in the model:
    a composite primary key test (dbt_utils has one; this project uses no hub packages).
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1

)

select * from grouped

{% endtest %}
