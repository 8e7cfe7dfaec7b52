"""Run the reverse-ETL syncs: one per configured destination, each from its own cursor.

Guarantees (see docs/sync.md):
- Nothing is read or delivered unless the latest build's consent guard passed (`SyncRefused`); the
  gate is checked again before every batch.
- Changes are delivered in the total order (changed_at, change_id). The cursor advances only after
  the destination acknowledged a batch (or it was dead-lettered), in the same warehouse transaction
  that records the batch: a crash at any point loses no change, and a rerun resends at most the
  unacknowledged batch with the same idempotency keys (at-least-once; effectively once for a receiver
  that dedupes by key; the file and SQL destinations dedupe themselves).
- After the feed, a reconcile step sends what changed in the published activation rows without a
  membership change (consent withdrawn or granted, new attributes), so after a sync without dead
  letters the destination holds exactly the published rows of its segments.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestration.sync import config as sync_config
from orchestration.sync.changes import ChangeReader, channel_segments, payload_columns
from orchestration.sync.config import Destination as DestinationConfig
from orchestration.sync.destinations import Destination, open_destination
from orchestration.sync.records import Batch, Position
from orchestration.sync.state import (
    SyncRefused,
    check_gate,
    ensure_tables,
    has_table,
    read_cursor,
    record_batch,
    utc_now,
)
from orchestration.warehouse import Target, Warehouse, connect

Progress = Callable[[str, int, int], None]


class DestinationDown(RuntimeError):
    """Too many batches in a row were dead-lettered: the destination's sync stops."""


@dataclass
class SyncReport:
    """What one destination's sync did. `status`: ok, dead_lettered (some batches went to
    sync.dead_letters, the rest was delivered) or failed (stopped; `error` says why).
    `changes_read` counts change-feed and reconcile records; `reconciled` the reconcile records delivered."""

    destination: str
    destination_type: str
    sync_run_id: str
    cursor_before: Position | None
    cursor_after: Position | None
    status: Literal["ok", "dead_lettered", "failed"] = "ok"
    pending: int = 0
    changes_read: int = 0
    delivered: int = 0
    upserts: int = 0
    deletes: int = 0
    batches: int = 0
    retries: int = 0
    dead_lettered: int = 0
    reconciled: int = 0
    seconds: float = 0.0
    error: str | None = None


def run_sync(
    target: Target,
    config_path: Path | None = None,
    destination_names: list[str] | None = None,
    progress: Progress | None = None,
) -> list[SyncReport]:
    """Sync every enabled destination of the config (or exactly `destination_names`), one after another.

    Raises `ConfigError` for an invalid destinations file (every problem listed) and `SyncRefused`
    when the consent guard has not passed for the latest build. A destination that fails does not
    stop the others: its report says `failed`.
    """
    path = sync_config.config_path(config_path)
    with connect(target) as warehouse:
        catalog = channel_segments(warehouse) if has_table(warehouse, "segments", "segment_catalog") else None
        config = sync_config.load_config(path, catalog, destination_names)
        check_gate(warehouse)
        ensure_tables(warehouse)
        return [
            _sync_destination(warehouse, destination, catalog or {}, progress)
            for destination in config.named(destination_names)
        ]


def _sync_destination(
    warehouse: Warehouse,
    config: DestinationConfig,
    catalog: dict[str, set[str]],
    progress: Progress | None,
) -> SyncReport:
    """Drain the change feed from the cursor, then reconcile; every batch is recorded as it is handled."""
    started = time.perf_counter()
    cursor = read_cursor(warehouse, config.name)
    report = SyncReport(config.name, config.type, uuid.uuid4().hex, cursor, cursor)
    segments = (
        sorted(name for name, channels in catalog.items() if config.channel in channels)
        if config.segments == "all" else list(config.segments)
    )
    columns = payload_columns(warehouse, config.channel)
    reader = ChangeReader(warehouse, config.name, config.channel, segments, columns)
    report.pending = reader.pending(cursor)
    destination: Destination | None = None
    try:
        destination = open_destination(config, report.sync_run_id, columns)
        handler = _BatchHandler(warehouse, config, destination, report, progress)
        for batch in reader.batches(cursor, config.batch_size):
            handler.handle(batch)
        build_run_id = check_gate(warehouse)
        corrections = reader.reconcile_records(build_run_id, utc_now())
        report.pending += len(corrections)
        for start in range(0, len(corrections), config.batch_size):
            records = corrections[start:start + config.batch_size]
            handler.handle(Batch(config.name, report.batches + 1, records, kind="reconcile"))
    except SyncRefused:
        raise
    except DestinationDown as error:
        report.status, report.error = "failed", str(error)
    except Exception as error:  # this destination cannot be opened or written: it fails, the others still run
        report.status, report.error = "failed", f"{type(error).__name__}: {error}"
    finally:
        if destination is not None:
            destination.close()
        report.seconds = time.perf_counter() - started
    return report


class _BatchHandler:
    """Delivers one batch, records it (with the cursor move) and keeps the report; stops the
    destination after `max_consecutive_dead_letters` dead-lettered batches in a row."""

    def __init__(
        self,
        warehouse: Warehouse,
        config: DestinationConfig,
        destination: Destination,
        report: SyncReport,
        progress: Progress | None,
    ) -> None:
        self.warehouse = warehouse
        self.config = config
        self.destination = destination
        self.report = report
        self.progress = progress
        self.in_a_row = 0

    def handle(self, batch: Batch) -> None:
        report = self.report
        delivery = self.destination.deliver(batch)
        record_batch(self.warehouse, report.sync_run_id, batch, delivery.attempts, delivery.error)
        if batch.kind == "changes":
            report.cursor_after = batch.last
        report.batches += 1
        report.changes_read += len(batch.records)
        report.retries += delivery.attempts - 1
        if delivery.acknowledged:
            self.in_a_row = 0
            report.delivered += len(batch.records)
            report.upserts += batch.count("upsert")
            report.deletes += batch.count("delete")
            if batch.kind == "reconcile":
                report.reconciled += len(batch.records)
        else:
            self.in_a_row += 1
            report.status = "dead_lettered"
            report.dead_lettered += len(batch.records)
            if self.in_a_row >= self.config.max_consecutive_dead_letters:
                raise DestinationDown(f"{self.in_a_row} batches in a row dead-lettered; last error: {delivery.error}")
        if self.progress:
            self.progress(f"{self.config.name} batch {batch.number}", report.changes_read, report.pending)
        check_gate(self.warehouse)  # a build whose guard failed since the last batch stops the sync
