"""Jobs and schedules. Every job carries the warehouse tag the run queue limits to one run at a time."""

from __future__ import annotations

from dagster import AssetSelection, ScheduleDefinition, define_asset_job

from orchestration.dagster_defs.sample_job import build_sample_data_job
from orchestration.warehouse import resolve_target

WAREHOUSE_TAG = "segmentation/warehouse"


def warehouse_tags() -> dict[str, str]:
    """`segmentation/warehouse: <target>`: dagster.yaml allows one run per value at a time."""
    return {WAREHOUSE_TAG: resolve_target().name}


def _dbt_config(full_refresh: bool) -> dict:
    return {"ops": {"segmentation_dbt": {"config": {"full_refresh": full_refresh}}}}


INCREMENTAL_CONFIG = _dbt_config(full_refresh=False)
FULL_REFRESH_CONFIG = _dbt_config(full_refresh=True)

# Everything: the raw load, every dbt model with its tests, the quality suites, the published views.
hourly_incremental_build = define_asset_job(
    "hourly_incremental_build",
    selection=AssetSelection.all(),
    config=INCREMENTAL_CONFIG,
    tags=warehouse_tags(),
    description="Load new landing files, `dbt build` (incremental), quality suites, publish activation.",
)
nightly_full_build = define_asset_job(
    "nightly_full_build",
    selection=AssetSelection.all(),
    config=FULL_REFRESH_CONFIG,
    tags=warehouse_tags(),
    description="Load new landing files, `dbt build --full-refresh` (models with full_refresh: false keep "
    "their state: profile id registry, suppressions, membership history), quality suites, publish activation.",
)
generate_sample_data = build_sample_data_job(warehouse_tags())

# Cron in UTC. The nightly full build runs at 02:30, clear of the hourly run at 02:00 (the run queue
# would hold one of them back anyway).
hourly_schedule = ScheduleDefinition(
    name="hourly_incremental_schedule",
    job=hourly_incremental_build,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    run_config=INCREMENTAL_CONFIG,
)
nightly_schedule = ScheduleDefinition(
    name="nightly_full_schedule",
    job=nightly_full_build,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    run_config=FULL_REFRESH_CONFIG,
)

JOBS = [hourly_incremental_build, nightly_full_build, generate_sample_data]
SCHEDULES = [hourly_schedule, nightly_schedule]
JOB_CONFIG = {hourly_incremental_build.name: INCREMENTAL_CONFIG, nightly_full_build.name: FULL_REFRESH_CONFIG}
