"""Run the expectation suites against a warehouse, record the results, build Data Docs.

DuckDB: Great Expectations has no DuckDB dialect (its SQL datasource over duckdb-engine returned no
metric rows here), so each dataset's query runs on DuckDB and the result is validated as a pandas
batch. The suites are the same objects on every engine.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import great_expectations as gx
import pandas as pd
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig

from orchestration.dbt_runner import PROJECT_ROOT, erasure_salt
from orchestration.quality.suites import SUITES, Dataset, Suite
from orchestration.warehouse import PostgresParams, Target, Warehouse, connect

DEFAULT_DOCS_DIR = PROJECT_ROOT / "quality" / "data_docs"
RESULTS_TABLE = "quality.validation_results"
# The watermark of incremental validation: one row per dataset and load whose rows passed a validation.
LOADS_TABLE = "quality.validated_loads"
KEYS_SHOWN = 20


@dataclass
class ExpectationOutcome:
    suite: str
    severity: str
    dataset: str
    expectation: str
    column: str
    success: bool
    element_count: int
    unexpected_count: int
    unexpected_keys: list[str]
    mode: str = "full"  # how the dataset was validated: "full" (every row) or "incremental"


@dataclass
class DatasetRun:
    """How one dataset was validated in a run."""
    suite: str
    dataset: str
    mode: str  # "full" or "incremental"
    rows: int = 0  # rows validated (incremental: new rows plus the earlier rows sharing a unique key)
    new_loads: int = 0  # loads validated for the first time (full mode: every load of the table)
    new_rows: int = 0  # their rows
    fetch_seconds: float = 0.0  # DuckDB: counting and fetching the rows into pandas
    validate_seconds: float = 0.0  # Great Expectations: the checkpoint (Data Docs are built once, after all)
    success: bool = True  # every expectation of the dataset passed


@dataclass
class QualityReport:
    run_id: str
    validated_at: datetime
    outcomes: list[ExpectationOutcome]
    docs_index: Path
    mode: str = "full"  # what was asked: "full" or "incremental"
    datasets: list[DatasetRun] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase of the run

    @property
    def rows_validated(self) -> int:
        return sum(d.rows for d in self.datasets)

    def failed(self, severity: str | None = None) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success and (severity is None or o.severity == severity)]

    @property
    def critical_passed(self) -> bool:
        return not self.failed("critical")


# The salted hash of an activation row's identifier, as the erasure computes it (macros/privacy/hashing.sql).
# The salt never becomes SQL text: DuckDB binds it as a parameter; PostgreSQL reads it from a setting of
# the validating session (passed in the connection options, which Great Expectations keeps as a secret).
SALTED_HASH_SQL = {
    "duckdb": "sha256(? || ':' || activation.identifier_type || ':' || activation.identifier_value)",
    "postgres": "encode(sha256(convert_to(current_setting('segmentation.erasure_salt') || ':' "
                "|| activation.identifier_type || ':' || activation.identifier_value, 'UTF8')), 'hex')",
}
# Great Expectations resolves ${...} in a connection string from the environment, so the URL with its
# password and salt is never written into the context's configuration.
PG_URL_VARIABLE = "SEGMENTATION_QUALITY_PG_URL"


# DuckDB datasets above this many rows are validated in parts, so memory stays bounded at any size.
PART_ROWS = 2_000_000


def vectorisable(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its columns in the dtypes Great Expectations compares vectorised (in place).

    Its pandas engine checks a range (expect_column_values_to_be_between) with array operations only
    on int64, float64 and nanosecond datetime columns; DuckDB hands pandas microsecond timestamps, which
    it compared with one Python call per row (8.1 s for 1.3M event times). Timestamps become nanoseconds
    when every value fits (1677 to 2262); a column with one outside that range stays as it is, so the
    out-of-range value is still found, row by row."""
    for name, dtype in frame.dtypes.items():
        column = frame[name]
        if pd.api.types.is_datetime64_dtype(dtype) and not pd.api.types.is_datetime64_ns_dtype(dtype):
            low, high = column.min(), column.max()
            if pd.isna(low) or (pd.Timestamp.min <= low and high <= pd.Timestamp.max):
                frame[name] = column.astype("datetime64[ns]")
    return frame


@dataclass
class _Batch:
    """One dataset of a suite (or one part of it), ready to validate: its batch definition and the
    run-time parameters."""
    suite: Suite
    dataset: Dataset
    definition: object
    parameters: dict
    name: str
    run: DatasetRun


@dataclass
class _Window:
    """Which rows of a dataset a run validates: all of them ("full"), or ("incremental") the rows of
    the loads in `loads` plus every other row sharing a uniqueness-checked value with one of them.
    `loads` (load id, max loaded_at, rows) are recorded as validated when the dataset passes; in full
    mode they are the loads present when the run started (the rows validated are a superset)."""
    mode: str
    loads: list[tuple[str | None, datetime | None, int]] = field(default_factory=list)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _window_relation(dataset: Dataset, window: _Window) -> str:
    """The dataset's table, or in incremental mode the window of it that is validated."""
    table = dataset.table
    assert table is not None and dataset.incremental_by is not None
    if window.mode == "full":
        return table
    lineage = dataset.incremental_by
    ids = [load_id for load_id, _, _ in window.loads if load_id is not None]
    new = []
    if ids:
        new.append(f"{lineage} in ({', '.join(_literal(i) for i in ids)})")
    if any(load_id is None for load_id, _, _ in window.loads):
        new.append(f"{lineage} is null")  # rows without lineage are never recorded: always validated
    new_rows = " or ".join(new) or "1 = 0"
    # Uniqueness compares rows with each other: the earlier rows sharing a value with a new row join them.
    earlier = "".join(f" or ({', '.join(key)}) in (select {', '.join(key)} from {table} where {new_rows})"
                      for key in dataset.window_keys)
    return f"(select * from {table} where {new_rows}{earlier}) as {table.split('.')[-1]}"


def _dataset_sql(target: Target, dataset: Dataset, salt: str | None, window: _Window | None = None) -> str:
    if dataset.needs_salt and not salt:
        raise RuntimeError("the consent guard needs SEGMENTATION_ERASURE_SALT to recognise suppressed identifiers")
    sql = dataset.sql.replace("{salted_hash}", SALTED_HASH_SQL[target.kind])
    if dataset.incremental:
        sql = sql.replace("{table}", _window_relation(dataset, window or _Window("full")))
    return sql


def _ensure_loads_table(warehouse: Warehouse) -> None:
    warehouse.execute("create schema if not exists quality")
    warehouse.execute(
        f"create table if not exists {LOADS_TABLE} (dataset_name varchar, load_id varchar, loaded_at timestamp, "
        "row_count bigint, quality_run_id varchar, validated_at timestamp, validation_mode varchar)"
    )


def _plan_windows(target: Target, incremental: bool) -> dict[str, _Window]:
    """The window of every dataset: incremental datasets with a watermark get the loads not validated
    before (when `incremental`); every other dataset is validated whole."""
    windows: dict[str, _Window] = {}
    with connect(target) as warehouse:
        _ensure_loads_table(warehouse)
        mark = warehouse.placeholder
        for suite in SUITES:
            for dataset in suite.datasets:
                if not dataset.incremental:
                    windows[dataset.name] = _Window("full")
                    continue
                lineage, loaded_at = dataset.incremental_by, dataset.loaded_at_column
                has_watermark = incremental and bool(warehouse.query(
                    f"select 1 from {LOADS_TABLE} where dataset_name = {mark} limit 1", [dataset.name]))
                unseen = (f" where {lineage} is null or {lineage} not in "
                          f"(select load_id from {LOADS_TABLE} where dataset_name = {mark})") if has_watermark else ""
                loads = warehouse.query(
                    f"select {lineage}, max({loaded_at}), count(*) from {dataset.table}{unseen} group by {lineage}",
                    [dataset.name] if has_watermark else [])
                loads.sort(key=lambda load: (load[1] is None, load[1], load[0] or ""))
                windows[dataset.name] = _Window("incremental" if has_watermark else "full", loads)
    return windows


def _duckdb_batches(context, target: Target, windows: dict[str, _Window]) -> Iterator[_Batch]:
    """DuckDB: each dataset's query runs on DuckDB and its rows are validated as pandas batches.

    A dataset of more than PART_ROWS rows is validated in parts split by a hash of its partition
    column (the column its uniqueness expectation checks), so duplicates always meet in one part and
    memory stays bounded; the parts' results are combined into one outcome per expectation. The next
    part is fetched in a background thread while Great Expectations validates this one
    (`_fetched_ahead`): at most two parts are in memory."""
    source = context.data_sources.add_pandas("warehouse")
    with connect(target) as warehouse:
        cursor = warehouse.connection.cursor()  # the fetching thread's own handle on the connection
        parts = _fetched_ahead(_duckdb_parts(cursor, target, windows))
        try:
            for part in parts:
                asset = source.add_dataframe_asset(part.name)
                yield _Batch(part.suite, part.dataset, asset.add_batch_definition_whole_dataframe("all"),
                             {"dataframe": part.frame}, part.name, part.run)
                del part
        finally:
            parts.close()  # stops the thread before its cursor closes
            cursor.close()


@dataclass
class _Part:
    """One dataset's rows (or one part of them) fetched from DuckDB."""
    suite: Suite
    dataset: Dataset
    run: DatasetRun
    name: str
    frame: pd.DataFrame


def _duckdb_parts(cursor, target: Target, windows: dict[str, _Window]) -> Iterator[_Part]:
    """Every dataset's rows in parts of at most about PART_ROWS, in suite order; the time spent
    counting and fetching is added to the dataset's fetch_seconds."""
    salt = erasure_salt(target)
    for suite in SUITES:
        for dataset in suite.datasets:
            window = windows[dataset.name]
            run = _dataset_run(suite, dataset, window)
            started = time.perf_counter()
            sql = _dataset_sql(target, dataset, salt, window)
            params = [salt] if dataset.needs_salt else []
            count_sql = f"select count(*) from ({sql}) as dataset_rows"
            rows = cursor.execute(count_sql, params).fetchone()[0]
            parts = max(1, -(-rows // PART_ROWS))
            run.fetch_seconds += time.perf_counter() - started
            for part in range(parts):
                started = time.perf_counter()
                part_sql = sql if parts == 1 else (
                    f"select * from ({sql}) as dataset_rows "
                    f"where hash({dataset.partition_column}) % {parts} = {part}")
                frame = vectorisable(cursor.execute(part_sql, params).df())
                run.fetch_seconds += time.perf_counter() - started
                name = _asset_name(suite, dataset, window) + (f"__part{part + 1}of{parts}" if parts > 1 else "")
                yield _Part(suite, dataset, run, name, frame)
                del frame


_END = object()


def _fetched_ahead(items: Iterator[_Part]) -> Iterator[_Part]:
    """`items`, the next one produced in a background thread while the caller works on this one.

    DuckDB runs a query without holding Python's lock, so its fetch of the next part overlaps Great
    Expectations' validation of this one (pandas, mostly one core). One fetch runs at a time and starts
    when the caller takes the part before it, so memory holds two parts at most. An error in the fetch
    is raised here, in the caller; closing this generator waits for the running fetch and stops."""
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="quality-fetch") as fetcher:
            pending = fetcher.submit(next, items, _END)
            while (item := pending.result()) is not _END:
                pending = fetcher.submit(next, items, _END)
                yield item
                del item
    finally:
        items.close()


def _postgres_batches(context, target: Target, windows: dict[str, _Window]) -> Iterator[_Batch]:
    """PostgreSQL: Great Expectations' native datasource; each dataset is a query asset and every
    expectation is computed in the database (SQL pushdown), only results and unexpected keys travel."""
    pg = target.postgres or PostgresParams()
    salt = erasure_salt(target)
    options = quote(f"-c segmentation.erasure_salt={salt}") if salt else ""
    os.environ[PG_URL_VARIABLE] = (
        f"postgresql+psycopg2://{quote(pg.user, safe='')}:{quote(pg.password, safe='')}@{pg.host}:{pg.port}/"
        f"{quote(pg.dbname, safe='')}" + (f"?options={options}" if options else "")
    )
    source = context.data_sources.add_postgres("warehouse", connection_string="${" + PG_URL_VARIABLE + "}")
    for suite in SUITES:
        for dataset in suite.datasets:
            window = windows[dataset.name]
            # A query asset must start with SELECT; the datasets may start with a WITH clause.
            query = f"select * from (\n{_dataset_sql(target, dataset, salt, window)}\n) as dataset_rows"
            name = _asset_name(suite, dataset, window)
            asset = source.add_query_asset(name, query=query)
            yield _Batch(suite, dataset, asset.add_batch_definition_whole_table("all"), {}, name,
                         _dataset_run(suite, dataset, window))


def _asset_name(suite: Suite, dataset: Dataset, window: _Window) -> str:
    """The asset's name, which Data Docs show: it says when only new rows were validated."""
    return f"{suite.name}__{dataset.name}" + ("__incremental" if window.mode == "incremental" else "")


def _dataset_run(suite: Suite, dataset: Dataset, window: _Window) -> DatasetRun:
    return DatasetRun(suite=suite.name, dataset=dataset.name, mode=window.mode, new_loads=len(window.loads),
                      new_rows=sum(rows for _, _, rows in window.loads))


def run_quality(target: Target, docs_dir: Path | None = None, run_id: str | None = None,
                incremental: bool = False) -> QualityReport:
    """Validate every suite, store one row per expectation in quality.validation_results, build Data Docs.

    `incremental`: event datasets (raw and staging; `Dataset.incremental`) are validated only on the rows
    of loads not validated before (quality.validated_loads), plus for uniqueness every earlier row
    sharing a value with a new row; a dataset without a watermark yet is validated whole. Every other
    dataset is always validated whole. Either way, the loads of a dataset that passed are recorded."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    docs_dir = Path(docs_dir or os.environ.get("SEGMENTATION_DATA_DOCS_DIR", DEFAULT_DOCS_DIR))
    run_id = run_id or uuid.uuid4().hex
    validated_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    mode = "incremental" if incremental else "full"
    windows = _plan_windows(target, incremental)
    timings["plan"] = time.perf_counter() - started
    started = time.perf_counter()
    # The ephemeral context announces its temporary docs folder at INFO; ours is configured below.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.add_data_docs_site(site_name="segmentation", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    timings["context"] = time.perf_counter() - started
    batches = _duckdb_batches if target.kind == "duckdb" else _postgres_batches
    outcomes: list[ExpectationOutcome] = []
    runs: dict[str, DatasetRun] = {}
    # Data Docs list each validation under this run name: the mode and the run.
    gx_run = RunIdentifier(run_name=f"{mode} {run_id[:8]}", run_time=validated_at.replace(tzinfo=UTC))
    started_batches = time.perf_counter()
    for batch in batches(context, target, windows):
        suite, dataset = batch.suite, batch.dataset
        runs[dataset.name] = batch.run
        started = time.perf_counter()
        dataset_suite = context.suites.add(gx.ExpectationSuite(name=batch.name))
        for expectation in dataset.expectations:
            dataset_suite.add_expectation(expectation.copy())
        definition = context.validation_definitions.add(gx.ValidationDefinition(
            name=batch.name, data=batch.definition, suite=dataset_suite))
        # No UpdateDataDocsAction: it rebuilt the site after every checkpoint (0.9 s each, for 0.05 s of
        # validating a batch of 10,000 rows); the site is built once below, with the same pages.
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=batch.name,
            validation_definitions=[definition],
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [dataset.key]},
        ))
        result = checkpoint.run(batch_parameters=batch.parameters, run_id=gx_run)
        for validation in result.run_results.values():
            for item in validation.results:
                details = item.result or {}
                keys = [
                    str(index.get(dataset.key) if isinstance(index, dict) else index)
                    for index in (details.get("unexpected_index_list") or [])
                ]
                outcomes.append(ExpectationOutcome(
                    suite=suite.name, severity=suite.severity, dataset=dataset.name,
                    expectation=item.expectation_config.type,
                    column=str(item.expectation_config.kwargs.get("column")
                               or ",".join(item.expectation_config.kwargs.get("column_list") or [])),
                    success=bool(item.success),
                    element_count=int(details.get("element_count") or 0),
                    unexpected_count=int(details.get("unexpected_count") or 0),
                    unexpected_keys=sorted(set(keys))[:KEYS_SHOWN],
                    mode=batch.run.mode,
                ))
        batch.run.validate_seconds += time.perf_counter() - started
    timings["fetch"] = sum(r.fetch_seconds for r in runs.values())
    timings["validate"] = sum(r.validate_seconds for r in runs.values())
    # DuckDB fetches the next part while this one validates: the wall time of both, less than their sum.
    timings["fetch and validate wall"] = time.perf_counter() - started_batches
    started = time.perf_counter()
    context.build_data_docs(site_names=["segmentation"])
    timings["docs"] = time.perf_counter() - started
    started = time.perf_counter()
    outcomes = _combine_parts(outcomes)
    for run in runs.values():
        mine = [o for o in outcomes if o.dataset == run.dataset]
        run.rows = max((o.element_count for o in mine), default=0)
        run.success = all(o.success for o in mine)
    _record(target, run_id, validated_at, outcomes, windows, list(runs.values()))
    _set_gate(target, run_id, validated_at, critical_passed=not any(
        not o.success and o.severity == "critical" for o in outcomes))
    timings["record"] = time.perf_counter() - started
    return QualityReport(run_id=run_id, validated_at=validated_at, outcomes=outcomes,
                         docs_index=docs_dir / "index.html", mode=mode, datasets=list(runs.values()),
                         timings=timings)


def dataset_of(name: str) -> Dataset:
    return next(dataset for suite in SUITES for dataset in suite.datasets if dataset.name == name)


def _combine_parts(outcomes: list[ExpectationOutcome]) -> list[ExpectationOutcome]:
    """One outcome per suite, dataset, expectation and column, summing the parts of a dataset that was
    validated in parts. An expectation with `mostly` passes when the combined share of unexpected rows
    is within it; any other passes when every part passed."""
    combined: dict[tuple[str, str, str, str], ExpectationOutcome] = {}
    mostly: dict[tuple[str, str, str, str], float] = {}
    for suite in SUITES:
        for dataset in suite.datasets:
            for expectation in dataset.expectations:
                value = getattr(expectation, "mostly", None)
                if value is not None and value < 1:
                    column = str(getattr(expectation, "column", "") or "")
                    mostly[(suite.name, dataset.name, expectation.expectation_type, column)] = value
    for outcome in outcomes:
        key = (outcome.suite, outcome.dataset, outcome.expectation, outcome.column)
        if key not in combined:
            combined[key] = ExpectationOutcome(**{**outcome.__dict__, "unexpected_keys": list(outcome.unexpected_keys)})
            continue
        total = combined[key]
        total.element_count += outcome.element_count
        total.unexpected_count += outcome.unexpected_count
        total.success = total.success and outcome.success
        total.unexpected_keys = sorted(set(total.unexpected_keys) | set(outcome.unexpected_keys))[:KEYS_SHOWN]
    for key, share in mostly.items():
        if key in combined and combined[key].element_count:
            total = combined[key]
            total.success = total.unexpected_count <= (1 - share) * total.element_count
    return list(combined.values())


def _record(target: Target, run_id: str, validated_at: datetime, outcomes: list[ExpectationOutcome],
            windows: dict[str, _Window], runs: list[DatasetRun]) -> None:
    """The results, and in the same transaction the watermark: the loads of each incremental dataset
    that passed are recorded as validated. A dataset that failed records nothing, so its new loads are
    validated again (and the failure reported again) by the next run until they pass, as a full run
    would. A full run replaces the dataset's watermark by the loads it saw when it passed, and clears it
    when it failed: rows behind the watermark no longer all pass (the table changed, e.g. a model did),
    so the next runs read the dataset whole until it passes."""
    with connect(target) as warehouse:
        warehouse.begin()
        try:
            warehouse.execute("create schema if not exists quality")
            warehouse.execute(
                f"create table if not exists {RESULTS_TABLE} (run_id varchar, validated_at timestamp, "
                "suite_name varchar, severity varchar, dataset_name varchar, expectation_type varchar, "
                "column_name varchar, success boolean, element_count bigint, unexpected_count bigint, "
                "unexpected_keys varchar, validation_mode varchar)"
            )
            # Tables created before incremental validation lack the mode (their rows were full runs).
            warehouse.execute(f"alter table {RESULTS_TABLE} add column if not exists validation_mode varchar")
            marks = ", ".join([warehouse.placeholder] * 12)
            for o in outcomes:
                warehouse.execute(
                    f"insert into {RESULTS_TABLE} (run_id, validated_at, suite_name, severity, dataset_name, "
                    "expectation_type, column_name, success, element_count, unexpected_count, unexpected_keys, "
                    f"validation_mode) values ({marks})",
                    [run_id, validated_at, o.suite, o.severity, o.dataset, o.expectation, o.column, o.success,
                     o.element_count, o.unexpected_count, ",".join(o.unexpected_keys), o.mode],
                )
            _ensure_loads_table(warehouse)
            mark = warehouse.placeholder
            for run in runs:
                window = windows[run.dataset]
                if not dataset_of(run.dataset).incremental:
                    continue
                if run.mode == "full":  # the loads present replace the watermark, passed or not
                    warehouse.execute(f"delete from {LOADS_TABLE} where dataset_name = {mark}", [run.dataset])
                if not run.success:
                    continue
                for load_id, loaded_at, rows in window.loads:
                    if load_id is not None:
                        warehouse.execute(
                            f"insert into {LOADS_TABLE} values ({', '.join([mark] * 7)})",
                            [run.dataset, load_id, loaded_at, rows, run_id, validated_at, run.mode])
            warehouse.commit()
        except Exception:
            warehouse.rollback()
            raise


ACTIVATION_TABLES = ("activation_email", "activation_ads", "activation_crm", "audiences", "people",
                     "audience_memberships")


def _set_gate(target: Target, run_id: str, checked_at: datetime, critical_passed: bool) -> None:
    """Open (or close) the gate of every build whose activation rows were just checked: the views in
    activation_published show a build's rows only while its latest check passed."""
    with connect(target) as warehouse:
        builds = {
            row[0]
            for table in ACTIVATION_TABLES
            for row in warehouse.query(f"select distinct build_run_id from activation.{table}")
            if row[0] is not None
        }
        warehouse.begin()
        try:
            warehouse.execute("create schema if not exists quality")
            warehouse.execute(
                "create table if not exists quality.activation_gate (build_run_id varchar, quality_run_id varchar, "
                "checked_at timestamp, is_open boolean)"
            )
            marks = ", ".join([warehouse.placeholder] * 4)
            for build in sorted(builds):
                warehouse.execute(
                    f"insert into quality.activation_gate values ({marks})",
                    [build, run_id, checked_at, critical_passed],
                )
            warehouse.commit()
        except Exception:
            warehouse.rollback()
            raise
