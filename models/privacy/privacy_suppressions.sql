{#-
    One row per suppressed identifier: its type and salted SHA-256 hash, never the value. Appended by
    the run that erased the person (never rebuilt, full_refresh false). Its hooks do the erasure (see
    macros/privacy/erasure.sql): the pre-hook collects this run's batch, the post-hook deletes the
    batch's people from every table, raw included, before profiles and segments are built.
    It waits for every identity model that holds identifiers; the identity summaries
    (identity_graph_health, identity_largest_profiles, identity_resolution_runs) wait for it instead,
    so they count the warehouse after erasure.
-#}
{{ config(
    pre_hook="{{ segmentation.prepare_erasure_batch() }}",
    post_hook="{{ segmentation.erase_batch() }}",
) }}
/* depends_on: {{ ref('identity_map') }} */
/* depends_on: {{ ref('identity_edges') }} */
/* depends_on: {{ ref('identity_rule_audit') }} */
/* depends_on: {{ ref('profile_merges') }} */
/* depends_on: {{ ref('int_identity__limit_cuts') }} */
/* depends_on: {{ ref('stg_privacy__deletion_requests') }} */
/* depends_on: {{ ref('stg_segment__identifies') }} */
/* depends_on: {{ ref('privacy_quarantine_index') }} */
{%- set salt = segmentation.erasure_salt() | replace("'", "''") %}
with

batch as (

    select * from {{ segmentation.erasure_work_relation('erasure_batch') }}

),

new_hashes as (

    select
        identifier_type,
        identifier_hash,
        min(case origin when 'request' then 1 when 'same_person' then 2 else 3 end) as origin_rank
    from batch
    group by identifier_type, identifier_hash

),

{%- if is_incremental() %}

unseen as (

    select new_hashes.*
    from new_hashes
    left join {{ this }} as known
        on
            new_hashes.identifier_type = known.identifier_type
            and new_hashes.identifier_hash = known.identifier_hash
    where known.identifier_hash is null

),
{%- else %}

unseen as (

    select * from new_hashes

),
{%- endif %}

final as (

    select
        identifier_type,
        identifier_hash,
        case origin_rank
            when 1 then 'deletion_request'
            when 2 then 'same_person'
            else 'seen_again'
        end as reason,
        {{ segmentation.sha256_hex("'fingerprint:" ~ salt ~ "'") }} as salt_fingerprint,
        '{{ invocation_id }}' as run_id,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ dbt.type_timestamp() }}) as suppressed_at
    from unseen

)

select * from final
