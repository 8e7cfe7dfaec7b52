"""Webhook destination: HTTP POST of JSON batches with retries (urllib3's `Retry`).

Retried with exponential backoff and jitter: 429 (honouring Retry-After), every 5xx, connection
errors and timeouts, up to `max_attempts` requests per batch. Any other non-2xx status gives up at
once. A batch given up is dead-lettered by the engine. A timed-out request may still have been
applied by the receiver: the retry carries the same idempotency keys, so the receiver can dedupe.
"""

from __future__ import annotations

import json

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from orchestration.sync.config import WebhookDestination
from orchestration.sync.destinations.base import Delivery, Destination
from orchestration.sync.records import Batch

RETRY_STATUSES = frozenset({429, *range(500, 600)})


class Webhook(Destination):
    def __init__(self, config: WebhookDestination, sync_run_id: str, payload_columns: list[str]) -> None:
        super().__init__(sync_run_id, payload_columns)
        self.config = config
        retry = Retry(
            total=config.max_attempts - 1,
            allowed_methods=None,  # POST too: every record carries its idempotency key
            status_forcelist=RETRY_STATUSES,
            backoff_factor=config.backoff.base_seconds,
            backoff_max=config.backoff.max_seconds,
            backoff_jitter=config.backoff.base_seconds,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))
        self.session.headers["Content-Type"] = "application/json"
        if config.auth:
            self.session.headers[config.auth.header] = config.auth.header_value()

    def deliver(self, batch: Batch) -> Delivery:
        body = {
            "destination": batch.destination,
            "batch_id": batch.batch_id,
            "records": [record.as_json() for record in batch.records],
        }
        try:
            response = self.session.post(
                self.config.url,
                data=json.dumps(body, default=str),
                headers={"Idempotency-Key": batch.batch_id},
                timeout=self.config.timeout_seconds,
            )
        except requests.RequestException as error:  # retries exhausted on connection errors or timeouts
            return Delivery(False, self.config.max_attempts, f"{type(error).__name__}: {_root_cause(error)}")
        retries = response.raw.retries
        attempts = len(retries.history) + 1 if retries is not None else 1
        if response.ok:
            return Delivery(True, attempts)
        return Delivery(False, attempts, f"HTTP {response.status_code}: {response.text[:200]}")

    def close(self) -> None:
        self.session.close()


def _root_cause(error: BaseException) -> str:
    """The innermost reason (e.g. 'Read timed out') rather than urllib3's long retry message."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return str(reason or error)[:300]
