"""Run dbt in-process with a progress bar and a readable failure report."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dbt.cli.main import dbtRunner
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from orchestration.warehouse import Target

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class DbtFailure(RuntimeError):
    """A dbt command finished with errors or failing tests."""


@dataclass
class DbtOutcome:
    success: bool
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (node, status, message)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (node, message)
    elapsed_seconds: float = 0.0


SALT_VARIABLE = "SEGMENTATION_ERASURE_SALT"


def salt_file(target: Target) -> Path | None:
    """Where an embedded DuckDB warehouse keeps its erasure salt when the env var is not set."""
    if target.kind != "duckdb" or target.duckdb_path is None:
        return None
    return target.duckdb_path.with_name(target.duckdb_path.name + ".erasure_salt")


def erasure_salt(target: Target) -> str | None:
    """The erasure salt: $SEGMENTATION_ERASURE_SALT, else (DuckDB only) a random secret created once
    next to the warehouse file with owner-only permissions. A server target must set the env var."""
    if os.environ.get(SALT_VARIABLE):
        return os.environ[SALT_VARIABLE]
    path = salt_file(target)
    if path is None:
        return None
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def dbt_env(target: Target) -> dict[str, str]:
    """Environment variables that make profiles.yml resolve to `target`."""
    env = {"SEGMENTATION_TARGET": target.name, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if target.kind == "duckdb" and target.duckdb_path is not None:
        env["SEGMENTATION_DUCKDB_PATH"] = str(target.duckdb_path)
    if target.kind == "postgres" and target.postgres is not None:
        pg = target.postgres
        env.update({
            "SEGMENTATION_PG_HOST": pg.host, "SEGMENTATION_PG_PORT": str(pg.port), "SEGMENTATION_PG_USER": pg.user,
            "SEGMENTATION_PG_PASSWORD": pg.password, "SEGMENTATION_PG_DBNAME": pg.dbname,
        })
    salt = erasure_salt(target)
    if salt:
        env[SALT_VARIABLE] = salt
    return env


def run_dbt(
    args: list[str],
    target: Target,
    console: Console | None = None,
    description: str = "dbt",
    raise_on_failure: bool = True,
) -> DbtOutcome:
    """Invoke `dbt <args>` against `target` from the project directory, showing progress per node."""
    console = console or Console(stderr=True)
    os.environ.update(dbt_env(target))
    outcome = DbtOutcome(success=False)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[node]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task(description, total=None, node="")

    def on_event(event) -> None:  # dbt EventMsg
        name = event.info.name
        if name == "ConcurrencyLine":
            progress.update(task, total=event.data.node_count)
        elif name == "NodeStart":
            progress.update(task, node=event.data.node_info.node_name)
        elif name == "NodeFinished":
            progress.advance(task)
            info = event.data.node_info
            status = info.node_status
            if status in {"error", "fail", "runtime error"}:
                outcome.failures.append((info.unique_id, status, event.data.run_result.message))
            elif status == "warn":
                outcome.warnings.append((info.unique_id, event.data.run_result.message))
        elif name == "CommandCompleted":
            outcome.elapsed_seconds = event.data.elapsed

    full_args = [
        *args,
        "--project-dir",
        str(PROJECT_ROOT),
        "--profiles-dir",
        str(PROJECT_ROOT),
        "--target",
        target.name,
        "--log-level",
        "none",
        "--log-level-file",
        "info",
    ]
    cwd = Path.cwd()
    os.chdir(PROJECT_ROOT)
    try:
        with progress:
            result = dbtRunner(callbacks=[on_event]).invoke(full_args)
    finally:
        os.chdir(cwd)
    outcome.success = bool(result.success)
    run_results = getattr(result.result, "results", None) or []
    for node_result in run_results:
        status = str(node_result.status)
        outcome.counts[status] = outcome.counts.get(status, 0) + 1
    if result.exception is not None and not outcome.failures:
        outcome.failures.append(("dbt", "error", str(result.exception)))
    if not outcome.success and raise_on_failure:
        details = "\n".join(f"  {node}: {status}: {message}" for node, status, message in outcome.failures)
        raise DbtFailure(f"dbt {' '.join(args)} failed (see logs/dbt.log):\n{details}")
    return outcome
