{#- One row per contact version; the newest version of each contact has is_current_version. -#}
with

contacts as (

    select * from {{ ref('base_crm__contacts') }}
    where rejection_reason is null

),

versioned as (

    select
        {{ dbt.concat(["crm_id", "'@'", dbt.cast("updated_at", dbt.type_string())]) }} as contact_version_id,
        crm_id,
        email,
        is_email_invalid,
        phone,
        is_phone_invalid,
        first_name,
        last_name,
        country_code,
        user_id,
        customer_id,
        lifecycle_stage,
        created_at,
        updated_at,
        row_number() over (partition by crm_id order by updated_at) as version_number,
        row_number() over (partition by crm_id order by updated_at desc) = 1 as is_current_version,
        _load_id,
        _loaded_at
    from contacts

)

select * from versioned
