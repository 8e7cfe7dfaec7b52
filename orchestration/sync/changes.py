"""Read the change feed after a cursor, in the total order (changed_at, change_id), as records.

A change becomes `upsert` when the profile is in the destination channel's published activation rows
for that segment now (the payload is that row's columns: consent was applied and the guard passed),
and `delete` otherwise: removed from the segment, not activatable, or no consent for this channel.
Removals are always delivered.

Activation rows also change without a membership change (consent withdrawn or granted, a new email).
After the feed is drained, `reconcile_records` compares what the destination holds (`sync.members`,
kept in step with every acknowledged batch) with the published rows and returns the differences.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime

from orchestration.sync.records import Batch, Position, SyncRecord, idempotency_key
from orchestration.sync.state import CHANGES_TABLE
from orchestration.warehouse import Warehouse

PUBLISHED_SCHEMA = "activation_published"
# Columns of the published activation rows that are bookkeeping, not payload.
NOT_PAYLOAD = {"activation_id", "segment_name", "profile_id", "row_hash", "updated_at", "build_run_id"}


def payload_columns(warehouse: Warehouse, channel: str) -> list[str]:
    """The attribute columns a channel's published activation rows carry (e.g. email, first_name)."""
    mark = warehouse.placeholder
    rows = warehouse.query(
        "select column_name from information_schema.columns "
        f"where table_schema = {mark} and table_name = {mark} order by ordinal_position",
        [PUBLISHED_SCHEMA, f"activation_{channel}"],
    )
    return [name for (name,) in rows if name not in NOT_PAYLOAD]


def channel_segments(warehouse: Warehouse) -> dict[str, set[str]]:
    """Segment name -> the channels it is activated on, from segments.segment_catalog."""
    rows = warehouse.query("select segment_name, destinations from segments.segment_catalog")
    return {name: {d.strip() for d in (destinations or "").split(",") if d.strip()} for name, destinations in rows}


class ChangeReader:
    """Pages through one destination's pending changes with keyset pagination (no offsets)."""

    def __init__(
        self,
        warehouse: Warehouse,
        destination: str,
        channel: str,
        segments: list[str],
        columns: list[str],
    ) -> None:
        self.warehouse = warehouse
        self.destination = destination
        self.segments = segments
        self.columns = columns
        self._published = f"{PUBLISHED_SCHEMA}.activation_{channel}"
        mark = warehouse.placeholder
        selected = "".join(f", published.{column}" for column in columns)
        self._from = (
            f"from {CHANGES_TABLE} as changes "
            f"left join {self._published} as published "
            "on changes.segment_name = published.segment_name and changes.profile_id = published.profile_id "
            f"where changes.segment_name in ({', '.join([mark] * len(segments))})"
        )
        self._select = (
            "select changes.change_id, changes.changed_at, changes.segment_name, changes.profile_id, "
            f"changes.change_type, published.row_hash{selected} "
        )
        self._after = (
            f" and (changes.changed_at > {mark} or (changes.changed_at = {mark} and changes.change_id > {mark}))"
        )

    def _where(self, after: Position | None) -> tuple[str, list]:
        if after is None:
            return self._from, list(self.segments)
        return self._from + self._after, [*self.segments, after.changed_at, after.changed_at, after.change_id]

    def pending(self, after: Position | None) -> int:
        """How many changes follow `after`."""
        if not self.segments:
            return 0
        clause, params = self._where(after)
        return int(self.warehouse.query(f"select count(*) {clause}", params)[0][0])

    def batches(self, after: Position | None, batch_size: int) -> Iterator[Batch]:
        """Batches of at most `batch_size` records after `after`. Each page is read when the previous
        batch has been handled, so the caller may check the gate in between."""
        number = 0
        while self.segments:
            clause, params = self._where(after)
            rows = self.warehouse.query(
                f"{self._select}{clause} order by changes.changed_at, changes.change_id limit {int(batch_size)}",
                params,
            )
            if not rows:
                return
            number += 1
            batch = Batch(self.destination, number, [self._record(row) for row in rows])
            yield batch
            after = batch.last

    def _record(self, row: tuple) -> SyncRecord:
        change_id, changed_at, segment, profile_id, change_type, row_hash, *values = row
        upsert = change_type != "removed" and row_hash is not None
        action = "upsert" if upsert else "delete"
        return SyncRecord(
            idempotency_key=idempotency_key(self.destination, change_id, action, row_hash if upsert else None),
            action=action,
            segment=segment,
            profile_id=profile_id,
            change_id=change_id,
            changed_at=changed_at,
            attributes=dict(zip(self.columns, values, strict=True)) if upsert else {},
            row_hash=row_hash if upsert else None,
        )

    def reconcile_records(self, build_run_id: str, now: datetime) -> list[SyncRecord]:
        """Records that make the destination equal the published rows of its segments: `delete` what it
        holds but is no longer published (or belongs to a segment no longer configured), `upsert` what
        is published but not held, or held with other content. Keys depend on the build and the content,
        so a rerun after a crash resends the same keys."""
        mark = self.warehouse.placeholder
        segments = ", ".join([mark] * len(self.segments)) if self.segments else "null"
        selected = "".join(f", published.{column}" for column in self.columns)
        rows = self.warehouse.query(
            "select coalesce(published.segment_name, held.segment_name), "
            f"coalesce(published.profile_id, held.profile_id), published.row_hash{selected} "
            f"from (select * from {self._published} where segment_name in ({segments})) as published "
            f"full outer join (select * from sync.members where destination_name = {mark}) as held "
            "on published.segment_name = held.segment_name and published.profile_id = held.profile_id "
            "where held.profile_id is null or published.profile_id is null or published.row_hash <> held.row_hash "
            "order by 1, 2",
            [*self.segments, self.destination],
        )
        records = []
        for segment, profile_id, row_hash, *values in rows:
            action = "delete" if row_hash is None else "upsert"
            change_id = hashlib.sha256(f"reconcile:{build_run_id}:{segment}:{profile_id}".encode()).hexdigest()[:32]
            records.append(SyncRecord(
                idempotency_key=idempotency_key(self.destination, change_id, action, row_hash),
                action=action,
                segment=segment,
                profile_id=profile_id,
                change_id=change_id,
                changed_at=now,
                attributes=dict(zip(self.columns, values, strict=True)) if row_hash else {},
                row_hash=row_hash,
            ))
        return records
