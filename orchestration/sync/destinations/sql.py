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

from pathlib import Path
from urllib.parse import urlparse

import duckdb

from orchestration.sync import bulk
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
        self.columns = [*ROW_KEY, *payload_columns, "change_id", "changed_at", "synced_at"]
        unknown = [column for column in config.key_columns if column not in (*ROW_KEY, *payload_columns)]
        if unknown:
            raise ValueError(
                f"destination {config.name!r}: key_columns {unknown} are not columns of the "
                f"{config.channel} payload (columns: {', '.join((*ROW_KEY, *payload_columns))})"
            )
        self.database = open_database(config.connection_url())
        schema, _, name = config.table.rpartition(".")
        schema = schema or ("main" if self.database.kind == "duckdb" else "public")
        if self.database.kind == "duckdb":  # qualified by catalog: a schema named like the file is not ambiguous
            schema = f"\"{self.database.query('select current_database()')[0][0]}\".{schema}"
        self.table = f"{schema}.{name}"
        self.applied_table = f"{schema}.{name}_applied_keys"
        self.database.execute(f"create schema if not exists {schema}")
        self._create_tables()

    def _create_tables(self) -> None:
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
            last = _last_per_member(new)
            bulk.delete(self.database, self.table, ROW_KEY, [r.member for r in last if r.action == "delete"])
            bulk.insert(self.database, self.table, self.columns, [
                [*record.member, *[record.attributes.get(c) for c in self.payload_columns], record.change_id,
                 record.changed_at, now]
                for record in last if record.action == "upsert"
            ], conflict=self.config.key_columns)
            bulk.insert(self.database, self.applied_table, ("idempotency_key", "batch_id", "applied_at"),
                        [[record.idempotency_key, batch.batch_id, now] for record in new])
            self.database.commit()
        except Exception:
            self.database.rollback()
            raise
        return Delivery(True)

    def close(self) -> None:
        self.database.close()


def _last_per_member(records: list[SyncRecord]) -> list[SyncRecord]:
    """The last record of each (segment, profile): each action states the whole row, so the last one
    decides, and no row is deleted and inserted again in one transaction."""
    return list({record.member: record for record in records}.values())
