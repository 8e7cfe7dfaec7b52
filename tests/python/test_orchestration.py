"""Dagster orchestration: the whole asset graph materialized in process on sample data (assets, dbt tests
and Great Expectations suites as checks), a failed consent guard blocking publication, schedules, the
landing-folder and run-failure sensors, retries of transient warehouse errors, and the concurrency limits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest
import yaml
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
    job,
    materialize,
    op,
    validate_run_config,
)

from orchestration.contract import TABLES
from orchestration.dagster_defs.project import dbt_project, prepare_if_stale

# Regenerate the segment block and parse when a project file changed: the definitions below read the
# manifest. Under the lock, so the second pytest worker finds the first one's manifest current.
prepare_if_stale()

from orchestration.dagster_defs import defs  # noqa: E402
from orchestration.dagster_defs.assets.dbt import (  # noqa: E402
    KEEP_TARGET_FOLDERS,
    published_activation,
    segmentation_dbt,
)
from orchestration.dagster_defs.assets.raw import WAREHOUSE_POOL, load_raw, raw_asset_key  # noqa: E402
from orchestration.dagster_defs.checks import INCREMENTAL_JOBS, SPECS, quality_suites  # noqa: E402
from orchestration.dagster_defs.definitions import sync_assets  # noqa: E402
from orchestration.dagster_defs.jobs import (  # noqa: E402
    FULL_REFRESH_CONFIG,
    INCREMENTAL_CONFIG,
    WAREHOUSE_TAG,
    hourly_schedule,
    nightly_schedule,
)
from orchestration.dagster_defs.resources import LANDING_DIR_VARIABLE  # noqa: E402
from orchestration.dagster_defs.retries import WAREHOUSE_RETRY_POLICY, is_transient  # noqa: E402
from orchestration.dagster_defs.run import INSTANCE_TEMPLATE, run_job  # noqa: E402
from orchestration.dagster_defs.sensors import (  # noqa: E402
    SETTLE_SECONDS,
    WEBHOOK_VARIABLE,
    alert_on_run_failure,
    landing_folder_sensor,
)
from orchestration.loader import LoadError, load_folder  # noqa: E402
from orchestration.warehouse import Target, resolve_target  # noqa: E402
from tests.python.helpers import OPTED_OUT_IN_ACTIVATION_EMAIL, destinations_into  # noqa: E402

ACTIVATION = [AssetKey(["activation", name]) for name in ("activation_email", "activation_ads", "activation_crm")]
PUBLISHED = sorted(published_activation.keys)


def _point_at(monkeypatch: pytest.MonkeyPatch, database: Path, landing: Path, docs: Path) -> None:
    monkeypatch.setenv("SEGMENTATION_TARGET", "duckdb")
    monkeypatch.setenv("SEGMENTATION_DUCKDB_PATH", str(database))
    monkeypatch.setenv(LANDING_DIR_VARIABLE, str(landing))
    monkeypatch.setenv("SEGMENTATION_DATA_DOCS_DIR", str(docs))
    # The sync assets write the shipped file destination into the test's folder, not sync_output/.
    monkeypatch.setenv("SEGMENTATION_DESTINATIONS", str(destinations_into(docs.parent / "sync_output", docs.parent)))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Sample data written by the generate_sample_data job, then nightly_full_build, both in process."""
    work = tmp_path_factory.mktemp("orchestration")
    monkeypatch = pytest.MonkeyPatch()
    _point_at(monkeypatch, work / "warehouse.duckdb", work / "landing", work / "docs")
    instance = DagsterInstance.ephemeral()
    generated = run_job("generate_sample_data", instance,
                        run_config={"ops": {"generate_sample_files": {"config": {"people": 300, "seed": 17}}}})
    result = run_job("nightly_full_build", instance)
    yield {"work": work, "result": result, "instance": instance, "generated": generated,
           "database": work / "warehouse.duckdb"}
    monkeypatch.undo()


def _checks(result: ExecuteInProcessResult) -> dict:
    return {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations()}


def test_the_whole_asset_graph_materializes(run: dict) -> None:
    assert run["generated"].success
    result = run["result"]
    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    every_asset = set(defs.resolve_asset_graph().get_all_asset_keys())
    assert materialized == every_asset
    assert {raw_asset_key(name) for name in TABLES} <= materialized
    assert set(PUBLISHED) <= materialized
    groups = {defs.resolve_asset_graph().get(key).group_name for key in every_asset}
    assert groups == {"raw", "seeds", "staging", "identity", "privacy", "profiles", "segments", "activation", "bi",
                      "syncs"}
    with duckdb.connect(str(run["database"]), read_only=True) as connection:
        for table in ("raw.tracks", "staging.stg_segment__tracks", "identity.identity_map", "profiles.profile_traits",
                      "segments.segment_memberships", "activation.activation_email"):
            assert connection.execute(f"select count(*) from {table}").fetchone()[0] > 0, table
        published, built = connection.execute(
            "select (select count(*) from activation_published.activation_email), "
            "(select count(*) from activation.activation_email)").fetchone()
        held = connection.execute(
            "select count(*) from sync.members where destination_name = 'email_audiences_file'").fetchone()[0]
    assert published == built  # the guard passed: the build is published
    assert held == published > 0  # and the sync asset delivered it
    assert list((run["work"] / "sync_output" / "email_audiences_file").glob("*.jsonl"))
    target = dbt_project.project_dir / dbt_project.target_path
    for step in ("segmentation_dbt", "published_activation"):  # old invocation folders are pruned
        assert 1 <= len([path for path in target.glob(f"{step}-*") if path.is_dir()]) <= KEEP_TARGET_FOLDERS


def test_the_raw_load_reports_files_rows_and_quarantine(run: dict) -> None:
    result = run["result"]
    tracks = next(e for e in result.get_asset_materialization_events() if e.asset_key == raw_asset_key("tracks"))
    metadata = tracks.materialization.metadata
    generated = json.loads((run["work"] / "landing" / "_manifest.json").read_text())["tables"]["tracks"]["rows"]
    with duckdb.connect(str(run["database"]), read_only=True) as connection:
        quarantined = connection.execute(
            "select count(*) from staging.quarantine_segment__tracks where quarantine_reason not like 'duplicate%'"
        ).fetchone()[0]
    assert metadata["rows_loaded"].value == metadata["dagster/row_count"].value == generated > 0
    assert metadata["files_loaded"].value == 1
    observed = [
        entry.asset_observation.metadata
        for entry in run["instance"].all_logs(result.run_id, of_type=DagsterEventType.ASSET_OBSERVATION)
        if entry.asset_observation.asset_key == raw_asset_key("tracks")
    ]
    assert observed and observed[0]["rows_quarantined"].value == quarantined > 0
    assert observed[0]["reconciled"].value is True


def test_dbt_tests_and_quality_suites_ran_as_checks(run: dict) -> None:
    checks = _checks(run["result"])
    dbt = {key: e for key, e in checks.items() if not key[1].startswith("gx_")}
    gx = {key: e for key, e in checks.items() if key[1].startswith("gx_")}
    assert len(dbt) > 200
    # dbt tests pass, except warn-severity monitors (a segment can be empty in a 300-person sample).
    assert all(e.passed or e.severity == AssetCheckSeverity.WARN for e in dbt.values())
    assert set(gx) == {(spec.asset_key, spec.name) for spec in SPECS}
    assert all(e.passed for e in gx.values())
    guard = gx[(ACTIVATION[0], "gx_consent_guard")]
    assert guard.severity == AssetCheckSeverity.ERROR and guard.blocking
    assert gx[(AssetKey(["identity", "identity_map"]), "gx_identity")].severity == AssetCheckSeverity.WARN
    # One quality run for all eight checks, recorded under the Dagster run id.
    with duckdb.connect(str(run["database"]), read_only=True) as connection:
        runs = connection.execute("select distinct run_id from quality.validation_results").fetchall()
    assert runs == [(run["result"].run_id,)]


def test_a_failed_consent_guard_blocks_publication(run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "damaged.duckdb"
    shutil.copy(run["database"], database)
    with duckdb.connect(str(database)) as connection:
        connection.execute("drop view activation_published.activation_email")  # rebuilt only if the guard passes
        connection.execute(OPTED_OUT_IN_ACTIVATION_EMAIL)
    _point_at(monkeypatch, database, tmp_path / "landing", tmp_path / "docs")
    guard_checks = [spec.key for spec in SPECS if spec.name == "gx_consent_guard"]
    # Only the guard and what depends on it: rebuilding activation would drop the injected row.
    result = materialize(
        [load_raw, segmentation_dbt, quality_suites, published_activation, sync_assets],
        selection=AssetSelection.assets(*PUBLISHED, *sync_assets.keys) | AssetSelection.checks(*guard_checks),
        resources=defs.resources,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    checks = _checks(result)
    failed = checks[(ACTIVATION[0], "gx_consent_guard")]
    assert not failed.passed and failed.severity == AssetCheckSeverity.ERROR
    assert "activation_email:injected-opt-out" in json.dumps(failed.metadata["failures"].value)
    assert not result.get_asset_materialization_events()  # nothing downstream of the guard ran: no publish, no sync
    assert not (tmp_path / "sync_output").exists()
    with duckdb.connect(str(database), read_only=True) as connection:
        views = connection.execute(
            "select count(*) from information_schema.tables where table_schema = 'activation_published' "
            "and table_name = 'activation_email'").fetchone()[0]
        gate = connection.execute(
            "select is_open from quality.activation_gate order by checked_at desc limit 1").fetchone()[0]
    assert views == 0 and gate is False


def test_schedules_start_the_right_job_with_the_right_config() -> None:
    for schedule, job_name, cron, config in (
        (hourly_schedule, "hourly_incremental_build", "0 * * * *", INCREMENTAL_CONFIG),
        (nightly_schedule, "nightly_full_build", "30 2 * * *", FULL_REFRESH_CONFIG),
    ):
        assert (schedule.job_name, schedule.cron_schedule, schedule.execution_timezone) == (job_name, cron, "UTC")
        context = build_schedule_context(scheduled_execution_time=datetime(2026, 11, 29, 2, 30, tzinfo=UTC))
        requests = schedule.evaluate_tick(context).run_requests
        assert len(requests) == 1
        assert requests[0].run_config == config
        assert validate_run_config(defs.resolve_job_def(job_name), requests[0].run_config)
    assert INCREMENTAL_CONFIG["ops"]["segmentation_dbt"]["config"]["full_refresh"] is False
    assert FULL_REFRESH_CONFIG["ops"]["segmentation_dbt"]["config"]["full_refresh"] is True


def _settled(path: Path) -> None:
    past = time.time() - SETTLE_SECONDS - 5
    os.utime(path, (past, past))


def test_only_the_hourly_build_validates_events_incrementally() -> None:
    """The hourly build's quality step reads only new loads of raw and staged events; the nightly full
    build (and any other job) validates every row."""
    assert {hourly_schedule.job_name} == INCREMENTAL_JOBS
    assert nightly_schedule.job_name not in INCREMENTAL_JOBS


def test_the_landing_sensor_fires_once_per_new_or_changed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv(LANDING_DIR_VARIABLE, str(landing))

    def tick(cursor: str | None):
        context = build_sensor_context(cursor=cursor)
        return landing_folder_sensor.evaluate_tick(context)

    empty = tick(None)
    assert empty.run_requests == [] and empty.skip_message
    (landing / "tracks__day1.csv").write_text("id\n1\n")
    (landing / "_manifest.json").write_text("{}")  # ignored, as the loader ignores it
    assert tick(empty.cursor).run_requests == []  # still being written: not settled yet
    _settled(landing / "tracks__day1.csv")
    first = tick(empty.cursor)
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.job_name in (None, "hourly_incremental_build")
    assert request.run_config == INCREMENTAL_CONFIG
    assert request.tags["segmentation/landing_files"] == "tracks__day1.csv"
    again = tick(first.cursor)
    assert again.run_requests == []  # same files: no second run
    (landing / "orders.csv").write_text("order_id\n1\n")
    _settled(landing / "orders.csv")
    second = tick(again.cursor)
    assert [r.tags["segmentation/landing_files"] for r in second.run_requests] == ["orders.csv"]
    assert second.run_requests[0].run_key != request.run_key
    (landing / "orders.csv").write_text("order_id\n1\n2\n")  # rewritten: changed content
    _settled(landing / "orders.csv")
    os.utime(landing / "orders.csv", (time.time() - SETTLE_SECONDS - 1,) * 2)
    third = tick(second.cursor)
    assert [r.tags["segmentation/landing_files"] for r in third.run_requests] == ["orders.csv"]
    assert tick(third.cursor).run_requests == []


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@op
def fail_like_a_locked_warehouse() -> None:
    raise RuntimeError("the warehouse is on fire")


@job
def failing_job() -> None:
    fail_like_a_locked_warehouse()


def _failure_context(instance: DagsterInstance):
    result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    return build_run_status_sensor_context(
        sensor_name=alert_on_run_failure.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure(), result.run_id


def test_the_run_failure_sensor_posts_an_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv(WEBHOOK_VARIABLE, f"http://127.0.0.1:{server.server_port}/alerts")
        _Receiver.received.clear()
        with instance_for_test() as instance:
            context, run_id = _failure_context(instance)
            alert_on_run_failure(context)
    finally:
        server.shutdown()
    assert len(_Receiver.received) == 1
    alert = _Receiver.received[0]
    assert (alert["job"], alert["run_id"], alert["status"]) == ("failing_job", run_id, "FAILURE")
    assert "the warehouse is on fire" in alert["failed_steps"][0]["error"]
    assert alert["failed_steps"][0]["step"] == "fail_like_a_locked_warehouse"


def test_an_unreachable_webhook_does_not_break_the_sensor(monkeypatch: pytest.MonkeyPatch) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    port = server.server_port
    server.server_close()  # nothing listens there any more
    monkeypatch.setenv(WEBHOOK_VARIABLE, f"http://127.0.0.1:{port}/alerts")
    with instance_for_test() as instance:
        context, _ = _failure_context(instance)
        alert_on_run_failure(context)  # logs a warning, raises nothing


def test_every_job_is_limited_to_one_run_per_warehouse(tmp_path: Path) -> None:
    jobs = [job_def for job_def in defs.resolve_all_job_defs() if not job_def.name.startswith("__")]
    assert {job_def.name for job_def in jobs} >= {"hourly_incremental_build", "nightly_full_build",
                                                  "generate_sample_data"}
    for job_def in jobs:
        assert job_def.tags[WAREHOUSE_TAG] == resolve_target().name, job_def.name
    for assets_def in (load_raw, segmentation_dbt, published_activation, quality_suites):
        assert assets_def.node_def.pool == WAREHOUSE_POOL
    shutil.copy(INSTANCE_TEMPLATE, tmp_path / "dagster.yaml")
    instance = DagsterInstance.from_config(str(tmp_path))
    settings = instance.get_concurrency_config()
    limits = settings.run_queue_config.tag_concurrency_limits
    assert limits == [{"key": WAREHOUSE_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    assert settings.pool_config.default_pool_limit == 1
    instance.dispose()
    assert yaml.safe_load(INSTANCE_TEMPLATE.read_text())["concurrency"]["pools"]["granularity"] == "op"


def test_a_locked_warehouse_is_retried_and_a_refused_file_is_not(
    run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_raw.node_def.retry_policy == WAREHOUSE_RETRY_POLICY == segmentation_dbt.node_def.retry_policy
    database = tmp_path / "locked.duckdb"
    shutil.copy(run["database"], database)
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(run["work"] / "landing" / "orders.parquet", landing / "orders__new.parquet")
    _point_at(monkeypatch, database, landing, tmp_path / "docs")
    # Another process holds the DuckDB file for a few seconds: the first attempt cannot open it.
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(database)!r}); print('locked', "
         "flush=True); time.sleep(4)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LoadError) as locked:
            load_folder(landing, Target(name="duckdb", kind="duckdb", duckdb_path=database))
        assert is_transient(locked.value)
        result = materialize([load_raw], resources=defs.resources, instance=DagsterInstance.ephemeral(),
                             raise_on_error=False)
    finally:
        holder.wait(timeout=60)
    retried = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retried) >= 1 and result.success

    (landing / "orders__bad.csv").write_text("nonsense\n1\n")  # refused by the contract: not transient
    refused = materialize([load_raw], resources=defs.resources, instance=DagsterInstance.ephemeral(),
                          raise_on_error=False)
    assert not refused.success
    assert not [e for e in refused.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]


def test_a_step_waits_while_another_run_holds_the_warehouse_pool(
    run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the instance template (pool limit 1, op granularity), a run's raw load does not start while
    another run holds the warehouse's slot, also when started in process as the CLI does."""
    database = tmp_path / "pool.duckdb"
    shutil.copy(run["database"], database)
    _point_at(monkeypatch, database, run["work"] / "landing", tmp_path / "docs")
    shutil.copy(INSTANCE_TEMPLATE, tmp_path / "dagster.yaml")
    instance = DagsterInstance.from_config(str(tmp_path))
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    assert storage.claim_concurrency_slot(WAREHOUSE_POOL, "another-run", "its_step").is_claimed
    results: list[ExecuteInProcessResult] = []
    worker = threading.Thread(target=lambda: results.append(
        materialize([load_raw], resources=defs.resources, instance=instance, raise_on_error=False)))
    worker.start()
    try:
        def waiting() -> list[str]:
            info = storage.get_concurrency_info(WAREHOUSE_POOL)
            return [step.step_key for step in info.pending_steps if step.run_id != "another-run"]

        deadline = time.monotonic() + 120
        while not waiting() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert waiting() == ["load_raw"]
        assert [step.run_id for step in storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots] == ["another-run"]
        assert not results  # the run is still waiting for the slot
    finally:
        storage.free_concurrency_slots_for_run("another-run")
        worker.join(timeout=300)
    assert results and results[0].success
    instance.dispose()


def test_an_empty_landing_folder_loads_nothing_and_does_not_fail(
    run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "empty.duckdb"
    shutil.copy(run["database"], database)
    (tmp_path / "landing").mkdir()
    _point_at(monkeypatch, database, tmp_path / "landing", tmp_path / "docs")
    result = materialize([load_raw], resources=defs.resources, instance=DagsterInstance.ephemeral())
    tracks = next(e for e in result.get_asset_materialization_events() if e.asset_key == raw_asset_key("tracks"))
    assert tracks.materialization.metadata["rows_loaded"].value == 0
    assert tracks.materialization.metadata["dagster/row_count"].value > 0  # what earlier loads left


def _unit_tests_run(step_folders_before: set[Path]) -> tuple[int, int]:
    """(unit tests, data tests) in the run_results.json of the one segmentation_dbt invocation folder that
    is not in `step_folders_before`."""
    target = dbt_project.project_dir / dbt_project.target_path
    new = [path for path in target.glob("segmentation_dbt-*") if path.is_dir() and path not in step_folders_before]
    assert len(new) == 1, new
    results = json.loads((new[0] / "run_results.json").read_text())["results"]
    return (sum(1 for r in results if r["unique_id"].startswith("unit_test.")),
            sum(1 for r in results if r["unique_id"].startswith("test.")))


def test_the_hourly_build_leaves_unit_tests_to_the_nightly_build(
    run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = dbt_project.project_dir / dbt_project.target_path
    database = tmp_path / "hourly.duckdb"
    shutil.copy(run["database"], database)
    _point_at(monkeypatch, database, run["work"] / "landing", tmp_path / "docs")
    before = set(target.glob("segmentation_dbt-*"))
    result = run_job("hourly_incremental_build", DagsterInstance.ephemeral())
    assert result.success
    unit_tests, data_tests = _unit_tests_run(before)
    assert unit_tests == 0 and data_tests > 200
    before = set(target.glob("segmentation_dbt-*"))
    result = run_job("nightly_full_build", DagsterInstance.ephemeral())
    assert result.success
    unit_tests, data_tests = _unit_tests_run(before)
    assert unit_tests > 20 and data_tests > 200


def test_processes_loading_the_definitions_at_once_parse_once_and_read_a_whole_manifest(tmp_path: Path) -> None:
    """Three processes import the code location into an empty target folder at the same time (pytest workers
    and `dagster dev` steps do). One parses; the others wait on the lock, find the manifest current and read
    it whole. Without the lock each parsed into the same file and one read half a manifest."""
    target = tmp_path / "target"
    env = {**os.environ, "DBT_TARGET_PATH": str(target), "PYTHONPATH": str(dbt_project.project_dir)}
    env.pop("DAGSTER_IS_DEV_CLI", None)  # not under `dagster dev`: parse only because there is no manifest
    script = ("from orchestration.dagster_defs import defs; "
              "print(len(defs.resolve_asset_graph().get_all_asset_keys()))")
    workers = [subprocess.Popen([sys.executable, "-c", script], cwd=dbt_project.project_dir, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], [err[-2000:] for _, err in outputs]
    assert len({out.strip() for out, _ in outputs}) == 1 and int(outputs[0][0]) > 100
    parses = sum(err.count("dbt parse --target") for _, err in outputs)
    assert parses == 1, [err[-2000:] for _, err in outputs]
    manifest = json.loads((target / "manifest.json").read_text())
    assert "model.segmentation.segment_memberships" in manifest["nodes"]
    assert not list(target.glob(".parse-*"))  # the private parse folder is gone
