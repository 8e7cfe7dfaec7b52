"""SQL destination: upsert segment memberships into a table of another database (e.g. a CRM's
PostgreSQL), one transaction per batch.

The table (created when missing) has segment_name, profile_id, the channel's payload columns, the
last change applied (change_id, changed_at) and synced_at, keyed by `key_columns` (default
segment_name, profile_id). `upsert` is INSERT ... ON CONFLICT (key) DO UPDATE; `delete` removes the
row of (segment_name, profile_id). Applied idempotency keys are stored in `<table>_applied_keys` in the
same transaction, so a batch sent again after a crash applies nothing twice.

Connection URLs (from the environment variable the config names): `postgresql://user:pass@host/db`
(psycopg2) or `duckdb:///absolute/path.duckdb` (`duckdb:relative/path.duckdb` is relative to the project root).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import duckdb

from orchestration.sync.config import SqlDestination
from orchestration.sync.destinations.base import Delivery, Destination
from orchestration.sync.records import Batch, SyncRecord
from orchestration.sync.state import utc_now
from orchestration.warehouse import PROJECT_ROOT, DuckDBWarehouse, PostgresWarehouse, Warehouse

ROW_KEY = ("segment_name", "profile_id")


def open_database(url: str) -> Warehouse:
    """A connection (statements autocommit outside begin/commit) to a postgresql:// or duckdb: URL."""
    parsed = urlparse(url)
    if parsed.scheme == "duckdb":
        path = Path(parsed.path)
        path = path if path.is_absolute() else PROJECT_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return DuckDBWarehouse(duckdb.connect(str(path)))
    import psycopg2  # only the postgres path needs it

    connection = psycopg2.connect(url, application_name="segmentation-sync", connect_timeout=10)
    connection.autocommit = True
    return PostgresWarehouse(connection)


class SqlTable(Destination):
    def __init__(self, config: SqlDestination, sync_run_id: str, payload_columns: list[str]) -> None:
        super().__init__(sync_run_id, payload_columns)
        self.config = config
        self.table = config.table
        self.applied_table = f"{config.table}_applied_keys"
        self.columns = [*ROW_KEY, *payload_columns, "change_id", "changed_at", "synced_at"]
        unknown = [column for column in config.key_columns if column not in (*ROW_KEY, *payload_columns)]
        if unknown:
            raise ValueError(
                f"destination {config.name!r}: key_columns {unknown} are not columns of the "
                f"{config.channel} payload (columns: {', '.join((*ROW_KEY, *payload_columns))})"
            )
        self.database = open_database(config.connection_url())
        self._create_tables()

    def _create_tables(self) -> None:
        if "." in self.table:
            self.database.execute(f"create schema if not exists {self.table.split('.')[0]}")
        typed = ", ".join(
            f"{column} {'timestamp' if column in ('changed_at', 'synced_at') else 'varchar'}"
            + (" not null" if column in self.config.key_columns else "")
            for column in self.columns
        )
        self.database.execute(
            f"create table if not exists {self.table} ({typed}, primary key ({', '.join(self.config.key_columns)}))"
        )
        self.database.execute(
            f"create table if not exists {self.applied_table} "
            "(idempotency_key varchar primary key, batch_id varchar, applied_at timestamp)"
        )

    def deliver(self, batch: Batch) -> Delivery:
        mark = self.database.placeholder
        keys = [record.idempotency_key for record in batch.records]
        self.database.begin()
        try:
            applied = {row[0] for row in self.database.query(
                f"select idempotency_key from {self.applied_table} "
                f"where idempotency_key in ({', '.join([mark] * len(keys))})", keys,
            )}
            new = [record for record in batch.records if record.idempotency_key not in applied]
            now = utc_now()
            for record in _last_per_member(new):
                self._apply(record, now)
            for record in new:
                self.database.execute(
                    f"insert into {self.applied_table} values ({mark}, {mark}, {mark})",
                    [record.idempotency_key, batch.batch_id, now],
                )
            self.database.commit()
        except Exception:
            self.database.rollback()
            raise
        return Delivery(True)

    def _apply(self, record: SyncRecord, now: datetime) -> None:
        mark = self.database.placeholder
        if record.action == "delete":
            self.database.execute(
                f"delete from {self.table} where segment_name = {mark} and profile_id = {mark}",
                [record.segment, record.profile_id],
            )
            return
        values = [record.segment, record.profile_id, *[record.attributes.get(c) for c in self.payload_columns],
                  record.change_id, record.changed_at, now]
        updates = ", ".join(f"{c} = excluded.{c}" for c in self.columns if c not in self.config.key_columns)
        self.database.execute(
            f"insert into {self.table} ({', '.join(self.columns)}) values ({', '.join([mark] * len(values))}) "
            f"on conflict ({', '.join(self.config.key_columns)}) do update set {updates}",
            values,
        )

    def close(self) -> None:
        self.database.close()


def _last_per_member(records: list[SyncRecord]) -> list[SyncRecord]:
    """The last record of each (segment, profile), in order: each action states the whole row, so the
    last one decides, and no row is deleted and inserted again in one transaction."""
    last = {(record.segment, record.profile_id): record for record in records}
    return sorted(last.values(), key=lambda record: record.position)
