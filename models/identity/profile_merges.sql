{#-
    One row per profile id merged away or split off, appended by the run that did it (never rebuilt):
    change_type 'merge' (profile_id was merged into related_profile_id, which survives) or 'split'
    (profile_id is a new profile split off related_profile_id), with the run id and time.
-#}
with

registry as (

    select * from {{ ref('identity_profile_registry') }}

),

merge_events as (

    select
        profile_id,
        merged_into_profile_id as related_profile_id,
        'merge' as change_type,
        'the profiles now share identifiers; the oldest profile keeps its id' as reason,
        retired_run_id as run_id,
        retired_at as changed_at
    from registry
    where retired_reason = 'merged' and retired_run_id = '{{ invocation_id }}'

),

split_events as (

    select
        profile_id,
        split_from_profile_id as related_profile_id,
        'split' as change_type,
        'its identifiers are no longer linked; the part with the oldest identifier kept the id' as reason,
        issued_run_id as run_id,
        issued_at as changed_at
    from registry
    where split_from_profile_id is not null and issued_run_id = '{{ invocation_id }}'

),

changes as (

    select * from merge_events
    union all
    select * from split_events

)

select * from changes
