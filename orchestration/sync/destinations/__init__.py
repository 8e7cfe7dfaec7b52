"""Destinations a sync delivers to: webhook, file, SQL table."""

from __future__ import annotations

from orchestration.sync.config import Destination as DestinationConfig
from orchestration.sync.config import FileDestination, SqlDestination, WebhookDestination
from orchestration.sync.destinations.base import Delivery, Destination


def open_destination(config: DestinationConfig, sync_run_id: str, payload_columns: list[str]) -> Destination:
    """The destination `config` describes, ready to deliver batches of one sync run."""
    if isinstance(config, WebhookDestination):
        from orchestration.sync.destinations.webhook import Webhook

        return Webhook(config, sync_run_id, payload_columns)
    if isinstance(config, FileDestination):
        from orchestration.sync.destinations.file import Files

        return Files(config, sync_run_id, payload_columns)
    if isinstance(config, SqlDestination):
        from orchestration.sync.destinations.sql import SqlTable

        return SqlTable(config, sync_run_id, payload_columns)
    raise TypeError(f"unknown destination type {type(config).__name__}")


__all__ = ["Delivery", "Destination", "open_destination"]
