{%- set identifier_types = var('identifier_types') -%}
with

requests as (

    select * from {{ source('privacy', 'deletion_requests') }}

),

typed as (

    select
        {{ segmentation.normalise_id('request_id') }} as request_id,
        lower({{ segmentation.normalise_id('identifier_type') }}) as identifier_type,
        identifier_value as identifier_value_raw,
        requested_at,
        lower({{ segmentation.normalise_id('source') }}) as request_source,
        _load_id,
        _file_name,
        _file_row_number,
        _loaded_at
    from requests

),

normalised as (

    select
        *,
        case identifier_type
            when 'email' then {{ segmentation.normalise_email('identifier_value_raw') }}
            when 'phone' then {{ segmentation.normalise_phone('identifier_value_raw') }}
            else {{ segmentation.normalise_id('identifier_value_raw') }}
        end as identifier_value
    from typed

),

checked as (

    select
        *,
        case
            when request_id is null then 'missing_request_id'
            when
                identifier_type is null
                or identifier_type not in ({{ "'" ~ identifier_types | join("', '") ~ "'" }})
                then 'unknown_identifier_type'
            when identifier_value is null then 'missing_identifier_value'
            when requested_at is null then 'missing_timestamp'
        end as quarantine_reason
    from normalised

),

ranked as (

    select
        *,
        row_number() over (
            partition by request_id, case when quarantine_reason is null then 1 else 0 end
            order by _loaded_at, _file_name, _file_row_number
        ) as delivery_rank
    from checked

),

classified as (

    select
        *,
        coalesce(
            quarantine_reason,
            case when delivery_rank > 1 then 'duplicate_request_id' end
        ) as rejection_reason
    from ranked

)

select * from classified
