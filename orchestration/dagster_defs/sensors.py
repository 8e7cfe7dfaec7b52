"""Sensors: start the incremental build when files land; alert when a run fails."""

import hashlib
import json
import os
import time
from pathlib import Path

import requests
from dagster import (
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    get_dagster_logger,
    run_failure_sensor,
    sensor,
)

from orchestration.dagster_defs.jobs import INCREMENTAL_CONFIG, hourly_incremental_build
from orchestration.dagster_defs.resources import landing_dir
from orchestration.dagster_defs.run import describe_error
from orchestration.loader import discover_files

WEBHOOK_VARIABLE = "SEGMENTATION_ALERT_WEBHOOK_URL"
# A file modified less than this many seconds ago may still be being written: wait for the next tick.
SETTLE_SECONDS = 30


def landing_state(folder: Path, now: float | None = None) -> dict[str, str]:
    """name -> "mtime_ns:size" of every contract file in `folder` that has settled."""
    if not folder.is_dir():
        return {}
    now = time.time() if now is None else now
    files, _ = discover_files(folder)  # badly named files are the loader's to refuse, by name
    state = {}
    for file in files:
        stat = file.path.stat()
        if now - stat.st_mtime >= SETTLE_SECONDS:
            state[file.name] = f"{stat.st_mtime_ns}:{stat.st_size}"
    return state


@sensor(
    job=hourly_incremental_build,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Starts hourly_incremental_build when files in the landing folder are new or changed "
    "(name, modification time and size); never twice for the same files.",
)
def landing_folder_sensor(context: SensorEvaluationContext):
    folder = landing_dir()
    state = landing_state(folder)
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(name for name, stamp in state.items() if seen.get(name) != stamp)
    if not changed:
        context.update_cursor(json.dumps({**seen, **state}, sort_keys=True))
        return SkipReason(f"no new or changed files in {folder}")
    context.update_cursor(json.dumps({**seen, **state}, sort_keys=True))
    fingerprint = hashlib.sha256(json.dumps({name: state[name] for name in changed}, sort_keys=True).encode())
    return RunRequest(
        run_key=f"landing-{fingerprint.hexdigest()[:16]}",
        run_config=INCREMENTAL_CONFIG,
        tags={"segmentation/landing_files": ",".join(changed)[:200]},
    )


def alert_payload(context: RunFailureSensorContext) -> dict:
    run = context.dagster_run
    steps = [
        {"step": event.step_key,
         "error": describe_error(event.event_specific_data.error) if event.event_specific_data else None}
        for event in context.get_step_failure_events()
    ]
    return {
        "source": "segmentation",
        "job": run.job_name,
        "run_id": run.run_id,
        "status": run.status.value,
        "error": context.failure_event.message,
        "failed_steps": steps,
        "tags": dict(run.tags),
    }


@run_failure_sensor(
    name="alert_on_run_failure",
    default_status=DefaultSensorStatus.RUNNING,
    description=f"Logs every failed run and POSTs a JSON alert to ${WEBHOOK_VARIABLE} when it is set.",
)
def alert_on_run_failure(context: RunFailureSensorContext) -> None:
    log = get_dagster_logger()
    payload = alert_payload(context)
    log.error(f"run {payload['run_id']} of {payload['job']} failed: {payload['error']}")
    url = os.environ.get(WEBHOOK_VARIABLE)
    if not url:
        return
    try:
        response = requests.post(url, json=payload, timeout=10)
        response.raise_for_status()
    except requests.RequestException as error:  # an alert that cannot be delivered must not stop the sensor
        log.warning(f"could not deliver the failure alert to {WEBHOOK_VARIABLE}: {error}")
