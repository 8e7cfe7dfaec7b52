"""The Dagster code location: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

from dagster import Definitions

from orchestration.dagster_defs.project import dbt_resource, prepare_if_dev

prepare_if_dev()  # the manifest must exist before the dbt assets are defined

from orchestration.dagster_defs.assets.dbt import published_activation, segmentation_dbt  # noqa: E402
from orchestration.dagster_defs.assets.raw import load_raw  # noqa: E402
from orchestration.dagster_defs.assets.sync import build_sync_assets  # noqa: E402
from orchestration.dagster_defs.checks import quality_suites  # noqa: E402
from orchestration.dagster_defs.jobs import JOBS, SCHEDULES  # noqa: E402
from orchestration.dagster_defs.resources import LandingResource, WarehouseResource  # noqa: E402
from orchestration.dagster_defs.sensors import alert_on_run_failure, landing_folder_sensor  # noqa: E402

sync_assets = build_sync_assets()

defs = Definitions(
    assets=[load_raw, segmentation_dbt, published_activation, *([sync_assets] if sync_assets else [])],
    asset_checks=[quality_suites],
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=[landing_folder_sensor, alert_on_run_failure],
    resources={
        "dbt": dbt_resource(),
        "warehouse": WarehouseResource(),
        "landing": LandingResource(),
    },
)
