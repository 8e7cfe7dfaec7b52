"""Set-based statements for the sync's bookkeeping and the SQL destination, the same SQL on DuckDB and
PostgreSQL: the rows are loaded into a temporary table in one go (`Warehouse.load_rows`), then one
delete or one insert (upsert) reads them. A statement per chunk of 500 rows made each delete scan the
table again: syncing 572,000 changes at 1M people spent 37 s of 57 s in sync.members' bookkeeping."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from orchestration.warehouse import Warehouse


@contextmanager
def _staged(database: Warehouse, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Iterator[str]:
    """A temporary table with `columns` typed as in `table`, holding `rows`; dropped after the statement.
    When a statement fails it is left to the caller's rollback (or the connection's end): a drop on
    PostgreSQL's aborted transaction would fail too and hide the statement's own error."""
    name = f"bulk_rows_{uuid.uuid4().hex[:16]}"
    database.execute(f"create temporary table {name} as select {', '.join(columns)} from {table} where 1 = 0")
    database.load_rows(name, columns, rows)
    yield name
    database.execute(f"drop table {name}")


def insert(
    database: Warehouse,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str] = (),
) -> None:
    """Insert `rows`; with `conflict` (the key), update every other column of an existing row (upsert).
    The rows must not repeat a key."""
    if not rows:
        return
    suffix = ""
    if conflict:
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column not in conflict)
        suffix = f" on conflict ({', '.join(conflict)}) " + (f"do update set {updates}" if updates else "do nothing")
    listed = ", ".join(columns)
    with _staged(database, table, columns, rows) as staged:
        database.execute(f"insert into {table} ({listed}) select {listed} from {staged}{suffix}")


def delete(
    database: Warehouse,
    table: str,
    key_columns: Sequence[str],
    keys: Sequence[Sequence[Any]],
    scope: tuple[str, Any] | None = None,
) -> None:
    """Delete the rows whose `key_columns` equal one of `keys` (and `scope` column = value, if given)."""
    if not keys:
        return
    where = f"{scope[0]} = {database.placeholder} and " if scope else ""
    listed = ", ".join(key_columns)
    with _staged(database, table, key_columns, keys) as staged:
        database.execute(f"delete from {table} where {where}({listed}) in (select {listed} from {staged})",
                         [scope[1]] if scope else [])
