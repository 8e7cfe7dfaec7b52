"""What a sync delivers: records (one per membership change) grouped into batches, in cursor order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Action = Literal["upsert", "delete"]


@dataclass(frozen=True, order=True)
class Position:
    """A place in the change feed's total order (changed_at, change_id)."""

    changed_at: datetime
    change_id: str

    def __str__(self) -> str:
        return f"{self.changed_at:%Y-%m-%d %H:%M:%S} {self.change_id[:8]}"


def idempotency_key(destination: str, change_id: str, action: str, row_hash: str | None) -> str:
    """Stable per destination, change and content: a retry or a rerun after a crash resends the same
    key, so the receiver can dedupe. The content (action and the activation row's hash) is part of it
    because a change's record follows the published rows: resent after a newer build changed consent
    or attributes, the record differs and must not be dropped as a duplicate."""
    return hashlib.sha256(f"{destination}:{change_id}:{action}:{row_hash or ''}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SyncRecord:
    """One change as the destination sees it: `upsert` the attributes, or `delete` the membership."""

    idempotency_key: str
    action: Action
    segment: str
    profile_id: str
    change_id: str
    changed_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    # Content hash of the published activation row an upsert carries (not sent): what the destination holds.
    row_hash: str | None = None

    @property
    def member(self) -> tuple[str, str]:
        return self.segment, self.profile_id

    @property
    def position(self) -> Position:
        return Position(self.changed_at, self.change_id)

    def as_json(self) -> dict[str, Any]:
        """The record as webhooks, JSONL files and dead letters carry it."""
        return {
            "idempotency_key": self.idempotency_key,
            "action": self.action,
            "segment": self.segment,
            "profile_id": self.profile_id,
            "change_id": self.change_id,
            "changed_at": self.changed_at.isoformat(),
            "attributes": self.attributes,
        }


BatchKind = Literal["changes", "reconcile"]


@dataclass(frozen=True)
class Batch:
    """Consecutive records of one destination. `batch_id` depends only on the destination and the first
    and last change, so a batch resent after a crash (same cursor, same batch size) has the same id.
    `changes` batches come from the change feed and move the cursor; `reconcile` batches correct
    activation rows that changed without a membership change (consent, attributes) and do not."""

    destination: str
    number: int
    records: list[SyncRecord]
    kind: BatchKind = "changes"

    @property
    def batch_id(self) -> str:
        first, last = self.records[0], self.records[-1]
        return hashlib.sha256(f"{self.destination}:{first.change_id}:{last.change_id}".encode()).hexdigest()[:32]

    @property
    def first(self) -> Position:
        return self.records[0].position

    @property
    def last(self) -> Position:
        return self.records[-1].position

    def count(self, action: Action) -> int:
        return sum(1 for record in self.records if record.action == action)
