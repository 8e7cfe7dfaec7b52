"""The dbt project as assets: every model, seed and snapshot, grouped by layer; dbt tests as asset checks.

Two `@dbt_assets` share the manifest: `segmentation_dbt` builds everything except the views in
`models/activation/published`, which `published_activation` builds afterwards. The consent guard (a
blocking check on the activation tables, see checks.py) runs between them, so a failed guard stops
publication and everything downstream of it (the reverse-ETL syncs).
"""

import shutil
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetObservation, Config, MetadataValue
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration.dagster_defs.assets.raw import RAW_GROUP, WAREHOUSE_POOL, raw_asset_key
from orchestration.dagster_defs.project import dbt_project
from orchestration.dagster_defs.resources import WarehouseResource
from orchestration.dagster_defs.retries import WAREHOUSE_RETRY_POLICY, retry_only_if_transient
from orchestration.warehouse import Target, connect

PUBLISHED = "path:models/activation/published"
# dagster-dbt gives every dbt invocation its own target folder (<step>-<run>-<id>/, about 20 MB with the
# manifest): keep the newest few per step for debugging, or hourly runs fill the disk.
KEEP_TARGET_FOLDERS = 5


class SegmentationTranslator(DagsterDbtTranslator):
    """Sources are the raw-load assets (`raw/<table>`); every other node is grouped by its layer, the
    top folder under models/ (staging, identity, privacy, profiles, segments, activation), seeds in `seeds`."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return raw_asset_key(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)  # <schema>/<model>, e.g. identity/identity_map

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "source":
            return RAW_GROUP
        if resource_type == "seed":
            return "seeds"
        fqn = dbt_resource_props["fqn"]  # [project, layer, ..., name]
        return fqn[1] if len(fqn) > 2 else "other"


# dbt tests become asset checks (the dagster-dbt default, stated here because the design relies on it).
translator = SegmentationTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(Config):
    full_refresh: bool = False  # `dbt build --full-refresh`; models with full_refresh: false keep their state


def _build(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, full_refresh: bool
) -> Iterator[Any]:
    target = warehouse.export_dbt_env()
    _prune_target_folders(context.op_execution_context.op.name, keep=KEEP_TARGET_FOLDERS - 1)
    args = ["build", "--target", target.name]
    if full_refresh:
        args.append("--full-refresh")
    else:
        # Unit tests check the SQL against fixed inputs, not the data: the code cannot change between two
        # hourly runs, so they run in CI, `segmentation build` and the nightly full build only.
        args += ["--exclude-resource-type", "unit_test"]
    invocation = dbt.cli(args, context=context, raise_on_error=False)
    yield from invocation.stream()
    error = invocation.get_error()
    if error is not None:
        raise retry_only_if_transient(error, "dbt build") from error


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=PUBLISHED,
    dagster_dbt_translator=translator,
    retry_policy=WAREHOUSE_RETRY_POLICY,
    pool=WAREHOUSE_POOL,
)
def segmentation_dbt(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource, config: DbtBuildConfig
):
    """`dbt build` of the selected models, seeds and their tests (seeds -> staging -> ... -> activation)."""
    yield from _build(context, dbt, warehouse, config.full_refresh)
    if AssetKey(["staging", "staging_reconciliation"]) in context.selected_asset_keys:
        yield from _reconciliation(warehouse.target())


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=PUBLISHED,
    dagster_dbt_translator=translator,
    retry_policy=WAREHOUSE_RETRY_POLICY,
    pool=WAREHOUSE_POOL,
)
def published_activation(context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """The `activation_published` views external tools read; built only after the consent guard passed."""
    yield from _build(context, dbt, warehouse, full_refresh=False)


def _prune_target_folders(step: str, keep: int) -> None:
    """Delete all but the `keep` newest target folders dbt invocations of `step` left."""
    root = dbt_project.project_dir / dbt_project.target_path
    folders = sorted((path for path in root.glob(f"{step}-*") if path.is_dir()),
                     key=lambda path: path.stat().st_mtime, reverse=True)
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)


def _reconciliation(target: Target) -> Iterator[AssetObservation]:
    """What staging did with each raw table's rows, observed on the raw asset after the build:
    raw = staged + duplicates + quarantined."""
    with connect(target) as connection:
        rows = connection.query(
            "select table_name, raw_rows, staged_rows, duplicate_rows, quarantined_rows, is_reconciled "
            "from staging.staging_reconciliation order by table_name")
    for table_name, raw, staged, duplicates, quarantined, reconciled in rows:
        yield AssetObservation(
            asset_key=raw_asset_key(table_name),
            metadata={
                "rows_raw": MetadataValue.int(raw),
                "rows_staged": MetadataValue.int(staged),
                "rows_duplicate": MetadataValue.int(duplicates),
                "rows_quarantined": MetadataValue.int(quarantined),
                "reconciled": MetadataValue.bool(bool(reconciled)),
            },
        )
