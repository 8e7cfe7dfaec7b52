{#
    Enforces per-profile limits of 1 (user_id, crm_id, customer_id by default) across whole components:
    a component holding two values of such a type, linked through other identifiers, is split into one
    territory per value. Every node joins the value nearest to it (breadth-first, layer by layer; ties
    go to the value with the most observations, then the lowest node id). Types are handled in priority
    order, each pass working inside the territories of the previous one. Returns a select of
    (node_id, component_id); untouched components keep their ids.

    Only components that break a limit are traversed, so the cost is one aggregation per limited type
    plus rounds proportional to the radius of the offending components; max_rounds guards the loop.
#}
{% macro limit_components(components_relation, links_relation, identifiers_relation, types_relation, max_rounds=1000) %}
    {%- if not execute or flags.WHICH not in ('run', 'build') -%}
        {{ return('select node_id, component_id from ' ~ components_relation) }}
    {%- endif -%}
    {%- set work = this.incorporate(path={'schema': this.schema ~ '_work'}) -%}
    {%- do adapter.create_schema(work) -%}
    {%- set labels = work.incorporate(path={'identifier': this.identifier ~ '__labels'}) -%}
    {%- set reached = work.incorporate(path={'identifier': this.identifier ~ '__reached'}) -%}
    {%- set frontier = work.incorporate(path={'identifier': this.identifier ~ '__frontier'}) -%}
    {%- do run_query(segmentation.cc_create_table_as(labels,
        'select node_id, component_id from ' ~ components_relation)) -%}
    {%- set limited_types = run_query(
        'select identifier_type from ' ~ types_relation ~ ' where max_per_profile = 1 order by priority'
    ).columns[0].values() -%}
    {%- for limited_type in limited_types -%}
        {%- set seeds_sql -%}
            with typed as (
                select labels.node_id, labels.component_id, identifiers.observations
                from {{ labels }} as labels
                inner join {{ identifiers_relation }} as identifiers on labels.node_id = identifiers.node_id
                where identifiers.identifier_type = '{{ limited_type }}' and not identifiers.is_blocked
            ),
            offending as (
                select component_id from typed group by component_id having count(*) > 1
            )
            select
                typed.node_id,
                typed.component_id,
                typed.node_id as seed_id,
                row_number() over (
                    partition by typed.component_id order by typed.observations desc, typed.node_id
                ) as seed_rank
            from typed
            inner join offending on typed.component_id = offending.component_id
        {%- endset -%}
        {%- do run_query(segmentation.cc_create_table_as(reached, seeds_sql)) -%}
        {%- set seeds = run_query('select count(*) from ' ~ reached).columns[0].values()[0] | int -%}
        {%- if seeds > 0 -%}
            {%- set state = namespace(done=false, rounds=0) -%}
            {%- for round_number in range(1, max_rounds + 2) if not state.done -%}
                {%- if round_number > max_rounds -%}
                    {{ exceptions.raise_compiler_error(
                        'limit_components: breadth-first search for ' ~ limited_type ~ ' did not finish within '
                        ~ max_rounds ~ ' rounds'
                    ) }}
                {%- endif -%}
                {%- set frontier_sql -%}
                    with candidates as (
                        select
                            next_node.node_id,
                            reached.component_id,
                            reached.seed_id,
                            reached.seed_rank
                        from {{ reached }} as reached
                        inner join (
                            select node_a as node_id, node_b as neighbour_id from {{ links_relation }} as links
                            union all
                            select node_b, node_a from {{ links_relation }} as links
                        ) as next_node on reached.node_id = next_node.neighbour_id
                        inner join {{ labels }} as labels
                            on next_node.node_id = labels.node_id and labels.component_id = reached.component_id
                        left join {{ reached }} as already on next_node.node_id = already.node_id
                        where already.node_id is null
                    ),
                    ranked as (
                        select
                            *,
                            row_number() over (partition by node_id order by seed_rank, seed_id) as preference
                        from candidates
                    )
                    select node_id, component_id, seed_id, seed_rank from ranked where preference = 1
                {%- endset -%}
                {%- do run_query(segmentation.cc_create_table_as(frontier, frontier_sql)) -%}
                {%- set added = run_query('select count(*) from ' ~ frontier).columns[0].values()[0] | int -%}
                {%- if added == 0 -%}
                    {%- set state.done = true -%}
                {%- else -%}
                    {%- do run_query('insert into ' ~ reached ~ ' select * from ' ~ frontier) -%}
                    {%- set state.rounds = state.rounds + 1 -%}
                {%- endif -%}
            {%- endfor -%}
            {%- set relabel_sql -%}
                select
                    labels.node_id,
                    coalesce(reached.seed_id, labels.component_id) as component_id
                from {{ labels }} as labels
                left join {{ reached }} as reached on labels.node_id = reached.node_id
            {%- endset -%}
            {%- set relabelled = work.incorporate(path={'identifier': this.identifier ~ '__relabelled'}) -%}
            {%- do run_query(segmentation.cc_create_table_as(relabelled, relabel_sql)) -%}
            {%- do run_query('drop table ' ~ labels ~ '; alter table ' ~ relabelled ~ ' rename to '
                ~ labels.identifier) -%}
            {%- do log('limit_components: ' ~ limited_type ~ ': ' ~ seeds ~ ' values split apart in '
                ~ state.rounds ~ ' rounds', info=true) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('select node_id, component_id from ' ~ labels) }}
{% endmacro %}
