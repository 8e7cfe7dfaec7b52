"""The incremental Segment base tables, built batch by batch, equal a full rebuild of the same raw rows,
on DuckDB and on PostgreSQL: every column of the base tables, the staged and quarantine views and the
reconciliation.

The batches carry what incremental staging can get wrong:
  - a redelivery that arrives in a later batch but was received earlier, so the staged row switches
    from the row staged in batch 1 to the new one (and a malformed copy of it is quarantined);
  - rows without a message id (null and blank) in several batches: each is kept once;
  - a deletion request (batch 2) for a person whose delivery of a message was the staged one while
    another person's delivery of the same message id survives the erasure: the survivor is ranked
    again in the next run, as a full build ranks it;
  - the sample's own duplicates, quarantined rows and deletion requests (these arrive in the last
    batch, so a final run without new data, the next hourly run, ranks their survivors again).

The reference is `dbt build --full-refresh` on a copy of the batched warehouse: the same raw rows with
the same lineage, so every column, lineage included, must be equal (but _processed_at, the start of
the run that wrote the row)."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import open_query, run_dbt, split_into_batches

CUTS = ("2026-06-01", "2026-09-01")
SELECT = ["--select", "+privacy_suppressions", "staging"]
MESSAGE_TABLES = ("tracks", "pages", "screens", "identifies")
COMPARED = (
    *(f"base_segment__{table}" for table in MESSAGE_TABLES),
    *(f"stg_segment__{table}" for table in MESSAGE_TABLES),
    *(f"quarantine_segment__{table}" for table in MESSAGE_TABLES),
    "stg_segment__consent_preferences",
    "staging_reconciliation",
)


def _copy(connection: duckdb.DuckDBPyConnection, source: Path, where: str, replace: str, target: Path) -> None:
    """Rows of the Parquet file `source` matching `where`, with columns replaced, as a new Parquet file."""
    connection.execute(
        f"copy (select * replace ({replace}) from read_parquet('{source}') where {where}) "
        f"to '{target}' (format parquet)"
    )


def _inject(folders: list[Path]) -> dict[str, str]:
    """Adds the rows described in the module docstring to the batch folders; returns the ids involved."""
    first = folders[0] / "tracks__b1.parquet"
    with duckdb.connect() as connection:
        # Three people with a single-delivery, valid-looking track in batch 1, none of them named by a
        # deletion request of the sample.
        candidates = connection.execute(f"""
            select user_id, min(id) as message_id
            from read_parquet('{first}')
            where user_id is not null and anonymous_id is not null and event is not null
              and id in (select id from read_parquet('{first}') group by id having count(*) = 1)
              and user_id not in (
                  select identifier_value from read_parquet('{folders[-1]}/deletion_requests__b3.parquet')
                  where identifier_value is not null
              )
            group by user_id
            order by user_id
            limit 3
        """).fetchall()
        (erased_user, _), (_, survivor_id), (_, redelivered_id) = candidates
        # Batch 1: the person to be erased delivered the survivor's message id first.
        _copy(connection, first, f"id = '{survivor_id}'",
              f"'{erased_user}' as user_id, null as anonymous_id, null as context_device_id, "
              "received_at - interval 1 minute as received_at",
              folders[0] / "tracks__erased_copy.parquet")
        # Batch 2: the deletion request; rows without a message id.
        (folders[1] / "deletion_requests__test.csv").write_text(
            "request_id,identifier_type,identifier_value,requested_at,source\n"
            f"req-staging-1,user_id,{erased_user},2026-08-01T09:00:00Z,support\n"
        )
        for index, folder in enumerate(folders[1:], start=2):
            _copy(connection, first, f"id = '{redelivered_id}'",
                  f"case when {index} = 2 then null else '  ' end as id",
                  folder / "tracks__no_message_id.parquet")
        # Batch 3: the redelivery received an hour before the staged row, and a malformed copy of it.
        _copy(connection, first, f"id = '{redelivered_id}'", "received_at - interval 1 hour as received_at",
              folders[2] / "tracks__redelivered.parquet")
        _copy(connection, first, f"id = '{redelivered_id}'", "'{broken' as properties",
              folders[2] / "tracks__malformed.parquet")
        for folder in folders:
            for file in folder.glob("tracks__[!b]*.parquet"):
                assert connection.execute(f"select count(*) from read_parquet('{file}')").fetchall() == [(1,)], file
    return {"erased_user": erased_user, "survivor_id": survivor_id, "redelivered_id": redelivered_id}


def _tables(target: Target) -> dict[str, Counter]:
    """Every compared relation's rows but _processed_at (the start of the run that wrote the row)."""
    tables = {}
    with open_query(target) as query:
        for name in COMPARED:
            columns = [column for (column,) in query(
                "select column_name from information_schema.columns "
                "where table_schema = 'staging' and table_name = ? order by ordinal_position", [name])
                if column != "_processed_at"]
            tables[name] = Counter(query(f"select {', '.join(columns)} from staging.{name}"))
    return tables


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def builds(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp(f"staging_batches_{request.param}")
    sample = work / "sample"
    generate(sample, people=200, seed=5, end_date=date(2026, 11, 1), days=365)
    folders = split_into_batches(sample, work, CUTS)
    ids = _inject(folders)
    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")
        batched = server.database("staging_batches")
    else:
        batched = Target(name="duckdb", kind="duckdb", duckdb_path=work / "batched.duckdb")

    states = []
    for folder in folders:
        load_folder(folder, batched)
        run_dbt(batched, work, "build", *SELECT)
        with open_query(batched) as query:
            states.append(query(
                "select _file_name, rejection_reason, delivery_rank from staging.base_segment__tracks "
                "where message_id in (?, ?) or message_id is null order by 1, 2, 3",
                [ids["survivor_id"], ids["redelivered_id"]]))
    run_dbt(batched, work, "build", *SELECT)  # the next run, without new data

    if request.param == "postgres":
        rebuilt = server.database("staging_rebuilt", template="staging_batches")
    else:
        rebuilt = Target(name="duckdb", kind="duckdb", duckdb_path=work / "rebuilt.duckdb")
        shutil.copy(work / "batched.duckdb", work / "rebuilt.duckdb")
    run_dbt(rebuilt, work, "build", "--full-refresh", "--select", "staging")
    with open_query(batched) as query:
        final = query(
            "select message_id, _file_name, rejection_reason from staging.base_segment__tracks "
            "where message_id in (?, ?) or message_id is null or user_id = ? order by 2, 3",
            [ids["survivor_id"], ids["redelivered_id"], ids["erased_user"]])
    return {"batched": _tables(batched), "rebuilt": _tables(rebuilt), "states": states, "final": final, **ids}


@pytest.mark.parametrize("name", COMPARED)
def test_batches_equal_a_full_rebuild(builds: dict, name: str) -> None:
    batched, rebuilt = builds["batched"][name], builds["rebuilt"][name]
    assert rebuilt, f"{name} is empty: the comparison would prove nothing"
    assert batched == rebuilt, (
        f"{name}: only after batches {list((batched - rebuilt).elements())[:3]}, "
        f"only in the full rebuild {list((rebuilt - batched).elements())[:3]}"
    )


def test_the_redelivery_received_earlier_takes_the_staged_place(builds: dict) -> None:
    rows = [(file, reason) for message_id, file, reason in builds["final"] if message_id == builds["redelivered_id"]]
    assert rows == [
        ("tracks__b1.parquet", "duplicate_message_id"),
        ("tracks__malformed.parquet", "malformed_json"),
        ("tracks__redelivered.parquet", None),
    ]
    # Before batch 3 the batch-1 row was the staged one.
    assert ("tracks__b1.parquet", None, 1) in builds["states"][1]


def test_rows_without_message_id_are_kept_once(builds: dict) -> None:
    rows = [(file, reason) for message_id, file, reason in builds["final"] if message_id is None]
    injected = [row for row in rows if row[0] == "tracks__no_message_id.parquet"]
    assert injected == [("tracks__no_message_id.parquet", "missing_message_id")] * 2
    assert all(reason == "missing_message_id" for _, reason in rows)


def test_the_survivor_of_an_erased_delivery_is_staged(builds: dict) -> None:
    rows = [(file, reason) for message_id, file, reason in builds["final"] if message_id == builds["survivor_id"]]
    assert rows == [("tracks__b1.parquet", None)]
    assert not [row for row in builds["final"] if row[1] == "tracks__erased_copy.parquet"]
    # Batch 1 staged the erased person's delivery, the survivor was its duplicate.
    assert ("tracks__b1.parquet", "duplicate_message_id", 2) in builds["states"][0]
    assert ("tracks__erased_copy.parquet", None, 1) in builds["states"][0]
