"""PostgreSQL target on the project's own server: least-privilege roles see exactly what dbt grants them;
the sync delivers from it into another PostgreSQL database; BI and reverse-ETL reads keep working while
a run rebuilds the warehouse; the sync refuses the new build until its consent guard passed.
The tests share one warehouse and run in file order (the rebuild changes it)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import psycopg2
import pytest
import yaml
from psycopg2 import errors

from orchestration.dbt_runner import dbt_env
from orchestration.loader import load_folder
from orchestration.quality.runner import run_quality
from orchestration.sample_data import generate
from orchestration.sync import SyncRefused, run_sync
from orchestration.warehouse import Target, connect
from tests.python.helpers import DBT, PROJECT_ROOT, run_dbt, split_into_batches

AS_OF = ("2026-09-01", "2026-11-01")
# Schemas no reader role may touch: raw data, staging, identity, privacy, the full profiles and segments.
PRIVATE_SCHEMAS = ("raw", "staging", "identity", "privacy", "profiles", "segments", "activation", "quality")


# Each role and the variable `scripts/postgres.sh env` prints its password in.
PASSWORDS = {"bi_reader": "SEGMENTATION_PG_BI_READER_PASSWORD", "reverse_etl": "SEGMENTATION_PG_REVERSE_ETL_PASSWORD"}


@contextmanager
def _connect(warehouse: dict, role: str | None = None) -> Iterator:
    """A connection as `role` (default: the owner dbt uses), autocommit, closed on exit."""
    pg = warehouse["target"].postgres
    password = warehouse["connection"][PASSWORDS[role]] if role else pg.password
    connection = psycopg2.connect(host=pg.host, port=pg.port, dbname=pg.dbname, user=role or pg.user,
                                  password=password)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, pg_server) -> dict:
    """Batch 1 built and checked by the consent guard; batch 2 loaded but not yet built."""
    work = tmp_path_factory.mktemp("postgres")
    sample = work / "sample"
    generate(sample, people=400, seed=31, end_date=date(2026, 11, 1), days=365)
    batches = split_into_batches(sample, work / "batches", ("2026-09-01",))
    target = pg_server.database("roles")
    load_folder(batches[0], target)
    run_dbt(target, work, "build", "--vars", f"{{as_of: '{AS_OF[0]}'}}", unit_tests=True)  # the SQL on PostgreSQL
    assert run_quality(target, docs_dir=work / "docs").critical_passed
    return {"target": target, "work": work, "next_batch": batches[1], "connection": pg_server.connection}


def _readable(connection, sql: str) -> bool:
    with connection.cursor() as cursor:
        try:
            cursor.execute(sql)
            cursor.fetchall()
            return True
        except errors.InsufficientPrivilege:
            return False


def _tables(warehouse: dict, schema: str) -> list[str]:
    with _connect(warehouse) as owner, owner.cursor() as cursor:
        cursor.execute("select table_name from information_schema.tables where table_schema = %s", (schema,))
        return sorted(row[0] for row in cursor.fetchall())


def _pii_columns(warehouse: dict) -> set[str]:
    """Names of the pii-tagged columns of every model, from the manifest dbt wrote for the build."""
    manifest = json.loads((warehouse["work"] / f"target_{PROJECT_ROOT.name}" / "manifest.json").read_text())
    return {
        column["name"].lower()
        for node in manifest["nodes"].values()
        for column in node.get("columns", {}).values()
        if {**column.get("meta", {}), **(column.get("config") or {}).get("meta", {})}.get("pii")
    }


def test_bi_reader_reads_the_pii_free_bi_views_and_nothing_else(warehouse: dict) -> None:
    bi_views = _tables(warehouse, "bi")
    assert {"profiles", "profile_traits", "profile_consent", "segment_memberships", "segment_catalog"} <= set(bi_views)
    with _connect(warehouse, "bi_reader") as reader:
        for view in bi_views:
            assert _readable(reader, f"select * from bi.{view} limit 5"), f"bi_reader cannot read bi.{view}"
        with reader.cursor() as cursor:
            cursor.execute("select count(*) from bi.profiles")
            assert cursor.fetchone()[0] > 0
            cursor.execute("select table_name, column_name from information_schema.columns where table_schema = 'bi'")
            visible = cursor.fetchall()
        for schema in PRIVATE_SCHEMAS + ("activation_published",):
            for table in _tables(warehouse, schema):
                readable = _readable(reader, f'select 1 from {schema}."{table}" limit 1')
                assert not readable, f"bi_reader read {schema}.{table}"
        assert not _readable(reader, "create table bi.scratch (x int)")
    # No column bi_reader can see is tagged as personal data in the model the view serves.
    tagged = _pii_columns(warehouse)
    assert {"email", "phone", "first_name"} <= tagged  # the tags were found, so the check can fail
    leaked = sorted({(table, column) for table, column in visible if column in tagged})
    assert leaked == []


def test_reverse_etl_reads_published_activation_only(warehouse: dict) -> None:
    with _connect(warehouse, "reverse_etl") as reader:
        for view in _tables(warehouse, "activation_published"):
            assert _readable(reader, f"select * from activation_published.{view} limit 5")
        with reader.cursor() as cursor:
            cursor.execute("select count(*) from activation_published.activation_email")
            assert cursor.fetchone()[0] > 0  # the guard passed, so the build is published
        for schema in PRIVATE_SCHEMAS + ("bi",):
            for table in _tables(warehouse, schema):
                readable = _readable(reader, f'select 1 from {schema}."{table}" limit 1')
                assert not readable, f"reverse_etl read {schema}.{table}"


def _crm_members(crm: Target) -> dict[tuple[str, str], tuple]:
    with connect(crm) as database:
        rows = database.query("select segment_name, profile_id, email, first_name, last_name, country_code "
                              "from marketing.segment_members")
    return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def _published_email(warehouse: dict) -> dict[tuple[str, str], tuple]:
    with _connect(warehouse, "reverse_etl") as reader, reader.cursor() as cursor:
        cursor.execute("select segment_name, profile_id, email, first_name, last_name, country_code "
                       "from activation_published.activation_email")
        return {(row[0], row[1]): tuple(row[2:]) for row in cursor.fetchall()}


def test_the_sync_runs_from_a_postgres_warehouse_into_a_crm_postgres_table(
    warehouse: dict, pg_server, tmp_path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The built-in sync on the PostgreSQL target, upserting into another PostgreSQL database: the table
    ends equal to the published rows, and a second sync finds nothing to send."""
    crm = pg_server.database("crm")
    pg = crm.postgres
    monkeypatch.setenv("TEST_CRM_URL", f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.dbname}")
    config = tmp_path / "destinations.yml"
    config.write_text(yaml.safe_dump({"destinations": [{
        "name": "crm_table", "type": "sql", "channel": "email", "batch_size": 50,
        "connection_env": "TEST_CRM_URL", "table": "marketing.segment_members"}]}))
    [first] = run_sync(warehouse["target"], config)
    assert first.status == "ok" and first.delivered > 0
    assert _crm_members(crm) == _published_email(warehouse) != {}
    [second] = run_sync(warehouse["target"], config)
    assert second.status == "ok" and second.changes_read == 0 and second.cursor_after == first.cursor_after


def test_readers_see_the_old_or_the_new_tables_while_a_run_rebuilds_them(warehouse: dict) -> None:
    """Readers query in a loop through a whole dbt build of new data: no error, no empty or half-built
    table; every count they see is the count before the run or after it.

    The batch carries no deletion requests: an erasure deletes the person from every table as soon as
    privacy_suppressions runs, mid-run by design, so readers would (rightly) also see that state."""
    target = warehouse["target"]
    for requests in warehouse["next_batch"].glob("deletion_requests*"):
        requests.unlink()
    load_folder(warehouse["next_batch"], target)
    queries = {
        "bi_reader": ["select count(*) from bi.profiles", "select count(*) from bi.segment_memberships",
                      "select coalesce(sum(order_count), 0) from bi.profile_traits"],
        "reverse_etl": ["select count(*) from activation_published.people"],
    }
    seen: dict[str, Counter] = {sql: Counter() for sqls in queries.values() for sql in sqls}
    failures: list[str] = []
    stop = threading.Event()

    def read_loop(role: str, sqls: list[str]) -> None:
        with _connect(warehouse, role) as reader, reader.cursor() as cursor:
            while not stop.is_set():
                for sql in sqls:
                    try:
                        cursor.execute(sql)
                        seen[sql][cursor.fetchone()[0]] += 1
                    except psycopg2.Error as error:
                        failures.append(f"{role}: {sql}: {error}")
                time.sleep(0.02)

    before = {sql: _owner_count(warehouse, sql) for sql in seen}
    readers = [threading.Thread(target=read_loop, args=(role, sqls)) for role, sqls in queries.items()]
    for reader in readers:
        reader.start()
    env = {**os.environ, **dbt_env(target), "DBT_TARGET_PATH": str(warehouse["work"] / "target_rebuild"),
           "DBT_LOG_PATH": str(warehouse["work"] / "logs")}
    build = subprocess.run(
        [DBT, "build", "--vars", f"{{as_of: '{AS_OF[1]}'}}", "--project-dir", str(PROJECT_ROOT),
         "--profiles-dir", str(PROJECT_ROOT)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    time.sleep(0.5)
    stop.set()
    for reader in readers:
        reader.join()
    assert build.returncode == 0, build.stdout[-3000:]
    after = {sql: _owner_count(warehouse, sql) for sql in seen}
    assert failures == []
    assert any(before[sql] != after[sql] for sql in seen if "bi." in sql)  # the run changed what BI sees
    for sql, counts in seen.items():
        assert sum(counts.values()) >= 20, f"too few reads of {sql} during the build to prove anything"
        # The published view shows nothing between a build and its consent-guard check, by design.
        allowed = {before[sql], after[sql]} | ({0} if "activation_published" in sql else set())
        assert set(counts) <= allowed, f"{sql}: saw {dict(counts)}, before {before[sql]}, after {after[sql]}"


def _owner_count(warehouse: dict, sql: str) -> int:
    with _connect(warehouse) as owner, owner.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_the_sync_refuses_a_build_the_consent_guard_has_not_checked(warehouse: dict, tmp_path) -> None:
    """After the rebuild above, the new build has not been checked: the sync refuses it on PostgreSQL too."""
    config = tmp_path / "destinations.yml"
    config.write_text(yaml.safe_dump({"destinations": [{
        "name": "files", "type": "file", "channel": "email", "folder": str(tmp_path / "out"), "format": "jsonl"}]}))
    with pytest.raises(SyncRefused, match="sync refused"):
        run_sync(warehouse["target"], config)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.jsonl"))
    assert run_quality(warehouse["target"], docs_dir=warehouse["work"] / "docs").critical_passed
    [report] = run_sync(warehouse["target"], config)
    assert report.status == "ok" and report.delivered > 0
