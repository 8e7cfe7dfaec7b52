{#-
    One row per profile and consent purpose (var consent_purposes), evaluated as of the run: the
    profile's current decision (profile_consent_history.is_current). Opt-in by default: no decision,
    a withdrawal or an expired grant all mean is_granted = false; `status` says which.

    Incremental by profile (macros/profiles/incremental_marts.sql): with the as-of of the previous run,
    the profiles int_profiles__mart_changes logged since are evaluated again (nothing else can change:
    expiry compares with the same as-of); with another as-of, every profile (consent_as_of changes on
    every row).
-#}
/* depends_on: {{ ref('int_profiles__mart_changes') }} */
{{ config(
    pre_hook="{{ segmentation.profile_mart_prepare(as_of_column='consent_as_of') }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
{%- set as_of = segmentation.as_of_timestamp() %}
with

profile_identity as (

    select profile_id from {{ ref('int_profiles__identity') }}
    {%- if is_incremental() %}
    where profile_id in ({{ segmentation.changed_profiles_sql() }})
    {%- endif %}

),

purposes as (

    {%- for purpose in var('consent_purposes') %}
    select '{{ purpose }}' as purpose
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

current_decisions as (

    select * from {{ ref('profile_consent_history') }}
    where is_current and {{ segmentation.is_changed_profile('profile_id') }}

),

consent as (

    select
        profile_identity.profile_id,
        purposes.purpose,
        coalesce(
            current_decisions.is_granted
            and (current_decisions.expires_at is null or current_decisions.expires_at > {{ as_of }}),
            false
        ) as is_granted,
        case
            when current_decisions.profile_id is null then 'no_decision'
            when not current_decisions.is_granted then 'withdrawn'
            when current_decisions.expires_at <= {{ as_of }} then 'expired'
            else 'granted'
        end as status,
        current_decisions.decided_at,
        coalesce(current_decisions.source, 'default:opt_in') as source,  -- noqa: RF04
        current_decisions.expires_at,
        {{ as_of }} as consent_as_of,
        {{ segmentation.run_timestamp() }} as _processed_at
    from profile_identity
    cross join purposes
    left join current_decisions
        on
            profile_identity.profile_id = current_decisions.profile_id
            and purposes.purpose = current_decisions.purpose

)

select * from consent
