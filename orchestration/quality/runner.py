"""Run the expectation suites against a warehouse, record the results, build Data Docs.

DuckDB: Great Expectations has no DuckDB dialect (its SQL datasource over duckdb-engine returned no
metric rows here), so each dataset's query runs on DuckDB and the result is validated as a pandas
batch. The suites are the same objects on every engine.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import great_expectations as gx
from great_expectations.checkpoint import UpdateDataDocsAction
from great_expectations.data_context.types.base import ProgressBarsConfig

from orchestration.dbt_runner import PROJECT_ROOT, erasure_salt
from orchestration.quality.suites import SUITES, Dataset, Suite
from orchestration.warehouse import PostgresParams, Target, connect

DEFAULT_DOCS_DIR = PROJECT_ROOT / "quality" / "data_docs"
RESULTS_TABLE = "quality.validation_results"
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


@dataclass
class QualityReport:
    run_id: str
    validated_at: datetime
    outcomes: list[ExpectationOutcome]
    docs_index: Path

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


@dataclass
class _Batch:
    """One dataset of a suite (or one part of it), ready to validate: its batch definition and the
    run-time parameters."""
    suite: Suite
    dataset: Dataset
    definition: object
    parameters: dict
    name: str


def _dataset_sql(target: Target, dataset: Dataset, salt: str | None) -> str:
    if dataset.needs_salt and not salt:
        raise RuntimeError("the consent guard needs SEGMENTATION_ERASURE_SALT to recognise suppressed identifiers")
    return dataset.sql.replace("{salted_hash}", SALTED_HASH_SQL[target.kind])


def _duckdb_batches(context, target: Target) -> Iterator[_Batch]:
    """DuckDB: each dataset's query runs on DuckDB and its rows are validated as pandas batches.

    A dataset of more than PART_ROWS rows is validated in parts split by a hash of its partition
    column (the column its uniqueness expectation checks), so duplicates always meet in one part and
    memory stays bounded; the parts' results are combined into one outcome per expectation."""
    source = context.data_sources.add_pandas("warehouse")
    salt = erasure_salt(target)
    with connect(target) as warehouse:
        for suite in SUITES:
            for dataset in suite.datasets:
                sql = _dataset_sql(target, dataset, salt)
                params = [salt] if dataset.needs_salt else []
                count_sql = f"select count(*) from ({sql}) as dataset_rows"
                rows = warehouse.connection.execute(count_sql, params).fetchone()[0]
                parts = max(1, -(-rows // PART_ROWS))
                for part in range(parts):
                    part_sql = sql if parts == 1 else (
                        f"select * from ({sql}) as dataset_rows "
                        f"where hash({dataset.partition_column}) % {parts} = {part}")
                    frame = warehouse.connection.execute(part_sql, params).df()
                    name = f"{suite.name}__{dataset.name}" + (f"__part{part + 1}of{parts}" if parts > 1 else "")
                    asset = source.add_dataframe_asset(name)
                    yield _Batch(suite, dataset, asset.add_batch_definition_whole_dataframe("all"),
                                 {"dataframe": frame}, name)
                    del frame


def _postgres_batches(context, target: Target) -> Iterator[_Batch]:
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
            # A query asset must start with SELECT; the datasets may start with a WITH clause.
            query = f"select * from (\n{_dataset_sql(target, dataset, salt)}\n) as dataset_rows"
            name = f"{suite.name}__{dataset.name}"
            asset = source.add_query_asset(name, query=query)
            yield _Batch(suite, dataset, asset.add_batch_definition_whole_table("all"), {}, name)


def run_quality(target: Target, docs_dir: Path | None = None, run_id: str | None = None) -> QualityReport:
    """Validate every suite, store one row per expectation in quality.validation_results, build Data Docs."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    docs_dir = Path(docs_dir or os.environ.get("SEGMENTATION_DATA_DOCS_DIR", DEFAULT_DOCS_DIR))
    run_id = run_id or uuid.uuid4().hex
    validated_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    # The ephemeral context announces its temporary docs folder at INFO; ours is configured below.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.add_data_docs_site(site_name="segmentation", site_config={
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    batches = _duckdb_batches if target.kind == "duckdb" else _postgres_batches
    outcomes: list[ExpectationOutcome] = []
    for batch in batches(context, target):
        suite, dataset = batch.suite, batch.dataset
        dataset_suite = context.suites.add(gx.ExpectationSuite(name=batch.name))
        for expectation in dataset.expectations:
            dataset_suite.add_expectation(expectation.copy())
        definition = context.validation_definitions.add(gx.ValidationDefinition(
            name=batch.name, data=batch.definition, suite=dataset_suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=batch.name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs")],
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [dataset.key]},
        ))
        result = checkpoint.run(batch_parameters=batch.parameters, run_id=None)
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
                ))
    outcomes = _combine_parts(outcomes)
    _record(target, run_id, validated_at, outcomes)
    _set_gate(target, run_id, validated_at, critical_passed=not any(
        not o.success and o.severity == "critical" for o in outcomes))
    return QualityReport(run_id=run_id, validated_at=validated_at, outcomes=outcomes,
                         docs_index=docs_dir / "index.html")


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


def _record(target: Target, run_id: str, validated_at: datetime, outcomes: list[ExpectationOutcome]) -> None:
    with connect(target) as warehouse:
        warehouse.begin()
        try:
            warehouse.execute("create schema if not exists quality")
            warehouse.execute(
                f"create table if not exists {RESULTS_TABLE} (run_id varchar, validated_at timestamp, "
                "suite_name varchar, severity varchar, dataset_name varchar, expectation_type varchar, "
                "column_name varchar, success boolean, element_count bigint, unexpected_count bigint, "
                "unexpected_keys varchar)"
            )
            marks = ", ".join([warehouse.placeholder] * 11)
            for o in outcomes:
                warehouse.execute(
                    f"insert into {RESULTS_TABLE} values ({marks})",
                    [run_id, validated_at, o.suite, o.severity, o.dataset, o.expectation, o.column, o.success,
                     o.element_count, o.unexpected_count, ",".join(o.unexpected_keys)],
                )
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
