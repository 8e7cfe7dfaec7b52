"""Load a folder of contract files (Parquet, CSV, JSONL) into the `raw` schema.

Every file is checked against `orchestration/contract.py` before anything is written; then all new
files are inserted in ONE transaction together with their `raw._loaded_files` rows, so a load either
adds every new file or nothing. Files whose content (SHA-256) was loaded before are skipped.

Files are always read by DuckDB. On the DuckDB target the rows go straight from the file into the
warehouse with `INSERT ... SELECT` (no rows pass through Python); on PostgreSQL an in-memory DuckDB
reads and converts them and they are streamed to `COPY ... FROM STDIN` as CSV, batch by batch.
See docs/loading.md.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv

from orchestration.contract import LINEAGE_COLUMNS, TABLES, Column, LogicalType
from orchestration.warehouse import DuckDBWarehouse, PostgresWarehouse, Target, Warehouse, connect

RAW_SCHEMA = "raw"
LOADED_FILES_TABLE = "_loaded_files"

FileFormat = Literal["parquet", "csv", "jsonl"]
FileStatus = Literal["loaded", "skipped_already_loaded"]
Progress = Callable[[str, int, int], None]

# File name endings the loader reads (matched case-insensitively); gzip is detected from `.gz`.
SUFFIXES: tuple[tuple[str, FileFormat], ...] = (
    (".parquet", "parquet"),
    (".csv.gz", "csv"),
    (".csv", "csv"),
    (".jsonl.gz", "jsonl"),
    (".jsonl", "jsonl"),
    (".json.gz", "jsonl"),
    (".json", "jsonl"),
)

DUCKDB_TYPES: dict[LogicalType, str] = {
    "string": "varchar",
    "json": "varchar",
    "timestamp": "timestamp",
    "decimal": "decimal(18, 4)",
    "integer": "bigint",
}
POSTGRES_TYPES: dict[LogicalType, str] = {
    "string": "text",
    "json": "text",
    "timestamp": "timestamp",
    "decimal": "numeric(18, 4)",
    "integer": "bigint",
}

_ROW = "__loader_row_number"  # 1-based record number inside the file, added to every file relation
# RFC 4180 CSV with a header row, every value read as text. Dialect sniffing is pinned down: a sniffed
# comment character or skipped leading rows would silently drop rows, a sniffed "no quote" would keep
# quotes in values. Empty fields (quoted or not) are null.
_CSV_OPTIONS = (
    "all_varchar = true, header = true, delim = ',', quote = '\"', escape = '\"', comment = '', skip = 0"
)
_COPY_BATCH_ROWS = 50_000
_MAX_VALUE_CHARS = 80

_DECIMAL_TEXT = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
_INTEGER_TEXT = r"^\s*[+-]?\d+(\.0*)?\s*$"
_TIMESTAMP_TEXT = r"^\s*\d{4}-\d{2}-\d{2}"
_SMALL_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER"}
_BIG_INTEGERS = {"BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT"}
_NAIVE_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE"}


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why a file was refused (or failed while loading)."""

    file_name: str
    message: str
    column: str | None = None

    def __str__(self) -> str:
        return f"{self.file_name}: {self.message}"


class LoadError(Exception):
    """Nothing of the load was written. `problems` lists every refused file and column."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class FileResult:
    file_name: str  # relative to the loaded folder
    table: str
    rows: int  # rows added by this load (0 when skipped)
    status: FileStatus
    file_sha256: str
    ignored_columns: tuple[str, ...] = ()
    previous_load_id: str | None = None  # for skipped files: the load that holds the content


@dataclass(frozen=True)
class LoadReport:
    load_id: str
    target: str
    folder: Path
    files: tuple[FileResult, ...]
    elapsed_seconds: float

    @property
    def rows_by_table(self) -> dict[str, int]:
        """Rows added per table (every contract table, 0 when nothing was added)."""
        totals = dict.fromkeys(TABLES, 0)
        for result in self.files:
            totals[result.table] += result.rows
        return totals

    @property
    def loaded_rows(self) -> int:
        return sum(result.rows for result in self.files)

    @property
    def loaded_files(self) -> tuple[FileResult, ...]:
        return tuple(r for r in self.files if r.status == "loaded")

    @property
    def skipped_files(self) -> tuple[FileResult, ...]:
        return tuple(r for r in self.files if r.status == "skipped_already_loaded")

    def summary_rows(self) -> list[tuple[str, str, int, str]]:
        """(file, table, rows, status) per file, then a `(total)` row per table that had several files."""
        rows: list[tuple[str, str, int, str]] = []
        for result in self.files:
            status: str = result.status
            if result.previous_load_id:
                status += f" (by load {result.previous_load_id})"
            if result.ignored_columns:
                status += f"; ignored extra columns: {', '.join(result.ignored_columns)}"
            rows.append((result.file_name, result.table, result.rows, status))
        for table_name in TABLES:
            results = [r for r in self.files if r.table == table_name]
            if len(results) < 2:
                continue
            loaded = sum(r.status == "loaded" for r in results)
            rows.append(
                (
                    "(total)",
                    table_name,
                    sum(r.rows for r in results),
                    f"{loaded} file(s) loaded, {len(results) - loaded} skipped",
                )
            )
        return rows


def load_folder(folder: Path, target: Target, progress: Progress | None = None) -> LoadReport:
    """Validate every new file of `folder`, then load them all into `raw` in one transaction.

    Raises `LoadError` (and writes nothing) when a file is refused or a load step fails.
    `progress(file_name, index, total)` is called after each file is loaded or skipped (index is 1-based).
    """
    started = time.perf_counter()
    folder = Path(folder)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    load_id = f"{loaded_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"

    files, naming_problems = discover_files(folder)
    if not files and not naming_problems:
        raise LoadError(
            f"no contract files in {folder}: expected files named <table>.<ext>, <table>__<part>.<ext> or "
            f"<table>/<part>.<ext> with ext {', '.join(s for s, _ in SUFFIXES)}; tables: {', '.join(TABLES)}"
        )
    hashes = {f.name: file_sha256(f.path) for f in files}

    previous = _previous_loads(target)
    new_files: list[ContractFile] = []
    first_of_content: set[str] = set()
    for file in files:
        sha = hashes[file.name]
        if sha not in previous and sha not in first_of_content:
            new_files.append(file)
            first_of_content.add(sha)

    # Validation reads the files with a private in-memory DuckDB: a refused load never touches the warehouse.
    with _reader() as reader:
        plans: dict[str, _FilePlan] = {}
        problems = list(naming_problems)
        for file in new_files:
            plan = _plan_file(reader, file)
            _validate(reader, plan)
            plans[file.name] = plan
            problems += plan.problems
        if problems:
            raise _refusal(problems, naming_problems)

        with _open(target) as warehouse:
            if isinstance(warehouse, DuckDBWarehouse):
                # On DuckDB the warehouse connection reads the files itself: INSERT ... SELECT.
                _reader(warehouse.connection)
            results = _write(warehouse, reader, files, plans, hashes, previous, load_id, loaded_at, progress)
    return LoadReport(
        load_id=load_id,
        target=target.name,
        folder=folder,
        files=tuple(results),
        elapsed_seconds=time.perf_counter() - started,
    )


@contextmanager
def _open(target: Target) -> Iterator[Warehouse]:
    with ExitStack() as stack:
        try:
            warehouse = stack.enter_context(connect(target))
        except Exception as error:  # duckdb.Error, OSError, psycopg2.Error (imported lazily)
            raise LoadError(f"cannot open the warehouse {target.describe()}: {_first_line(error)}") from error
        yield warehouse


def _previous_loads(target: Target) -> dict[str, str]:
    """file_sha256 -> load_id of every file loaded before (without creating a DuckDB file)."""
    if target.kind == "duckdb" and target.duckdb_path is not None and not target.duckdb_path.exists():
        return {}
    with _open(target) as warehouse:
        try:
            return _already_loaded(warehouse)
        except Exception as error:  # e.g. no privilege on raw._loaded_files
            raise LoadError(f"cannot read {RAW_SCHEMA}.{LOADED_FILES_TABLE}: {_first_line(error)}") from error


# --------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractFile:
    path: Path
    name: str  # path relative to the folder, with '/' separators
    table: str
    format: FileFormat


def _is_ignored(name: str) -> bool:
    return name.startswith(("_", "."))


def _split_suffix(file_name: str) -> tuple[str, FileFormat] | None:
    lowered = file_name.lower()
    for suffix, file_format in SUFFIXES:
        if lowered.endswith(suffix) and len(file_name) > len(suffix):
            return file_name[: -len(suffix)], file_format
    return None


def _unsupported(name: str) -> Problem:
    return Problem(
        name,
        f"unsupported file type; use {', '.join(s for s, _ in SUFFIXES)} "
        "(or start the name with '_' to keep it in the folder without loading it)",
    )


def _unknown_table(name: str, table_name: str) -> Problem:
    return Problem(name, f"unknown table {table_name!r}; the contract knows: {', '.join(sorted(TABLES))}")


def discover_files(folder: Path) -> tuple[list[ContractFile], list[Problem]]:
    """Contract files of `folder` (sorted), and problems with names that cannot be loaded."""
    if not folder.is_dir():
        raise LoadError(f"{folder} is not a folder")
    files: list[ContractFile] = []
    problems: list[Problem] = []
    for entry in sorted(folder.iterdir()):
        if _is_ignored(entry.name):
            continue
        if entry.is_dir():
            if entry.name not in TABLES:
                problems.append(_unknown_table(entry.name + "/", entry.name))
                continue
            for path in _walk(entry):
                name = path.relative_to(folder).as_posix()
                split = _split_suffix(path.name)
                if split is None:
                    problems.append(_unsupported(name))
                else:
                    files.append(ContractFile(path, name, entry.name, split[1]))
        elif entry.is_file():
            split = _split_suffix(entry.name)
            if split is None:
                problems.append(_unsupported(entry.name))
                continue
            stem, file_format = split
            table_name = stem.split("__", 1)[0]
            if table_name not in TABLES:
                problems.append(_unknown_table(entry.name, table_name))
                continue
            files.append(ContractFile(entry, entry.name, table_name, file_format))
    return files, problems


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not _is_ignored(d))
        for name in sorted(names):
            if not _is_ignored(name):
                yield Path(root) / name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# Reading and validation (DuckDB)
# --------------------------------------------------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class _Check:
    """A predicate over the file relation that is true for a value that cannot be loaded."""

    column: Column
    bad_sql: str
    value_sql: str
    reason: str  # completes "row N has 'value', which ..." (for a type refusal: how to fix it)
    type_refusal: str | None = None  # set when the column's stored type itself is refused


@dataclass
class _FilePlan:
    file: ContractFile
    relation_sql: str  # a FROM item exposing the file's columns and _ROW
    select: dict[str, str] = field(default_factory=dict)  # contract column -> converted expression
    checks: list[_Check] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()
    readable: bool = True


def _relation_sql(file: ContractFile) -> str:
    path = _literal(str(file.path))
    if file.format == "parquet":
        return (
            f"(select *, file_row_number + 1 as {_ROW} "
            f"from read_parquet({path}, binary_as_string = true, file_row_number = true))"
        )
    if file.format == "csv":
        return f"(select *, ordinality as {_ROW} from read_csv({path}, {_CSV_OPTIONS}) with ordinality)"
    # Every contract key as text: a JSON string gives its content, an object/array/number its JSON text.
    # records = 'true' makes a record that is not an object an error instead of a one-column row.
    columns = ", ".join(f"{_literal(c.name)}: 'VARCHAR'" for c in TABLES[file.table].columns)
    return (
        f"(select *, ordinality as {_ROW} from read_json({path}, columns = {{{columns}}}, "
        "format = 'auto', records = 'true') with ordinality)"
    )


def _describe(reader: duckdb.DuckDBPyConnection, file: ContractFile) -> list[tuple[str, str]] | None:
    """(column, DuckDB type) of the file's columns, in file order; None for a JSONL file without records.

    A JSONL column is a key that at least one record has (even with a null value); it is read as text.
    """
    path = _literal(str(file.path))
    if file.format == "jsonl":
        # fetchall, not fetchone: DuckDB 2 refuses new work on a connection with an unfinished result.
        (result,) = reader.execute(
            "select count(*), array_agg(distinct json_keys(json)) filter (where json_type(json) = 'OBJECT') "
            f"from read_json_objects({path}, format = 'auto')"
        ).fetchall()
        if not result[0]:
            return None
        keys = sorted({key for keys in result[1] or [] for key in keys})
        return [(key, "VARCHAR") for key in keys]
    if file.format == "parquet":
        source = f"read_parquet({path}, binary_as_string = true)"
    else:
        source = f"read_csv({path}, {_CSV_OPTIONS})"
    return [(row[0], row[1]) for row in reader.execute(f"describe select * from {source}").fetchall()]


def _type_family(duck_type: str) -> str:
    upper = duck_type.upper()
    if upper in ("VARCHAR", "JSON"):
        return "text"
    if upper == '"NULL"' or upper == "NULL":
        return "null"
    if upper in _NAIVE_TIMESTAMPS:
        return "naive_timestamp"
    if upper in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return "timestamptz"
    if upper in _SMALL_INTEGERS:
        return "small_integer"
    if upper in _BIG_INTEGERS:
        return "big_integer"
    if upper.startswith("DECIMAL"):
        return "decimal"
    if upper in ("FLOAT", "DOUBLE"):
        return "float"
    if upper.startswith(("STRUCT", "MAP", "UNION")) or upper.endswith("]"):
        return "nested"
    return "other"  # BOOLEAN, TIME, INTERVAL, UUID, BLOB, ...


def _decimal_fits(duck_type: str) -> bool:
    """Whether every value of DECIMAL(p, s) fits decimal(18, 4) without overflow."""
    inside = duck_type[duck_type.find("(") + 1 : duck_type.find(")")]
    precision, scale = (int(part) for part in inside.split(","))
    return precision - scale <= 14


def _plan_column(plan: _FilePlan, column: Column, src: str, duck_type: str) -> None:
    """Fill the converted expression of one contract column and the checks its values need."""
    family = _type_family(duck_type)
    target_type = DUCKDB_TYPES[column.type]
    as_text = f"cast({src} as varchar)"
    blank_is_null = f"nullif(trim({src}), '')"

    def refuse(hint: str) -> None:
        refusal = (
            f"column {column.name} ({column.type}) is stored as {duck_type}, "
            f"which cannot be loaded as {target_type}"
        )
        plan.checks.append(_Check(column, f"{src} is not null", as_text, hint, type_refusal=refusal))

    expression = f"cast(null as {target_type})"
    if family == "null":
        pass
    elif column.type in ("string", "json"):
        if family == "nested":
            if column.type == "json":
                expression = f"cast(to_json({src}) as varchar)"
            else:
                refuse("store it as a string column")
        else:
            expression = as_text
    elif column.type == "timestamp":
        if family == "text":
            parsed = f"try_cast({blank_is_null} as timestamptz)"
            expression = f"timezone('UTC', {parsed})"
            plan.checks.append(
                _Check(
                    column,
                    f"{blank_is_null} is not null and "
                    f"(not regexp_matches({src}, {_literal(_TIMESTAMP_TEXT)}) or {parsed} is null)",
                    src,
                    "is not an ISO 8601 timestamp (e.g. 2026-03-01T10:00:00Z or 2026-03-01T10:00:00+02:00)",
                )
            )
        elif family == "naive_timestamp":
            expression = f"cast({src} as timestamp)"
        elif family == "timestamptz":
            expression = f"timezone('UTC', {src})"
        else:
            refuse("store it as a Parquet timestamp or as ISO 8601 text")
    elif column.type == "decimal":
        if family == "text":
            expression = f"try_cast({blank_is_null} as {target_type})"
            plan.checks.append(
                _Check(
                    column,
                    f"{blank_is_null} is not null and "
                    f"(not regexp_matches({src}, {_literal(_DECIMAL_TEXT)}) or {expression} is null)",
                    src,
                    "is not a decimal number that fits decimal(18,4) (write e.g. 1234.5, dot as separator)",
                )
            )
        elif family in ("small_integer", "big_integer", "decimal", "float"):
            expression = f"try_cast({src} as {target_type})"
            if family in ("big_integer", "float") or (family == "decimal" and not _decimal_fits(duck_type)):
                plan.checks.append(
                    _Check(
                        column,
                        f"{src} is not null and {expression} is null",
                        as_text,
                        "does not fit decimal(18,4)",
                    )
                )
        else:
            refuse("store it as a number or as decimal text")
    elif column.type == "integer":
        if family == "text":
            expression = f"try_cast({blank_is_null} as bigint)"
            plan.checks.append(
                _Check(
                    column,
                    f"{blank_is_null} is not null and "
                    f"(not regexp_matches({src}, {_literal(_INTEGER_TEXT)}) or {expression} is null)",
                    src,
                    "is not a whole number that fits bigint",
                )
            )
        elif family == "small_integer" or duck_type.upper() == "BIGINT":
            expression = f"cast({src} as bigint)"
        elif family in ("big_integer", "decimal", "float"):
            expression = f"try_cast({src} as bigint)"
            plan.checks.append(
                _Check(
                    column,
                    f"{src} is not null and ({expression} is null or {expression} <> {src})",
                    as_text,
                    "is not a whole number that fits bigint",
                )
            )
        else:
            refuse("store it as an integer or as whole-number text")
    plan.select[column.name] = f"cast({expression} as {target_type})"


def _plan_file(reader: duckdb.DuckDBPyConnection, file: ContractFile) -> _FilePlan:
    """Map the file's columns onto the contract; schema problems are recorded, values are not read yet."""
    table = TABLES[file.table]
    plan = _FilePlan(file=file, relation_sql=_relation_sql(file))
    try:
        described = _describe(reader, file)
    except duckdb.Error as error:
        plan.problems.append(_unreadable(file, error))
        plan.readable = False
        return plan
    if described is None:
        return plan  # a JSONL file without records: nothing to check, loads 0 rows
    if file.format == "csv" and len(described) == 1 and any(sep in described[0][0] for sep in ";\t|"):
        header = _shorten(described[0][0])
        message = f"is not comma-separated (header {header}); write CSV with ','"
        plan.problems.append(Problem(file.name, message))
        plan.readable = False
        return plan
    types = dict(described)
    contract_names = {c.name for c in table.columns}
    plan.ignored_columns = tuple(name for name, _ in described if name not in contract_names)
    for column in table.columns:
        if column.name in types:
            _plan_column(plan, column, _ident(column.name), types[column.name])
        elif column.required:
            plan.problems.append(Problem(file.name, f"required column {column.name} is missing", column.name))
    return plan


def _validate(reader: duckdb.DuckDBPyConnection, plan: _FilePlan) -> None:
    """Read the file once and record every value that cannot be loaded (first row, value, count)."""
    if not plan.readable:
        return
    aggregates = ["count(*)"]
    for check in plan.checks:
        aggregates += [
            f"count(*) filter (where {check.bad_sql})",
            f"min({_ROW}) filter (where {check.bad_sql})",
            f"arg_min({check.value_sql}, {_ROW}) filter (where {check.bad_sql})",
        ]
    if len(aggregates) == 1 and plan.file.format != "jsonl":
        return  # typed Parquet columns that always convert: nothing to read
    # JSONL: read even without checks, so that a record that is not an object refuses the file.
    sql = f"select {', '.join(aggregates)} from {plan.relation_sql}"
    try:
        (result,) = reader.execute(sql).fetchall()
    except duckdb.Error as error:
        plan.problems.append(_unreadable(plan.file, error))
        return
    values = list(result[1:])
    value_problems: list[Problem] = []
    for check in plan.checks:
        bad_count, first_row, first_value = values[:3]
        del values[:3]
        if check.type_refusal is not None:
            example = (
                f"row {first_row} has {_shorten(str(first_value))}" if bad_count else "all values are null"
            )
            message = f"{check.type_refusal}: {example}; {check.reason}"
            value_problems.append(Problem(plan.file.name, message, check.column.name))
        elif bad_count:
            shown = _shorten(str(first_value))
            more = f" ({bad_count:,} bad values in this file)" if bad_count > 1 else ""
            message = (
                f"column {check.column.name} ({check.column.type}): row {first_row} has {shown}, "
                f"which {check.reason}{more}"
            )
            value_problems.append(Problem(plan.file.name, message, check.column.name))
    plan.problems += value_problems


def _unreadable(file: ContractFile, error: BaseException) -> Problem:
    return Problem(file.name, f"cannot be read as {file.format.upper()}: {_first_line(error)}")


def _shorten(value: str) -> str:
    if len(value) > _MAX_VALUE_CHARS:
        value = value[:_MAX_VALUE_CHARS] + "..."
    return repr(value)


def _first_line(error: BaseException) -> str:
    """The informative head of an error message (DuckDB appends hints and SQL excerpts)."""
    lines: list[str] = []
    for line in str(error).splitlines():
        if line.startswith(("Possible fixes", "The search space", "LINE ", "Try ")) or len(lines) == 3:
            break
        if line.strip():
            lines.append(line.strip())
    return "; ".join(lines) if lines else type(error).__name__


def _select_sql(plan: _FilePlan) -> tuple[list[str], str]:
    """Target columns and the SELECT producing them (lineage values are the 3 `?` parameters)."""
    present = list(plan.select)
    expressions = [f"{plan.select[name]} as {_ident(name)}" for name in present]
    lineage = [name for name, _ in LINEAGE_COLUMNS]
    expressions += [
        "cast(? as varchar) as _load_id",
        "cast(? as varchar) as _file_name",
        f"cast({_ROW} as bigint) as _file_row_number",
        "cast(? as timestamp) as _loaded_at",
    ]
    return present + lineage, f"select {', '.join(expressions)} from {plan.relation_sql}"


def _reader(connection: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection prepared for reading files: text without an offset is UTC.

    Without `set TimeZone`, DuckDB reads offset-less text as local time of the machine.
    """
    reader = connection if connection is not None else duckdb.connect()
    reader.execute("set TimeZone = 'UTC'")
    reader.execute("set enable_progress_bar = false")  # DuckDB would draw on the terminal
    return reader


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def _table_ddl(kind: str) -> dict[str, list[tuple[str, str]]]:
    types = DUCKDB_TYPES if kind == "duckdb" else POSTGRES_TYPES
    tables = {
        name: [(c.name, types[c.type]) for c in table.columns] + [(n, types[t]) for n, t in LINEAGE_COLUMNS]
        for name, table in TABLES.items()
    }
    text, timestamp = types["string"], types["timestamp"]
    tables[LOADED_FILES_TABLE] = [
        ("file_sha256", f"{text} primary key"),
        ("file_name", f"{text} not null"),
        ("table_name", f"{text} not null"),
        ("row_count", "bigint not null"),
        ("load_id", f"{text} not null"),
        ("loaded_at", f"{timestamp} not null"),
    ]
    return tables


def _ensure_tables(warehouse: Warehouse) -> None:
    """Create the raw schema and tables if missing; add contract columns a table lacks."""
    warehouse.execute(f"create schema if not exists {RAW_SCHEMA}")
    existing: dict[str, set[str]] = {}
    for table_name, column_name in warehouse.query(
        "select table_name, column_name from information_schema.columns "
        f"where table_schema = {warehouse.placeholder}",
        [RAW_SCHEMA],
    ):
        existing.setdefault(table_name, set()).add(column_name)
    for table_name, columns in _table_ddl(warehouse.kind).items():
        qualified = f"{RAW_SCHEMA}.{_ident(table_name)}"
        if table_name not in existing:
            body = ", ".join(f"{_ident(name)} {ddl}" for name, ddl in columns)
            warehouse.execute(f"create table {qualified} ({body})")
            continue
        for name, ddl in columns:
            if name not in existing[table_name]:
                warehouse.execute(f"alter table {qualified} add column {_ident(name)} {ddl}")


def _already_loaded(warehouse: Warehouse) -> dict[str, str]:
    """file_sha256 -> load_id of every file loaded before."""
    exists = warehouse.query(
        "select count(*) from information_schema.tables "
        f"where table_schema = {warehouse.placeholder} and table_name = {warehouse.placeholder}",
        [RAW_SCHEMA, LOADED_FILES_TABLE],
    )
    if not exists[0][0]:
        return {}
    rows = warehouse.query(f"select file_sha256, load_id from {RAW_SCHEMA}.{LOADED_FILES_TABLE}")
    return {str(sha): str(load) for sha, load in rows}


def _insert_duckdb(warehouse: DuckDBWarehouse, plan: _FilePlan, load_id: str, loaded_at: datetime) -> int:
    columns, select = _select_sql(plan)
    target = f"{RAW_SCHEMA}.{_ident(plan.file.table)}"
    sql = f"insert into {target} ({', '.join(map(_ident, columns))}) {select}"
    ((count,),) = warehouse.connection.execute(sql, [load_id, plan.file.name, loaded_at]).fetchall()
    return int(count)


class _CsvStream(io.RawIOBase):
    """A readable byte stream of CSV text (no header) made from Arrow record batches, one batch at a time.

    Nulls are empty fields and empty strings are `""`, which is what PostgreSQL's COPY CSV expects.
    """

    def __init__(self, batches: pa.RecordBatchReader) -> None:
        self._batches = batches
        self._chunk = b""
        self._position = 0
        self.rows = 0

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bool:
        """Encode the next non-empty batch; False at the end."""
        for batch in self._batches:
            if batch.num_rows:
                self.rows += batch.num_rows
                sink = io.BytesIO()
                pa_csv.write_csv(batch, sink, pa_csv.WriteOptions(include_header=False))
                self._chunk, self._position = sink.getvalue(), 0
                return True
        return False

    def read(self, size: int = -1) -> bytes:
        if self._position >= len(self._chunk) and not self._next_chunk():
            return b""
        end = len(self._chunk) if size < 0 else self._position + size
        data = self._chunk[self._position : end]
        self._position += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _insert_postgres(
    warehouse: PostgresWarehouse,
    reader: duckdb.DuckDBPyConnection,
    plan: _FilePlan,
    load_id: str,
    loaded_at: datetime,
) -> int:
    columns, select = _select_sql(plan)
    # A relation's Arrow reader streams the result batch by batch (no full materialisation).
    relation = reader.sql(select, params=[load_id, plan.file.name, loaded_at])
    batches = relation.to_arrow_reader(_COPY_BATCH_ROWS)
    stream = _CsvStream(batches)
    target = f"{RAW_SCHEMA}.{_ident(plan.file.table)}"
    copied = warehouse.copy_from(
        f"copy {target} ({', '.join(map(_ident, columns))}) from stdin with (format csv)", stream
    )
    return copied if copied >= 0 else stream.rows


# --------------------------------------------------------------------------------------------------
# The load
# --------------------------------------------------------------------------------------------------


def _write(
    warehouse: Warehouse,
    reader: duckdb.DuckDBPyConnection,
    files: list[ContractFile],
    plans: dict[str, _FilePlan],
    hashes: dict[str, str],
    previous: dict[str, str],
    load_id: str,
    loaded_at: datetime,
    progress: Progress | None,
) -> list[FileResult]:
    """Insert every planned file and its `_loaded_files` row in one transaction; roll back on any error."""
    results: list[FileResult] = []
    current = "(creating the raw tables)"
    warehouse.begin()
    try:
        _ensure_tables(warehouse)
        for index, file in enumerate(files, start=1):
            current = file.name
            sha = hashes[file.name]
            plan = plans.get(file.name)
            if plan is None:
                results.append(
                    FileResult(
                        file.name,
                        file.table,
                        0,
                        "skipped_already_loaded",
                        sha,
                        previous_load_id=previous.get(sha, load_id),
                    )
                )
            else:
                rows = _insert_file(warehouse, reader, plan, load_id, loaded_at)
                warehouse.execute(
                    f"insert into {RAW_SCHEMA}.{LOADED_FILES_TABLE} "
                    "(file_sha256, file_name, table_name, row_count, load_id, loaded_at) "
                    f"values ({', '.join([warehouse.placeholder] * 6)})",
                    [sha, file.name, file.table, rows, load_id, loaded_at],
                )
                results.append(FileResult(file.name, file.table, rows, "loaded", sha, plan.ignored_columns))
            if progress is not None:
                progress(file.name, index, len(files))
        current = "(commit)"
        warehouse.commit()
    except BaseException as error:
        _rollback(warehouse)
        if not isinstance(error, Exception):
            raise
        raise LoadError(
            f"loading {current} failed, so the whole load was rolled back and nothing was written: "
            f"{_first_line(error)}",
            (Problem(current, f"failed while loading: {_first_line(error)}"),),
        ) from error
    return results


def _insert_file(
    warehouse: Warehouse,
    reader: duckdb.DuckDBPyConnection,
    plan: _FilePlan,
    load_id: str,
    loaded_at: datetime,
) -> int:
    if isinstance(warehouse, DuckDBWarehouse):
        return _insert_duckdb(warehouse, plan, load_id, loaded_at)
    if isinstance(warehouse, PostgresWarehouse):
        return _insert_postgres(warehouse, reader, plan, load_id, loaded_at)
    raise TypeError(f"unsupported warehouse {type(warehouse).__name__}")


def _rollback(warehouse: Warehouse) -> None:
    # The original error matters more; a dead connection has rolled back anyway.
    with suppress(Exception):
        warehouse.rollback()


def _refusal(problems: list[Problem], naming_problems: list[Problem]) -> LoadError:
    files = sorted({p.file_name for p in problems})
    lines = [f"refused {len(files)} file(s); nothing was written:"]
    lines += [f"  - {problem}" for problem in problems]
    if naming_problems:
        lines.append(
            "  file names must be <table>.<ext>, <table>__<part>.<ext> or <table>/<part>.<ext>; "
            "names starting with '_' or '.' are ignored"
        )
    return LoadError("\n".join(lines), tuple(problems))
