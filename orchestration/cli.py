"""The `segmentation` command: generate sample data, load raw files, build the warehouse, run the demo."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestration import contract_docs, identity_rules, segment_models
from orchestration.dbt_runner import PROJECT_ROOT, DbtFailure, dbt_env, run_dbt, salt_file
from orchestration.loader import LoadError, LoadReport, load_folder
from orchestration.run_progress import RunProgress
from orchestration.sample_data import generate
from orchestration.warehouse import Target, connect, resolve_target

if TYPE_CHECKING:
    from orchestration.quality.runner import ExpectationOutcome

console = Console(stderr=True)
DEFAULT_SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
# The Dagster job `segmentation demo` and `segmentation run` execute in process (orchestration/dagster_defs).
DEMO_JOB = "nightly_full_build"
BUILD_JOBS = ["nightly_full_build", "hourly_incremental_build"]

target_option = click.option(
    "--target",
    "target_name",
    default=None,
    help="profiles.yml target (default: $SEGMENTATION_TARGET or duckdb).",
)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[item]}"),
        TimeElapsedColumn(),
        console=console,
    )


def _callback(progress: Progress, description: str) -> Callable[[str, int, int], None]:
    task = progress.add_task(description, total=None, item="")

    def update(item: str, done: int, total: int) -> None:
        progress.update(task, completed=done, total=total, item=item)

    return update


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    sys.exit(1)


@click.group()
def main() -> None:
    """Warehouse-native customer segmentation: load, stage, resolve identities, build segments."""


@main.command("generate")
@click.option("--people", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=DEFAULT_SAMPLE_DIR, show_default=True)
@click.option("--end-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Default: today (UTC).")
@click.option("--days", type=click.IntRange(min=30), default=365, show_default=True)
@click.option("--format", "file_format", type=click.Choice(["parquet", "csv", "jsonl"]), default="parquet")
def generate_command(
    people: int, seed: int, out_dir: Path, end_date, days: int, file_format: str
) -> None:
    """Write deterministic sample data (raw files, manifest and ground truth) to a folder."""
    _generate(people, seed, out_dir, end_date.date() if end_date else None, days, file_format)


def _generate(
    people: int, seed: int, out_dir: Path, end_date: date | None, days: int, file_format: str
) -> dict:
    if out_dir.exists():
        shutil.rmtree(out_dir)
    started = time.perf_counter()
    with _progress() as progress:
        manifest = generate(
            out_dir,
            people=people,
            seed=seed,
            end_date=end_date,
            days=days,
            file_format=file_format,  # type: ignore[arg-type]
            progress=_callback(progress, "generate"),
        )
    rows = sum(t["rows"] for t in manifest["tables"].values())
    console.print(
        f"generated {rows:,} raw rows for {people:,} people in {time.perf_counter() - started:.1f} s -> {out_dir}"
    )
    return manifest


@main.command("load")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@target_option
def load_command(folder: Path, target_name: str | None) -> None:
    """Load a folder of contract files (Parquet, CSV, JSONL) into the raw schema, idempotently."""
    _load(folder, resolve_target(target_name))


def _load(folder: Path, target: Target) -> LoadReport:
    with _progress() as progress:
        try:
            report = load_folder(folder, target, progress=_callback(progress, "load"))
        except LoadError as error:
            _fail(f"nothing was loaded.\n{error}")
    table = Table(title=f"load {report.load_id} into {target.name}")
    for column in ("file", "table", "rows", "status"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for row in report.summary_rows():
        table.add_row(*[f"{value:,}" if isinstance(value, int) else str(value) for value in row])
    console.print(table)
    return report


@main.command("build")
@target_option
@click.option("--select", "selection", default=None, help="dbt selection, e.g. 'staging'.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
def build_command(target_name: str | None, selection: str | None, full_refresh: bool) -> None:
    """Run `dbt build` (seeds, models, tests) against the target."""
    target = resolve_target(target_name)
    args = ["build"]
    if selection:
        args += ["--select", selection]
    if full_refresh:
        args.append("--full-refresh")
    _check_rules()
    try:
        outcome = run_dbt(args, target, console=console, description="dbt build")
    except DbtFailure as error:
        _fail(str(error))
    _print_dbt_outcome(outcome.counts, outcome.warnings, outcome.elapsed_seconds)


def _check_rules() -> None:
    try:
        identity_rules.check()
    except identity_rules.RuleError as error:
        _fail(str(error))
    if segment_models.write():
        console.print("updated models/segments/segment_memberships.sql: it now depends on every segment model")


def _print_dbt_outcome(counts: dict[str, int], warnings: list[tuple[str, str]], elapsed: float) -> None:
    summary = ", ".join(f"{status}={count}" for status, count in sorted(counts.items()))
    console.print(f"dbt build finished in {elapsed:.1f} s: {summary}")
    for node, message in warnings:
        console.print(f"[yellow]warning[/] {node}: {message}")


@main.command("summary")
@target_option
def summary_command(target_name: str | None) -> None:
    """Print staging reconciliation and quarantine reasons of the target's warehouse."""
    _print_summary(resolve_target(target_name))


def _print_summary(target: Target) -> bool:
    with connect(target) as warehouse:
        reconciliation = warehouse.query(
            "select source_name, table_name, raw_rows, staged_rows, duplicate_rows, quarantined_rows, "
            "is_reconciled from staging.staging_reconciliation order by source_name, table_name"
        )
        reasons = []
        for source_name, table_name, *_ in reconciliation:
            model = _quarantine_model(source_name, table_name)
            reasons += [
                (table_name, reason, count)
                for reason, count in warehouse.query(
                    f"select quarantine_reason, count(*) from staging.{model} group by 1 order by 2 desc"
                )
            ]
    table = Table(title="staging reconciliation: raw = staged + duplicates + quarantined")
    for column in ("source", "table", "raw", "staged", "duplicates", "quarantined", "reconciled"):
        table.add_column(column, justify="right" if column not in ("source", "table") else "left")
    all_reconciled = True
    for source_name, table_name, raw, staged, duplicates, quarantined, ok in reconciliation:
        all_reconciled = all_reconciled and bool(ok)
        table.add_row(
            source_name, table_name, f"{raw:,}", f"{staged:,}", f"{duplicates:,}", f"{quarantined:,}",
            "[green]yes[/]" if ok else "[red]NO[/]",
        )
    console.print(table)
    reason_table = Table(title="rows not staged, by reason")
    for column in ("table", "reason", "rows"):
        reason_table.add_column(column, justify="right" if column == "rows" else "left")
    for table_name, reason, count in reasons:
        reason_table.add_row(table_name, reason, f"{count:,}")
    console.print(reason_table)
    _print_identity_summary(target)
    _print_profiles_summary(target)
    _print_segments_summary(target)
    _print_sync_summary(target)
    return all_reconciled


def _print_sync_summary(target: Target) -> None:
    """What each destination's latest sync delivered (schema sync, written by `segmentation sync` and
    the Dagster sync assets)."""
    with connect(target) as warehouse:
        if not _has_table(warehouse, "sync", "deliveries"):
            return
        rows = warehouse.query(
            """
            with latest as (
                select destination_name, max(recorded_at) as recorded_at from sync.deliveries group by 1
            ),
            runs as (
                select distinct deliveries.destination_name, deliveries.sync_run_id
                from sync.deliveries inner join latest
                    on deliveries.destination_name = latest.destination_name
                    and deliveries.recorded_at = latest.recorded_at
            )
            select
                deliveries.destination_name,
                sum(case when deliveries.status = 'acknowledged' then deliveries.records else 0 end),
                sum(case when deliveries.status = 'acknowledged' then deliveries.upserts else 0 end),
                sum(case when deliveries.status = 'acknowledged' then deliveries.deletes else 0 end),
                sum(case when deliveries.status <> 'acknowledged' then deliveries.records else 0 end),
                max(cursors.changed_at)
            from sync.deliveries
            inner join runs
                on deliveries.destination_name = runs.destination_name and deliveries.sync_run_id = runs.sync_run_id
            left join sync.cursors on cursors.destination_name = deliveries.destination_name
            group by 1
            order by 1
            """
        )
    table = Table(title="reverse-ETL syncs (latest run per destination)")
    for column in ("destination", "delivered", "upserts", "deletes", "dead-lettered", "cursor at"):
        table.add_column(column, justify="left" if column in ("destination", "cursor at") else "right")
    for name, delivered, upserts, deletes, dead, cursor in rows:
        table.add_row(name, f"{delivered or 0:,}", f"{upserts or 0:,}", f"{deletes or 0:,}", f"{dead or 0:,}",
                      str(cursor or ""))
    console.print(table)


def _print_segments_summary(target: Target) -> None:
    with connect(target) as warehouse:
        if not _has_table(warehouse, "segments", "segment_catalog"):
            return
        rows = warehouse.query(
            "select segment_name, owner, destinations, members, activatable_members "
            "from segments.segment_catalog order by segment_name"
        )
        activation = {
            table: warehouse.query(f"select count(*) from activation.{table}")[0][0]
            for table in ("activation_email", "activation_ads", "activation_crm")
        }
    table = Table(title="segments (activatable = not holdout, not priority-suppressed)")
    for column in ("segment", "owner", "destinations", "members", "activatable"):
        table.add_column(column, justify="right" if column in ("members", "activatable") else "left")
    for name, owner, destinations, members, activatable in rows:
        table.add_row(name, owner, destinations, f"{members:,}", f"{activatable:,}")
    console.print(table)
    console.print("activation rows (consent applied): " + ", ".join(f"{t} {n:,}" for t, n in activation.items()))


def _has_table(warehouse, schema: str, table: str) -> bool:
    return bool(warehouse.query(
        "select count(*) from information_schema.tables where table_schema = "
        f"{warehouse.placeholder} and table_name = {warehouse.placeholder}", [schema, table]
    )[0][0])


def _print_profiles_summary(target: Target) -> None:
    with connect(target) as warehouse:
        if not _has_table(warehouse, "profiles", "profile_traits"):
            return
        profiles = warehouse.query(
            "select count(*), sum(case when is_known then 1 else 0 end), "
            "sum(case when lifecycle_stage = 'customer' then 1 else 0 end) from profiles.profiles"
        )[0]
        traits = warehouse.query(
            "select sum(case when order_count > 0 then 1 else 0 end), sum(revenue), "
            "sum(case when has_open_abandoned_cart then 1 else 0 end), max(traits_as_of) from profiles.profile_traits"
        )[0]
        sessions = warehouse.query("select count(*) from profiles.sessions")[0][0]
        consent = warehouse.query(
            "select purpose, sum(case when is_granted then 1 else 0 end) from profiles.profile_consent "
            "group by purpose order by purpose"
        )
        erasure = warehouse.query(
            "select coalesce(sum(identifiers_suppressed), 0), coalesce(sum(profiles_erased), 0) "
            "from privacy.privacy_erasure_log where relation_name = '*'"
        )[0] if _has_table(warehouse, "privacy", "privacy_erasure_log") else (0, 0)
    table = Table(title=f"profiles (traits as of {traits[3]})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("profiles", profiles[0]), ("known (email, phone or an id)", profiles[1]),
        ("customers (lifecycle stage)", profiles[2]), ("buyers (at least one order)", traits[0]),
        ("revenue net of refunds", round(traits[1] or 0)), ("open abandoned carts", traits[2]),
        ("sessions", sessions),
    ]
    rows += [(f"consent granted: {purpose}", granted) for purpose, granted in consent]
    rows += [("erased: identifiers suppressed (all runs)", erasure[0]), ("erased: profiles (all runs)", erasure[1])]
    for label, value in rows:
        table.add_row(label, "-" if value is None else f"{value:,}")
    console.print(table)


def _print_identity_summary(target: Target) -> None:
    with connect(target) as warehouse:
        built = warehouse.query(
            "select count(*) from information_schema.tables "
            "where table_schema = 'identity' and table_name = 'identity_resolution_runs'"
        )[0][0]
        if not built:
            return
        runs = warehouse.query(
            "select identifiers, identifiers_blocked, links_kept, links_cut, profiles, largest_profile_identifiers, "
            "components_rounds, profiles_merged, profiles_split from identity.identity_resolution_runs "
            "order by run_at desc limit 1"
        )
        rules = warehouse.query(
            "select rule_name, count(*) from identity.identity_rule_audit group by 1 order by 2 desc"
        )
    if not runs:
        return
    (identifiers, blocked, kept, cut, profiles, largest, rounds, merged, split) = runs[0]
    table = Table(title="identity resolution (last run)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in (
        ("identifiers", identifiers), ("profiles", profiles), ("largest profile (identifiers)", largest),
        ("links kept", kept), ("links cut by rules", cut), ("identifiers blocklisted", blocked),
        ("connected-components rounds", rounds), ("profiles merged this run", merged),
        ("profiles split this run", split),
    ):
        table.add_row(label, "-" if value is None else f"{value:,}")
    for rule_name, count in rules:
        table.add_row(f"audit: {rule_name}", f"{count:,}")
    console.print(table)


def _quarantine_model(source_name: str, table_name: str) -> str:
    entity = "contacts" if table_name == "crm_contacts" else table_name
    return f"quarantine_{source_name}__{entity}"


@main.command("demo")
@click.option("--people", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=DEFAULT_SAMPLE_DIR, show_default=True)
@click.option(
    "--reset/--no-reset",
    default=True,
    show_default=True,
    help="Start from an empty DuckDB warehouse file (only on the duckdb target).",
)
@target_option
def demo_command(people: int, seed: int, out_dir: Path, reset: bool, target_name: str | None) -> None:
    """The main job end to end: generate sample data, then the Dagster job nightly_full_build in process
    (load, dbt build, quality suites, publish), then a summary."""
    target = resolve_target(target_name)
    _check_rules()
    timings: list[tuple[str, float]] = []
    console.rule(f"[bold]segmentation demo[/] on target {target.name}")
    if reset and target.kind == "duckdb" and target.duckdb_path and target.duckdb_path.exists():
        console.print(f"reset: removing {target.duckdb_path}")
        target.duckdb_path.unlink()
        wal = target.duckdb_path.with_name(target.duckdb_path.name + ".wal")
        if wal.exists():
            wal.unlink()
        salt = salt_file(target)
        if salt is not None and salt.exists():
            salt.unlink()  # a new warehouse gets a new erasure salt

    started = time.perf_counter()
    console.print(f"[bold]1/2 generate[/] {people:,} people (seed {seed}) into {out_dir}")
    _generate(people, seed, out_dir, None, 365, "parquet")
    timings.append(("generate", time.perf_counter() - started))

    console.print(f"[bold]2/2 {DEMO_JOB}[/] (Dagster, in process): load, dbt build, quality suites, publish")
    succeeded, run_timings, quality_passed = _run_job(DEMO_JOB, target, out_dir)
    timings += run_timings

    reconciled = _print_summary(target)
    _print_timings(timings)
    where = target.duckdb_path if target.kind == "duckdb" else target.name
    console.print(
        f"[bold green]done[/]: warehouse at {where}; every raw row reconciled: {reconciled}; "
        f"consent guard passed: {quality_passed}"
    )
    if not (succeeded and reconciled and quality_passed):
        sys.exit(1)


@main.command("run")
@click.option("--job", "job_name", type=click.Choice(BUILD_JOBS), default=DEMO_JOB, show_default=True)
@click.option("--landing", "landing", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of new raw files (default: $SEGMENTATION_LANDING_DIR or data/landing).")
@target_option
def run_command(job_name: str, landing: Path | None, target_name: str | None) -> None:
    """Run a Dagster job in process, without the UI: load, dbt build, quality suites, publish."""
    target = resolve_target(target_name)
    console.rule(f"[bold]{job_name}[/] on target {target.name}")
    succeeded, timings, quality_passed = _run_job(job_name, target, landing)
    reconciled = _print_summary(target)
    _print_timings(timings)
    console.print(
        f"[bold green]done[/]: run {'succeeded' if succeeded else 'FAILED'}; every raw row reconciled: "
        f"{reconciled}; consent guard passed: {quality_passed}"
    )
    if not (succeeded and reconciled and quality_passed):
        sys.exit(1)


def _run_job(job_name: str, target: Target, landing: Path | None) -> tuple[bool, list[tuple[str, float]], bool]:
    """Run `job_name` in process against `target`, loading from `landing`; print progress and the quality
    results. Returns (run succeeded, seconds per stage, consent guard passed)."""
    from orchestration.dagster_defs import run as dagster_run
    from orchestration.dagster_defs.project import prepare_if_stale
    from orchestration.dagster_defs.resources import LANDING_DIR_VARIABLE

    os.environ.update(dbt_env(target))  # the definitions and their resources resolve the target from here
    if landing is not None:
        os.environ[LANDING_DIR_VARIABLE] = str(landing.resolve())
    # dbt's chatter (dagster-dbt echoes it to stdout; dbt also writes dbt.log in its target folder) and
    # Dagster's own INFO lines stay out of the terminal: the bars below show progress, failures are printed.
    logging.getLogger("dagster").propagate = False
    prepare_if_stale()  # dbt parse when a project file changed: the manifest must describe the models as they are
    from orchestration.dagster_defs import defs

    instance = dagster_run.instance()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[item]}"),
        TimeElapsedColumn(), console=console,
    ) as progress:
        listener = RunProgress(progress, defs, console)
        result = dagster_run.run_job(job_name, instance, on_event=listener)
    console.print(f"run {result.run_id} {'succeeded' if result.success else '[red]failed[/]'} "
                  f"(recorded in {os.environ['DAGSTER_HOME']}; `dagster dev` shows it)")
    for step, message in listener.failures:
        console.print(f"[red]failed step {step}[/]: {message}")
    quality_passed = _print_quality_results(target, result.run_id)
    return result.success, listener.timings(), quality_passed


def _print_timings(timings: list[tuple[str, float]]) -> None:
    timing_table = Table(title="timings")
    timing_table.add_column("stage")
    timing_table.add_column("seconds", justify="right")
    for stage, seconds in timings:
        timing_table.add_row(stage, f"{seconds:.1f}")
    timing_table.add_row("total", f"{sum(s for _, s in timings):.1f}")
    console.print(timing_table)


def _print_quality_results(target: Target, run_id: str) -> bool:
    """The quality table of a Dagster run (its suites recorded the run id); False when a critical suite
    failed or did not run."""
    from orchestration.quality.runner import DEFAULT_DOCS_DIR, RESULTS_TABLE, ExpectationOutcome
    from orchestration.quality.suites import SUITES

    with connect(target) as warehouse:
        if not _has_table(warehouse, "quality", "validation_results"):
            rows = []
        else:
            rows = warehouse.query(
                "select suite_name, severity, dataset_name, expectation_type, column_name, success, element_count, "
                f"unexpected_count, unexpected_keys from {RESULTS_TABLE} where run_id = {warehouse.placeholder}",
                [run_id])
    if not rows:
        console.print("[red]the quality suites did not run[/]")
        return False
    outcomes = [
        ExpectationOutcome(suite=r[0], severity=r[1], dataset=r[2], expectation=r[3], column=r[4], success=bool(r[5]),
                           element_count=r[6], unexpected_count=r[7], unexpected_keys=r[8].split(",") if r[8] else [])
        for r in rows
    ]
    order = [suite.name for suite in SUITES]
    outcomes.sort(key=lambda o: order.index(o.suite) if o.suite in order else len(order))
    docs = Path(os.environ.get("SEGMENTATION_DATA_DOCS_DIR", DEFAULT_DOCS_DIR)) / "index.html"
    return _print_quality(run_id, outcomes, docs)


def _run_quality(target: Target, incremental: bool = False) -> bool:
    """Run every quality suite, print a summary; False when a critical suite failed."""
    from orchestration.quality.runner import run_quality

    report = run_quality(target, incremental=incremental)
    console.print(f"{report.mode} validation: {report.rows_validated:,} rows; "
                  + ", ".join(f"{run.dataset} {run.rows:,}" + (" (new loads)" if run.mode == "incremental" else "")
                              for run in report.datasets))
    return _print_quality(report.run_id, report.outcomes, report.docs_index)


def _print_quality(run_id: str, outcomes: list[ExpectationOutcome], docs_index: Path) -> bool:
    """Print a quality run's table and failures; False when a critical suite failed."""
    table = Table(title=f"quality suites (Great Expectations), run {run_id[:8]}")
    for column in ("suite", "severity", "expectations", "failed"):
        table.add_column(column, justify="right" if column in ("expectations", "failed") else "left")
    for suite in dict.fromkeys(o.suite for o in outcomes):
        suite_outcomes = [o for o in outcomes if o.suite == suite]
        failed = [o for o in suite_outcomes if not o.success]
        table.add_row(suite, suite_outcomes[0].severity, str(len(suite_outcomes)),
                      f"[red]{len(failed)}[/]" if failed else "[green]0[/]")
    console.print(table)
    for outcome in (o for o in outcomes if not o.success):
        colour = "red" if outcome.severity == "critical" else "yellow"
        console.print(
            f"[{colour}]{outcome.severity}[/] {outcome.suite}/{outcome.dataset}: {outcome.expectation}"
            f"({outcome.column}) failed for {outcome.unexpected_count:,} of {outcome.element_count:,} rows; "
            f"first keys: {', '.join(outcome.unexpected_keys[:5]) or '-'}"
        )
    console.print(f"results in quality.validation_results; Data Docs at {docs_index}")
    critical_passed = not any(not o.success and o.severity == "critical" for o in outcomes)
    if not critical_passed:
        console.print("[bold red]a critical suite failed: activation and syncs are blocked[/]")
    return critical_passed


@main.command("quality")
@click.option("--incremental", is_flag=True,
              help="Validate raw and staged events only on loads not validated before (plus, for uniqueness, "
                   "the earlier rows sharing a value with a new row); the other datasets and the consent "
                   "guard whole. Without a watermark yet, everything.")
@target_option
def quality_command(incremental: bool, target_name: str | None) -> None:
    """Run the Great Expectations suites (raw/staging, identity, profiles, consent guard)."""
    if not _run_quality(resolve_target(target_name), incremental=incremental):
        sys.exit(1)


@main.command("sync")
@click.option("--destination", "destination_names", multiple=True,
              help="Only this destination (repeatable; runs it even when disabled). Default: every enabled one.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Destinations file (default: $SEGMENTATION_DESTINATIONS or orchestration/destinations.yml).")
@target_option
def sync_command(destination_names: tuple[str, ...], config_path: Path | None, target_name: str | None) -> None:
    """Deliver segment membership changes to webhooks, files and SQL tables, each from its cursor.

    Exits 1 when the consent guard has not passed, the destinations file is invalid or a destination
    failed; 2 when everything ran but some batches went to sync.dead_letters.
    """
    from orchestration.sync import ConfigError, SyncRefused, SyncReport, run_sync

    target = resolve_target(target_name)
    try:
        with _progress() as progress:
            reports = run_sync(target, config_path, list(destination_names) or None, _callback(progress, "sync"))
    except ConfigError as error:
        _fail(f"nothing was synced: the destinations file is invalid.\n{error}")
    except SyncRefused as error:
        _fail(str(error))
    table = Table(title=f"sync on {target.name}")
    table.add_column("measure")
    for r in reports:
        table.add_column(r.destination, justify="right")
    colours = {"ok": "green", "dead_lettered": "yellow", "failed": "red"}
    measures: list[tuple[str, Callable[[SyncReport], str]]] = [
        ("type", lambda r: r.destination_type),
        ("status", lambda r: f"[{colours[r.status]}]{r.status}[/]"),
        ("changes read", lambda r: f"{r.changes_read:,} of {r.pending:,}"),
        ("delivered (upsert / delete)", lambda r: f"{r.delivered:,} ({r.upserts:,} / {r.deletes:,})"),
        ("of which reconcile (consent, attributes)", lambda r: f"{r.reconciled:,}"),
        ("batches", lambda r: f"{r.batches:,}"),
        ("retried requests", lambda r: f"{r.retries:,}"),
        ("dead-lettered", lambda r: f"{r.dead_lettered:,}"),
        ("cursor before", lambda r: str(r.cursor_before or "-")),
        ("cursor after", lambda r: str(r.cursor_after or "-")),
        ("seconds", lambda r: f"{r.seconds:.1f}"),
    ]
    for label, cell in measures:
        table.add_row(label, *[cell(r) for r in reports])
    console.print(table)
    for r in reports:
        if r.error:
            console.print(f"[red]{r.destination}[/]: {r.error}")
    if not reports:
        console.print("no destination is enabled; name one with --destination")
    if any(r.status == "failed" for r in reports):
        sys.exit(1)
    if any(r.status == "dead_lettered" for r in reports):
        console.print("[yellow]some batches went to sync.dead_letters (see docs/sync.md)[/]")
        sys.exit(2)


@main.command("bench", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench_command(args: tuple[str, ...]) -> None:
    """Benchmark the pipeline stage by stage into docs/benchmarks.md: --size S|M|L [--batches N] ...
    (`segmentation bench --help` lists every option)."""
    from orchestration.benchmarks import pipeline

    pipeline.main(list(args), prog="segmentation bench")


@main.command("segments")
@click.option("--write", is_flag=True, help="Regenerate segment_memberships' list of segment models.")
def segments_command(write: bool) -> None:
    """Check (or --write) that segment_memberships depends on every model in models/segments/definitions."""
    if write:
        changed = segment_models.write()
        console.print("segment_memberships.sql " + ("updated" if changed else "already up to date"))
        return
    if not segment_models.is_current():
        _fail("models/segments/segment_memberships.sql does not list every segment model: "
              "run `segmentation segments --write`")
    console.print(f"segment_memberships depends on all {len(segment_models.segment_models())} segment models")


@main.command("contract")
@click.option("--write", is_flag=True, help="Regenerate the sources YAML and the contract doc tables.")
def contract_command(write: bool) -> None:
    """Check (or --write) the files generated from orchestration/contract.py."""
    if write:
        for path in contract_docs.write():
            console.print(f"wrote {path.relative_to(PROJECT_ROOT)}")
        return
    stale = contract_docs.drift()
    if stale:
        _fail("out of date with orchestration/contract.py (run `segmentation contract --write`): "
              + ", ".join(str(p.relative_to(PROJECT_ROOT)) for p in stale))
    console.print("contract files are up to date")


if __name__ == "__main__":
    main()
