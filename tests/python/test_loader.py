"""The raw loader on DuckDB: formats, idempotency, timestamp conversion, refusals and atomicity.

Every test builds its own small contract files with pyarrow (no dependency on the sample generator).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from orchestration import loader
from orchestration.contract import LINEAGE_COLUMNS, TABLES, Column
from orchestration.loader import LoadError, load_folder
from orchestration.warehouse import Target

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ROWS_PER_TABLE = {name: 3 + index for index, name in enumerate(TABLES)}  # different counts per table
BASE_TIME = datetime(2026, 3, 1, 10, 0, 0)
LINEAGE = [name for name, _ in LINEAGE_COLUMNS]


# --------------------------------------------------------------------------------------------------
# Building contract files
# --------------------------------------------------------------------------------------------------


def _value(table: str, column: Column, row: int) -> Any:
    """A deterministic value; optional columns are null on every third row."""
    if not column.required and row % 3 == 2:
        return None
    position = [c.name for c in TABLES[table].columns].index(column.name)
    if column.type == "string":
        return f"{table}-{column.name}-{row}"
    if column.type == "timestamp":
        return BASE_TIME + timedelta(days=row, minutes=position, microseconds=row * 1000)
    if column.type == "decimal":
        return Decimal(f"{row * 10 + position}.25")
    if column.type == "integer":
        return row + position
    return json.dumps({"row": row, "column": column.name, "nested": [1, {"ok": True}]}, separators=(",", ":"))


def contract_rows(table: str, rows: int | None = None, start: int = 0) -> list[dict[str, Any]]:
    count = ROWS_PER_TABLE[table] if rows is None else rows
    return [
        {column.name: _value(table, column, row) for column in TABLES[table].columns}
        for row in range(start, start + count)
    ]


_ARROW_TYPES = {
    "string": pa.string(),
    "json": pa.string(),
    "timestamp": pa.timestamp("us"),
    "decimal": pa.decimal128(18, 2),
    "integer": pa.int64(),
}


def write_parquet(
    path: Path, table: str, rows: list[dict[str, Any]], types: dict[str, pa.DataType] | None = None
) -> Path:
    names = list(rows[0])
    column_types = {c.name: _ARROW_TYPES[c.type] for c in TABLES[table].columns} | (types or {})
    arrays = {name: pa.array([r[name] for r in rows], column_types.get(name, pa.string())) for name in names}
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(arrays), path)
    return path


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    return str(value)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    names = list(rows[0])
    arrays = {name: pa.array([_text(r[name]) for r in rows], pa.string()) for name in names}
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(pa.table(arrays), sink)
    data = sink.getvalue().to_pybytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_jsonl(path: Path, table: str, rows: list[dict[str, Any]]) -> Path:
    """JSON columns alternate between a JSON object and a string holding JSON text; nulls alternate
    between an explicit null and a missing key."""
    json_columns = {c.name for c in TABLES[table].columns if c.type == "json"}
    lines = []
    for index, row in enumerate(rows):
        record: dict[str, Any] = {}
        for name, value in row.items():
            if value is None:
                if index % 2 == 0:
                    record[name] = None
                continue
            if name in json_columns and index % 2 == 0:
                record[name] = json.loads(value)
            elif isinstance(value, Decimal):
                record[name] = float(value)
            elif isinstance(value, datetime):
                record[name] = value.isoformat() + "Z"
            else:
                record[name] = value
        lines.append(json.dumps(record))
    data = ("\n".join(lines) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_folder(folder: Path, file_format: str) -> Path:
    for table in TABLES:
        rows = contract_rows(table)
        if file_format == "parquet":
            write_parquet(folder / f"{table}.parquet", table, rows)
        elif file_format == "csv":
            write_csv(folder / f"{table}.csv", rows)
        else:
            write_jsonl(folder / f"{table}.jsonl", table, rows)
    return folder


# --------------------------------------------------------------------------------------------------
# Inspecting the warehouse
# --------------------------------------------------------------------------------------------------


def query(target: Target, sql: str) -> list[tuple[Any, ...]]:
    assert target.duckdb_path is not None
    with duckdb.connect(str(target.duckdb_path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def state(target: Target) -> dict[str, Any]:
    """Every table of the raw schema with its row count, and the `_loaded_files` rows."""
    assert target.duckdb_path is not None
    if not target.duckdb_path.exists():
        return {}
    tables = [
        name
        for (name,) in query(
            target, "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
        )
    ]
    snapshot: dict[str, Any] = {
        name: query(target, f"select count(*) from raw.{name}")[0][0] for name in tables
    }
    if "_loaded_files" in tables:
        snapshot["loaded_files"] = query(target, "select * from raw._loaded_files order by file_sha256")
    return snapshot


def raw_rows(target: Target, table: str) -> list[tuple[Any, ...]]:
    columns = ", ".join(f'"{c.name}"' for c in TABLES[table].columns)
    return query(target, f"select {columns} from raw.{table} order by all")


# --------------------------------------------------------------------------------------------------
# Loading and idempotency
# --------------------------------------------------------------------------------------------------


def test_loads_every_table_from_parquet_with_lineage(tmp_path: Path, duckdb_target: Target) -> None:
    folder = write_folder(tmp_path / "in", "parquet")
    calls: list[tuple[str, int, int]] = []

    report = load_folder(folder, duckdb_target, progress=lambda *args: calls.append(args))

    assert report.rows_by_table == ROWS_PER_TABLE
    assert [r.status for r in report.files] == ["loaded"] * len(TABLES)
    assert calls == [(f"{t}.parquet", i, len(TABLES)) for i, t in enumerate(sorted(TABLES), start=1)]
    for table, expected in ROWS_PER_TABLE.items():
        columns = [
            name
            for (name,) in query(
                duckdb_target,
                f"select column_name from information_schema.columns where table_schema = 'raw' "
                f"and table_name = '{table}' order by ordinal_position",
            )
        ]
        assert columns == [c.name for c in TABLES[table].columns] + LINEAGE
        lineage = query(
            duckdb_target,
            f"select _load_id, _file_name, _file_row_number, _loaded_at from raw.{table} "
            "order by _file_row_number",
        )
        assert [row[2] for row in lineage] == list(range(1, expected + 1))
        assert {row[0] for row in lineage} == {report.load_id}
        assert {row[1] for row in lineage} == {f"{table}.parquet"}
        assert all(isinstance(row[3], datetime) for row in lineage)
    loaded = query(
        duckdb_target,
        "select file_name, table_name, row_count, load_id from raw._loaded_files order by file_name",
    )
    assert loaded == [(f"{t}.parquet", t, ROWS_PER_TABLE[t], report.load_id) for t in sorted(TABLES)]
    # Typed Parquet values arrive unchanged.
    first_order = contract_rows("orders")[0]
    stored = query(
        duckdb_target, "select order_id, total_amount, created_at from raw.orders where _file_row_number = 1"
    )
    assert stored == [(first_order["order_id"], first_order["total_amount"], first_order["created_at"])]


def test_second_load_adds_nothing_and_a_new_file_adds_only_its_rows(
    tmp_path: Path, duckdb_target: Target
) -> None:
    folder = write_folder(tmp_path / "in", "parquet")
    first = load_folder(folder, duckdb_target)
    before = state(duckdb_target)

    second = load_folder(folder, duckdb_target)
    assert state(duckdb_target) == before
    assert second.loaded_rows == 0
    assert {r.status for r in second.files} == {"skipped_already_loaded"}
    assert {r.previous_load_id for r in second.files} == {first.load_id}
    assert second.load_id != first.load_id

    write_parquet(folder / "orders__2026-03.parquet", "orders", contract_rows("orders", rows=2, start=100))
    third = load_folder(folder, duckdb_target)
    assert [(r.file_name, r.rows) for r in third.loaded_files] == [("orders__2026-03.parquet", 2)]
    after = state(duckdb_target)
    assert after["orders"] == before["orders"] + 2
    unchanged = set(TABLES) - {"orders"}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert after["_loaded_files"] == len(TABLES) + 1
    assert set(before["loaded_files"]) < set(after["loaded_files"])
    summary = third.summary_rows()
    assert ("orders__2026-03.parquet", "orders", 2, "loaded") in summary
    assert ("(total)", "orders", 2, "1 file(s) loaded, 1 skipped") in summary


def test_same_content_under_two_names_is_loaded_once(tmp_path: Path, duckdb_target: Target) -> None:
    folder = tmp_path / "in"
    path = write_parquet(folder / "orders.parquet", "orders", contract_rows("orders"))
    shutil.copy(path, folder / "orders__copy.parquet")
    report = load_folder(folder, duckdb_target)
    assert [(r.file_name, r.status) for r in report.files] == [
        ("orders.parquet", "loaded"),
        ("orders__copy.parquet", "skipped_already_loaded"),
    ]
    assert state(duckdb_target)["orders"] == ROWS_PER_TABLE["orders"]


def test_duplicate_rows_inside_a_file_are_kept(tmp_path: Path, duckdb_target: Target) -> None:
    rows = contract_rows("deletion_requests", rows=2)
    write_csv(tmp_path / "in" / "deletion_requests.csv", rows + rows)
    load_folder(tmp_path / "in", duckdb_target)
    assert state(duckdb_target)["deletion_requests"] == 4


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_csv_and_jsonl_load_the_same_raw_rows_as_parquet(
    tmp_path: Path, duckdb_target: Target, file_format: str
) -> None:
    parquet_target = Target(name="duckdb", kind="duckdb", duckdb_path=tmp_path / "parquet.duckdb")
    load_folder(write_folder(tmp_path / "parquet", "parquet"), parquet_target)
    load_folder(write_folder(tmp_path / file_format, file_format), duckdb_target)
    for table in TABLES:
        expected = raw_rows(parquet_target, table)
        assert raw_rows(duckdb_target, table) == expected, table
        assert len(expected) == ROWS_PER_TABLE[table]


def test_file_layouts_compression_and_ignored_names(tmp_path: Path, duckdb_target: Target) -> None:
    folder = tmp_path / "in"
    write_csv(folder / "orders__part-1.csv.gz", contract_rows("orders", rows=2))
    write_jsonl(
        folder / "tracks" / "day=2026-03-01" / "part-0.jsonl.gz", "tracks", contract_rows("tracks", rows=3)
    )
    write_jsonl(folder / "pages.json", "pages", contract_rows("pages", rows=1))
    write_parquet(folder / "identifies" / "a.parquet", "identifies", contract_rows("identifies", rows=2))
    (folder / "_manifest.json").write_text("{}")
    (folder / "_truth").mkdir()
    (folder / "_truth" / "people.csv").write_text("not,a,contract,file\n")
    (folder / ".DS_Store").write_text("x")
    (folder / "tracks" / "_SUCCESS").write_text("")
    (folder / "tracks" / ".part-0.crc").write_text("")

    report = load_folder(folder, duckdb_target)

    assert sorted((r.file_name, r.table, r.rows) for r in report.files) == [
        ("identifies/a.parquet", "identifies", 2),
        ("orders__part-1.csv.gz", "orders", 2),
        ("pages.json", "pages", 1),
        ("tracks/day=2026-03-01/part-0.jsonl.gz", "tracks", 3),
    ]
    assert query(duckdb_target, "select distinct _file_name from raw.tracks") == [
        ("tracks/day=2026-03-01/part-0.jsonl.gz",)
    ]
    # Every contract table exists afterwards, so dbt sources resolve even for tables without files.
    assert {k: v for k, v in state(duckdb_target).items() if k != "loaded_files"} == {
        "_loaded_files": 4,
        "crm_contacts": 0,
        "deletion_requests": 0,
        "identifies": 2,
        "order_items": 0,
        "orders": 2,
        "pages": 1,
        "screens": 0,
        "tracks": 3,
    }


def test_missing_optional_columns_load_as_null_and_extra_columns_are_reported(
    tmp_path: Path, duckdb_target: Target
) -> None:
    required = [c.name for c in TABLES["orders"].required_columns]
    rows = [
        {**{k: v for k, v in row.items() if k in required}, "coupon_code": "SPRING"}
        for row in contract_rows("orders", rows=2)
    ]
    write_csv(tmp_path / "in" / "orders.csv", rows)
    write_jsonl(
        tmp_path / "in" / "order_items.jsonl",
        "order_items",
        [{**row, "warehouse": "north"} for row in contract_rows("order_items", rows=1)],
    )

    report = load_folder(tmp_path / "in", duckdb_target)

    assert {r.file_name: r.ignored_columns for r in report.files} == {
        "order_items.jsonl": ("warehouse",),
        "orders.csv": ("coupon_code",),
    }
    assert query(
        duckdb_target, "select count(*), count(phone), count(refunded_at), count(order_id) from raw.orders"
    ) == [(2, 0, 0, 2)]
    assert any("ignored extra columns: coupon_code" in row[3] for row in report.summary_rows())


def test_jsonl_json_columns_keep_strings_and_serialise_objects(tmp_path: Path, duckdb_target: Target) -> None:
    row = contract_rows("identifies", rows=1)[0]
    lines = [
        {**row, "id": "object", "traits": {"email": "a@example.com", "tags": ["x"]}},
        {**row, "id": "string", "traits": '{"email": "b@example.com"}'},
        {**row, "id": "malformed", "traits": "{not json"},
        {**row, "id": "null", "traits": None},
    ]
    path = tmp_path / "in" / "identifies.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(json.dumps(line, default=str) for line in lines) + "\n")
    load_folder(tmp_path / "in", duckdb_target)
    stored = dict(query(duckdb_target, "select id, traits from raw.identifies"))
    assert json.loads(stored["object"]) == {"email": "a@example.com", "tags": ["x"]}
    assert stored["string"] == '{"email": "b@example.com"}'
    assert stored["malformed"] == "{not json"  # not validated at load: staging quarantines it
    assert stored["null"] is None


# --------------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------------


def test_timestamps_with_an_offset_are_converted_to_utc(tmp_path: Path, duckdb_target: Target) -> None:
    texts = {
        "offset": "2026-03-01T10:00:00+02:00",
        "zulu": "2026-03-01T10:00:00Z",
        "naive": "2026-03-01T10:00:00",
        "negative": "2026-03-01 10:00:00.250-05:30",
        "compact_offset": "2026-03-01T10:00:00+0200",
        "date_only": "2026-03-01",
    }
    rows = contract_rows("deletion_requests", rows=len(texts))
    for row, (name, text) in zip(rows, texts.items(), strict=True):
        row["request_id"], row["requested_at"] = name, text
    write_csv(tmp_path / "in" / "deletion_requests.csv", rows)
    # A Parquet timestamp with a time zone (an instant): 10:00 at +02:00 is 08:00 UTC.
    tz_rows = contract_rows("deletion_requests", rows=1)
    tz_rows[0]["request_id"] = "parquet_tz"
    tz_rows[0]["requested_at"] = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    write_parquet(
        tmp_path / "in" / "deletion_requests__tz.parquet",
        "deletion_requests",
        tz_rows,
        types={"requested_at": pa.timestamp("us", tz="+02:00")},
    )

    load_folder(tmp_path / "in", duckdb_target)

    stored = dict(query(duckdb_target, "select request_id, requested_at from raw.deletion_requests"))
    assert stored == {
        "offset": datetime(2026, 3, 1, 8, 0),
        "zulu": datetime(2026, 3, 1, 10, 0),
        "naive": datetime(2026, 3, 1, 10, 0),
        "negative": datetime(2026, 3, 1, 15, 30, 0, 250000),
        "compact_offset": datetime(2026, 3, 1, 8, 0),
        "date_only": datetime(2026, 3, 1, 0, 0),
        "parquet_tz": datetime(2026, 3, 1, 8, 0),
    }
    column_type = query(
        duckdb_target,
        "select data_type from information_schema.columns where "
        "table_name = 'deletion_requests' and column_name = 'requested_at'",
    )
    assert column_type == [("TIMESTAMP",)]


def test_text_without_offset_is_utc_whatever_the_local_time_zone(tmp_path: Path) -> None:
    rows = contract_rows("deletion_requests", rows=1)
    rows[0]["requested_at"] = "2026-03-01T10:00:00"
    write_csv(tmp_path / "in" / "deletion_requests.csv", rows)
    script = (
        "import sys; from pathlib import Path; from orchestration.loader import load_folder; "
        "from orchestration.warehouse import Target; "
        "load_folder(Path(sys.argv[1]), Target('duckdb', 'duckdb', Path(sys.argv[2])))"
    )
    database = tmp_path / "tz.duckdb"
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "in"), str(database)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "TZ": "America/New_York"},
        check=True,
        timeout=120,
    )
    target = Target("duckdb", "duckdb", database)
    assert query(target, "select requested_at from raw.deletion_requests") == [(datetime(2026, 3, 1, 10, 0),)]


def test_text_numbers_are_converted(tmp_path: Path, duckdb_target: Target) -> None:
    rows = contract_rows("order_items", rows=4)
    for row, (quantity, price) in zip(
        rows, [("3", "19.99"), (" 4 ", "1e2"), ("5.0", "-0.5"), ("", "")], strict=True
    ):
        row["quantity"], row["unit_price"] = quantity, price
    write_csv(tmp_path / "in" / "order_items.csv", rows)
    load_folder(tmp_path / "in", duckdb_target)
    assert query(
        duckdb_target, "select quantity, unit_price from raw.order_items order by _file_row_number"
    ) == [
        (3, Decimal("19.9900")),
        (4, Decimal("100.0000")),
        (5, Decimal("-0.5000")),
        (None, None),
    ]


# --------------------------------------------------------------------------------------------------
# Refusals: nothing is written
# --------------------------------------------------------------------------------------------------


def _bad_missing_column(folder: Path) -> list[str]:
    rows = [{k: v for k, v in row.items() if k != "event"} for row in contract_rows("tracks")]
    write_parquet(folder / "tracks__bad.parquet", "tracks", rows)
    return ["tracks__bad.parquet", "required column event is missing"]


def _bad_csv_timestamp(folder: Path) -> list[str]:
    rows = contract_rows("tracks", rows=4)
    rows[1]["received_at"] = "yesterday"
    rows[3]["received_at"] = "2026-02-30T10:00:00Z"
    write_csv(folder / "tracks__bad.csv", rows)
    return ["tracks__bad.csv", "column received_at (timestamp): row 2 has 'yesterday'", "2 bad values"]


def _bad_parquet_boolean(folder: Path) -> list[str]:
    rows = contract_rows("orders")
    for row in rows:
        row["total_amount"] = True
    write_parquet(folder / "orders__bad.parquet", "orders", rows, types={"total_amount": pa.bool_()})
    return ["orders__bad.parquet", "column total_amount (decimal) is stored as BOOLEAN", "row 1 has 'true'"]


def _bad_table_name(folder: Path) -> list[str]:
    write_parquet(folder / "order.parquet", "orders", contract_rows("orders"))
    return ["order.parquet", "unknown table 'order'", "orders"]


def _bad_jsonl_integer(folder: Path) -> list[str]:
    rows = contract_rows("order_items")
    rows[2]["quantity"] = 2.5
    write_jsonl(folder / "order_items__bad.jsonl", "order_items", rows)
    return ["order_items__bad.jsonl", "column quantity (integer): row 3 has '2.5'", "whole number"]


def _bad_unreadable_file(folder: Path) -> list[str]:
    (folder / "orders__broken.parquet").write_bytes(b"this is not parquet")
    return ["orders__broken.parquet", "cannot be read as PARQUET"]


BAD_FILES = {
    "missing_required_column": _bad_missing_column,
    "csv_timestamp_text": _bad_csv_timestamp,
    "parquet_boolean_amount": _bad_parquet_boolean,
    "unknown_table": _bad_table_name,
    "jsonl_fractional_integer": _bad_jsonl_integer,
    "unreadable_file": _bad_unreadable_file,
}


@pytest.mark.parametrize("preloaded", [False, True], ids=["fresh_warehouse", "after_a_load"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_refuses_the_whole_load(
    tmp_path: Path, duckdb_target: Target, case: str, preloaded: bool
) -> None:
    if preloaded:
        load_folder(write_folder(tmp_path / "earlier", "parquet"), duckdb_target)
    before = state(duckdb_target)
    folder = tmp_path / "in"
    # Good files of other tables, and a good new file of the same table, around the bad one.
    for table in ("crm_contacts", "identifies", "orders", "tracks"):
        write_parquet(folder / f"{table}__good.parquet", table, contract_rows(table, start=50))
    expected = BAD_FILES[case](folder)

    with pytest.raises(LoadError) as caught:
        load_folder(folder, duckdb_target)

    message = str(caught.value)
    for fragment in expected:
        assert fragment in message
    assert [p.file_name for p in caught.value.problems] == [expected[0]]
    assert "good" not in message
    assert state(duckdb_target) == before
    if not preloaded:
        assert not duckdb_target.duckdb_path.exists()  # type: ignore[union-attr]  # a refusal touches nothing


def test_every_bad_file_is_reported_in_one_message(tmp_path: Path, duckdb_target: Target) -> None:
    folder = tmp_path / "in"
    for make_bad in BAD_FILES.values():
        make_bad(folder)
    with pytest.raises(LoadError) as caught:
        load_folder(folder, duckdb_target)
    assert sorted({p.file_name for p in caught.value.problems}) == sorted(
        [
            "order.parquet",
            "order_items__bad.jsonl",
            "orders__bad.parquet",
            "orders__broken.parquet",
            "tracks__bad.csv",
            "tracks__bad.parquet",
        ]
    )
    assert str(caught.value).startswith("refused 6 file(s)")
    assert state(duckdb_target) == {}


def test_missing_required_column_in_every_format_names_file_and_column(
    tmp_path: Path, duckdb_target: Target
) -> None:
    rows = [
        {k: v for k, v in row.items() if k != "requested_at"} for row in contract_rows("deletion_requests")
    ]
    write_csv(tmp_path / "in" / "deletion_requests__a.csv", rows)
    write_jsonl(tmp_path / "in" / "deletion_requests__b.jsonl", "deletion_requests", rows)
    with pytest.raises(LoadError) as caught:
        load_folder(tmp_path / "in", duckdb_target)
    assert [(p.file_name, p.column) for p in caught.value.problems] == [
        ("deletion_requests__a.csv", "requested_at"),
        ("deletion_requests__b.jsonl", "requested_at"),
    ]


@pytest.mark.parametrize(
    ("column", "text", "reason"),
    [
        ("quantity", "3.5", "whole number"),
        ("quantity", "0x10", "whole number"),
        ("quantity", "99999999999999999999", "whole number"),
        ("unit_price", "1,5", "decimal number"),
        ("unit_price", "NaN", "decimal number"),
        ("unit_price", "123456789012345.5", "decimal number"),
    ],
)
def test_text_numbers_that_do_not_convert_are_refused(
    tmp_path: Path, duckdb_target: Target, column: str, text: str, reason: str
) -> None:
    rows = contract_rows("order_items", rows=2)
    rows[1][column] = text
    write_csv(tmp_path / "in" / "order_items.csv", rows)
    with pytest.raises(LoadError, match=rf"order_items.csv: column {column} .*row 2 has '{text}'.*{reason}"):
        load_folder(tmp_path / "in", duckdb_target)


def test_csv_dialect_is_not_guessed_from_a_sample(tmp_path: Path, duckdb_target: Target) -> None:
    """A first value starting with '#' is data (not a comment line), and quoting that only appears
    far into the file is still RFC 4180 quoting."""
    rows = contract_rows("deletion_requests", rows=3000)
    rows[0]["request_id"] = "#1"
    rows[2999]["source"] = 'web, "form"'
    write_csv(tmp_path / "in" / "deletion_requests.csv", rows)
    load_folder(tmp_path / "in", duckdb_target)
    assert query(duckdb_target, "select count(*) from raw.deletion_requests") == [(3000,)]
    assert query(
        duckdb_target, "select request_id from raw.deletion_requests where _file_row_number = 1"
    ) == [("#1",)]
    assert query(duckdb_target, "select source from raw.deletion_requests where _file_row_number = 3000") == [
        ('web, "form"',)
    ]


def test_malformed_csv_and_jsonl_are_refused(tmp_path: Path, duckdb_target: Target) -> None:
    folder = tmp_path / "in"
    header = "request_id,identifier_type,identifier_value,requested_at\n"
    write_csv(folder / "deletion_requests.csv", contract_rows("deletion_requests"))
    (folder / "deletion_requests__ragged.csv").write_text(
        header + "r1,email,a@example.com,2026-03-01,extra\n"
    )
    (folder / "deletion_requests__semicolon.csv").write_text(
        header.replace(",", ";") + "r1;email;a@example.com;2026-03-01\n"
    )
    good = json.dumps(
        {
            "request_id": "r1",
            "identifier_type": "email",
            "identifier_value": "x",
            "requested_at": "2026-03-01",
        }
    )
    (folder / "deletion_requests__array.jsonl").write_text(good + "\n[1, 2]\n")
    (folder / "deletion_requests__broken.jsonl").write_text(good + '\n{"request_id": \n')
    with pytest.raises(LoadError) as caught:
        load_folder(folder, duckdb_target)
    problems = {p.file_name: p.message for p in caught.value.problems}
    assert set(problems) == {
        "deletion_requests__array.jsonl",
        "deletion_requests__broken.jsonl",
        "deletion_requests__ragged.csv",
        "deletion_requests__semicolon.csv",
    }
    assert problems["deletion_requests__array.jsonl"].startswith("cannot be read as JSONL")
    assert "line 2" in problems["deletion_requests__array.jsonl"]
    assert problems["deletion_requests__broken.jsonl"].startswith("cannot be read as JSONL: ")
    assert problems["deletion_requests__ragged.csv"].startswith("cannot be read as CSV: ")
    assert problems["deletion_requests__semicolon.csv"].startswith(
        "is not comma-separated (header 'request_id;"
    )
    assert state(duckdb_target) == {}


def test_parquet_column_types_that_convert(tmp_path: Path, duckdb_target: Target) -> None:
    """All-null columns, integer amounts, whole floats as integers and nested JSON load; ids stored as
    numbers become text."""
    rows = contract_rows("order_items", rows=2)
    for row in rows:
        row["product_name"] = None
        row["quantity"] = 2.0
        row["unit_price"] = 7
        row["product_id"] = 1234
    types = {
        "product_name": pa.null(),
        "quantity": pa.float64(),
        "unit_price": pa.int32(),
        "product_id": pa.int64(),
    }
    write_parquet(tmp_path / "in" / "order_items.parquet", "order_items", rows, types=types)
    identifies = contract_rows("identifies", rows=1)
    identifies[0]["traits"] = {"email": "a@example.com"}
    write_parquet(
        tmp_path / "in" / "identifies.parquet",
        "identifies",
        identifies,
        types={"traits": pa.struct([("email", pa.string())])},
    )
    load_folder(tmp_path / "in", duckdb_target)
    assert query(
        duckdb_target, "select product_id, product_name, quantity, unit_price from raw.order_items"
    ) == [
        ("1234", None, 2, Decimal("7.0000")),
        ("1234", None, 2, Decimal("7.0000")),
    ]
    assert json.loads(query(duckdb_target, "select traits from raw.identifies")[0][0]) == {
        "email": "a@example.com"
    }


def test_resolve_target_mirrors_profiles_yml(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration.warehouse import PROJECT_ROOT as ROOT
    from orchestration.warehouse import TargetError, resolve_target

    for name in (
        "SEGMENTATION_TARGET",
        "SEGMENTATION_DUCKDB_PATH",
        "SEGMENTATION_PG_HOST",
        "SEGMENTATION_PG_PORT",
        "SEGMENTATION_PG_USER",
        "SEGMENTATION_PG_PASSWORD",
        "SEGMENTATION_PG_DBNAME",
    ):
        monkeypatch.delenv(name, raising=False)
    assert ROOT == PROJECT_ROOT
    default = resolve_target()
    assert (default.name, default.kind) == ("duckdb", "duckdb")
    assert default.duckdb_path == PROJECT_ROOT / "warehouse" / "segmentation.duckdb"
    monkeypatch.setenv("SEGMENTATION_DUCKDB_PATH", "elsewhere/x.duckdb")
    assert resolve_target().duckdb_path == PROJECT_ROOT / "elsewhere" / "x.duckdb"
    monkeypatch.setenv("SEGMENTATION_TARGET", "postgres")
    monkeypatch.setenv("SEGMENTATION_PG_PORT", "6543")
    monkeypatch.setenv("SEGMENTATION_PG_PASSWORD", "hunter2")
    postgres = resolve_target()
    assert postgres.postgres is not None
    assert (
        postgres.kind,
        postgres.postgres.host,
        postgres.postgres.port,
        postgres.postgres.user,
        postgres.postgres.dbname,
    ) == ("postgres", "127.0.0.1", 6543, "segmentation", "segmentation")
    assert "hunter2" not in repr(postgres) and "hunter2" not in postgres.describe()
    assert resolve_target("duckdb").kind == "duckdb"  # an explicit name wins over the environment
    with pytest.raises(
        TargetError, match=r"unknown target 'snowflake'; profiles.yml defines: duckdb, postgres"
    ):
        resolve_target("snowflake")
    monkeypatch.setenv("SEGMENTATION_PG_PORT", "fivefour")
    with pytest.raises(TargetError, match="SEGMENTATION_PG_PORT"):
        resolve_target()


def test_an_existing_raw_table_gets_new_contract_columns(tmp_path: Path, duckdb_target: Target) -> None:
    """A raw table created by an older contract (fewer columns, other order) is extended, not rebuilt."""
    assert duckdb_target.duckdb_path is not None
    duckdb_target.duckdb_path.parent.mkdir(parents=True)
    with duckdb.connect(str(duckdb_target.duckdb_path)) as connection:
        connection.execute("create schema raw")
        connection.execute(
            "create table raw.deletion_requests (requested_at timestamp, request_id varchar, "
            "identifier_type varchar, identifier_value varchar, _load_id varchar, _file_name varchar, "
            "_file_row_number bigint, _loaded_at timestamp)"
        )
        connection.execute("insert into raw.deletion_requests (request_id) values ('old')")
    write_csv(tmp_path / "in" / "deletion_requests.csv", contract_rows("deletion_requests", rows=2))
    load_folder(tmp_path / "in", duckdb_target)
    assert query(duckdb_target, "select request_id, source from raw.deletion_requests order by all") == [
        ("deletion_requests-request_id-0", "deletion_requests-source-0"),
        ("deletion_requests-request_id-1", "deletion_requests-source-1"),
        ("old", None),
    ]


def test_empty_folder_and_missing_folder_are_refused(tmp_path: Path, duckdb_target: Target) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "_manifest.json").write_text("{}")
    with pytest.raises(LoadError, match="no contract files in"):
        load_folder(folder, duckdb_target)
    with pytest.raises(LoadError, match="is not a folder"):
        load_folder(tmp_path / "nope", duckdb_target)
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(LoadError, match="notes.txt: unsupported file type"):
        load_folder(folder, duckdb_target)
    assert not duckdb_target.duckdb_path.exists()  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------------
# Atomicity of the write
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preloaded", [False, True], ids=["fresh_warehouse", "after_a_load"])
def test_a_file_that_breaks_after_validation_rolls_back_the_earlier_files(
    tmp_path: Path, duckdb_target: Target, preloaded: bool
) -> None:
    if preloaded:
        load_folder(write_folder(tmp_path / "earlier", "parquet"), duckdb_target)
    before = state(duckdb_target)
    folder = tmp_path / "in"
    for table in ("crm_contacts", "orders", "tracks"):
        write_parquet(folder / f"{table}__new.parquet", table, contract_rows(table, start=10))

    def corrupt_the_next_file(file_name: str, index: int, total: int) -> None:
        # Runs after the 1st file was inserted (inside the transaction): the 2nd file is truncated on disk
        # after it passed validation, as a concurrent writer or a failing disk would.
        if index == 1:
            second = folder / "orders__new.parquet"
            second.write_bytes(second.read_bytes()[: second.stat().st_size // 2])

    with pytest.raises(
        LoadError, match="loading orders__new.parquet failed, so the whole load was rolled back"
    ):
        load_folder(folder, duckdb_target, progress=corrupt_the_next_file)
    assert state(duckdb_target) == before
    if not preloaded:  # the tables created by the failed load were rolled back too
        assert query(duckdb_target, "select count(*) from information_schema.tables") == [(0,)]
        assert query(
            duckdb_target, "select count(*) from information_schema.schemata where schema_name = 'raw'"
        ) == [(0,)]


def test_an_insert_error_rolls_back_everything(
    tmp_path: Path, duckdb_target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_folder(write_folder(tmp_path / "earlier", "parquet"), duckdb_target)
    before = state(duckdb_target)
    folder = tmp_path / "in"
    for table in ("crm_contacts", "orders", "tracks"):
        write_parquet(folder / f"{table}__new.parquet", table, contract_rows(table, start=10))
    real_insert = loader._insert_file
    calls: list[str] = []

    def failing_insert(*args: Any) -> int:
        calls.append(args[2].file.name)
        if len(calls) == 3:
            raise duckdb.IOException("disk full")
        return real_insert(*args)

    monkeypatch.setattr(loader, "_insert_file", failing_insert)
    with pytest.raises(LoadError, match="loading tracks__new.parquet failed.*disk full") as caught:
        load_folder(folder, duckdb_target)
    assert caught.value.problems[0].file_name == "tracks__new.parquet"
    assert state(duckdb_target) == before
    monkeypatch.setattr(loader, "_insert_file", real_insert)
    assert load_folder(folder, duckdb_target).loaded_rows > 0  # the same folder loads once the fault is gone
