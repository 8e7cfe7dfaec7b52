"""The identity graph after the inputs is maintained incrementally (macros/identity/incremental_graph.sql):
rule decisions, components, limits, anchors, the registry, the map and the edges. After every batch,
on both engines, the warehouse equals what a --full-refresh of the same warehouse computes, and the
batch rewrote only part of the rows."""

from __future__ import annotations

import re
import shutil
from datetime import date

import pytest

from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import open_query, run_dbt, split_into_batches

SELECTION = ["--select", "+identity_map", "+profile_merges", "+identity_edges", "+identity_largest_profiles"]
CUTS = ("2026-03-01", "2026-06-01", "2026-09-01")
LINK_COLUMNS = "node_a, node_b, first_seen_at, last_seen_at, observations, is_forced, source_models"
# Component labels are one node id of their component; which one depends on the path taken, so
# components are compared as the partition they form.
PARTITIONS = ("identity.int_identity__components", "identity.int_identity__components_limited")
ROWS = {
    "identity.int_identity__links_ruled": LINK_COLUMNS + ", cut_by_rule, cut_reason, is_kept",
    "identity.int_identity__limit_cuts": "node_a, node_b",
    "identity.int_identity__profile_anchors": "anchor_type, anchor_value, anchor_first_seen_at, identifiers",
    "identity.identity_profile_registry": "profile_id, anchor_type, anchor_value, generation, split_from_profile_id, "
                                          "retired_reason, merged_into_profile_id",
    "identity.identity_map": "identifier_type, identifier_value, profile_id, first_seen_at, last_seen_at",
    "identity.int_identity__profile_sizes": "profile_id, identifiers, email_count, first_seen_at, last_seen_at",
    "identity.identity_largest_profiles": "profile_id, identifiers, size_rank",
    "identity.identity_edges": "identifier_type_a, identifier_value_a, identifier_type_b, identifier_value_b, "
                               "first_seen_at, last_seen_at, observations, is_forced, source_models",
}
# What an incremental run logs it rewrote, per model.
LOGGED = {
    "rules": r"identity rules: incremental; (\d+) nodes whose links",
    "components": r"limit_components: incremental; (\d+) nodes of changed components",
    "edges": r"identity edges: incremental; edges of (\d+) nodes",
}


def _graph(target: Target) -> dict[str, object]:
    with open_query(target) as query:
        graph: dict[str, object] = {
            table: set(query(f"select {columns} from {table}")) for table, columns in ROWS.items()
        }
        for table in PARTITIONS:
            groups: dict[int, set[int]] = {}
            for node_id, component_id in query(f"select node_id, component_id from {table}"):
                groups.setdefault(component_id, set()).add(node_id)
            graph[table] = frozenset(frozenset(group) for group in groups.values())
        graph["identifiers"] = query("select count(*) from identity.int_identity__identifiers")[0][0]
    return graph


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def batches(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    work = tmp_path_factory.mktemp(f"incremental_graph_{request.param}")
    sample = work / "sample"
    generate(sample, people=300, seed=13, end_date=date(2026, 11, 1), days=365)
    folders = split_into_batches(sample, work, CUTS)
    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")
        target = server.database("identity_graph")
    else:
        target = Target(name="duckdb", kind="duckdb", duckdb_path=work / "incremental.duckdb")
    results = []
    for index, folder in enumerate(folders):
        load_folder(folder, target)
        output = run_dbt(target, work, "build", *SELECTION)
        logged = {}
        for name, pattern in LOGGED.items():
            match = re.search(pattern, output)
            logged[name] = int(match.group(1)) if match else None
        # The same warehouse, copied, rebuilt with --full-refresh: what the incremental run had to produce.
        if request.param == "postgres":
            check = server.database(f"identity_graph_check_{index}", template="identity_graph")
        else:
            copy = work / f"check_{index}.duckdb"
            shutil.copyfile(target.duckdb_path, copy)
            check = Target(name="duckdb", kind="duckdb", duckdb_path=copy)
        run_dbt(check, work, "build", "--full-refresh", *SELECTION)
        results.append({"logged": logged, "incremental": _graph(target), "rebuilt": _graph(check)})
    return results


def test_every_batch_equals_a_full_refresh_of_the_same_warehouse(batches: list[dict]) -> None:
    assert len(batches) == len(CUTS) + 1
    for number, batch in enumerate(batches, start=1):
        incremental, rebuilt = batch["incremental"], batch["rebuilt"]
        assert len(incremental["identity.identity_map"]) > 100
        for table in incremental:
            assert incremental[table] == rebuilt[table], (number, table)


def test_the_batches_exercise_limits_and_merges(batches: list[dict]) -> None:
    """The equality is not vacuous: limits cut links, and ids merge across batches."""
    last = batches[-1]["incremental"]
    assert {row[-3] for row in last["identity.int_identity__links_ruled"]} >= {None, "limit"}
    assert any(row[5] == "merged" for row in last["identity.identity_profile_registry"])


def test_later_batches_rewrite_only_part_of_the_graph(batches: list[dict]) -> None:
    """The first build computes everything; each later one rewrites the rule decisions, limited components,
    anchors, ids, map rows and edges of part of the nodes only."""
    first, *later = batches
    assert set(first["logged"].values()) == {None}
    for batch in later:
        identifiers = batch["incremental"]["identifiers"]
        for name, count in batch["logged"].items():
            assert count is not None and 0 < count < identifiers, (name, count, identifiers)
