{#
    The start of a model's last successful run (its run stamp): one row, processed_at, in
    <schema of the model>_work.<model>__processed, which the model's post-hook run_stamp_save writes
    with the literal the model stamps its rows with (run_timestamp, to the microsecond).

    A post-hook runs only after the model's SQL succeeded, so a failed run leaves the run stamp of the
    last successful one. The run stamp tells what a model's newest stamp cannot: that its last run
    happened, also when it wrote no row. Readers:
      - processed_watermark (macros/profiles/incremental_profiles.sql): an incremental profile model
        processed every change up to its last run's start;
      - scoped data tests (macros/tests/written_this_run.sql): a test of a relation that the writer's
        last run wrote no row of checks nothing.
    The incremental profile models save it, and so do the models whose data tests are scoped: the
    Segment base models (under the staged and quarantine views) and the profile change logs.
#}
{% macro run_stamp_relation(target) -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema ~ '_work',
        identifier=target.identifier ~ '__processed')) }}
{%- endmacro %}


{# Post-hook: saves this run's start as the run stamp of `this` (see above). #}
{% macro run_stamp_save() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set stamp = segmentation.run_stamp_relation(this) -%}
    {%- do segmentation.ensure_schema(stamp) -%}
    {%- do run_query('drop table if exists ' ~ stamp) -%}
    {%- do run_query('create table ' ~ stamp ~ ' as select ' ~ segmentation.run_timestamp() ~ ' as processed_at') -%}
    {{ return('') }}
{%- endmacro %}


{#
    on-run-start: the schemas of the run stamps of the models whose data tests are scoped
    (<schema>_work), so that models which run in parallel (the Segment base models) do not create the
    same schema from two threads at once (which conflicts on DuckDB).
#}
{% macro create_run_stamp_schemas() -%}
    {%- if execute -%}
        {%- set schemas = [] -%}
        {%- for node in graph.nodes.values() if node.resource_type == 'test'
            and '__written_this_run__' in (node.config.get('where') or '') -%}
            {%- set writer = segmentation.scoped_test_writer(node.get('attached_node')) -%}
            {%- if writer is not none and writer.schema ~ '_work' not in schemas -%}
                {%- do schemas.append(writer.schema ~ '_work') -%}
                {%- do adapter.create_schema(api.Relation.create(database=writer.database, schema=writer.schema ~ '_work')) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
