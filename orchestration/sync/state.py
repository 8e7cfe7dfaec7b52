"""Sync state in the warehouse (schema `sync`) and the consent-guard gate.

- `sync.cursors`: one row per destination, the last change (changed_at, change_id) it acknowledged.
- `sync.deliveries`: one row per handled batch (acknowledged or dead-lettered), with its cursor range.
- `sync.dead_letters`: one row per record of a batch that exhausted its attempts, with the reason.
- `sync.members`: per destination, the memberships it holds by our acknowledged deliveries (with the
  published row's content hash): what the reconcile step compares with the published rows.

Guarantee: a batch's delivery row, the cursor move and `sync.members` commit in one transaction, and
only after the destination acknowledged the batch (or it was dead-lettered: then the cursor moves but
`sync.members` does not, so the next reconcile sends the state again). A crash before that commit leaves the
cursor where it was, so the batch is sent again with the same idempotency keys: at-least-once
delivery, and effectively once for a receiver that dedupes by key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from orchestration.sync import bulk
from orchestration.sync.records import Batch, Position
from orchestration.warehouse import Warehouse

ACTIVATION_TABLES = ("activation_email", "activation_ads", "activation_crm")
CHANGES_TABLE = "segments.segment_membership_changes"
GATE_TABLE = "quality.activation_gate"

DEAD_LETTER_COLUMNS = (
    "destination_name", "sync_run_id", "batch_id", "idempotency_key", "change_id", "changed_at", "action",
    "segment_name", "profile_id", "payload", "attempts", "reason", "dead_lettered_at",
)
MEMBER_COLUMNS = ("destination_name", "segment_name", "profile_id", "row_hash", "change_id", "synced_at")
DDL = (
    "create schema if not exists sync",
    "create table if not exists sync.cursors (destination_name varchar primary key, changed_at timestamp, "
    "change_id varchar, sync_run_id varchar, updated_at timestamp)",
    "create table if not exists sync.deliveries (sync_run_id varchar, destination_name varchar, batch_id varchar, "
    "batch_number integer, kind varchar, status varchar, records integer, upserts integer, deletes integer, "
    "attempts integer, first_changed_at timestamp, first_change_id varchar, last_changed_at timestamp, "
    "last_change_id varchar, error varchar, recorded_at timestamp)",
    "create table if not exists sync.dead_letters (destination_name varchar, sync_run_id varchar, batch_id varchar, "
    "idempotency_key varchar, change_id varchar, changed_at timestamp, action varchar, segment_name varchar, "
    "profile_id varchar, payload varchar, attempts integer, reason varchar, dead_lettered_at timestamp)",
    "create table if not exists sync.members (destination_name varchar, segment_name varchar, profile_id varchar, "
    "row_hash varchar, change_id varchar, synced_at timestamp, "
    "primary key (destination_name, segment_name, profile_id))",
)


class SyncRefused(RuntimeError):
    """The consent guard has not passed for the latest build: nothing may be delivered."""


def utc_now() -> datetime:
    """Naive UTC, as the warehouse stores timestamps."""
    return datetime.now(UTC).replace(tzinfo=None)


def has_table(warehouse: Warehouse, schema: str, table: str) -> bool:
    mark = warehouse.placeholder
    return bool(warehouse.query(
        f"select count(*) from information_schema.tables where table_schema = {mark} and table_name = {mark}",
        [schema, table],
    )[0][0])


def check_gate(warehouse: Warehouse) -> str:
    """The latest build's id when its latest consent-guard check passed; else raise `SyncRefused`.

    The latest build is the one the activation tables hold (they are rebuilt every run), or, when
    they are empty, the newest run in the change feed.
    """
    builds = sorted({
        row[0]
        for table in ACTIVATION_TABLES if has_table(warehouse, "activation", table)
        for row in warehouse.query(f"select distinct build_run_id from activation.{table}")
        if row[0] is not None
    })
    if not builds and has_table(warehouse, "segments", "segment_membership_changes"):
        builds = [row[0] for row in warehouse.query(
            f"select run_id from {CHANGES_TABLE} order by changed_at desc, change_id desc limit 1")]
    if not builds:
        raise SyncRefused("no segment build found in the warehouse; sync refused (run `segmentation build`)")
    has_gate = has_table(warehouse, "quality", "activation_gate")
    for build in builds:
        latest = warehouse.query(
            f"select is_open from {GATE_TABLE} where build_run_id = {warehouse.placeholder} "
            "order by checked_at desc limit 1", [build],
        ) if has_gate else []
        if not latest:
            raise SyncRefused(f"consent guard has not run for build {build}; sync refused (run `segmentation quality`)")
        if not latest[0][0]:
            raise SyncRefused(f"consent guard failed for build {build}; sync refused")
    return builds[-1]


def _marks(warehouse: Warehouse, count: int) -> str:
    return ", ".join([warehouse.placeholder] * count)


def ensure_tables(warehouse: Warehouse) -> None:
    for statement in DDL:
        warehouse.execute(statement)


def read_cursor(warehouse: Warehouse, destination: str) -> Position | None:
    rows = warehouse.query(
        f"select changed_at, change_id from sync.cursors where destination_name = {warehouse.placeholder}",
        [destination],
    )
    return Position(rows[0][0], rows[0][1]) if rows and rows[0][1] is not None else None


def record_batch(
    warehouse: Warehouse,
    sync_run_id: str,
    batch: Batch,
    attempts: int,
    error: str | None,
) -> None:
    """In one transaction: the delivery row; the dead letters when `error` is set, else the memberships
    the destination now holds; and, for a change-feed batch, the cursor moved to its last change.
    Call only after the destination acknowledged (or gave up on) the batch."""
    now = utc_now()
    status = "dead_lettered" if error else "acknowledged"
    warehouse.begin()
    try:
        warehouse.execute(
            f"insert into sync.deliveries values ({_marks(warehouse, 16)})",
            [sync_run_id, batch.destination, batch.batch_id, batch.number, batch.kind, status, len(batch.records),
             batch.count("upsert"), batch.count("delete"), attempts, batch.first.changed_at, batch.first.change_id,
             batch.last.changed_at, batch.last.change_id, error, now],
        )
        if error:
            bulk.insert(warehouse, "sync.dead_letters", DEAD_LETTER_COLUMNS, [
                [batch.destination, sync_run_id, batch.batch_id, record.idempotency_key, record.change_id,
                 record.changed_at, record.action, record.segment, record.profile_id,
                 json.dumps(record.as_json(), default=str), attempts, error, now]
                for record in batch.records
            ])
        else:
            _hold(warehouse, batch, now)
        if batch.kind == "changes":
            warehouse.execute(
                f"insert into sync.cursors values ({_marks(warehouse, 5)}) on conflict (destination_name) do update "
                "set changed_at = excluded.changed_at, change_id = excluded.change_id, "
                "sync_run_id = excluded.sync_run_id, updated_at = excluded.updated_at",
                [batch.destination, batch.last.changed_at, batch.last.change_id, sync_run_id, now],
            )
        warehouse.commit()
    except Exception:
        warehouse.rollback()
        raise


def _hold(warehouse: Warehouse, batch: Batch, now: datetime) -> None:
    """Apply an acknowledged batch to sync.members (the last record of each membership decides)."""
    last = {record.member: record for record in batch.records}.values()
    bulk.delete(warehouse, "sync.members", ("segment_name", "profile_id"),
                [record.member for record in last if record.action == "delete"],
                scope=("destination_name", batch.destination))
    bulk.insert(
        warehouse, "sync.members", MEMBER_COLUMNS,
        [[batch.destination, *record.member, record.row_hash, record.change_id, now]
         for record in last if record.action == "upsert"],
        conflict=("destination_name", "segment_name", "profile_id"),
    )
