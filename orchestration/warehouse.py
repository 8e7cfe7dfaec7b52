"""Resolve the warehouse target exactly as profiles.yml does, and open a connection to it.

profiles.yml (profile `segmentation`) reads the target from `SEGMENTATION_TARGET` (default `duckdb`) and
every connection setting from `SEGMENTATION_*` environment variables; `resolve_target` applies the same
rules so the loader, the CLI and dbt always talk to the same database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parent.parent

TargetKind = Literal["duckdb", "postgres"]
# profiles.yml output name -> adapter kind.
KNOWN_TARGETS: dict[str, TargetKind] = {"duckdb": "duckdb", "postgres": "postgres"}
DEFAULT_TARGET = "duckdb"
DEFAULT_DUCKDB_PATH = "warehouse/segmentation.duckdb"


class TargetError(ValueError):
    """The requested target is unknown or its settings are invalid."""


@dataclass(frozen=True)
class PostgresParams:
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "segmentation"
    password: str = field(default="", repr=False)
    dbname: str = "segmentation"


@dataclass(frozen=True)
class Target:
    """One output of the `segmentation` profile."""

    name: str
    kind: TargetKind
    duckdb_path: Path | None = None
    postgres: PostgresParams | None = None

    def describe(self) -> str:
        """Where the target points, without secrets."""
        if self.kind == "duckdb":
            return f"{self.name} (duckdb file {self.duckdb_path})"
        assert self.postgres is not None
        pg = self.postgres
        return f"{self.name} (postgres {pg.user}@{pg.host}:{pg.port}/{pg.dbname})"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def resolve_target(name: str | None = None) -> Target:
    """The target `name`, or `$SEGMENTATION_TARGET`, or `duckdb`, with settings from the environment."""
    target_name = name or _env("SEGMENTATION_TARGET", DEFAULT_TARGET)
    kind = KNOWN_TARGETS.get(target_name)
    if kind is None:
        known = ", ".join(sorted(KNOWN_TARGETS))
        raise TargetError(f"unknown target {target_name!r}; profiles.yml defines: {known}")
    if kind == "duckdb":
        path = Path(_env("SEGMENTATION_DUCKDB_PATH", DEFAULT_DUCKDB_PATH)).expanduser()
        if not path.is_absolute():
            path = PROJECT_ROOT / path
        return Target(name=target_name, kind=kind, duckdb_path=path)
    port_text = _env("SEGMENTATION_PG_PORT", "5432")
    try:
        port = int(port_text)
    except ValueError:
        raise TargetError(f"SEGMENTATION_PG_PORT must be a port number, got {port_text!r}") from None
    params = PostgresParams(
        host=_env("SEGMENTATION_PG_HOST", "127.0.0.1"),
        port=port,
        user=_env("SEGMENTATION_PG_USER", "segmentation"),
        password=os.environ.get("SEGMENTATION_PG_PASSWORD", ""),
        dbname=_env("SEGMENTATION_PG_DBNAME", "segmentation"),
    )
    return Target(name=target_name, kind=kind, postgres=params)


class Warehouse:
    """A connection with explicit transactions. SQL placeholders are `self.placeholder` (`?` or `%s`)."""

    kind: TargetKind
    placeholder: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def load_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append `rows` (values in `columns` order) to `table` in bulk."""
        raise NotImplementedError

    def begin(self) -> None:
        self.execute("begin")

    def commit(self) -> None:
        self.execute("commit")

    def rollback(self) -> None:
        self.execute("rollback")

    def close(self) -> None:
        raise NotImplementedError


class DuckDBWarehouse(Warehouse):
    kind: TargetKind = "duckdb"
    placeholder = "?"

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        # Consume the result: DuckDB refuses new work on a connection with an unfinished result.
        self.connection.execute(sql, list(params)).fetchall()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, list(params)).fetchall()

    def load_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """One insert from an Arrow table of the rows (registered as a view for that statement). A column
        whose Python values Arrow cannot put in one type goes through parameters, 500 rows a statement,
        each value cast by DuckDB as before."""
        import pyarrow  # imported lazily: only bulk loads need it

        listed = ", ".join(columns)
        try:
            frame = pyarrow.table({f"c{index}": [row[index] for row in rows] for index in range(len(columns))})
        except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
            marks = "(" + ", ".join(["?"] * len(columns)) + ")"
            for start in range(0, len(rows), 500):
                chunk = rows[start:start + 500]
                self.execute(f"insert into {table} ({listed}) values {', '.join([marks] * len(chunk))}",
                             [value for row in chunk for value in row])
            return
        view = f"load_rows_{uuid.uuid4().hex[:16]}"
        self.connection.register(view, frame)
        try:
            self.execute(f"insert into {table} ({listed}) select * from {view}")
        finally:
            self.connection.unregister(view)

    def close(self) -> None:
        self.connection.close()


class PostgresWarehouse(Warehouse):
    kind: TargetKind = "postgres"
    placeholder = "%s"

    def __init__(self, connection: Any) -> None:  # a psycopg2 connection in autocommit mode
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, tuple(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, tuple(params) or None)
            return list(cursor.fetchall())

    def load_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Multi-row inserts of 1,000 rows each (psycopg2's execute_values)."""
        from psycopg2.extras import execute_values

        with self.connection.cursor() as cursor:
            execute_values(cursor, f"insert into {table} ({', '.join(columns)}) values %s",
                           [tuple(row) for row in rows], page_size=1000)

    def copy_from(self, copy_sql: str, stream: IO[bytes], chunk_size: int = 1 << 20) -> int:
        """Run `COPY ... FROM STDIN` reading `stream`; returns the number of rows copied."""
        with self.connection.cursor() as cursor:
            cursor.copy_expert(copy_sql, stream, size=chunk_size)
            return int(cursor.rowcount)

    def close(self) -> None:
        self.connection.close()


@contextmanager
def connect(target: Target) -> Iterator[Warehouse]:
    """Open the target's database (creating the DuckDB file's folder) and close it afterwards.

    Outside `begin()`/`commit()` every statement commits on its own.
    """
    warehouse: Warehouse
    if target.kind == "duckdb":
        if target.duckdb_path is None:
            raise TargetError(f"target {target.name!r} has no DuckDB path")
        target.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        warehouse = DuckDBWarehouse(duckdb.connect(str(target.duckdb_path)))
    else:
        import psycopg2  # imported lazily: only the postgres target needs it

        pg = target.postgres or PostgresParams()
        connection = psycopg2.connect(
            host=pg.host,
            port=pg.port,
            user=pg.user,
            password=pg.password or None,
            dbname=pg.dbname,
            application_name="segmentation",
            connect_timeout=10,
        )
        connection.autocommit = True  # transactions are explicit: begin() / commit() / rollback()
        connection.set_client_encoding("UTF8")
        warehouse = PostgresWarehouse(connection)
    try:
        yield warehouse
    finally:
        warehouse.close()
