"""Read the change feed after a cursor, in the total order (changed_at, change_id), as records.

A change becomes `upsert` when the profile is in the destination channel's published activation rows
for that segment now (the payload is that row's columns: consent was applied and the guard passed),
and `delete` otherwise: removed from the segment, not activatable, or no consent for this channel.
Removals are always delivered.
"""

from __future__ import annotations

from collections.abc import Iterator

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
        mark = warehouse.placeholder
        selected = "".join(f", published.{column}" for column in columns)
        self._from = (
            f"from {CHANGES_TABLE} as changes "
            f"left join {PUBLISHED_SCHEMA}.activation_{channel} as published "
            "on changes.segment_name = published.segment_name and changes.profile_id = published.profile_id "
            f"where changes.segment_name in ({', '.join([mark] * len(segments))})"
        )
        self._select = (
            "select changes.change_id, changes.changed_at, changes.segment_name, changes.profile_id, "
            f"changes.change_type, published.profile_id is not null as is_published{selected} "
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
        change_id, changed_at, segment, profile_id, change_type, is_published, *values = row
        upsert = change_type != "removed" and bool(is_published)
        return SyncRecord(
            idempotency_key=idempotency_key(self.destination, change_id),
            action="upsert" if upsert else "delete",
            segment=segment,
            profile_id=profile_id,
            change_id=change_id,
            changed_at=changed_at,
            attributes=dict(zip(self.columns, values, strict=True)) if upsert else {},
        )
