"""Run a job of the code location in-process (no UI, no daemon), recorded in a Dagster instance."""

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from dagster import DagsterInstance, ExecuteInProcessResult
from dagster._core.events.log import EventLogEntry
from dagster._utils.error import SerializableErrorInfo

from orchestration.dbt_runner import PROJECT_ROOT

DEFAULT_DAGSTER_HOME = PROJECT_ROOT / ".dagster"
INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")
# In-process runs print their own progress and failures (the CLI): Dagster's console log stays quiet.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def instance() -> DagsterInstance:
    """The instance in $DAGSTER_HOME; without it, .dagster/ in the project (created from the template),
    the same one `dagster dev` shows when started as docs/orchestration.md says."""
    if not os.environ.get("DAGSTER_HOME"):
        DEFAULT_DAGSTER_HOME.mkdir(exist_ok=True)
        os.environ["DAGSTER_HOME"] = str(DEFAULT_DAGSTER_HOME)
    home = Path(os.environ["DAGSTER_HOME"])
    if not (home / "dagster.yaml").exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(INSTANCE_TEMPLATE, home / "dagster.yaml")
    return DagsterInstance.get()


def run_job(
    job_name: str,
    dagster_instance: DagsterInstance,
    on_event: Callable[[EventLogEntry], None] | None = None,
    run_config: dict | None = None,
) -> ExecuteInProcessResult:
    """Execute `job_name` with its own run config (plus quiet console logs); `on_event` sees every event."""
    from orchestration.dagster_defs import defs  # imported late: loading parses the dbt project
    from orchestration.dagster_defs.jobs import JOB_CONFIG

    job = defs.resolve_job_def(job_name)
    run_id = str(uuid.uuid4())
    if on_event is not None:
        dagster_instance.add_event_listener(run_id, on_event)
    config = {**JOB_CONFIG.get(job_name, {}), **(run_config or {}), **QUIET_LOGS}
    return job.execute_in_process(run_config=config, instance=dagster_instance, run_id=run_id,
                                  raise_on_error=False)


def describe_error(error: SerializableErrorInfo | None) -> str:
    """A step error with what it was raised from ("Error occurred while executing op ...: RuntimeError: ...")."""
    messages: list[str] = []
    while error is not None:
        message = error.message.strip()
        _, _, text = message.partition(": ")
        if not any((text or message) in seen for seen in messages):  # a Failure often repeats its cause
            messages.append(message)
        error = error.cause
    return ": ".join(messages)
