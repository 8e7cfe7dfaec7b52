"""Multi-row statements for the sync's bookkeeping and the SQL destination: one statement per chunk
of rows instead of one per row, the same SQL on DuckDB and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestration.warehouse import Warehouse

CHUNK_ROWS = 500


def _chunks(rows: Sequence[Sequence[Any]]) -> list[Sequence[Sequence[Any]]]:
    return [rows[start:start + CHUNK_ROWS] for start in range(0, len(rows), CHUNK_ROWS)]


def _tuples(database: Warehouse, width: int, count: int) -> str:
    row = "(" + ", ".join([database.placeholder] * width) + ")"
    return ", ".join([row] * count)


def insert(
    database: Warehouse,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str] = (),
) -> None:
    """Insert `rows`; with `conflict` (the key), update every other column of an existing row (upsert).
    The rows must not repeat a key."""
    suffix = ""
    if conflict:
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column not in conflict)
        suffix = f" on conflict ({', '.join(conflict)}) " + (f"do update set {updates}" if updates else "do nothing")
    for chunk in _chunks(rows):
        database.execute(
            f"insert into {table} ({', '.join(columns)}) values {_tuples(database, len(columns), len(chunk))}{suffix}",
            [value for row in chunk for value in row],
        )


def delete(
    database: Warehouse,
    table: str,
    key_columns: Sequence[str],
    keys: Sequence[Sequence[Any]],
    scope: tuple[str, Any] | None = None,
) -> None:
    """Delete the rows whose `key_columns` equal one of `keys` (and `scope` column = value, if given)."""
    where = f"{scope[0]} = {database.placeholder} and " if scope else ""
    for chunk in _chunks(keys):
        database.execute(
            f"delete from {table} where {where}({', '.join(key_columns)}) "
            f"in ({_tuples(database, len(key_columns), len(chunk))})",
            [*([scope[1]] if scope else []), *[value for key in chunk for value in key]],
        )
