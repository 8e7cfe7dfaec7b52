{#-
    One row per explicit consent decision and purpose attributed to a profile (through the event's
    user_id, else anonymous_id), with what it superseded. Decisions of every identifier a profile holds
    are pooled, so when identifiers merge the profile's history is the union of theirs.

    Merge rule (documented in docs/profiles.md): per purpose the latest decision wins by decided_at; at
    the same instant a withdrawal beats a grant. An older grant never overrides a later withdrawal.
    A grant expires var consent_max_age_days after it was given.

    Incremental by profile: the decisions of the profiles int_profiles__mart_changes logged since are
    attributed and sequenced again (macros/profiles/incremental_marts.sql). Their decisions are the
    view's SQL with the changed identifiers as a filter on the consent events, before the JSON is read
    (macros/staging/consent_decisions.sql).
-#}
/* depends_on: {{ ref('privacy_suppressions') }} {{ ref('int_profiles__mart_changes') }} */
/* depends_on: {{ ref('base_segment__tracks') }} */
{{ config(
    pre_hook="{{ segmentation.profile_mart_prepare() }}",
    post_hook="{{ segmentation.profile_changes_finish(this.identifier ~ '__changes') }}",
) }}
{%- if segmentation.profile_mart_unchanged() %}
{#- Nothing changed since the model last processed: no row to write, no input read. #}

select * from {{ this }}
where 1 = 0

{%- else %}
with

decisions as (

    {%- if is_incremental() %}
    {{ segmentation.consent_decisions_sql(
        "user_id in (" ~ segmentation.changed_identifiers_sql('user_id') ~ ")"
        ~ " or anonymous_id in (" ~ segmentation.changed_identifiers_sql('anonymous_id') ~ ")"
    ) | indent(4) }}
    {%- else %}
    select * from {{ ref('stg_segment__consent_preferences') }}
    {%- endif %}

),

identity_map as (

    select * from {{ ref('identity_map') }}

),

attributed as (

    select
        decisions.message_id,
        decisions.purpose,
        coalesce(user_map.profile_id, anonymous_map.profile_id) as profile_id,
        decisions.is_granted,
        decisions.decided_at,
        decisions.received_at,
        decisions.decision_source
    from decisions
    left join identity_map as user_map
        on user_map.identifier_type = 'user_id' and decisions.user_id = user_map.identifier_value
    left join identity_map as anonymous_map
        on anonymous_map.identifier_type = 'anonymous_id' and decisions.anonymous_id = anonymous_map.identifier_value

),

sequenced as (

    select
        *,
        row_number() over (
            partition by profile_id, purpose
            order by decided_at desc, is_granted asc, message_id desc
        ) as recency_rank,
        lag(decided_at) over (
            partition by profile_id, purpose
            order by decided_at desc, is_granted asc, message_id desc
        ) as superseded_at
    from attributed
    where profile_id is not null and {{ segmentation.is_changed_profile('profile_id') }}

),

final as (

    select
        {{ dbt.concat(["message_id", "':'", "purpose"]) }} as consent_decision_id,
        profile_id,
        purpose,
        is_granted,
        decided_at,
        received_at,
        {{ dbt.concat(["'consent_event:'", "decision_source"]) }} as source,  -- noqa: RF04
        case
            when is_granted then {{ dbt.dateadd('day', var('consent_max_age_days'), 'decided_at') }}
        end as expires_at,
        superseded_at,
        recency_rank = 1 as is_current,
        message_id,
        {{ segmentation.run_timestamp() }} as _processed_at
    from sequenced

)

select * from final

{%- endif %}
