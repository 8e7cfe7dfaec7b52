"""The raw-load asset: new files from the landing folder into the warehouse's `raw` schema."""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from orchestration.contract import TABLES
from orchestration.dagster_defs.resources import LandingResource, WarehouseResource
from orchestration.dagster_defs.retries import WAREHOUSE_RETRY_POLICY, retry_only_if_transient
from orchestration.loader import LoadError, discover_files, load_folder
from orchestration.warehouse import connect

RAW_GROUP = "raw"
WAREHOUSE_POOL = "segmentation_warehouse"


def raw_asset_key(table: str) -> AssetKey:
    """The asset key of a raw table; dbt sources map to the same key (see dbt.SegmentationTranslator)."""
    return AssetKey([RAW_GROUP, table])


@multi_asset(
    name="load_raw",
    specs=[
        AssetSpec(raw_asset_key(name), group_name=RAW_GROUP, description=f"raw.{name} ({table.source}): {table.grain}",
                  metadata={"table": f"raw.{name}"})
        for name, table in TABLES.items()
    ],
    retry_policy=WAREHOUSE_RETRY_POLICY,
    pool=WAREHOUSE_POOL,
)
def load_raw(context: AssetExecutionContext, warehouse: WarehouseResource, landing: LandingResource):
    """Load every new file of the landing folder into `raw` in one transaction (files whose content was
    loaded before are skipped), then report per table: files, rows loaded by this run, rows in the table.
    A missing or empty landing folder loads nothing and is not an error: the build runs on what is there."""
    target = warehouse.target()
    folder = landing.path()
    files, naming_problems = discover_files(folder) if folder.is_dir() else ([], [])
    if not files and not naming_problems:  # nothing landed: the build still runs (windows move with time)
        context.log.warning(f"no files to load in {folder}")
        report = None
    else:
        try:
            report = load_folder(folder, target, progress=lambda item, done, total: context.log.debug(
                f"load {done}/{total}: {item}"))
        except LoadError as error:
            raise retry_only_if_transient(error, "load") from error
        context.log.info(
            f"load {report.load_id}: {len(report.loaded_files)} file(s) loaded, {len(report.skipped_files)} "
            f"already loaded, {report.loaded_rows:,} rows into {target.describe()}")
    with connect(target) as connection:
        present = {row[0] for row in connection.query(
            "select table_name from information_schema.tables where table_schema = 'raw'")}
        totals = {name: connection.query(f"select count(*) from raw.{name}")[0][0] if name in present else 0
                  for name in TABLES}
    for name in TABLES:
        files = [result for result in report.files if result.table == name] if report else []
        yield MaterializeResult(
            asset_key=raw_asset_key(name),
            metadata={
                "load_id": report.load_id if report else "",
                "files_loaded": MetadataValue.int(sum(r.status == "loaded" for r in files)),
                "files_skipped": MetadataValue.int(sum(r.status != "loaded" for r in files)),
                "files": MetadataValue.json([
                    {"file": r.file_name, "rows": r.rows, "status": r.status} for r in files]),
                "rows_loaded": MetadataValue.int(report.rows_by_table[name] if report else 0),
                "dagster/row_count": MetadataValue.int(totals[name]),
            },
        )
