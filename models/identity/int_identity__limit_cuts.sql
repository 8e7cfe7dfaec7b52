{#-
    One row per kept link that joins two territories of a component split by limit_components: the
    links a per-profile limit of one cuts across a whole component.
-#}
with

links as (

    select * from {{ ref('int_identity__links_ruled') }}
    where is_kept

),

limited as (

    select * from {{ ref('int_identity__components_limited') }}

),

cuts as (

    select
        links.node_a,
        links.node_b
    from links
    inner join limited as limited_a on links.node_a = limited_a.node_id
    inner join limited as limited_b on links.node_b = limited_b.node_id
    where limited_a.component_id <> limited_b.component_id

)

select * from cuts
