"""A real local webhook receiver for the sync tests: dedupes records by idempotency key, counts what it
received and applied, and fails requests on a deterministic plan (status codes, or answering after the
client's timeout), then recovers."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# fault(request_number) -> None (serve normally), "slow" (apply, but answer after the client's timeout),
# or an HTTP status to answer without applying (429 comes with Retry-After: 0).
Fault = Callable[[int], int | str | None]


class Receiver:
    def __init__(self, fault: Fault | None = None, delay_seconds: float = 0.0, slow_seconds: float = 1.0) -> None:
        self.fault = fault
        self.delay_seconds = delay_seconds
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.requests = 0
        self.applied: dict[str, dict[str, Any]] = {}  # idempotency key -> record, applied once
        self.order: list[str] = []  # keys in the order they were applied
        self.received: Counter[str] = Counter()  # key -> times it arrived in a processed request
        self.headers: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def duplicates(self) -> int:
        """Records received again after they were applied (resent after a timeout or a crash)."""
        return sum(self.received.values()) - len(self.applied)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def state(self) -> dict[tuple[str, str], dict[str, Any]]:
        """What the receiver holds after applying every record once, in order: membership -> attributes."""
        held: dict[tuple[str, str], dict[str, Any]] = {}
        for key in self.order:
            record = self.applied[key]
            member = (record["segment"], record["profile_id"])
            if record["action"] == "upsert":
                held[member] = record["attributes"]
            else:
                held.pop(member, None)
        return held

    def _apply(self, body: dict[str, Any]) -> None:
        with self.lock:
            for record in body["records"]:
                key = record["idempotency_key"]
                self.received[key] += 1
                if key not in self.applied:
                    self.applied[key] = record
                    self.order.append(key)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.requests += 1
                    number = receiver.requests
                    receiver.headers.append(dict(self.headers))
                fault = receiver.fault(number) if receiver.fault else None
                if isinstance(fault, int):
                    self.send_response(fault)
                    if fault == 429:
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "slow":
                    time.sleep(receiver.slow_seconds)  # the client gave up; the work still happens
                elif receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                receiver._apply(body)
                payload = b'{"ok": true}'
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client timed out and closed the connection

            def log_message(self, *_: object) -> None:
                """Quiet."""

        return Handler
