"""The identity graph after the inputs is maintained incrementally (macros/identity/incremental_graph.sql):
rule decisions, components, limits, anchors, the registry, the map and the edges. After every batch,
on both engines, the warehouse equals what a --full-refresh of the same warehouse computes, and the
batch rewrote only part of the rows. Small change sets are written into the SQL as literals
(identity_keys): each engine runs the same batches into two warehouses, one with every set as literals
and one with every set as a subquery (var identity_literal_keys_max 0); both must equal the full
refresh of the same data, so they equal each other."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import open_query, rebuilt_copy, run_dbt, split_into_batches

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


# The change sets as literals (any set of the test is smaller than this bound) or as subqueries.
KEY_PATHS = {"literal": "{identity_literal_keys_max: 1000000}", "subquery": "{identity_literal_keys_max: 0}"}
# The dirty nodes' work table: named in the anchors' SQL only when the changed labels are a subquery.
DIRTY_NODES = "int_identity__components_limited__dirty"


def _compiled_anchors(work: Path) -> str:
    compiled = "target_*/compiled/segmentation/models/identity/int_identity__profile_anchors.sql"
    return next(work.glob(compiled)).read_text()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Per engine, the same batches built into two warehouses, one per key path; after each batch one
    copy of the first is rebuilt from scratch (--full-refresh), the answer both must equal."""
    engine = request.param
    work = tmp_path_factory.mktemp(f"incremental_graph_{engine}")
    sample = work / "sample"
    generate(sample, people=300, seed=13, end_date=date(2026, 11, 1), days=365)
    folders = split_into_batches(sample, work, CUTS)
    targets = {}
    for path in KEY_PATHS:
        if engine == "postgres":
            targets[path] = request.getfixturevalue("pg_server").database(f"identity_graph_{path}")
        else:
            targets[path] = Target(name="duckdb", kind="duckdb", duckdb_path=work / f"{path}.duckdb")
    results: dict[str, dict] = {path: {"batches": []} for path in KEY_PATHS}
    for index, folder in enumerate(folders):
        for path, target in targets.items():
            load_folder(folder, target)
            output = run_dbt(target, work / path, "build", *SELECTION, "--vars", KEY_PATHS[path])
            logged = {}
            for name, pattern in LOGGED.items():
                match = re.search(pattern, output)
                logged[name] = int(match.group(1)) if match else None
            results[path]["batches"].append({"logged": logged, "incremental": _graph(target),
                                             "dirty_nodes_named": DIRTY_NODES in _compiled_anchors(work / path)})
        # The same warehouse, copied, rebuilt with --full-refresh: what the incremental runs had to produce
        # (the raw data of both warehouses is the same).
        check = rebuilt_copy(request, targets["literal"], work, f"identity_graph_check_{index}",
                             "run", "--full-refresh", *SELECTION, dbt_work=work / "check")
        rebuilt = _graph(check)
        for path in KEY_PATHS:
            results[path]["batches"][-1]["rebuilt"] = rebuilt
    # Again with no new data: no identifier is touched, every change set is empty.
    for path, target in targets.items():
        before = _graph(target)
        output = run_dbt(target, work / path, "build", *SELECTION, "--vars", KEY_PATHS[path])
        results[path]["rerun"] = {"touched": re.search(r"incremental; (\d+) touched identifiers", output),
                                  "before": before, "after": _graph(target)}
    return {"engine": engine, "paths": results}


@pytest.mark.parametrize("path", KEY_PATHS)
def test_every_batch_equals_a_full_refresh_of_the_same_warehouse(run: dict, path: str) -> None:
    batches = run["paths"][path]["batches"]
    assert len(batches) == len(CUTS) + 1
    for number, batch in enumerate(batches, start=1):
        incremental, rebuilt = batch["incremental"], batch["rebuilt"]
        assert len(incremental["identity.identity_map"]) > 100
        for table in incremental:
            assert incremental[table] == rebuilt[table], (number, table)


@pytest.mark.parametrize("path", KEY_PATHS)
def test_the_batches_exercise_limits_and_merges(run: dict, path: str) -> None:
    """The equality is not vacuous: limits cut links, and ids merge across batches."""
    batches = run["paths"][path]["batches"]
    last = batches[-1]["incremental"]
    assert {row[-3] for row in last["identity.int_identity__links_ruled"]} >= {None, "limit"}
    assert any(row[5] == "merged" for row in last["identity.identity_profile_registry"])


@pytest.mark.parametrize("path", KEY_PATHS)
def test_later_batches_rewrite_only_part_of_the_graph(run: dict, path: str) -> None:
    """The first build computes everything; each later one rewrites the rule decisions, limited components,
    anchors, ids, map rows and edges of part of the nodes only."""
    batches = run["paths"][path]["batches"]
    first, *later = batches
    assert set(first["logged"].values()) == {None}
    for batch in later:
        identifiers = batch["incremental"]["identifiers"]
        for name, count in batch["logged"].items():
            assert count is not None and 0 < count < identifiers, (name, count, identifiers)


@pytest.mark.parametrize("path", KEY_PATHS)
def test_later_batches_take_the_key_path_asked_for(run: dict, path: str) -> None:
    """The literal run writes the changed labels into the anchors' SQL; the subquery run reads them from
    the dirty nodes."""
    for batch in run["paths"][path]["batches"][1:]:
        assert batch["dirty_nodes_named"] == (path == "subquery")


@pytest.mark.parametrize("path", KEY_PATHS)
def test_a_run_with_no_new_data_changes_nothing(run: dict, path: str) -> None:
    rerun = run["paths"][path]["rerun"]
    assert rerun["touched"] is not None and int(rerun["touched"].group(1)) == 0
    assert rerun["after"] == rerun["before"]

