with

contacts as (

    select * from {{ source('crm', 'crm_contacts') }}

),

typed as (

    select
        {{ segmentation.normalise_id('contact_id') }} as crm_id,
        {{ segmentation.clean_email('email') }} as email,
        {{ segmentation.is_invalid_email('email') }} as is_email_invalid,
        {{ segmentation.normalise_phone('phone') }} as phone,
        {{ segmentation.is_invalid_phone('phone') }} as is_phone_invalid,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        upper({{ segmentation.normalise_id('country') }}) as country_code,
        {{ segmentation.normalise_id('user_id') }} as user_id,
        {{ segmentation.normalise_id('customer_id') }} as customer_id,
        lower({{ segmentation.normalise_id('lifecycle_stage') }}) as lifecycle_stage,
        created_at,
        updated_at,
        _load_id,
        _file_name,
        _file_row_number,
        _loaded_at
    from contacts

),

checked as (

    select
        *,
        case
            when crm_id is null then 'missing_contact_id'
            when created_at is null or updated_at is null then 'missing_timestamp'
        end as quarantine_reason
    from typed

),

ranked as (

    select
        *,
        row_number() over (
            partition by crm_id, updated_at, case when quarantine_reason is null then 1 else 0 end
            order by _loaded_at desc, _file_name desc, _file_row_number desc
        ) as delivery_rank
    from checked

),

classified as (

    select
        *,
        coalesce(
            quarantine_reason,
            case when delivery_rank > 1 then 'duplicate_contact_version' end
        ) as rejection_reason
    from ranked

)

select * from classified
