"""What every destination implements: deliver one batch and say whether it was acknowledged."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from orchestration.sync.records import Batch


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one batch.

    acknowledged: the destination durably accepted the batch (the cursor may move past it).
    attempts: requests made (1 when the first succeeded).
    error: why the batch was given up (dead-lettered) when not acknowledged.
    """

    acknowledged: bool
    attempts: int = 1
    error: str | None = None


class Destination(ABC):
    """A destination opened for one sync run. `deliver` is called once per batch, in cursor order."""

    def __init__(self, sync_run_id: str, payload_columns: list[str]) -> None:
        self.sync_run_id = sync_run_id
        self.payload_columns = payload_columns

    @abstractmethod
    def deliver(self, batch: Batch) -> Delivery:
        """Deliver `batch`; return only when the destination acknowledged it or gave up on it.
        Raise for failures that no retry of this batch can fix (the sync of this destination stops)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
