"""Great Expectations suites as asset checks: one check per suite on each asset the suite validates.

`run_quality` runs every suite once per run (one step for all checks), records the results in
`quality.validation_results` and opens or closes `quality.activation_gate`. The hourly incremental build
validates raw and staged events incrementally (only loads not validated before); every other job, the
nightly full build among them, validates everything. Warning suites report
with severity WARN. The consent guard is ERROR and blocking on the activation tables: when it fails,
the step fails after reporting and nothing downstream of activation (the published views, the
syncs) runs.
"""

from collections import defaultdict
from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from orchestration.dagster_defs.assets.raw import WAREHOUSE_POOL, raw_asset_key
from orchestration.dagster_defs.resources import WarehouseResource
from orchestration.quality.runner import ExpectationOutcome, run_quality
from orchestration.quality.suites import SUITES

# The assets each suite's datasets (orchestration/quality/suites.py) read. A new dataset must be added here.
DATASET_ASSETS: dict[str, tuple[AssetKey, ...]] = {
    "raw_tracks": (raw_asset_key("tracks"),),
    "stg_segment__tracks": (AssetKey(["staging", "stg_segment__tracks"]),),
    "stg_segment__identifies": (AssetKey(["staging", "stg_segment__identifies"]),),
    "identity_map": (AssetKey(["identity", "identity_map"]),),
    "profile_sizes": (AssetKey(["identity", "identity_map"]),),
    "profile_traits": (AssetKey(["profiles", "profile_traits"]),),
    "activation_rows": tuple(AssetKey(["activation", name])
                             for name in ("activation_email", "activation_ads", "activation_crm")),
}
SEVERITY = {"warning": AssetCheckSeverity.WARN, "critical": AssetCheckSeverity.ERROR}
# Jobs whose quality step validates event datasets incrementally (orchestration/dagster_defs/jobs.py).
INCREMENTAL_JOBS = frozenset({"hourly_incremental_build"})


def check_name(suite: str) -> str:
    return f"gx_{suite}"


def _assets_of_suites() -> dict[tuple[str, AssetKey], list[str]]:
    """(suite, asset) -> the suite's datasets on that asset."""
    targets: dict[tuple[str, AssetKey], list[str]] = defaultdict(list)
    for suite in SUITES:
        for dataset in suite.datasets:
            if dataset.name not in DATASET_ASSETS:
                raise ValueError(f"quality dataset {suite.name}/{dataset.name} has no asset in DATASET_ASSETS")
            for asset_key in DATASET_ASSETS[dataset.name]:
                targets[(suite.name, asset_key)].append(dataset.name)
    return dict(targets)


SUITE_ASSETS = _assets_of_suites()
_SUITES = {suite.name: suite for suite in SUITES}
SPECS = [
    AssetCheckSpec(
        name=check_name(suite),
        asset=asset_key,
        description=f"Great Expectations suite {suite} ({_SUITES[suite].severity}): {_SUITES[suite].description}",
        blocking=_SUITES[suite].severity == "critical",
    )
    for suite, asset_key in SUITE_ASSETS
]


@multi_asset_check(specs=SPECS, name="quality_suites", pool=WAREHOUSE_POOL, can_subset=True)
def quality_suites(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[AssetCheckResult]:
    """Run every suite once; one result per (suite, asset) among the checks this run selected."""
    report = run_quality(warehouse.target(), run_id=context.run.run_id,
                         incremental=context.run.job_name in INCREMENTAL_JOBS)
    runs = {run.dataset: run for run in report.datasets}
    by_dataset: dict[tuple[str, str], list[ExpectationOutcome]] = defaultdict(list)
    for outcome in report.outcomes:
        by_dataset[(outcome.suite, outcome.dataset)].append(outcome)
    for (suite, asset_key), datasets in SUITE_ASSETS.items():
        if not any(key.asset_key == asset_key and key.name == check_name(suite)
                   for key in context.selected_asset_check_keys):
            continue
        outcomes = [o for dataset in datasets for o in by_dataset[(suite, dataset)]]
        failed = [o for o in outcomes if not o.success]
        yield AssetCheckResult(
            asset_key=asset_key,
            check_name=check_name(suite),
            passed=not failed,
            severity=SEVERITY[_SUITES[suite].severity],
            metadata={
                "quality_run_id": report.run_id,
                "validation_mode": report.mode,
                "rows_validated": MetadataValue.json(
                    {dataset: {"mode": runs[dataset].mode, "rows": runs[dataset].rows}
                     for dataset in datasets if dataset in runs}),
                "expectations": MetadataValue.int(len(outcomes)),
                "failed": MetadataValue.int(len(failed)),
                "failures": MetadataValue.json([
                    {"dataset": o.dataset, "expectation": o.expectation, "column": o.column,
                     "unexpected": o.unexpected_count, "rows": o.element_count, "first_keys": o.unexpected_keys[:5]}
                    for o in failed
                ]),
                "data_docs": MetadataValue.path(str(report.docs_index)),
            },
        )
