"""The sync's set-based bookkeeping statements (orchestration/sync/bulk.py) on both engines: thousands of
rows loaded through a temporary table give the same table as applying them one by one would, and a
column Arrow cannot type (DuckDB) still loads, value by value."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from orchestration.sync import bulk
from orchestration.warehouse import Target, connect

COLUMNS = ("destination_name", "segment_name", "profile_id", "row_hash", "change_id", "synced_at")
KEY = ("destination_name", "segment_name", "profile_id")


@pytest.fixture(params=["duckdb", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "duckdb":
        return Target(name="duckdb", kind="duckdb", duckdb_path=tmp_path / "bulk.duckdb")
    return request.getfixturevalue("pg_server").database("sync_bulk")


def _row(destination: str, segment: str, profile: int, version: int) -> list:
    return [destination, segment, f"prof_{profile:05d}", f"hash_{profile}_{version}", f"change_{version}_{profile}",
            datetime(2026, 11, 1) + timedelta(seconds=profile + version)]


def test_upserts_and_scoped_deletes_of_thousands_of_rows_match_applying_them_one_by_one(target: Target) -> None:
    shuffle = random.Random(7)
    expected: dict[tuple, list] = {}
    first = [_row(d, s, p, 1) for d in ("email", "ads") for s in ("vip", "churn") for p in range(1_200)]
    # Half of these replace a row (new hash, change and time), half are new profiles.
    second = [_row("email", s, p, 2) for s in ("vip", "churn") for p in range(600, 1_800)]
    # Deleted within the email destination only: the same segments and profiles stay under ads.
    gone = [["vip", f"prof_{p:05d}"] for p in range(0, 1_500, 3)]
    for batch in (first, second):
        shuffle.shuffle(batch)
    with connect(target) as warehouse:
        warehouse.execute("create schema if not exists sync")
        warehouse.execute("drop table if exists sync.members")
        warehouse.execute(
            "create table sync.members (destination_name varchar, segment_name varchar, profile_id varchar, "
            "row_hash varchar, change_id varchar, synced_at timestamp, "
            "primary key (destination_name, segment_name, profile_id))")
        for batch in (first, second):
            warehouse.begin()
            bulk.insert(warehouse, "sync.members", COLUMNS, batch, conflict=KEY)
            warehouse.commit()
            expected.update({tuple(row[:3]): row for row in batch})
        warehouse.begin()
        member = ("segment_name", "profile_id")
        bulk.delete(warehouse, "sync.members", member, gone, scope=("destination_name", "email"))
        bulk.delete(warehouse, "sync.members", member, [], scope=("destination_name", "ads"))
        warehouse.commit()
        for segment, profile in gone:
            expected.pop(("email", segment, profile), None)
        held = warehouse.query(f"select {', '.join(COLUMNS)} from sync.members")
        leftovers = warehouse.query(
            "select count(*) from information_schema.tables where table_name like 'bulk_rows_%'")[0][0]
    assert sorted(list(row) for row in held) == sorted(expected.values())
    assert len(held) == 4 * 1_200 + 2 * 600 - 500  # each of the 500 deleted keys was held by email
    assert leftovers == 0  # the temporary tables are dropped


def test_a_column_of_mixed_python_types_loads_with_each_value_cast_by_duckdb(tmp_path: Path) -> None:
    target = Target(name="duckdb", kind="duckdb", duckdb_path=tmp_path / "mixed.duckdb")
    rows = [[f"k{index}", value] for index, value in enumerate([1, "two", 3.5, None] * 300)]
    with connect(target) as warehouse:
        warehouse.execute("create table t (k varchar primary key, v varchar)")
        bulk.insert(warehouse, "t", ("k", "v"), rows)
        held = dict(warehouse.query("select k, v from t"))
    assert len(held) == 1_200
    assert [held[f"k{index}"] for index in range(4)] == ["1", "two", "3.5", None]


def test_a_failing_statement_raises_its_own_error_and_the_rollback_leaves_the_table_as_it_was(target: Target) -> None:
    """A key already held, inserted without `conflict`: the constraint's error reaches the caller (not
    PostgreSQL's "transaction is aborted" from a cleanup), and after the rollback nothing changed."""
    rows = [_row("email", "vip", profile, 1) for profile in range(50)]
    with connect(target) as warehouse:
        warehouse.execute("create schema if not exists sync")
        warehouse.execute("drop table if exists sync.held")
        warehouse.execute(
            "create table sync.held (destination_name varchar, segment_name varchar, profile_id varchar, "
            "row_hash varchar, change_id varchar, synced_at timestamp, "
            "primary key (destination_name, segment_name, profile_id))")
        bulk.insert(warehouse, "sync.held", COLUMNS, rows)
        warehouse.begin()
        with pytest.raises(Exception, match="(?i)duplicate key") as raised:
            bulk.insert(warehouse, "sync.held", COLUMNS, [_row("email", "vip", 7, 2)])
        warehouse.rollback()
        held = warehouse.query(f"select {', '.join(COLUMNS)} from sync.held")
    assert "aborted" not in str(raised.value)
    assert sorted(list(row) for row in held) == sorted(rows)
