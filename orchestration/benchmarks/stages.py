"""The benchmark's Python stages, each run by `orchestration.benchmarks.pipeline` in a fresh process so
its wall time and peak memory are its own:

    python -m orchestration.benchmarks.stages load|quality|sync|t0|components --database FILE --work DIR \
        --result FILE.json [--folder DIR]

Each writes a JSON result: `rows` (what the stage produced), `seconds` (the work itself, without the
interpreter's start-up) and `notes`; `components` adds the scipy comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import numpy as np
import yaml

from orchestration.arrival_batches import EVENT_TABLES
from orchestration.benchmarks.identity_components import run_operation, scipy_components
from orchestration.warehouse import PROJECT_ROOT, Target

DBT = str(Path(sys.executable).parent / "dbt")

# Every pair of identifiers one staged record carries, one row per record and pair (not deduplicated):
# the input of the identity graph, from the same source list the identity models use.
RAW_PAIRS_TEMPLATE = """
{%- set selects = [] -%}
{%- for source in segmentation.identity_sources() -%}
    {%- set types = source['identifiers'] | list -%}
    {%- for i in range(types | length) -%}
        {%- for j in range(i + 1, types | length) -%}
            {%- set column_i, column_j = source['identifiers'][types[i]], source['identifiers'][types[j]] -%}
            {%- do selects.append(
                "select '" ~ types[i] ~ "' as type_i, " ~ column_i ~ " as value_i, '" ~ types[j] ~ "' as type_j, "
                ~ column_j ~ " as value_j from " ~ ref(source['model']) ~ " where " ~ column_i
                ~ " is not null and " ~ column_j ~ " is not null"
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endfor -%}
{{ selects | join('\nunion all\n') }}
"""


def duckdb_settings() -> dict[str, Any]:
    """The `settings` of profiles.yml's duckdb output, rendered like dbt does (env_var with defaults)."""
    profile = yaml.safe_load((PROJECT_ROOT / "profiles.yml").read_text())
    settings = profile["segmentation"]["outputs"]["duckdb"].get("settings") or {}

    def env_var(name: str, default: str | None = None) -> str:
        value = os.environ.get(name, default)
        if value is None:
            raise KeyError(f"profiles.yml needs environment variable {name}")
        return value

    environment = jinja2.Environment()
    return {
        key: environment.from_string(value).render(env_var=env_var) if isinstance(value, str) else value
        for key, value in settings.items()
    }


def connect_like_dbt(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A fresh DuckDB connection with the settings dbt applies to the warehouse."""
    connection = duckdb.connect(str(path), read_only=read_only)
    for key, value in duckdb_settings().items():
        connection.execute(f"set {key} = '{value}'")
    return connection


def _target(database: Path) -> Target:
    return Target(name="duckdb", kind="duckdb", duckdb_path=database)


def stage_load(database: Path, work: Path, folder: Path | None) -> dict[str, Any]:
    from orchestration.loader import load_folder

    assert folder is not None, "load needs --folder"
    report = load_folder(folder, _target(database))
    return {"rows": report.loaded_rows, "seconds": report.elapsed_seconds,
            "notes": f"{len(report.loaded_files)} files"}


def stage_t0(database: Path, work: Path, folder: Path | None) -> dict[str, Any]:
    """T0: one scan of the raw events (count and distinct anonymous ids) on a fresh connection."""
    union = " union all ".join(f"select anonymous_id from raw.{table}" for table in EVENT_TABLES)
    started = time.perf_counter()
    with connect_like_dbt(database, read_only=True) as connection:
        events, anonymous_ids = connection.execute(
            f"select count(*), count(distinct anonymous_id) from ({union})").fetchone()
        memory_limit, threads = connection.execute(
            "select current_setting('memory_limit'), current_setting('threads')").fetchone()
    seconds = time.perf_counter() - started
    return {"rows": events, "seconds": seconds, "anonymous_ids": anonymous_ids,
            "memory_limit": memory_limit, "threads": threads, "settings": duckdb_settings(),
            "notes": f"{anonymous_ids:,} distinct anonymous ids"}


def stage_quality(database: Path, work: Path, folder: Path | None, incremental: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    from orchestration.quality.runner import run_quality  # imports Great Expectations

    imported = time.perf_counter() - started
    report = run_quality(_target(database), docs_dir=work / "data_docs", incremental=incremental)
    seconds = time.perf_counter() - started
    failed = report.failed()
    phases = {"import": imported, **report.timings}
    return {"rows": report.rows_validated, "seconds": seconds, "critical_passed": report.critical_passed,
            "mode": report.mode, "phases": phases,
            "datasets": {run.dataset: {"mode": run.mode, "rows": run.rows, "fetch": run.fetch_seconds,
                                       "validate": run.validate_seconds} for run in report.datasets},
            "notes": f"{report.mode}: {len(report.outcomes)} expectations, {len(failed)} failed; consent guard "
                     f"{'passed' if report.critical_passed else 'FAILED'}; "
                     + ", ".join(f"{phase} {value:.1f} s" for phase, value in phases.items())}


def stage_quality_incremental(database: Path, work: Path, folder: Path | None) -> dict[str, Any]:
    """The quality stage of an incremental batch: events of new loads only (run_quality incremental)."""
    return stage_quality(database, work, folder, incremental=True)


def stage_sync(database: Path, work: Path, folder: Path | None) -> dict[str, Any]:
    from orchestration.sync import run_sync

    config = work / "destinations.yml"
    destinations = [
        {"name": f"bench_{channel}", "type": "file", "channel": channel, "segments": "all",
         "folder": str(work / "sync_output"), "format": "jsonl"}
        for channel in ("email", "ads", "crm")
    ]
    config.write_text(yaml.safe_dump({"destinations": destinations}, sort_keys=False))
    started = time.perf_counter()
    reports = run_sync(_target(database), config)
    seconds = time.perf_counter() - started
    statuses = sorted({report.status for report in reports})
    return {"rows": sum(report.delivered for report in reports), "seconds": seconds,
            "notes": f"{len(reports)} file destinations, status {', '.join(statuses)}"}


def _raw_pairs_sql(database: Path, work: Path) -> str:
    """The raw-pairs query compiled by dbt against the warehouse (relation names resolved)."""
    env = {**os.environ, "SEGMENTATION_DUCKDB_PATH": str(database),
           "DBT_TARGET_PATH": str(work / "target_compile"), "DBT_LOG_PATH": str(work / "logs")}
    completed = subprocess.run(
        [DBT, "compile", "--quiet", "--inline", RAW_PAIRS_TEMPLATE, "--project-dir", str(PROJECT_ROOT),
         "--profiles-dir", str(PROJECT_ROOT), "--target", "duckdb"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"dbt compile of the raw pairs failed:\n{completed.stdout[-3000:]}")
    return completed.stdout.strip()


def _partition_equal(labels_a: np.ndarray, labels_b: np.ndarray) -> bool:
    """Two labellings of the same nodes describe the same partition."""
    pairs = np.unique(np.stack([labels_a, labels_b]), axis=1).shape[1]
    return pairs == len(np.unique(labels_a)) == len(np.unique(labels_b))


def stage_components(database: Path, work: Path, folder: Path | None) -> dict[str, Any]:
    """The identity components step on the warehouse's real edges, against T0 of the raw identifier
    pairs and scipy's connected components on the same edges; checks the partitions are equal."""
    bench = work / "components.duckdb"
    bench.unlink(missing_ok=True)
    pairs_sql = _raw_pairs_sql(database, work)
    with connect_like_dbt(bench) as connection:
        connection.execute(f"attach '{database}' as {database.stem} (read_only)")
        connection.execute("create schema bench")
        connection.execute(f"create table bench.raw_pairs as {pairs_sql}")
        connection.execute(
            f"create table bench.edges as select node_a, node_b "
            f"from {database.stem}.identity.int_identity__links_ruled where is_kept")
        connection.execute(
            f"create table bench.nodes as select node_id "
            f"from {database.stem}.identity.int_identity__identifiers where not is_blocked")
        connection.execute(
            f"create table bench.model_components as select node_id, component_id "
            f"from {database.stem}.identity.int_identity__components")
        connection.execute(f"detach {database.stem}")
        raw_pairs = connection.execute("select count(*) from bench.raw_pairs").fetchone()[0]
    with connect_like_dbt(bench) as connection:
        started = time.perf_counter()
        connection.execute("create table bench.t0_pairs as select distinct * from bench.raw_pairs")
        t0_pairs = time.perf_counter() - started
        distinct_pairs = connection.execute("select count(*) from bench.t0_pairs").fetchone()[0]

    wall = run_operation(bench, work, "connected_components_to_table",
                         "{edges: bench.edges, nodes: bench.nodes, output: bench.components}")
    with duckdb.connect(str(bench), read_only=True) as connection:
        seconds = float(connection.execute("select seconds from bench.components_seconds").fetchone()[0])
        rounds = connection.execute("select max(round_number) from bench.components_rounds").fetchone()[0]
        edges = connection.execute("select node_a, node_b from bench.edges").fetchnumpy()
        ours = connection.execute(
            "select nodes.node_id, components.component_id, model.component_id as model_component_id "
            "from bench.nodes as nodes "
            "left join bench.components as components on nodes.node_id = components.node_id "
            "left join bench.model_components as model on nodes.node_id = model.node_id "
            "order by nodes.node_id").fetchnumpy()
    node_ids = np.asarray(ours["node_id"])
    labels, scipy_seconds = scipy_components(node_ids, np.asarray(edges["node_a"]), np.asarray(edges["node_b"]))
    components = np.asarray(ours["component_id"])
    model_components = np.asarray(ours["model_component_id"])
    missing = int(np.ma.getmaskarray(components).sum()) + int(np.ma.getmaskarray(model_components).sum())
    equal = missing == 0 and _partition_equal(np.asarray(components), labels)
    model_equal = missing == 0 and _partition_equal(np.asarray(model_components), labels)
    bench.unlink()
    return {
        "rows": len(node_ids), "seconds": seconds, "wall_with_dbt": wall, "rounds": rounds,
        "edges": len(edges["node_a"]), "components": len(np.unique(labels)),
        "raw_pairs": raw_pairs, "distinct_pairs": distinct_pairs, "t0_pairs": t0_pairs,
        "scipy_seconds": scipy_seconds, "partition_equal": bool(equal), "model_partition_equal": bool(model_equal),
        "notes": f"{rounds} rounds",
    }


STAGES: dict[str, Callable[[Path, Path, Path | None], dict[str, Any]]] = {
    "load": stage_load, "t0": stage_t0, "quality": stage_quality, "quality_incremental": stage_quality_incremental,
    "sync": stage_sync,
    "components": stage_components,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--folder", type=Path, default=None)
    options = parser.parse_args(argv)
    result = STAGES[options.stage](options.database, options.work, options.folder)
    options.result.write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
