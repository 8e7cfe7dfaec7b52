{#- One row per run that built the identity graph: its size, what the rules removed and the rounds used. -#}
/* depends_on: {{ ref('privacy_suppressions') }} */
with

health as (

    select * from {{ ref('identity_graph_health') }}

),

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}

),

links as (

    select * from {{ ref('int_identity__links_ruled') }}

),

changes_this_run as (

    select * from {{ ref('profile_merges') }}
    where run_id = '{{ invocation_id }}'

),

identifier_counts as (

    select
        sum(case when is_blocked then 0 else 1 end) as identifiers,
        sum(case when is_blocked then 1 else 0 end) as identifiers_blocked
    from identifiers

),

link_counts as (

    select
        sum(case when is_kept then 1 else 0 end) as links_kept,
        sum(case when is_kept then 0 else 1 end) as links_cut
    from links

),

health_totals as (

    select
        sum(profiles) as profiles,
        max(largest_profile_identifiers) as largest_profile_identifiers,
        max(components_rounds) as components_rounds
    from health

),

change_counts as (

    select
        sum(case when change_type = 'merge' then 1 else 0 end) as profiles_merged,
        sum(case when change_type = 'split' then 1 else 0 end) as profiles_split
    from changes_this_run

),

run as (

    select
        '{{ invocation_id }}' as run_id,
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as run_at,
        identifier_counts.identifiers,
        identifier_counts.identifiers_blocked,
        link_counts.links_kept,
        link_counts.links_cut,
        health_totals.profiles,
        health_totals.largest_profile_identifiers,
        health_totals.components_rounds,
        coalesce(change_counts.profiles_merged, 0) as profiles_merged,
        coalesce(change_counts.profiles_split, 0) as profiles_split
    from identifier_counts
    cross join link_counts
    cross join health_totals
    cross join change_counts

)

select * from run
