"""Reverse-ETL sync on a real warehouse (600 sample people, two dbt runs with added and removed
changes, consent guard passed): a flaky local webhook receiver gets every change exactly once as
applied and ends with exactly the published activation rows; dead letters; the consent gate; a sync
killed mid-run and restarted ends in the same state; file and SQL destinations."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import yaml

from orchestration.loader import load_folder
from orchestration.quality.runner import run_quality
from orchestration.sample_data import generate
from orchestration.sync import ConfigError, SyncRefused, run_sync
from orchestration.sync.config import DEFAULT_CONFIG_PATH, load_config
from orchestration.warehouse import Target
from tests.python.helpers import PROJECT_ROOT, run_dbt, split_into_batches
from tests.python.webhook_receiver import Receiver

PAYLOAD = {"email": ["email", "first_name", "last_name", "country_code"], "crm": ["crm_id", "lifecycle_stage"]}


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """run1: the first dbt run, checked by the consent guard; run2: the same warehouse after a second
    run with newer data (people enter and leave segments), checked again."""
    work = tmp_path_factory.mktemp("sync")
    generate(work / "sample", people=600, seed=23, end_date=date(2026, 11, 1), days=365)
    first, second = split_into_batches(work / "sample", work / "batches", ("2026-09-01",))
    database = work / "warehouse.duckdb"
    target = Target(name="duckdb", kind="duckdb", duckdb_path=database)
    snapshots = {}
    for name, batch, as_of in (("run1", first, "2026-09-01"), ("run2", second, "2026-11-01")):
        load_folder(batch, target)
        run_dbt(database, work, "build", "--vars", f"{{as_of: '{as_of}'}}")
        assert run_quality(target, docs_dir=work / "docs").critical_passed
        snapshots[name] = work / f"{name}.duckdb"
        shutil.copy(database, snapshots[name])
    return snapshots


def _copy(warehouses: dict[str, Path], name: str, tmp_path: Path) -> Target:
    database = tmp_path / f"{name}.duckdb"
    shutil.copy(warehouses[name], database)
    return Target(name="duckdb", kind="duckdb", duckdb_path=database)


def _config(tmp_path: Path, *destinations: dict[str, Any]) -> Path:
    path = tmp_path / "destinations.yml"
    path.write_text(yaml.safe_dump({"destinations": list(destinations)}))
    return path


def _webhook(url: str, **settings: Any) -> dict[str, Any]:
    return {
        "name": "hook", "type": "webhook", "channel": "email", "url": url, "batch_size": 10,
        "timeout_seconds": 0.5, "max_attempts": 4, "backoff": {"base_seconds": 0.01, "max_seconds": 0.05},
        **settings,
    }


def _cli_env(target: Target) -> dict[str, str]:
    """Environment of `python -m orchestration.cli` on this project and warehouse."""
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "SEGMENTATION_DUCKDB_PATH": str(target.duckdb_path)}


def _query(target: Target, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(target.duckdb_path), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def _email_segments(target: Target) -> list[str]:
    return [row[0] for row in _query(
        target, "select segment_name from segments.segment_catalog where ',' || destinations || ',' like '%,email,%'")]


def _changes(target: Target, segments: list[str]) -> list[tuple]:
    """(change_id, changed_at, segment, profile_id, change_type) of the segments, in cursor order."""
    marks = ", ".join("?" * len(segments))
    return _query(
        target,
        "select change_id, changed_at, segment_name, profile_id, change_type from segments.segment_membership_changes "
        f"where segment_name in ({marks}) order by changed_at, change_id", segments,
    )


def _published(target: Target, channel: str = "email") -> dict[tuple[str, str], dict[str, Any]]:
    """The published activation rows of a channel: what a destination must hold after a sync."""
    columns = PAYLOAD[channel]
    rows = _query(target, f"select segment_name, profile_id, {', '.join(columns)} "
                          f"from activation_published.activation_{channel}")
    return {(row[0], row[1]): dict(zip(columns, row[2:], strict=True)) for row in rows}


def _cursor(target: Target, destination: str) -> tuple | None:
    rows = _query(target, "select changed_at, change_id from sync.cursors where destination_name = ?", [destination])
    return rows[0] if rows else None


def _acknowledged_change_records(target: Target, destination: str) -> int:
    return _query(target, "select coalesce(sum(records), 0) from sync.deliveries where destination_name = ? "
                          "and kind = 'changes' and status = 'acknowledged'", [destination])[0][0]


def _applied_changes(receiver: Receiver) -> set[str]:
    return {record["change_id"] for record in receiver.applied.values()}


def test_every_change_reaches_a_flaky_webhook_exactly_once_and_the_cursor_ends_at_the_last(
    warehouses: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = _copy(warehouses, "run2", tmp_path)
    monkeypatch.setenv("TEST_HOOK_TOKEN", "s3cret")

    def fault(number: int) -> int | str | None:
        """For the first 45 requests two of every three fail (500, 429, or an answer after the timeout)."""
        if number > 45 or number % 3 == 0:
            return None
        return 500 if number % 3 == 1 else (429 if number % 2 else "slow")

    with Receiver(fault) as receiver:
        config = _config(tmp_path, _webhook(
            receiver.url, auth={"header": "Authorization", "scheme": "Bearer", "token_env": "TEST_HOOK_TOKEN"}))
        [report] = run_sync(target, config)
    changes = _changes(target, _email_segments(target))
    assert len(changes) > 100
    assert report.status == "ok" and report.dead_lettered == 0, report
    assert report.retries > 0
    # Every change applied; a timed-out request was applied and resent: the receiver saw duplicates.
    assert {change[0] for change in changes} <= _applied_changes(receiver)
    assert receiver.duplicates > 0
    assert receiver.state() == _published(target)
    assert _cursor(target, "hook") == (changes[-1][1], changes[-1][0])
    assert _acknowledged_change_records(target, "hook") == len(changes)
    assert {h["Authorization"] for h in receiver.headers} == {"Bearer s3cret"}
    assert all(h.get("Idempotency-Key") for h in receiver.headers)
    # Nothing new: a second sync reads nothing and delivers nothing.
    with Receiver() as receiver:
        [again] = run_sync(target, _config(tmp_path, _webhook(receiver.url)))
    assert (again.changes_read, receiver.requests) == (0, 0)


def test_consent_or_attributes_changed_without_a_membership_change_are_reconciled(
    warehouses: dict[str, Path], tmp_path: Path,
) -> None:
    """Activation rows change without a change-feed row when a member withdraws consent or gets a new
    email: the sync's reconcile step deletes and updates them at the destination."""
    target = _copy(warehouses, "run2", tmp_path)
    with Receiver() as receiver:
        config = _config(tmp_path, _webhook(receiver.url))
        run_sync(target, config)
        withdrawn, renamed = _query(target, "select activation_id from activation.activation_email "
                                            "order by activation_id limit 2")
        with duckdb.connect(str(target.duckdb_path)) as connection:  # as the next build would publish them
            connection.execute("delete from activation.activation_email where activation_id = ?", withdrawn)
            connection.execute("update activation.activation_email set email = 'new@example.com', row_hash = 'new' "
                               "where activation_id = ?", renamed)
        requests = receiver.requests
        [report] = run_sync(target, config)
        assert (report.reconciled, report.upserts, report.deletes) == (2, 1, 1)
        assert receiver.requests == requests + 1
        assert receiver.state() == _published(target)
        assert "new@example.com" in {attributes["email"] for attributes in receiver.state().values()}
        [again] = run_sync(target, config)
        assert again.changes_read == 0


@pytest.mark.parametrize(("status", "failing_requests", "max_attempts"), [(500, 4, 2), (400, 1, 3)])
def test_a_batch_that_exhausts_its_attempts_is_dead_lettered_and_the_cursor_moves_past_it(
    warehouses: dict[str, Path], tmp_path: Path, status: int, failing_requests: int, max_attempts: int,
) -> None:
    """5xx is retried up to max_attempts; another 4xx is not retried. Both dead-letter the batch with
    its records, and the reconcile step still brings the receiver to the published state."""
    target = _copy(warehouses, "run2", tmp_path)
    with Receiver(lambda number: status if number <= failing_requests else None) as receiver:
        [report] = run_sync(target, _config(tmp_path, _webhook(receiver.url, max_attempts=max_attempts)))
    changes = _changes(target, _email_segments(target))
    dead_batches = failing_requests // (max_attempts if status >= 500 else 1)
    dead = _query(target, "select change_id, attempts, reason from sync.dead_letters where destination_name = 'hook'")
    assert report.status == "dead_lettered"
    assert report.dead_lettered == len(dead) == dead_batches * 10
    assert {change_id for change_id, _, _ in dead} == {change[0] for change in changes[:dead_batches * 10]}
    assert {(attempts, reason.split(":")[0]) for _, attempts, reason in dead} == {
        (max_attempts if status >= 500 else 1, f"HTTP {status}")}
    assert _cursor(target, "hook") == (changes[-1][1], changes[-1][0])
    assert receiver.state() == _published(target)


def test_a_receiver_that_stays_down_stops_the_destination(warehouses: dict[str, Path], tmp_path: Path) -> None:
    target = _copy(warehouses, "run2", tmp_path)
    with Receiver(lambda number: 503) as receiver:
        config = _config(tmp_path, _webhook(receiver.url, max_attempts=2, max_consecutive_dead_letters=2))
        [report] = run_sync(target, config)
    changes = _changes(target, _email_segments(target))
    assert report.status == "failed" and "2 batches in a row dead-lettered" in report.error
    assert receiver.requests == 4 and report.dead_lettered == 20
    assert _cursor(target, "hook") == (changes[19][1], changes[19][0])


@pytest.mark.parametrize("damage", ["not run", "failed"])
def test_a_missing_or_failed_consent_guard_refuses_the_sync(
    warehouses: dict[str, Path], tmp_path: Path, damage: str,
) -> None:
    target = _copy(warehouses, "run2", tmp_path)
    build = _query(target, "select distinct build_run_id from activation.activation_email")[0][0]
    with duckdb.connect(str(target.duckdb_path)) as connection:
        if damage == "not run":
            connection.execute("delete from quality.activation_gate")
        else:  # a later check of the same build failed
            connection.execute("insert into quality.activation_gate values (?, 'q', now()::timestamp, false)", [build])
    expected = f"consent guard {'has not run' if damage == 'not run' else 'failed'} for build {build}; sync refused"
    with Receiver() as receiver:
        config = _config(tmp_path, _webhook(receiver.url))
        with pytest.raises(SyncRefused, match=re.escape(expected)):
            run_sync(target, config)
        if damage == "failed":  # and on the command line: the message, exit status 1
            completed = subprocess.run(
                [sys.executable, "-m", "orchestration.cli", "sync", "--config", str(config)],
                env=_cli_env(target), capture_output=True, text=True, timeout=120,
            )
            assert completed.returncode == 1
            assert expected in " ".join(completed.stderr.split())
    assert receiver.requests == 0
    assert not _query(target, "select * from information_schema.tables where table_schema = 'sync'")


def test_a_sync_killed_mid_run_and_restarted_ends_in_the_same_state(
    warehouses: dict[str, Path], tmp_path: Path,
) -> None:
    target = _copy(warehouses, "run2", tmp_path)
    changes = _changes(target, _email_segments(target))
    command = [sys.executable, "-m", "orchestration.cli", "sync", "--destination", "hook"]
    env = _cli_env(target)
    with Receiver(delay_seconds=0.1) as receiver:
        config = _config(tmp_path, _webhook(receiver.url, batch_size=4))
        process = subprocess.Popen([*command, "--config", str(config)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while receiver.requests < 8 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        killed_at = _cursor(target, "hook")
        assert killed_at is not None and killed_at < (changes[-1][1], changes[-1][0])  # stopped mid-sync
        receiver.delay_seconds = 0
        restarted = subprocess.run([*command, "--config", str(config)], env=env, capture_output=True, text=True,
                                   timeout=120)
        assert restarted.returncode == 0, restarted.stderr[-2000:]
    (tmp_path / "fresh").mkdir()
    with Receiver() as uninterrupted:
        run_sync(_copy(warehouses, "run2", tmp_path / "fresh"), _config(tmp_path / "fresh", _webhook(
            uninterrupted.url, batch_size=4)))
    assert {change[0] for change in changes} <= _applied_changes(receiver)
    assert receiver.duplicates <= 4  # at most the batch in flight when the process died was sent again
    assert receiver.state() == uninterrupted.state() == _published(target)
    assert set(receiver.applied) == set(uninterrupted.applied)
    assert _cursor(target, "hook") == (changes[-1][1], changes[-1][0])
    assert _acknowledged_change_records(target, "hook") == len(changes)


def _read_file(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    table = pq.read_table(path) if path.suffix == ".parquet" else pa_csv.read_csv(path)
    return table.to_pylist()


@pytest.mark.parametrize("file_format", ["jsonl", "csv", "parquet"])
def test_the_file_destination_writes_every_change_with_a_checksummed_manifest(
    warehouses: dict[str, Path], tmp_path: Path, file_format: str,
) -> None:
    target = _copy(warehouses, "run2", tmp_path)
    destination = {"name": "files", "type": "file", "channel": "email", "folder": str(tmp_path / "out"),
                   "format": file_format, "batch_size": 100}
    config = _config(tmp_path, destination)
    [report] = run_sync(target, config)
    folder = tmp_path / "out" / "files"
    changes = _changes(target, _email_segments(target))
    manifests = sorted(folder.glob("*.manifest.json"))
    assert report.status == "ok" and len(manifests) == report.batches == -(-len(changes) // 100)
    rows = []
    for manifest_path in manifests:
        manifest = json.loads(manifest_path.read_text())
        data = folder / manifest["file"]
        assert manifest["sha256"] == __import__("hashlib").sha256(data.read_bytes()).hexdigest()
        content = _read_file(data)
        assert manifest["rows"] == len(content)
        assert manifest["actions"]["upsert"] == sum(1 for row in content if row["action"] == "upsert")
        assert manifest["cursor_to"]["change_id"] == content[-1]["change_id"]
        rows += content
    assert [row["change_id"] for row in rows] == [change[0] for change in changes]
    published = _published(target)
    for row, (_, _, segment, profile_id, change_type) in zip(rows, changes, strict=True):
        upsert = change_type != "removed" and (segment, profile_id) in published
        assert row["action"] == ("upsert" if upsert else "delete")
        assert len(row["idempotency_key"]) == 32
        email = row["attributes"].get("email") if file_format == "jsonl" else row["email"]
        assert (email or None) == (published[(segment, profile_id)]["email"] if upsert else None)
    assert not list(folder.glob(".*"))  # no temporary file left behind
    # A crash after the manifests were written but before the cursor moved: the rerun acknowledges the
    # existing files and writes nothing again.
    with duckdb.connect(str(target.duckdb_path)) as connection:
        for table in ("cursors", "deliveries", "members"):
            connection.execute(f"delete from sync.{table}")
    [rerun] = run_sync(target, config)
    assert rerun.delivered == len(changes) and sorted(folder.glob("*.manifest.json")) == manifests
    assert _cursor(target, "files") == (changes[-1][1], changes[-1][0])


def test_the_sql_destination_holds_the_published_rows_after_each_run_and_applies_nothing_twice(
    warehouses: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    crm = tmp_path / "crm.duckdb"
    monkeypatch.setenv("TEST_CRM_URL", f"duckdb:///{crm}")
    config = _config(tmp_path, {"name": "crm_table", "type": "sql", "channel": "email", "batch_size": 25,
                                "connection_env": "TEST_CRM_URL", "table": "marketing.segment_members"})

    def held() -> dict[tuple[str, str], tuple]:
        with duckdb.connect(str(crm), read_only=True) as connection:
            rows = connection.execute("select segment_name, profile_id, email, first_name, last_name, country_code, "
                                      "synced_at from marketing.segment_members").fetchall()
        return {(row[0], row[1]): row[2:] for row in rows}

    def matches(target: Target) -> bool:
        return {member: values[:4] for member, values in held().items()} == {
            member: tuple(attributes.values()) for member, attributes in _published(target).items()}

    first = _copy(warehouses, "run1", tmp_path)
    run_sync(first, config)
    assert matches(first) and held()
    # The second run, synced from a warehouse copy that has no cursor yet: the run-1 changes are sent
    # again, and the table's recorded idempotency keys make them apply nothing.
    second = _copy(warehouses, "run2", tmp_path)
    before = held()
    [report] = run_sync(second, config)
    assert report.status == "ok" and matches(second)
    with duckdb.connect(str(crm), read_only=True) as connection:
        keys = connection.execute("select count(*), count(distinct idempotency_key) "
                                  "from marketing.segment_members_applied_keys").fetchone()
    assert keys[0] == keys[1] >= len(_changes(second, _email_segments(second)))
    unchanged = [m for m in before if m in held() and held()[m][:4] == before[m][:4]]
    assert unchanged and all(held()[m][4] == before[m][4] for m in unchanged)  # synced_at kept: not reapplied


def test_an_invalid_destinations_file_lists_every_problem_and_syncs_nothing(
    warehouses: dict[str, Path], tmp_path: Path,
) -> None:
    target = _copy(warehouses, "run2", tmp_path)
    config = _config(
        tmp_path,
        {"name": "hook", "type": "webhook", "channel": "email", "url": "http://127.0.0.1:9/x", "retries": 3},
        {"name": "crm", "type": "webhook", "channel": "crm", "url": "http://127.0.0.1:9/x",
         "segments": ["vip_rfm", "no_such_segment", "viewed_not_added"],
         "auth": {"token_env": "TEST_UNSET_TOKEN"}},
        {"name": "table", "type": "sql", "channel": "ads", "table": "t", "connection_env": "TEST_UNSET_URL"},
    )
    with pytest.raises(ConfigError) as raised:
        run_sync(target, config)
    problems = "\n".join(raised.value.problems)
    for expected in ("destination 'hook': retries: unknown key",
                     "destination 'crm': environment variable TEST_UNSET_TOKEN (auth token) is not set",
                     "destination 'crm': unknown segment 'no_such_segment'",
                     "destination 'crm': segment 'viewed_not_added' is not activated on channel 'crm'",
                     "destination 'table': environment variable TEST_UNSET_URL (connection URL) is not set"):
        assert expected in problems
    assert not _query(target, "select * from information_schema.tables where table_schema = 'sync'")


def test_the_shipped_destinations_file_is_valid(warehouses: dict[str, Path], tmp_path: Path) -> None:
    target = _copy(warehouses, "run2", tmp_path)
    catalog = {name: set(destinations.split(",")) for name, destinations in _query(
        target, "select segment_name, destinations from segments.segment_catalog")}
    config = load_config(DEFAULT_CONFIG_PATH, catalog)
    assert [d.name for d in config.named(None)] == ["email_audiences_file"]
