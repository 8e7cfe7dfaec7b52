{#
    Connected components of an undirected graph by randomized contraction
    (Bögeholz, Brand, Todor, arXiv 1802.09478): each round every node picks, among itself and its
    neighbours, the one with the smallest seeded hash as its representative; edges are rewritten to
    representatives, self-loops dropped, duplicates removed. The number of rounds is O(log n) with
    high probability whatever the graph's diameter. Composing the per-round maps labels every node.

    edges_relation: a relation with integer columns `node_a`, `node_b` (any direction, duplicates allowed).
    nodes_relation: a relation with integer column `node_id` listing every node (isolated ones too).
    max_rounds: a guard; exceeding it fails the run loudly instead of returning split components.
    stats_identifier: optional table name for per-round statistics (round, edges, nodes), kept after the run.

    Returns a select of (node_id, component_id) where component_id is one node id of the component.
    Runs the rounds as statements while the model executes; at parse/compile time it returns an
    equivalent-shaped empty select.
#}
{% macro connected_components(edges_relation, nodes_relation, max_rounds=64, stats_identifier=none) %}
    {%- if not execute or flags.WHICH not in ('run', 'build') -%}
        select
            cast(null as {{ dbt.type_bigint() }}) as node_id,
            cast(null as {{ dbt.type_bigint() }}) as component_id
        where 1 = 0
    {%- else -%}
        {%- set work = this.incorporate(path={'schema': this.schema ~ '_work'}) -%}
        {%- set result = segmentation.cc_run_rounds(edges_relation, work, this.identifier, max_rounds) -%}
        {%- if stats_identifier -%}
            {%- do segmentation.cc_write_stats(result['stats'], work.incorporate(path={'identifier': stats_identifier})) -%}
        {%- endif -%}
        {{ segmentation.cc_compose_sql(nodes_relation, result['maps']) }}
    {%- endif -%}
{% endmacro %}


{#
    Operation form, for tests and benchmarks: `dbt run-operation connected_components_to_table --args
    '{edges: "bench.edges", nodes: "bench.nodes", output: "bench.components"}'`. Writes
    (node_id, component_id) to `output` and the per-round statistics to `<output>_rounds`.
#}
{% macro connected_components_to_table(edges, nodes, output, max_rounds=64) %}
    {%- set started = modules.datetime.datetime.now() -%}
    {%- set schema_name, identifier = output.split('.') -%}
    {%- set output_relation = api.Relation.create(database=target.database, schema=schema_name, identifier=identifier) -%}
    {%- set result = segmentation.cc_run_rounds(edges, output_relation, identifier, max_rounds) -%}
    {%- do segmentation.cc_write_stats(
        result['stats'], output_relation.incorporate(path={'identifier': identifier ~ '_rounds'})
    ) -%}
    {%- do run_query(segmentation.cc_create_table_as(
        output_relation, segmentation.cc_compose_sql(nodes, result['maps'])
    )) -%}
    {%- do segmentation.cc_drop_maps(result['maps']) -%}
    {%- set seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
    {%- do run_query(segmentation.cc_create_table_as(
        output_relation.incorporate(path={'identifier': identifier ~ '_seconds'}),
        'select ' ~ seconds ~ ' as seconds'
    )) -%}
    {%- do log('connected components written to ' ~ output ~ ' in ' ~ seconds ~ ' s', info=true) -%}
{% endmacro %}


{#
    Runs contraction rounds until no edge is left. Scratch tables live in `work`'s schema, named
    `<prefix>__cc_*`. Returns {'maps': [per-round map relations], 'stats': [(round, directed edges)]}.
#}
{% macro cc_run_rounds(edges_relation, work, prefix, max_rounds) %}
    {%- do adapter.create_schema(work) -%}
    {%- set edges_0 = work.incorporate(path={'identifier': prefix ~ '__cc_edges_0'}) -%}
    {%- do run_query(segmentation.cc_create_table_as(edges_0, segmentation.cc_symmetric_edges_sql(edges_relation))) -%}
    {%- set maps = [] -%}
    {%- set stats = [] -%}
    {%- set state = namespace(edges=edges_0, done=false) -%}
    {%- for round_number in range(1, max_rounds + 2) if not state.done -%}
        {%- set current_edges = state.edges -%}
        {%- set remaining = run_query('select count(*) from ' ~ current_edges).columns[0].values()[0] | int -%}
        {%- do stats.append((round_number - 1, remaining)) -%}
        {%- if remaining == 0 -%}
            {%- set state.done = true -%}
        {%- elif round_number > max_rounds -%}
            {{ exceptions.raise_compiler_error(
                'connected components did not converge within ' ~ max_rounds ~ ' rounds: '
                ~ remaining ~ ' directed edges remain. Raise var identity_max_rounds only if the graph '
                ~ 'really needs it (rounds grow with log2 of the nodes); otherwise this is a bug.'
            ) }}
        {%- else -%}
            {%- set map_relation = work.incorporate(path={'identifier': prefix ~ '__cc_map_' ~ round_number}) -%}
            {%- set next_edges = work.incorporate(path={'identifier': prefix ~ '__cc_edges_' ~ round_number}) -%}
            {%- do run_query(segmentation.cc_create_table_as(
                map_relation, segmentation.cc_pick_representatives_sql(current_edges, round_number)
            )) -%}
            {%- do run_query(segmentation.cc_create_table_as(
                next_edges, segmentation.cc_contract_edges_sql(current_edges, map_relation)
            )) -%}
            {%- do run_query('drop table if exists ' ~ current_edges) -%}
            {%- do maps.append(map_relation) -%}
            {%- set state.edges = next_edges -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ state.edges) -%}
    {%- do log('connected components: ' ~ maps | length ~ ' rounds; directed edges per round: '
        ~ stats | map(attribute=1) | join(', '), info=true) -%}
    {{ return({'maps': maps, 'stats': stats}) }}
{% endmacro %}


{% macro cc_write_stats(stats, relation) %}
    {%- set stats_sql -%}
        {%- for round_number, remaining in stats %}
        select
            {{ round_number }} as round_number,
            {{ remaining }} as directed_edges
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    {%- endset -%}
    {%- do run_query(segmentation.cc_create_table_as(relation, stats_sql)) -%}
{% endmacro %}


{% macro cc_drop_maps(maps) %}
    {%- for map_relation in maps -%}
        {%- do run_query('drop table if exists ' ~ map_relation) -%}
    {%- endfor -%}
{% endmacro %}


{#- Composes the maps: a node's label after round r is map_r(label after r-1), if it was still linked. -#}
{% macro cc_compose_sql(nodes_relation, maps) -%}
    select
        nodes.node_id,
        coalesce(
            {%- for index in range(maps | length, 0, -1) %}
            map_{{ index }}.representative_id,
            {%- endfor %}
            nodes.node_id
        ) as component_id
    from {{ nodes_relation }} as nodes
    {%- for map_relation in maps %}
    left join {{ map_relation }} as map_{{ loop.index }}
        on coalesce(
            {%- for back in range(loop.index0, 0, -1) %}map_{{ back }}.representative_id, {% endfor -%}
            nodes.node_id
        ) = map_{{ loop.index }}.node_id
    {%- endfor %}
{%- endmacro %}


{#- `relation` a relation, or with temporary=true the name of a temporary table of the connection. -#}
{% macro cc_create_table_as(relation, sql, temporary=false) -%}
    drop table if exists {{ relation }};
    create {{ 'temporary ' if temporary }}table {{ relation }} as {{ sql }}
{%- endmacro %}


{# Both directions of every edge, without self-loops or duplicates. #}
{% macro cc_symmetric_edges_sql(edges_relation) -%}
    select distinct node_a, node_b from (
        select source_edges.node_a, source_edges.node_b from {{ edges_relation }} as source_edges
        where source_edges.node_a <> source_edges.node_b
        union all
        select source_edges.node_b, source_edges.node_a from {{ edges_relation }} as source_edges
        where source_edges.node_a <> source_edges.node_b
    ) as both_directions
{%- endmacro %}


{# Per node of the current edge set: the neighbour or itself with the smallest seeded hash. #}
{% macro cc_pick_representatives_sql(edges_relation, round_number) -%}
    {{ return(adapter.dispatch('cc_pick_representatives_sql', 'segmentation')(edges_relation, round_number)) }}
{%- endmacro %}

{% macro default__cc_pick_representatives_sql(edges_relation, round_number) -%}
    select node_id, representative_id from (
        select
            node_id,
            candidate_id as representative_id,
            row_number() over (
                partition by node_id
                order by {{ segmentation.seeded_hash('candidate_id', round_number) }}, candidate_id
            ) as preference
        from (
            select node_a as node_id, node_b as candidate_id from {{ edges_relation }}
            union all
            select distinct node_a as node_id, node_a as candidate_id from {{ edges_relation }}
        ) as candidates
    ) as ranked
    where preference = 1
{%- endmacro %}

{% macro duckdb__cc_pick_representatives_sql(edges_relation, round_number) -%}
    select
        node_id,
        arg_min(candidate_id, {{ segmentation.seeded_hash('candidate_id', round_number) }}) as representative_id
    from (
        select node_a as node_id, node_b as candidate_id from {{ edges_relation }}
        union all
        select distinct node_a as node_id, node_a as candidate_id from {{ edges_relation }}
    ) as candidates
    group by node_id
{%- endmacro %}

{% macro postgres__cc_pick_representatives_sql(edges_relation, round_number) -%}
    select distinct on (node_id)
        node_id,
        candidate_id as representative_id
    from (
        select node_a as node_id, node_b as candidate_id from {{ edges_relation }}
        union all
        select distinct node_a as node_id, node_a as candidate_id from {{ edges_relation }}
    ) as candidates
    order by node_id, {{ segmentation.seeded_hash('candidate_id', round_number) }}, candidate_id
{%- endmacro %}


{# Rewrite every edge to its endpoints' representatives; drop self-loops and duplicates. #}
{% macro cc_contract_edges_sql(edges_relation, map_relation) -%}
    select distinct
        map_a.representative_id as node_a,
        map_b.representative_id as node_b
    from {{ edges_relation }} as edges
    inner join {{ map_relation }} as map_a on edges.node_a = map_a.node_id
    inner join {{ map_relation }} as map_b on edges.node_b = map_b.node_id
    where map_a.representative_id <> map_b.representative_id
{%- endmacro %}


{# A hash of an integer expression that changes with `seed`; ties are broken by the value itself. #}
{% macro seeded_hash(expression, seed) -%}
    {{ return(adapter.dispatch('seeded_hash', 'segmentation')(expression, seed)) }}
{%- endmacro %}

{% macro default__seeded_hash(expression, seed) -%}
    mod({{ expression }} * 2654435761 + {{ seed }} * 40503, 4294967291)
{%- endmacro %}

{% macro duckdb__seeded_hash(expression, seed) -%}
    hash({{ expression }}, {{ seed }})
{%- endmacro %}

{% macro postgres__seeded_hash(expression, seed) -%}
    hashint8extended({{ expression }}, {{ seed }})
{%- endmacro %}

{% macro spark__seeded_hash(expression, seed) -%}
    xxhash64({{ expression }}, {{ seed }})
{%- endmacro %}


{#
    A stable 63-bit integer id for a text key (the identity graph's node ids), the same in every run,
    so component assignments can be carried from one run to the next. A collision would merge two
    identifiers; the unique test on int_identity__identifiers.node_id fails the build if one occurs.
#}
{% macro stable_node_id(expression) -%}
    {{ return(adapter.dispatch('stable_node_id', 'segmentation')(expression)) }}
{%- endmacro %}

{% macro default__stable_node_id(expression) -%}
    abs(cast(hash({{ expression }}) as {{ dbt.type_bigint() }}))
{%- endmacro %}

{% macro duckdb__stable_node_id(expression) -%}
    cast(hash({{ expression }}) >> 1 as bigint)
{%- endmacro %}

{% macro postgres__stable_node_id(expression) -%}
    hashtextextended({{ expression }}, 0)
{%- endmacro %}

{% macro spark__stable_node_id(expression) -%}
    xxhash64({{ expression }})
{%- endmacro %}


{#
    Connected components that reuse the previous run's answer and recompute only what changed.
    `this` holds last run's (node_id, component_id); `snapshot` holds last run's edges. Components
    touched by a removed edge or a removed node are dirty: their current nodes are recomputed from
    their current edges. New edges join components by lifting each endpoint to its previous
    component (or itself, when new or dirty) and contracting that small graph. Every other node keeps
    its component. The result is the partition a full recompute gives. The first run, a full refresh,
    or a missing snapshot computes everything.
#}
{% macro connected_components_incremental(edges_relation, nodes_relation, snapshot_identifier, max_rounds=64,
                                           stats_identifier=none) %}
    {%- if not execute or flags.WHICH not in ('run', 'build') -%}
        {{ return(segmentation.connected_components(edges_relation, nodes_relation, max_rounds, stats_identifier)) }}
    {%- endif -%}
    {%- set work = this.incorporate(path={'schema': this.schema ~ '_work'}) -%}
    {%- set previous = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set snapshot = adapter.get_relation(database=this.database, schema=work.schema, identifier=snapshot_identifier) -%}
    {#- The run is recorded for the models after the components (macros/identity/incremental_graph.sql):
        an incremental run leaves its recomputed and lifted nodes in the delta tables below. -#}
    {%- if previous is none or snapshot is none or flags.FULL_REFRESH -%}
        {%- do segmentation.identity_chain_start(this.identifier, 'full') -%}
        {%- do log('connected components: full computation', info=true) -%}
        {{ return(segmentation.connected_components(edges_relation, nodes_relation, max_rounds, stats_identifier)) }}
    {%- endif -%}
    {%- do segmentation.identity_chain_start(this.identifier, 'incremental') -%}

    {%- set prefix = this.identifier ~ '__delta' -%}
    {%- set rel = {} -%}
    {#- recompute and lifted_nodes are read by the models after the components, in the work schema; the
        others only by this run, as temporary tables (cc_delta_scratch). -#}
    {%- for name in ['recompute', 'lifted_nodes'] -%}
        {%- do rel.update({name: work.incorporate(path={'identifier': prefix ~ '_' ~ name})}) -%}
    {%- endfor -%}
    {%- do rel.update(segmentation.cc_delta_scratch(prefix)) -%}
    {%- do adapter.create_schema(work) -%}
    {%- do run_query(segmentation.cc_create_table_as(rel.current_nodes, 'select distinct node_id from ' ~ nodes_relation ~ ' as nodes',
        temporary=true)) -%}
    {%- do run_query(segmentation.cc_create_table_as(rel.current_edges,
        'select distinct least(node_a, node_b) as node_a, greatest(node_a, node_b) as node_b from '
        ~ edges_relation ~ ' as edges where node_a <> node_b', temporary=true)) -%}
    {%- set dirty_sql -%}
        select distinct previous.component_id
        from {{ previous }} as previous
        inner join (
            select snapshot.node_a as node_id from {{ snapshot }} as snapshot
            left join {{ rel.current_edges }} as current_edges
                on snapshot.node_a = current_edges.node_a and snapshot.node_b = current_edges.node_b
            where current_edges.node_a is null
            union all
            select snapshot.node_b from {{ snapshot }} as snapshot
            left join {{ rel.current_edges }} as current_edges
                on snapshot.node_a = current_edges.node_a and snapshot.node_b = current_edges.node_b
            where current_edges.node_a is null
            union all
            select previous_nodes.node_id from {{ previous }} as previous_nodes
            left join {{ rel.current_nodes }} as current_nodes on previous_nodes.node_id = current_nodes.node_id
            where current_nodes.node_id is null
        ) as touched on previous.node_id = touched.node_id
    {%- endset -%}
    {%- do run_query(segmentation.cc_create_table_as(rel.dirty, dirty_sql, temporary=true)) -%}
    {#- Nodes recomputed from scratch: current nodes of dirty components, and nodes new in this run. -#}
    {%- set recompute_sql -%}
        select current_nodes.node_id
        from {{ rel.current_nodes }} as current_nodes
        left join {{ previous }} as previous on current_nodes.node_id = previous.node_id
        left join {{ rel.dirty }} as dirty on previous.component_id = dirty.component_id
        where previous.node_id is null or dirty.component_id is not null
    {%- endset -%}
    {%- do run_query(segmentation.cc_create_table_as(rel.recompute, recompute_sql)) -%}
    {#- Edges that can change anything: new edges, and every edge touching a recomputed node, lifted:
        a node outside the recomputed set stands for its previous component. -#}
    {%- set lifted_sql -%}
        select distinct
            coalesce(previous_a.component_id, edges.node_a) as node_a,
            coalesce(previous_b.component_id, edges.node_b) as node_b
        from {{ rel.current_edges }} as edges
        left join {{ snapshot }} as snapshot
            on edges.node_a = snapshot.node_a and edges.node_b = snapshot.node_b
        left join {{ rel.recompute }} as recompute_a on edges.node_a = recompute_a.node_id
        left join {{ rel.recompute }} as recompute_b on edges.node_b = recompute_b.node_id
        left join {{ previous }} as previous_a
            on edges.node_a = previous_a.node_id and recompute_a.node_id is null
        left join {{ previous }} as previous_b
            on edges.node_b = previous_b.node_id and recompute_b.node_id is null
        where
            snapshot.node_a is null
            or recompute_a.node_id is not null
            or recompute_b.node_id is not null
    {%- endset -%}
    {%- do run_query(segmentation.cc_create_table_as(rel.lifted, lifted_sql, temporary=true)) -%}
    {%- do run_query(segmentation.cc_create_table_as(rel.lifted_nodes,
        'select node_a as node_id from ' ~ rel.lifted ~ ' union select node_b from ' ~ rel.lifted)) -%}
    {%- set counts = run_query('select (select count(*) from ' ~ rel.recompute ~ '), (select count(*) from '
        ~ rel.lifted ~ '), (select count(*) from ' ~ rel.dirty ~ ')') -%}
    {%- do log('connected components: incremental; ' ~ counts.rows[0][0] ~ ' nodes recomputed, '
        ~ counts.rows[0][1] ~ ' lifted edges, ' ~ counts.rows[0][2] ~ ' dirty components', info=true) -%}
    {%- set result = segmentation.cc_run_rounds(rel.lifted, work, prefix, max_rounds) -%}
    {%- if stats_identifier -%}
        {%- do segmentation.cc_write_stats(result['stats'], work.incorporate(path={'identifier': stats_identifier})) -%}
    {%- endif -%}
    with

    delta_labels as (
        {{ segmentation.cc_compose_sql(rel.lifted_nodes, result['maps']) | indent(8) }}
    ),

    labelled as (
        select
            current_nodes.node_id,
            case
                when recompute.node_id is not null then coalesce(own_label.component_id, current_nodes.node_id)
                else coalesce(component_label.component_id, previous.component_id)
            end as component_id
        from {{ rel.current_nodes }} as current_nodes
        left join {{ rel.recompute }} as recompute on current_nodes.node_id = recompute.node_id
        left join {{ previous }} as previous on current_nodes.node_id = previous.node_id
        left join delta_labels as own_label on current_nodes.node_id = own_label.node_id
        left join delta_labels as component_label on previous.component_id = component_label.node_id
    )

    select * from labelled
{% endmacro %}


{#
    The scratch tables of an incremental run that only the run itself reads (the current nodes and
    edges, the dirty components, the lifted edges), by name: temporary tables of the model's
    connection, neither written to the database file nor left for its next checkpoint. At L the
    current nodes and edges are 3.8 M and 6.5 M rows on every run, new data or not. cc_save_snapshot
    drops them.
#}
{% macro cc_delta_scratch(prefix) -%}
    {%- set scratch = {} -%}
    {%- for name in ['current_nodes', 'current_edges', 'dirty', 'lifted'] -%}
        {%- do scratch.update({name: prefix ~ '_' ~ name}) -%}
    {%- endfor -%}
    {{ return(scratch) }}
{%- endmacro %}


{#
    Keeps this run's kept links for the next incremental run: a post-hook of the components model,
    so the snapshot only advances when the components table was written. Drops the run's temporary
    scratch tables (cc_delta_scratch), and the work-schema tables of the same names that versions
    before them left.
#}
{% macro cc_save_snapshot(links_model, snapshot_identifier) %}
    {%- set edges_relation = '(select node_a, node_b from ' ~ ref(links_model) ~ ' where is_kept)' -%}
    {%- set work = this.incorporate(path={'schema': this.schema ~ '_work'}) -%}
    {%- set snapshot = work.incorporate(path={'identifier': snapshot_identifier}) -%}
    {%- do adapter.create_schema(work) -%}
    {%- for name in segmentation.cc_delta_scratch(this.identifier ~ '__delta').values() -%}
        {%- do run_query('drop table if exists ' ~ name) -%}
        {%- do run_query('drop table if exists ' ~ work.incorporate(path={'identifier': name})) -%}
    {%- endfor -%}
    {{ segmentation.cc_create_table_as(snapshot,
        'select distinct least(node_a, node_b) as node_a, greatest(node_a, node_b) as node_b from '
        ~ edges_relation ~ ' as edges where node_a <> node_b') }}
{% endmacro %}


{#
    The relation schema.identifier if it exists right now, else none. Asks the information schema, since
    tables written by run_query during this run are not in dbt's relation cache.
#}
{% macro existing_relation(schema_name, identifier) %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query(
        "select count(*) from information_schema.tables where table_schema = '" ~ schema_name
        ~ "' and table_name = '" ~ identifier ~ "'"
    ).columns[0].values()[0] -%}
    {%- if found | int == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(api.Relation.create(database=target.database, schema=schema_name, identifier=identifier)) }}
{% endmacro %}
