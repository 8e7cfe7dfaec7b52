"""Progress of an in-process Dagster run in the terminal: one bar per step, advanced by its events."""

from __future__ import annotations

from dagster import Definitions
from dagster._core.events import DagsterEventType
from dagster._core.events.log import EventLogEntry
from rich.console import Console
from rich.progress import Progress, TaskID

from orchestration.dagster_defs.run import describe_error

# Step (op) -> the stage name the demo's timings use.
STAGES = {
    "load_raw": "load",
    "segmentation_dbt": "dbt build",
    "quality_suites": "quality",
    "published_activation": "publish",
    "reverse_etl_syncs": "sync",
    "generate_sample_files": "generate",
}


class RunProgress:
    """An instance event listener: a bar per step (assets materialized and checks evaluated of the step's
    total), retries and failures printed as they happen, seconds per step kept for the timings table."""

    def __init__(self, progress: Progress, defs: Definitions, console: Console) -> None:
        self.progress = progress
        self.console = console
        self.tasks: dict[str, TaskID] = {}
        self.done: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.failures: list[tuple[str, str]] = []
        self.totals: dict[str, int] = {}
        for assets_def in defs.resolve_asset_graph().assets_defs:
            if assets_def.is_executable:
                self.totals[assets_def.node_def.name] = len(assets_def.keys) + len(assets_def.check_keys)

    def __call__(self, entry: EventLogEntry) -> None:
        event = entry.dagster_event
        step = entry.step_key
        if event is None or step is None:
            return
        kind = event.event_type
        if kind == DagsterEventType.STEP_START:
            self.started[step] = entry.timestamp
            if step not in self.tasks:
                self.tasks[step] = self.progress.add_task(STAGES.get(step, step), total=self.totals.get(step), item="")
        elif kind == DagsterEventType.ASSET_MATERIALIZATION and step in self.tasks:
            self._advance(step, event.asset_key.to_user_string())
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION and step in self.tasks:
            evaluation = event.event_specific_data
            self._advance(step, evaluation.check_name)
            if not evaluation.passed:
                label = "[red]check failed[/]" if evaluation.severity.value == "ERROR" else "[yellow]check warned[/]"
                self.console.print(f"{label} {evaluation.asset_key.to_user_string()}: {evaluation.check_name}")
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE,
                      DagsterEventType.STEP_UP_FOR_RETRY):
            self.seconds[step] = self.seconds.get(step, 0.0) + entry.timestamp - self.started.get(step, entry.timestamp)
            if kind == DagsterEventType.STEP_SUCCESS:
                if step in self.tasks:
                    self.progress.update(self.tasks[step], total=self.done.get(step, 0), item="done")
            elif kind == DagsterEventType.STEP_UP_FOR_RETRY:
                self.done[step] = 0  # the retry starts the step over
                data = event.event_specific_data
                self.console.print(f"[yellow]{step} failed with a transient error; retrying in "
                                   f"{data.seconds_to_wait or 0:.0f} s[/]: {describe_error(data.error)[:300]}")
            else:
                data = event.event_specific_data
                message = describe_error(data.error) if data and data.error else event.message or ""
                self.failures.append((step, message[:2000]))
                if step in self.tasks:
                    self.progress.update(self.tasks[step], item="[red]failed[/]")

    def _advance(self, step: str, item: str) -> None:
        self.done[step] = self.done.get(step, 0) + 1
        self.progress.update(self.tasks[step], completed=self.done[step], item=item)

    def timings(self) -> list[tuple[str, float]]:
        return [(STAGES.get(step, step), seconds) for step, seconds in self.seconds.items()]
