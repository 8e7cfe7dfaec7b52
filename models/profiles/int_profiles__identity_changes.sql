{#-
    The log incremental profile models read to find profiles whose identity changed: one row per
    profile id with its identity_fingerprint and changed_at, the start of the run that last saw the
    fingerprint change. A profile that no longer exists (merged away, split, erased identifiers
    blocked) keeps a row with a null fingerprint, stamped when it disappeared.

    A model that processed identity up to time T (the newest _identity_changed_at on its rows) rebuilds
    the profiles changed after T: a comparison of a 1.1M-row table with itself, instead of a distinct
    over every row of each incremental model. The run stamp (macros/run_stamps.sql) tells the scoped
    data tests whether a run logged anything.
-#}
{{ config(post_hook="{{ segmentation.run_stamp_save() }}") }}
{%- set run_time = segmentation.run_timestamp() %}
with

current_identity as (

    select
        profile_id,
        identity_fingerprint
    from {{ ref('int_profiles__identity') }}

),

{%- if is_incremental() %}

changed as (

    select
        coalesce(current_identity.profile_id, previous_identity.profile_id) as profile_id,
        current_identity.identity_fingerprint
    from current_identity
    full outer join {{ this }} as previous_identity
        on current_identity.profile_id = previous_identity.profile_id
    where
        (current_identity.profile_id is null and previous_identity.identity_fingerprint is not null)
        or (
            current_identity.profile_id is not null
            and (
                previous_identity.profile_id is null
                or previous_identity.identity_fingerprint is null
                or previous_identity.identity_fingerprint != current_identity.identity_fingerprint
            )
        )

)

{%- else %}

changed as (

    select * from current_identity

)

{%- endif %}

select
    profile_id,
    identity_fingerprint,
    {{ run_time }} as changed_at
from changed
