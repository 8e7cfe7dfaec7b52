{#
    Building blocks for segment definitions. Each returns a SQL query selecting `profile_id`, so a
    segment combines them with `intersect`, `union` and `except`, or uses them in `where profile_id in
    (...)`. Every time window counts back from the as-of moment of the run (var as_of, default the run
    start), so people leave a "last 30 days" segment when they go quiet.
#}

{# Profiles whose traits satisfy `condition` (SQL over profile_traits and profiles columns). #}
{% macro trait_condition(condition) -%}
    select traits.profile_id
    from {{ ref('profile_traits') }} as traits
    inner join {{ ref('profiles') }} as golden_record on traits.profile_id = golden_record.profile_id
    where {{ condition }}
{%- endmacro %}


{# Profiles that did `event_name` at least `at_least` times in the last `within_days` days (optionally
   only events of one product `category`). #}
{% macro did_event(event_name, at_least=1, within_days=30, category=none) -%}
    {%- if at_least | int < 1 or within_days | int < 1 -%}
        {{ exceptions.raise_compiler_error("did_event('" ~ event_name ~ "'): at_least and within_days must be at least 1") }}
    {%- endif -%}
    select profile_id
    from {{ ref('profile_event_daily') }}
    where
        event_name = '{{ event_name }}'
        {%- if category %}
        and product_category = '{{ category | lower }}'
        {%- endif %}
        and event_date <= {{ segmentation.as_of_date() }}
        and event_date > {{ dbt.dateadd('day', -(within_days | int), segmentation.as_of_date()) }}
    group by profile_id
    having sum(event_count) >= {{ at_least | int }}
{%- endmacro %}


{#
    Ordered funnel: profiles that did `first_event` in the last `within_days` days and did not do
    `then_event` after it (within `within_days` of it, up to the as-of moment), e.g. viewed a product
    and did not add to cart.
#}
{% macro did_then_not(first_event, then_event, within_days=7) -%}
    {%- set as_of = segmentation.as_of_timestamp() -%}
    {%- set window_start = dbt.dateadd('day', -(within_days | int), as_of) -%}
    select first_steps.profile_id
    from (
        select profile_id, event_at from {{ ref('int_profiles__events') }}
        where event_name = '{{ first_event }}' and event_at <= {{ as_of }} and event_at > {{ window_start }}
    ) as first_steps
    left join (
        select profile_id, event_at from {{ ref('int_profiles__events') }}
        where event_name = '{{ then_event }}' and event_at <= {{ as_of }} and event_at > {{ window_start }}
    ) as next_steps
        on
            first_steps.profile_id = next_steps.profile_id
            and next_steps.event_at >= first_steps.event_at
            and next_steps.event_at <= {{ dbt.dateadd('day', within_days | int, 'first_steps.event_at') }}
    group by first_steps.profile_id
    having max(case when next_steps.profile_id is null then 1 else 0 end) = 1
{%- endmacro %}


{# Members of another segment (its model name), to include or, with `except`, exclude. #}
{% macro in_segment(segment_model) -%}
    select profile_id from {{ ref(segment_model) }}
{%- endmacro %}


{# Profiles with consent granted for `purpose` as of the run. #}
{% macro has_consent(purpose) -%}
    {%- if purpose not in var('consent_purposes') -%}
        {{ exceptions.raise_compiler_error("has_consent: unknown purpose '" ~ purpose ~ "'; known: " ~ var('consent_purposes') | join(', ')) }}
    {%- endif -%}
    select profile_id from {{ ref('profile_consent') }}
    where purpose = '{{ purpose }}' and is_granted
{%- endmacro %}
