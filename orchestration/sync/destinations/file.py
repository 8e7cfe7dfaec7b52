"""File destination: each batch is one file (CSV, Parquet or JSONL) plus a manifest.

Files live in `<folder>/<destination>/`, named `<first change time>-<first change id>-<batch id>.<format>`
(sorting by name gives the cursor order); a batch holds up to `batch_size` (default 100,000) records,
so a run normally writes one file. The data file is written under a temporary name and renamed, then
the manifest likewise: a crash never leaves a partial file under its final name, and the manifest
(rows, actions, sha256, cursor range) is the acknowledgement. A batch resent after a crash has the
same id; when its manifest already exists with the same checksum it is acknowledged without writing
anything again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from orchestration.sync.config import FileDestination
from orchestration.sync.destinations.base import Delivery, Destination
from orchestration.sync.records import Batch
from orchestration.sync.state import utc_now

BASE_COLUMNS = ("idempotency_key", "action", "segment", "profile_id", "change_id", "changed_at")


class Files(Destination):
    def __init__(self, config: FileDestination, sync_run_id: str, payload_columns: list[str]) -> None:
        super().__init__(sync_run_id, payload_columns)
        self.config = config
        self.folder = config.resolved_folder()
        self.folder.mkdir(parents=True, exist_ok=True)

    def paths(self, batch: Batch) -> tuple[Path, Path]:
        """The data file and the manifest of `batch`; names sort in cursor order."""
        stem = f"{batch.first.changed_at:%Y%m%dT%H%M%S}-{batch.first.change_id[:12]}-{batch.batch_id[:8]}"
        return self.folder / f"{stem}.{self.config.format}", self.folder / f"{stem}.manifest.json"

    def deliver(self, batch: Batch) -> Delivery:
        data_path, manifest_path = self.paths(batch)
        if manifest_path.exists() and data_path.exists():
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("batch_id") == batch.batch_id and manifest.get("sha256") == _sha256(data_path):
                return Delivery(True)  # written before a crash, acknowledged now
        _write_atomically(data_path, lambda path: self._write(batch, path))
        manifest = {
            "destination": batch.destination,
            "sync_run_id": self.sync_run_id,
            "batch_id": batch.batch_id,
            "file": data_path.name,
            "format": self.config.format,
            "rows": len(batch.records),
            "actions": {"upsert": batch.count("upsert"), "delete": batch.count("delete")},
            "sha256": _sha256(data_path),
            "cursor_from": {"changed_at": batch.first.changed_at.isoformat(), "change_id": batch.first.change_id},
            "cursor_to": {"changed_at": batch.last.changed_at.isoformat(), "change_id": batch.last.change_id},
            "created_at": utc_now().isoformat(),
        }
        _write_atomically(manifest_path, lambda path: path.write_text(json.dumps(manifest, indent=2)))
        return Delivery(True)

    def close(self) -> None:
        """Nothing to release: every file is closed once written."""

    def _write(self, batch: Batch, path: Path) -> None:
        if self.config.format == "jsonl":
            with path.open("w") as handle:
                for record in batch.records:
                    handle.write(json.dumps(record.as_json(), default=str) + "\n")
            return
        columns: dict[str, list] = {name: [] for name in (*BASE_COLUMNS, *self.payload_columns)}
        for record in batch.records:
            for name in BASE_COLUMNS:
                columns[name].append(getattr(record, name))
            for name in self.payload_columns:
                value = record.attributes.get(name)
                columns[name].append(None if value is None else str(value))
        table = pa.table({
            name: pa.array(values, type=pa.timestamp("us") if name == "changed_at" else pa.string())
            for name, values in columns.items()
        })
        if self.config.format == "parquet":
            pq.write_table(table, path)
        else:
            pa_csv.write_csv(table, path)


def _write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Write through `write(temporary_path)`, flush to disk, then rename onto `path`."""
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
