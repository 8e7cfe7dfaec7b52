{#
    Classifies every row of a Segment/RudderStack message table (identifies, tracks, pages, screens).
    Returns one row per raw row with typed columns, the corrected event time and `rejection_reason`:
    null for the row that is staged, otherwise the first matching reason of
      missing_message_id, missing_identity, missing_timestamp, malformed_json, future_timestamp,
      missing_event_name (tracks only), duplicate_message_id (a redelivery of a staged message).
    Of several valid deliveries of one message id the earliest received_at is staged.
    `delivery_rank` numbers the deliveries of one message id (valid and rejected ones apart); a row
    without a message id is a delivery of nothing else, its rank is 1.

    The base models are incremental (unique key message_id, delete+insert): an incremental run
    classifies only the rows incremental_raw_rows selects, i.e. every delivery of the message ids it
    touches, so each touched message id is ranked again over all its raw rows, as a full build would.

    source_relation: the raw table (a source()).
    payload_column: its JSON column ('traits' or 'properties').
    extra_columns: further raw columns passed through as they are.
    event_name_column: the column that must be present (tracks: 'event'), or none.

    Only a message id that comes more than once has deliveries to rank: the ranks are computed over those
    rows alone (narrow: the raw row's address and its rank) and joined back to every row; every other row's
    rank is 1. A window over all rows sorts every column of every row: at L (raw pages, 12.8 M rows, 122 k
    repeated message ids with 245 k rows, 2 threads, 6 GB) the full build's query took 78 to 97 s with
    it and 55 to 60 s this way (raw tracks, 13.1 M rows: 87 against 58 s); the same query without any
    rank took 41 s. The CTEs up to `checked` are inlined where the engine would compute them once
    (DuckDB does for a CTE several parts read): computed once, the query took 86 s. In an incremental
    run `source` is computed once, since it is a few rows found through a join.
#}
{% macro classify_segment_messages(source_relation, payload_column, extra_columns=[], event_name_column=none) %}
{%- set max_skew = var('max_clock_skew_minutes') -%}
{%- set ts = adapter.quote('timestamp') -%}
{%- set inlined = segmentation.inlined_cte() -%}
{%- set quarantine_reason -%}
        case
            when message_id is null then 'missing_message_id'
            when anonymous_id is null and user_id is null then 'missing_identity'
            when event_timestamp is null or received_at is null then 'missing_timestamp'
            when
                not coalesce({{ segmentation.is_json_object(payload_column) }}, true)
                or not coalesce({{ segmentation.is_json_object('consent_preferences') }}, true)
                then 'malformed_json'
            when event_at > {{ dbt.dateadd('minute', max_skew, 'received_at') }} then 'future_timestamp'
            {%- if event_name_column %}
            when {{ segmentation.normalise_id(event_name_column) }} is null then 'missing_event_name'
            {%- endif %}
        end
{%- endset -%}
with

source as {{ segmentation.materialized_cte() if is_incremental() else inlined }} (

    {{ segmentation.incremental_raw_rows(source_relation, segmentation.normalise_id('id'), 'message_id') | indent(4) }}

),

typed as {{ inlined }} (

    select
        {{ segmentation.normalise_id('id') }} as message_id,
        {{ segmentation.normalise_id('anonymous_id') }} as anonymous_id,
        {{ segmentation.normalise_id('user_id') }} as user_id,
        {{ ts }} as event_timestamp,
        original_timestamp,
        sent_at,
        received_at,
        {{ segmentation.normalise_id('context_ip') }} as ip_address,
        context_user_agent as user_agent,
        {{ segmentation.normalise_id('context_device_id') }} as device_id,
        context_page_url as page_url,
        context_campaign_source as campaign_source,
        context_campaign_medium as campaign_medium,
        context_campaign_name as campaign_name,
        context_consent_category_preferences as consent_preferences,
        {{ payload_column }},
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
        _load_id,
        _file_name,
        _file_row_number,
        _loaded_at,
        coalesce(
            {{ ts }} > {{ dbt.dateadd('minute', max_skew, 'received_at') }} and sent_at is not null,
            false
        ) as is_clock_skew_corrected
    from source

),

timed as {{ inlined }} (

    select
        *,
        case
            when is_clock_skew_corrected
                then {{ segmentation.clock_skew_corrected('event_timestamp', 'sent_at', 'received_at') }}
            else event_timestamp
        end as event_at
    from typed

),

checked as {{ inlined }} (

    select
        *,
        {{ quarantine_reason | trim }} as quarantine_reason
    from timed

),

repeated_ids as (

    select message_id
    from typed
    where message_id is not null
    group by message_id
    having count(*) > 1

),

repeated_ranks as (

    select
        _load_id,
        _file_name,
        _file_row_number,
        row_number() over (
            partition by message_id, case when quarantine_reason is null then 1 else 0 end
            order by received_at, _loaded_at, _file_name, _file_row_number
        ) as delivery_rank
    from (
        select
            *,
            {{ quarantine_reason | trim }} as quarantine_reason
        from timed
        where message_id in (select repeated_ids.message_id from repeated_ids)
    ) as repeated_rows

),

ranked as (

    select
        checked.*,
        coalesce(repeated_ranks.delivery_rank, 1) as delivery_rank
    from checked
    left join repeated_ranks
        on
            checked._load_id = repeated_ranks._load_id
            and checked._file_name = repeated_ranks._file_name
            and checked._file_row_number = repeated_ranks._file_row_number

),

classified as (

    select
        *,
        coalesce(
            quarantine_reason,
            case when delivery_rank > 1 then 'duplicate_message_id' end
        ) as rejection_reason,
        {{ segmentation.run_timestamp() }} as _processed_at
    from ranked

)

select * from classified
{% endmacro %}
