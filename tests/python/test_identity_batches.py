"""Stable profile ids: batches equal one full build, full refreshes keep every id, merges and splits
are logged in profile_merges, and a retired id is never issued again."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import PROJECT_ROOT, copy_project, run_dbt, split_into_batches

SELECTION = ["--select", "+identity_map", "+profile_merges", "+identity_edges"]
CUTS = ("2026-03-01", "2026-06-01", "2026-09-01")


def _batches(sample: Path, root: Path) -> list[Path]:
    return split_into_batches(sample, root, CUTS)


def _dbt(project: Path, database: Path, work: Path, *args: str) -> str:
    return run_dbt(database, work, *args, project=project)


IDENTIFIER_COLUMNS = ("node_id, identifier_type, identifier_value, first_seen_at, last_seen_at, observations, "
                      "source_count, is_blocked, block_reason")
LINK_COLUMNS = "node_a, node_b, first_seen_at, last_seen_at, observations, is_forced, source_models"
RULED_COLUMNS = LINK_COLUMNS + ", cut_by_rule, cut_reason, is_kept"
EDGE_COLUMNS = ("identifier_type_a, identifier_value_a, identifier_type_b, identifier_value_b, first_seen_at, "
                "last_seen_at, observations, is_forced, source_models")


def _inputs(database: Path) -> dict[str, set[tuple]]:
    """Every row of the identity graph's incremental tables."""
    with duckdb.connect(str(database), read_only=True) as connection:
        return {
            "identifiers": set(connection.execute(
                f"select {IDENTIFIER_COLUMNS} from identity.int_identity__identifiers").fetchall()),
            "links": set(connection.execute(f"select {LINK_COLUMNS} from identity.int_identity__links").fetchall()),
            "ruled": set(connection.execute(
                f"select {RULED_COLUMNS} from identity.int_identity__links_ruled").fetchall()),
            "edges": set(connection.execute(f"select {EDGE_COLUMNS} from identity.identity_edges").fetchall()),
        }


def _logged_count(pattern: str, output: str) -> int | None:
    match = re.search(pattern, output)
    return int(match.group(1)) if match else None


def _map(database: Path) -> set[tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return set(connection.execute(
            "select identifier_type, identifier_value, profile_id from identity.identity_map"
        ).fetchall())


@pytest.fixture(scope="module")
def batched(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("batches")
    sample = work / "sample"
    generate(sample, people=300, seed=5, end_date=date(2026, 11, 1), days=365)
    folders = _batches(sample, work)
    incremental = work / "incremental.duckdb"
    merges_per_batch = []
    recomputed = []
    touched = []
    inputs_per_batch = []
    decided = []
    edges_rewritten = []
    for folder in folders:
        load_folder(folder, Target(name="duckdb", kind="duckdb", duckdb_path=incremental))
        output = _dbt(PROJECT_ROOT, incremental, work, "build", *SELECTION)
        recomputed.append(_logged_count(r"incremental; (\d+) nodes recomputed", output))
        touched.append(_logged_count(r"identity inputs: incremental; (\d+) touched identifiers", output))
        decided.append(_logged_count(r"identity rules: incremental; (\d+) nodes whose links", output))
        edges_rewritten.append(_logged_count(r"identity edges: incremental; edges of (\d+) nodes", output))
        inputs_per_batch.append(_inputs(incremental))
        with duckdb.connect(str(incremental), read_only=True) as connection:
            merges_per_batch.append(connection.execute("select count(*) from identity.profile_merges").fetchone()[0])
    after_batches = _map(incremental)
    _dbt(PROJECT_ROOT, incremental, work, "build", "--full-refresh", *SELECTION)
    after_full_refresh = _map(incremental)

    full = work / "full.duckdb"
    for folder in folders:
        load_folder(folder, Target(name="duckdb", kind="duckdb", duckdb_path=full))
    _dbt(PROJECT_ROOT, full, work, "build", *SELECTION)
    return {
        "work": work, "incremental": incremental, "after_batches": after_batches,
        "after_full_refresh": after_full_refresh, "full_build": _map(full), "merges_per_batch": merges_per_batch,
        "recomputed": recomputed, "touched": touched, "inputs_per_batch": inputs_per_batch,
        "full_build_inputs": _inputs(full), "decided": decided, "edges_rewritten": edges_rewritten,
    }


def test_four_batches_equal_one_full_build(batched: dict) -> None:
    assert len(batched["after_batches"]) > 1000
    assert batched["after_batches"] == batched["full_build"]


def test_batches_after_the_first_recompute_only_touched_components(batched: dict) -> None:
    """The first build computes everything; later ones only the nodes of components a batch touched."""
    first, *later = batched["recomputed"]
    assert first is None
    assert all(count is not None and count < len(batched["after_batches"]) for count in later), later


def test_incremental_identifiers_and_links_equal_one_full_build(batched: dict) -> None:
    """int_identity__identifiers and int_identity__links built batch by batch hold exactly the rows of
    one full build: first/last seen, observations, source counts and lists, blocklist hits."""
    incremental, full = batched["inputs_per_batch"][-1], batched["full_build_inputs"]
    assert len(full["identifiers"]) > 1000 and len(full["links"]) > 1000
    assert incremental["identifiers"] - full["identifiers"] == set()
    assert full["identifiers"] - incremental["identifiers"] == set()
    assert incremental["links"] - full["links"] == set()
    assert full["links"] - incremental["links"] == set()


def test_incremental_rule_decisions_and_edges_equal_one_full_build(batched: dict) -> None:
    """int_identity__links_ruled (every decision and reason) and identity_edges built batch by batch
    hold exactly the rows of one full build."""
    incremental, full = batched["inputs_per_batch"][-1], batched["full_build_inputs"]
    assert len(full["ruled"]) > 1000 and len(full["edges"]) > 1000
    assert {row[-3] for row in full["ruled"]} >= {None, "limit"}
    assert incremental["ruled"] - full["ruled"] == set()
    assert full["ruled"] - incremental["ruled"] == set()
    assert incremental["edges"] - full["edges"] == set()
    assert full["edges"] - incremental["edges"] == set()


def test_batches_after_the_first_decide_only_the_links_around_touched_identifiers(batched: dict) -> None:
    """Later batches rewrite the rule decisions and edges of part of the nodes only, and the rows they
    did not rewrite are the rows the batch before left."""
    first, *later = batched["decided"]
    assert first is None and batched["edges_rewritten"][0] is None
    total = len(batched["full_build_inputs"]["identifiers"])
    assert all(count is not None and 0 < count < total for count in later), (later, total)
    assert all(count is not None and 0 < count < total for count in batched["edges_rewritten"][1:])
    for before, after in zip(batched["inputs_per_batch"], batched["inputs_per_batch"][1:], strict=False):
        kept_rows = before["ruled"] & after["ruled"]
        assert 0 < len(kept_rows) < len(after["ruled"])


def test_batches_after_the_first_recompute_only_touched_identifiers(batched: dict) -> None:
    first, *later = batched["touched"]
    assert first is None
    total = len(batched["full_build_inputs"]["identifiers"])
    assert all(count is not None and 0 < count < total for count in later), (later, total)


def test_batches_exercise_merged_sources_and_blocklisted_identifiers(batched: dict) -> None:
    """The equality above covers identifiers whose aggregates were merged across batches: one that
    gained a source in a later batch, and a blocklisted one seen again in a later batch."""
    def by_key(rows: set[tuple]) -> dict:
        return {row[0]: row for row in rows}

    snapshots = [by_key(inputs["identifiers"]) for inputs in batched["inputs_per_batch"]]
    gained_a_source = set()
    blocked_seen_again = set()
    for before, after in zip(snapshots, snapshots[1:], strict=False):
        for node_id, row in after.items():
            previous = before.get(node_id)
            if previous is None:
                continue
            if row[6] > previous[6]:
                gained_a_source.add(node_id)
            if row[7] and row[5] > previous[5]:
                blocked_seen_again.add(node_id)
    final = snapshots[-1]
    assert gained_a_source and all(final[node_id][6] >= 2 for node_id in gained_a_source)
    assert blocked_seen_again


def test_full_refresh_keeps_every_profile_id(batched: dict) -> None:
    assert batched["after_full_refresh"] == batched["after_batches"]


def test_merges_across_batches_are_logged(batched: dict) -> None:
    assert batched["merges_per_batch"][-1] > 0
    with duckdb.connect(str(batched["incremental"]), read_only=True) as connection:
        problems = connection.execute(
            """
            select merges.profile_id
            from identity.profile_merges as merges
            left join identity.identity_profile_registry as merged using (profile_id)
            left join identity.identity_profile_registry as survivor
                on merges.related_profile_id = survivor.profile_id
            where merges.change_type = 'merge'
              and (merged.retired_reason <> 'merged' or survivor.profile_id is null
                   or merges.profile_id in (select profile_id from identity.identity_map))
            """
        ).fetchall()
    assert problems == []


def _project_copy(root: Path) -> Path:
    return copy_project(root / "project")


def test_split_gets_a_new_id_and_a_retired_id_is_never_reused(batched: dict) -> None:
    work = batched["work"]
    project = _project_copy(work)
    database = batched["incremental"]
    with duckdb.connect(str(database), read_only=True) as connection:
        pair = connection.execute(
            """
            select edges.identifier_type_a, edges.identifier_value_a, edges.identifier_type_b,
                   edges.identifier_value_b, map.profile_id
            from identity.identity_edges as edges
            inner join identity.identity_map as map
                on edges.identifier_type_a = map.identifier_type and edges.identifier_value_a = map.identifier_value
            where map.profile_id in (
                select profile_id from identity.identity_map group by profile_id having count(*) = 2
            )
            order by map.profile_id
            limit 1
            """
        ).fetchone()
    type_a, value_a, type_b, value_b, original_id = pair
    overrides = project / "seeds" / "identity_overrides.csv"
    header = overrides.read_text()
    split_line = f"force_split,{type_a},{value_a},{type_b},{value_b},test split,pytest,2026-11-01 00:00:00\n"

    overrides.write_text(header + split_line)
    _dbt(project, database, work, "build", *SELECTION)
    split_map = {(t, v): p for t, v, p in _map(database)}
    assert split_map[(type_a, value_a)] != split_map[(type_b, value_b)]
    assert original_id in (split_map[(type_a, value_a)], split_map[(type_b, value_b)])
    new_id = ({split_map[(type_a, value_a)], split_map[(type_b, value_b)]} - {original_id}).pop()

    overrides.write_text(header)
    _dbt(project, database, work, "build", *SELECTION)
    merged_map = {(t, v): p for t, v, p in _map(database)}
    assert merged_map[(type_a, value_a)] == merged_map[(type_b, value_b)] == original_id

    overrides.write_text(header + split_line)
    _dbt(project, database, work, "build", *SELECTION)
    again = {(t, v): p for t, v, p in _map(database)}
    second_new_id = ({again[(type_a, value_a)], again[(type_b, value_b)]} - {original_id}).pop()
    assert second_new_id != new_id

    with duckdb.connect(str(database), read_only=True) as connection:
        log = connection.execute(
            "select change_type, profile_id, related_profile_id from identity.profile_merges "
            "where profile_id in (?, ?) order by changed_at", [new_id, second_new_id]
        ).fetchall()
    assert log == [
        ("split", new_id, original_id), ("merge", new_id, original_id), ("split", second_new_id, original_id)
    ]


def test_a_blocklist_change_rebuilds_the_inputs(batched: dict) -> None:
    """A new blocklist rule invalidates stored identifiers and links: the next run rebuilds both from all
    staged rows, with the same result as a full refresh."""
    work = batched["work"]
    project = copy_project(work / "project_blocklist")
    database = batched["incremental"]
    with duckdb.connect(str(database), read_only=True) as connection:
        node_id, value = connection.execute(
            """
            select node_id, identifier_value from identity.int_identity__identifiers
            where identifier_type = 'email' and not is_blocked
              and node_id in (select node_a from identity.int_identity__links)
            order by identifier_value
            limit 1
            """
        ).fetchone()
    blocklist = project / "seeds" / "identity_blocklist.csv"
    blocklist.write_text(blocklist.read_text() + f"email,exact,{value},pytest: blocked later\n")

    output = _dbt(project, database, work, "build", *SELECTION)
    assert "rebuilding int_identity__identifiers" in output and "rebuilding int_identity__links" in output
    rebuilt = _inputs(database)
    assert [row[7] for row in rebuilt["identifiers"] if row[0] == node_id] == [True]
    assert not [row for row in rebuilt["links"] if node_id in (row[0], row[1])]

    _dbt(project, database, work, "build", "--full-refresh", *SELECTION)
    assert _inputs(database) == rebuilt


def test_regex_rules_match_as_literals_with_quotes_and_backslashes(batched: dict) -> None:
    """The blocklist's regex rules reach the warehouse as literals (one compile per rule, not per row):
    a pattern and a reason with a quote and a backslash match and read as written, a typed rule
    leaves other types alone, and the rebuilt identifiers equal a full refresh's."""
    work = batched["work"]
    project = copy_project(work / "project_regex")
    database = work / "regex.duckdb"
    shutil.copy(batched["incremental"], database)
    with duckdb.connect(str(database), read_only=True) as connection:
        value = connection.execute(
            """
            select identifier_value from identity.int_identity__identifiers
            where identifier_type = 'email' and not is_blocked
              and regexp_matches(identifier_value, '^[a-vx-z][a-z0-9._-]*@[a-z0-9.-]+$')
            order by identifier_value
            limit 1
            """
        ).fetchone()[0]
    # \w stands for the first letter: without its backslash the pattern would need a literal "w".
    pattern = "^(o'neil@example\\.com|\\w" + re.escape(value[1:]) + ")$"
    blocklist = project / "seeds" / "identity_blocklist.csv"
    blocklist.write_text(
        blocklist.read_text()
        + f"email,regex,{pattern},pytest: the quote's rule\n"
        # Sorts first: were the type ignored, the email's block_reason (the least reason) would be this one.
        + f"phone,regex,{pattern},pytest: a rule for phones only\n"
    )

    _dbt(project, database, work, "build", *SELECTION)
    compiled = next((work / "target_project_regex" / "compiled").rglob("int_identity__identifiers.sql")).read_text()
    assert "'" + pattern.replace("'", "''") + "'" in compiled
    assert "cross join" not in compiled
    with duckdb.connect(str(database), read_only=True) as connection:
        hits = connection.execute(
            "select identifier_type, identifier_value, block_reason from identity.int_identity__identifiers "
            "where block_reason like '%pytest%'"
        ).fetchall()
    assert hits == [("email", value, f'regex "{pattern}": pytest: the quote\'s rule')]

    rebuilt = _inputs(database)
    _dbt(project, database, work, "build", "--full-refresh", *SELECTION)
    assert _inputs(database) == rebuilt
