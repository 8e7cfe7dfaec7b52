"""One asset per enabled destination of the destinations file (orchestration/destinations.yml or
$SEGMENTATION_DESTINATIONS): the built-in reverse-ETL sync of that destination.

Each sync asset depends on the published view of its channel, which is built only after the blocking
consent-guard check passed: a failed guard stops the syncs as it stops publication (and run_sync
itself refuses a build whose guard has not passed).
"""

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Failure, MaterializeResult, MetadataValue, multi_asset

from orchestration.dagster_defs.assets.raw import WAREHOUSE_POOL
from orchestration.dagster_defs.resources import WarehouseResource
from orchestration.sync import ConfigError, SyncRefused, run_sync
from orchestration.sync.config import config_path, load_config

SYNC_GROUP = "syncs"


def sync_asset_key(destination: str) -> AssetKey:
    return AssetKey([SYNC_GROUP, destination])


def _published_view(channel: str) -> AssetKey:
    return AssetKey(["activation_published", f"pub_activation_{channel}"])


def build_sync_assets():
    """The sync multi-asset of the enabled destinations, or None when none is enabled."""
    path = config_path()
    destinations = load_config(path, check_env=False).named(None)
    if not destinations:
        return None

    @multi_asset(
        name="reverse_etl_syncs",
        specs=[
            AssetSpec(sync_asset_key(d.name), group_name=SYNC_GROUP, deps=[_published_view(d.channel)],
                      description=f"{d.type} destination {d.name!r}: {d.channel} activation rows of "
                                  f"{'every segment' if d.segments == 'all' else ', '.join(d.segments)}",
                      metadata={"destination_type": d.type, "channel": d.channel, "config": str(path)})
            for d in destinations
        ],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def reverse_etl_syncs(context: AssetExecutionContext, warehouse: WarehouseResource):
        """Deliver each destination's pending changes (then reconcile), from its own cursor."""
        names = [key.path[-1] for key in context.selected_asset_keys]
        try:  # the file as it is now (the same names; a test or deploy may point the variable elsewhere)
            reports = run_sync(warehouse.target(), config_path(), names)
        except (ConfigError, SyncRefused) as error:
            raise Failure(description=f"sync refused: {error}", allow_retries=False) from error
        failed = []
        for report in reports:
            context.log.info(
                f"sync {report.destination}: {report.delivered:,} delivered ({report.upserts:,} upserts, "
                f"{report.deletes:,} deletes), {report.dead_lettered:,} dead-lettered, status {report.status}")
            if report.status == "failed":
                failed.append(f"{report.destination}: {report.error}")
            yield MaterializeResult(
                asset_key=sync_asset_key(report.destination),
                metadata={
                    "status": report.status,
                    "changes_read": MetadataValue.int(report.changes_read),
                    "delivered": MetadataValue.int(report.delivered),
                    "upserts": MetadataValue.int(report.upserts),
                    "deletes": MetadataValue.int(report.deletes),
                    "retries": MetadataValue.int(report.retries),
                    "dead_lettered": MetadataValue.int(report.dead_lettered),
                    "cursor": str(report.cursor_after),
                    "seconds": MetadataValue.float(round(report.seconds, 2)),
                },
            )
        if failed:
            raise Failure(description="destination(s) failed: " + "; ".join(failed), allow_retries=False)

    return reverse_etl_syncs
