"""Connected components in SQL (randomized contraction, macros/identity/connected_components.sql)
give exactly scipy's partition, in a number of rounds that grows with log(nodes), not the diameter."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _graph(seed: int) -> tuple[int, np.ndarray]:
    """Long chains (diameter >= 2,000), stars, a grid-like blob and many small components, shuffled ids."""
    rng = np.random.default_rng(seed)
    edges: list[np.ndarray] = []
    next_id = 0

    def block(size: int) -> np.ndarray:
        nonlocal next_id
        ids = np.arange(next_id, next_id + size)
        next_id += size
        return ids

    for length in (2_500, 2_001, 300):  # chains
        ids = block(length)
        edges.append(np.stack([ids[:-1], ids[1:]], axis=1))
    for leaves in (1_000, 50, 7):  # stars / hubs
        ids = block(leaves + 1)
        edges.append(np.stack([np.full(leaves, ids[0]), ids[1:]], axis=1))
    ids = block(3_000)  # a random sparse blob
    edges.append(rng.choice(ids, size=(4_000, 2)))
    for _ in range(2_000):  # many small components of 2-4 nodes
        ids = block(int(rng.integers(2, 5)))
        edges.append(np.stack([ids[:-1], ids[1:]], axis=1))
    block(500)  # isolated nodes
    all_edges = np.concatenate(edges)
    all_edges = np.concatenate([all_edges, all_edges[: len(all_edges) // 10, ::-1]])  # duplicates, reversed
    permutation = rng.permutation(next_id) + 1  # ids 1..n in random order
    return next_id, permutation[all_edges]


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Relabel a partition by the smallest member of each part, so two labelings compare equal."""
    order = np.argsort(labels, kind="stable")
    smallest = {}
    for node in order:
        smallest.setdefault(labels[node], node)
    return np.array([smallest[label] for label in labels])


def _components_operation(database: Path, tmp_path: Path, extra_args: str) -> subprocess.CompletedProcess:
    """`dbt run-operation connected_components_to_table` on graph.edges / graph.nodes of `database`."""
    env = {
        **os.environ,
        "SEGMENTATION_DUCKDB_PATH": str(database),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run-operation", "connected_components_to_table",
         "--profiles-dir", ".", "--args",
         "{edges: graph.edges, nodes: graph.nodes, output: graph.components" + extra_args + "}"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_partition_equals_scipy_on_long_chains_stars_and_small_components(tmp_path: Path, seed: int) -> None:
    nodes, edges = _graph(seed)
    database = tmp_path / "components.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema graph")
        connection.execute("create table graph.nodes as select range + 1 as node_id from range(?)", [nodes])
        edge_table = pa.table({"node_a": edges[:, 0], "node_b": edges[:, 1]})
        connection.register("edge_table", edge_table)
        connection.execute("create table graph.edges as select node_a, node_b from edge_table")

    completed = _components_operation(database, tmp_path, "")
    assert completed.returncode == 0, completed.stdout[-3000:]

    with duckdb.connect(str(database), read_only=True) as connection:
        ours = connection.execute("select node_id, component_id from graph.components order by node_id").fetchnumpy()
        rounds = connection.execute("select max(round_number) from graph.components_rounds").fetchone()[0]

    assert len(ours["node_id"]) == nodes
    matrix = coo_matrix((np.ones(len(edges)), (edges[:, 0] - 1, edges[:, 1] - 1)), shape=(nodes, nodes))
    count, scipy_labels = connected_components(matrix, directed=False)
    our_labels = np.asarray(ours["component_id"])
    assert len(np.unique(our_labels)) == count
    assert np.array_equal(_canonical(our_labels), _canonical(scipy_labels))
    # The longest chain has diameter 2,499; rounds stay logarithmic in the number of nodes.
    assert rounds <= 2 * math.log2(nodes), rounds


def test_round_guard_fails_loudly(tmp_path: Path) -> None:
    database = tmp_path / "components.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema graph")
        connection.execute("create table graph.nodes as select range + 1 as node_id from range(1000)")
        connection.execute(
            "create table graph.edges as select range + 1 as node_a, range + 2 as node_b from range(999)"
        )
    completed = _components_operation(database, tmp_path, ", max_rounds: 2")
    assert completed.returncode != 0
    assert "did not converge within 2 rounds" in completed.stdout
    with duckdb.connect(str(database), read_only=True) as connection:
        tables = {row[0] for row in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'graph'"
        ).fetchall()}
    assert "components" not in tables
