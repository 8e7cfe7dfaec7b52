{#
    Enforces per-profile limits (max_per_profile: 1 user_id, 5 emails, ...) across whole components.
    In a component holding more values of a limited type than allowed, every node joins the value
    nearest to it (breadth-first, layer by layer; ties go to the value with the most observations, then
    the lowest node id). The values beyond the limit, by observations, leave with their territories as
    profiles of their own; the rest of the component is regrouped by connectivity without them, so no
    part holds more than the limit. Types are handled in priority order, each pass working inside the
    groups of the previous one. Returns a select of (node_id, component_id); untouched components keep
    their ids.

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
    {%- set limited = run_query(
        'select identifier_type, max_per_profile from ' ~ types_relation
        ~ ' where max_per_profile is not null order by priority'
    ) -%}
    {%- for limited_type, limit in limited.rows -%}
        {%- set seeds_sql -%}
            with typed as (
                select labels.node_id, labels.component_id, identifiers.observations
                from {{ labels }} as labels
                inner join {{ identifiers_relation }} as identifiers on labels.node_id = identifiers.node_id
                where identifiers.identifier_type = '{{ limited_type }}' and not identifiers.is_blocked
            ),
            offending as (
                select component_id from typed group by component_id having count(*) > {{ limit }}
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
            {#- Values beyond the limit (by observations) leave with their territories; the rest of the
                component is regrouped by connectivity without them, so every part holds at most `limit`. -#}
            {%- set kept_nodes = work.incorporate(path={'identifier': this.identifier ~ '__kept_nodes'}) -%}
            {%- set kept_edges = work.incorporate(path={'identifier': this.identifier ~ '__kept_edges'}) -%}
            {%- do run_query(segmentation.cc_create_table_as(kept_nodes,
                'select node_id, component_id from ' ~ reached ~ ' where seed_rank <= ' ~ limit)) -%}
            {%- set kept_edges_sql -%}
                select links.node_a, links.node_b
                from {{ links_relation }} as links
                inner join {{ kept_nodes }} as node_a on links.node_a = node_a.node_id
                inner join {{ kept_nodes }} as node_b on links.node_b = node_b.node_id
                where node_a.component_id = node_b.component_id
            {%- endset -%}
            {%- do run_query(segmentation.cc_create_table_as(kept_edges, kept_edges_sql)) -%}
            {%- set regrouped = segmentation.cc_run_rounds(kept_edges, work, this.identifier ~ '__regroup', max_rounds) -%}
            {%- set relabel_sql -%}
                with regrouped as (
                    {{ segmentation.cc_compose_sql('(select node_id from ' ~ kept_nodes ~ ')', regrouped['maps']) }}
                )
                select
                    labels.node_id,
                    case
                        when regrouped.node_id is not null then regrouped.component_id
                        when reached.node_id is not null then reached.seed_id
                        else labels.component_id
                    end as component_id
                from {{ labels }} as labels
                left join {{ reached }} as reached on labels.node_id = reached.node_id
                left join regrouped on labels.node_id = regrouped.node_id
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


{#
    limit_components over the components that changed in this run only (macros/identity/incremental_graph.sql):
    the components int_identity__components recomputed or merged, and those holding an identifier the
    inputs touched (its observations rank the values). Their nodes and new labels go to
    identity_work.int_identity__components_limited__dirty, the labels those nodes and the touched
    identifiers had before to ..__old_labels, and their rows are deleted before the model inserts
    the new ones. Any other component has the same nodes, links and identifiers as in the last run, so
    it keeps its rows. A first run, a full refresh or a missed run of the components computes all.
#}
{% macro limit_components_incremental(components_model, links_relation, identifiers_relation, types_relation) %}
    {%- set components = ref(components_model) -%}
    {%- set mode = segmentation.identity_chain_prepare(
        this.identifier, ['int_identity__identifiers', components_model], '1 = 0') -%}
    {%- if mode != 'incremental' -%}
        {{ return(segmentation.limit_components(components, links_relation, identifiers_relation, types_relation)) }}
    {%- endif -%}
    {%- set work = this.incorporate(path={'schema': this.schema ~ '_work'}) -%}
    {%- set touched = segmentation.identity_work_relation('int_identity__touched') -%}
    {%- set recompute = work.incorporate(path={'identifier': components_model ~ '__delta_recompute'}) -%}
    {%- set lifted_nodes = work.incorporate(path={'identifier': components_model ~ '__delta_lifted_nodes'}) -%}
    {%- set dirty = segmentation.identity_dirty_nodes_relation() -%}
    {%- set old_labels = segmentation.identity_old_labels_relation() -%}
    {%- set dirty_sql -%}
        select components.node_id, components.component_id
        from {{ components }} as components
        where components.component_id in (
            select changed.component_id from {{ components }} as changed
            where changed.node_id in (
                select node_id from {{ recompute }}
                union select node_id from {{ lifted_nodes }}
                union select node_id from {{ touched }}
            )
        )
    {%- endset -%}
    {%- do run_query(segmentation.cc_create_table_as(dirty, dirty_sql)) -%}
    {%- set stale = '(select node_id from ' ~ dirty ~ ' union select node_id from ' ~ touched ~ ')' -%}
    {%- do run_query(segmentation.cc_create_table_as(old_labels,
        'select distinct component_id from ' ~ this ~ ' where node_id in ' ~ stale)) -%}
    {%- do run_query('delete from ' ~ this ~ ' where node_id in ' ~ stale) -%}
    {%- set counts = run_query('select count(*) from ' ~ dirty) -%}
    {%- do log('limit_components: incremental; ' ~ counts[0][0] ~ ' nodes of changed components', info=true) -%}
    {{ return(segmentation.limit_components(dirty, links_relation, identifiers_relation, types_relation)) }}
{% endmacro %}
