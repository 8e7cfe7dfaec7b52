"""Benchmark: the identity graph's connected-components step against T0 and scipy, on the same edges.

    python -m orchestration.benchmarks.identity_components --identifiers 5000000

Builds a DuckDB file with an identity-like graph (people of 1-8 identifiers linked by co-occurrence,
plus long chains and hubs), then measures on the same engine and data:
- T0: one deduplicating pass (`select distinct`) over the raw typed identifier pairs;
- encode: mapping string identifiers to integer node ids (what int_identity__identifiers/links do);
- components: `dbt run-operation connected_components_to_table` (the project's macro); the macro
  times its own rounds and composition, and the wall time with dbt's start-up is shown too;
- scipy.sparse.csgraph.connected_components on the same integer edges (in memory, load excluded).
Prints the numbers and the ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def build_graph(connection: duckdb.DuckDBPyConnection, identifiers: int, chains: int, chain_length: int,
                seed: int) -> None:
    """Raw pairs with duplicates: people whose identifiers co-occur, long chains, and a few hubs."""
    rng = np.random.default_rng(seed)
    chain_nodes = chains * chain_length
    person_nodes = identifiers - chain_nodes
    sizes = rng.integers(1, 9, size=person_nodes // 4)
    sizes = sizes[np.cumsum(sizes) <= person_nodes]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(len(sizes)), sizes)
    first = starts[owner]
    members = np.arange(len(owner))
    is_first = members == first
    # every non-first identifier of a person co-occurs with an earlier one (a tree), observed 1-3 times
    earlier = first + (rng.random(len(owner)) * (members - first)).astype(np.int64)
    a = members[~is_first]
    b = earlier[~is_first]
    offset = len(owner)
    chain_a, chain_b = [], []
    for chain in range(chains):
        ids = offset + chain * chain_length + np.arange(chain_length)
        chain_a.append(ids[:-1])
        chain_b.append(ids[1:])
    a = np.concatenate([a, *chain_a])
    b = np.concatenate([b, *chain_b])
    repeats = rng.integers(1, 4, size=len(a))
    a = np.repeat(a, repeats)
    b = np.repeat(b, repeats)
    types = ["anonymous_id", "user_id", "email", "phone", "device_id", "crm_id", "customer_id"]
    connection.register("pairs_frame", pa.table({"a": a, "b": b}))
    connection.execute(
        f"""
        create or replace table bench.raw_pairs as
        select
            (list_value({", ".join(repr(t) for t in types)}))[1 + a % 7] as type_a,
            'v' || cast(hash(a, {seed}) as varchar) as value_a,
            (list_value({", ".join(repr(t) for t in types)}))[1 + b % 7] as type_b,
            'v' || cast(hash(b, {seed}) as varchar) as value_b
        from pairs_frame
        """
    )
    connection.unregister("pairs_frame")


def timed(connection: duckdb.DuckDBPyConnection, sql: str) -> float:
    started = time.perf_counter()
    connection.execute(sql)
    return time.perf_counter() - started


def run_operation(database: Path, work: Path, macro: str, args: str | None = None) -> float:
    """Wall seconds of `dbt run-operation macro [--args args]` against the benchmark database."""
    # Its own target folder: another command line in the build's folder would cost the next build a full
    # parse (dbt parses partially only when vars, profile and target are the ones it saved).
    env = {**os.environ, "SEGMENTATION_DUCKDB_PATH": str(database), "DBT_TARGET_PATH": str(work / "target_operation"),
           "DBT_LOG_PATH": str(work / "logs")}
    command = [str(Path(sys.executable).parent / "dbt"), "run-operation", macro, "--profiles-dir", "."]
    if args:
        command += ["--args", args]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(completed.stdout[-3000:])
    return elapsed


def scipy_components(node_ids: np.ndarray, node_a: np.ndarray, node_b: np.ndarray) -> tuple[np.ndarray, float]:
    """scipy's connected components of the edges (node_a, node_b) over the sorted, unique `node_ids`:
    one label per node id, and the seconds scipy took (building the sparse matrix included)."""
    a = np.searchsorted(node_ids, node_a)
    b = np.searchsorted(node_ids, node_b)
    started = time.perf_counter()
    matrix = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(len(node_ids), len(node_ids))).tocsr()
    _, labels = connected_components(matrix, directed=False)
    return labels, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identifiers", type=int, default=5_000_000)
    parser.add_argument("--chains", type=int, default=50)
    parser.add_argument("--chain-length", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        database = work / "identity_graph.duckdb"
        with duckdb.connect(str(database)) as connection:
            connection.execute("create schema bench")
            started = time.perf_counter()
            build_graph(connection, options.identifiers, options.chains, options.chain_length, options.seed)
            build_seconds = time.perf_counter() - started
            raw_pairs = connection.execute("select count(*) from bench.raw_pairs").fetchone()[0]
            t0 = timed(connection, "create table bench.t0 as select distinct * from bench.raw_pairs")
            encode = timed(connection, """
                create table bench.nodes as
                select row_number() over () as node_id, identifier_type, identifier_value from (
                    select distinct type_a as identifier_type, value_a as identifier_value from bench.raw_pairs
                    union select type_b, value_b from bench.raw_pairs
                );
                create table bench.edges as
                select distinct node_a.node_id as node_a, node_b.node_id as node_b
                from bench.raw_pairs as pairs
                join bench.nodes as node_a
                    on pairs.type_a = node_a.identifier_type and pairs.value_a = node_a.identifier_value
                join bench.nodes as node_b
                    on pairs.type_b = node_b.identifier_type and pairs.value_b = node_b.identifier_value;
            """)
            nodes = connection.execute("select count(*) from bench.nodes").fetchone()[0]
            edges = connection.execute("select count(*) from bench.edges").fetchone()[0]
            edge_arrays = connection.execute("select node_a, node_b from bench.edges").fetchnumpy()

        components_total = run_operation(
            database, work, "connected_components_to_table",
            "{edges: bench.edges, nodes: bench.nodes, output: bench.components}",
        )
        with duckdb.connect(str(database), read_only=True) as connection:
            rounds = connection.execute("select max(round_number) from bench.components_rounds").fetchone()[0]
            ours = connection.execute("select count(distinct component_id) from bench.components").fetchone()[0]
            components = float(connection.execute("select seconds from bench.components_seconds").fetchone()[0])

        labels, scipy_seconds = scipy_components(
            np.arange(1, nodes + 1), np.asarray(edge_arrays["node_a"]), np.asarray(edge_arrays["node_b"]))
        count = len(np.unique(labels))

    print(f"graph: {nodes:,} identifiers, {edges:,} distinct edges from {raw_pairs:,} raw pairs "
          f"({options.chains} chains of {options.chain_length:,}; built in {build_seconds:.1f} s)")
    print(f"components: {ours:,} (scipy: {count:,}) {'EQUAL COUNT' if ours == count else 'DIFFERENT COUNT'}")
    print(f"rounds: {rounds} (2*log2(nodes) = {2 * math.log2(nodes):.1f})")
    print(f"T0 (select distinct over raw pairs): {t0:.2f} s")
    print(f"encode strings to integer ids: {encode:.2f} s ({encode / t0:.1f}x T0)")
    print(f"components step: {components:.2f} s inside the warehouse ({components_total:.2f} s wall incl. dbt "
          f"start-up and parsing) = {components / t0:.1f}x T0")
    print(f"scipy connected_components (in memory): {scipy_seconds:.2f} s; ours / scipy = "
          f"{components / scipy_seconds:.1f}x")


if __name__ == "__main__":
    main()
