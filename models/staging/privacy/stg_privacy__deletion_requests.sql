with

requests as (

    select * from {{ ref('base_privacy__deletion_requests') }}
    where rejection_reason is null

),

final as (

    select
        request_id,
        identifier_type,
        identifier_value,
        requested_at,
        request_source,
        _load_id,
        _loaded_at
    from requests

)

select * from final
