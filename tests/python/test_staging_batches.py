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
  - the same person's delivery in the middle of three valid deliveries of another message id: the
    third one's rank (a duplicate either way) becomes 2 in the next run, as in a full build;
  - the erasure records the keys it deleted rows of (privacy_work.erased_keys__<base model>), the
    next run checks those for gaps and consumes them; a copy of the warehouse whose record of tracks
    is dropped (a warehouse built before the record existed) falls back to checking every key and
    still equals a full rebuild of its own rows;
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
from orchestration.warehouse import Target, connect
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
            limit 4
        """).fetchall()
        (erased_user, _), (_, survivor_id), (_, redelivered_id), (_, middle_id) = candidates
        # Batch 1: the person to be erased delivered the survivor's message id first.
        _copy(connection, first, f"id = '{survivor_id}'",
              f"'{erased_user}' as user_id, null as anonymous_id, null as context_device_id, "
              "received_at - interval 1 minute as received_at",
              folders[0] / "tracks__erased_copy.parquet")
        # Batch 1: three valid deliveries of middle_id, the person to be erased delivered the second.
        _copy(connection, first, f"id = '{middle_id}'",
              f"'{erased_user}' as user_id, null as anonymous_id, null as context_device_id, "
              "received_at + interval 1 minute as received_at",
              folders[0] / "tracks__erased_middle.parquet")
        _copy(connection, first, f"id = '{middle_id}'", "received_at + interval 2 minute as received_at",
              folders[0] / "tracks__third_delivery.parquet")
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
    return {"erased_user": erased_user, "survivor_id": survivor_id, "redelivered_id": redelivered_id,
            "middle_id": middle_id}


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


RECORD = "privacy_work.erased_keys__base_segment__tracks"
# Groups of delivery ranks (valid and rejected apart) of one message id that are not 1..n.
GAPS = """
    select message_id from staging.base_segment__tracks where message_id is not null
    group by message_id, quarantine_reason is null having max(delivery_rank) <> count(*)
"""


def _copy_warehouse(server, work: Path, source: Target, name: str) -> Target:
    """A copy of the warehouse `source` (a template database on PostgreSQL, a file copy on DuckDB)."""
    if server is not None:
        return server.database(name, template=source.postgres.dbname)
    shutil.copy(source.duckdb_path, work / f"{name}.duckdb")
    return Target(name="duckdb", kind="duckdb", duckdb_path=work / f"{name}.duckdb")


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def builds(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp(f"staging_batches_{request.param}")
    sample = work / "sample"
    generate(sample, people=200, seed=5, end_date=date(2026, 11, 1), days=365)
    folders = split_into_batches(sample, work, CUTS)
    ids = _inject(folders)
    server = request.getfixturevalue("pg_server") if request.param == "postgres" else None
    if server is not None:
        batched = server.database("staging_batches")
    else:
        batched = Target(name="duckdb", kind="duckdb", duckdb_path=work / "batched.duckdb")

    states, records, fallback = [], [], {}
    watched = [ids["survivor_id"], ids["redelivered_id"], ids["middle_id"]]
    for index, folder in enumerate(folders):
        load_folder(folder, batched)
        run_dbt(batched, work, "build", *SELECT)
        with open_query(batched) as query:
            states.append(query(
                "select _file_name, rejection_reason, delivery_rank from staging.base_segment__tracks "
                "where message_id in (?, ?, ?) or message_id is null order by 1, 2, 3", watched))
            records.append({key for (key,) in query(f"select message_id from {RECORD}")})
        if index == 1:
            # The erasure of batch 2 left gaps and recorded them. A copy loses the record of tracks
            # (as a warehouse built before the record existed); a run of another base model first
            # keeps the record of tracks untouched.
            copy = _copy_warehouse(server, work, batched, "staging_fallback")
            run_dbt(copy, work, "run", "--select", "base_segment__pages")
            with open_query(copy) as query:
                fallback["kept"] = {key for (key,) in query(f"select message_id from {RECORD}")}
                fallback["gaps_before"] = {key for (key,) in query(GAPS)}
            with connect(copy) as warehouse:
                warehouse.execute(f"drop table {RECORD}")
            # An erasure while the record is missing must not create it with only its own keys.
            with open_query(copy) as query:
                [(other_user,)] = query(
                    "select min(user_id) from staging.base_segment__tracks where user_id <> ? "
                    "and rejection_reason is null and message_id not in (?, ?, ?)", [ids["erased_user"], *watched])
            (work / "fallback_request").mkdir()
            (work / "fallback_request" / "deletion_requests.csv").write_text(
                "request_id,identifier_type,identifier_value,requested_at,source\n"
                f"req-fallback-1,user_id,{other_user},2026-08-02T09:00:00Z,support\n")
            load_folder(work / "fallback_request", copy)
            run_dbt(copy, work, "run", "--select", "base_privacy__deletion_requests", "stg_privacy__deletion_requests",
                    "privacy_suppressions")
            with open_query(copy) as query:
                fallback["erased_other"] = query(
                    "select count(*) from staging.base_segment__tracks where user_id = ?", [other_user])[0][0]
                fallback["record_after_erasure"] = query(
                    "select count(*) from information_schema.tables "
                    "where table_schema = 'privacy_work' and table_name = 'erased_keys__base_segment__tracks'")[0][0]
            run_dbt(copy, work, "build", *SELECT)
            with open_query(copy) as query:
                fallback["gaps_after"] = query(GAPS)
                fallback["record_after"] = query(f"select message_id from {RECORD}")
            copy_rebuilt = _copy_warehouse(server, work, copy, "staging_fallback_rebuilt")
            run_dbt(copy_rebuilt, work, "build", "--full-refresh", "--select", "staging")
            fallback["tables"], fallback["rebuilt"] = _tables(copy), _tables(copy_rebuilt)
    run_dbt(batched, work, "build", *SELECT)  # the next run, without new data

    rebuilt = _copy_warehouse(server, work, batched, "staging_rebuilt")
    with connect(rebuilt) as warehouse:  # a key an earlier run recorded: the full rebuild consumes it
        warehouse.execute(f"insert into {RECORD} (message_id, run_id) values ('recorded-earlier', 'earlier')")
    run_dbt(rebuilt, work, "build", "--full-refresh", "--select", "staging")
    with open_query(rebuilt) as query:
        record_after_rebuild = query(f"select message_id from {RECORD}")
    with open_query(batched) as query:
        final = query(
            "select message_id, _file_name, rejection_reason, delivery_rank from staging.base_segment__tracks "
            "where message_id in (?, ?, ?) or message_id is null or user_id = ? order by 2, 3",
            [*watched, ids["erased_user"]])
    return {"batched": _tables(batched), "rebuilt": _tables(rebuilt), "states": states, "records": records,
            "final": final, "fallback": fallback, "record_after_rebuild": record_after_rebuild, **ids}


@pytest.mark.parametrize("name", COMPARED)
def test_batches_equal_a_full_rebuild(builds: dict, name: str) -> None:
    batched, rebuilt = builds["batched"][name], builds["rebuilt"][name]
    assert rebuilt, f"{name} is empty: the comparison would prove nothing"
    assert batched == rebuilt, (
        f"{name}: only after batches {list((batched - rebuilt).elements())[:3]}, "
        f"only in the full rebuild {list((rebuilt - batched).elements())[:3]}"
    )


def test_the_redelivery_received_earlier_takes_the_staged_place(builds: dict) -> None:
    rows = [(file, reason) for message_id, file, reason, _ in builds["final"] if message_id == builds["redelivered_id"]]
    assert rows == [
        ("tracks__b1.parquet", "duplicate_message_id"),
        ("tracks__malformed.parquet", "malformed_json"),
        ("tracks__redelivered.parquet", None),
    ]
    # Before batch 3 the batch-1 row was the staged one.
    assert ("tracks__b1.parquet", None, 1) in builds["states"][1]


def test_rows_without_message_id_are_kept_once(builds: dict) -> None:
    rows = [(file, reason) for message_id, file, reason, _ in builds["final"] if message_id is None]
    injected = [row for row in rows if row[0] == "tracks__no_message_id.parquet"]
    assert injected == [("tracks__no_message_id.parquet", "missing_message_id")] * 2
    assert all(reason == "missing_message_id" for _, reason in rows)


def test_the_survivor_of_an_erased_delivery_is_staged(builds: dict) -> None:
    rows = [(file, reason) for message_id, file, reason, _ in builds["final"] if message_id == builds["survivor_id"]]
    assert rows == [("tracks__b1.parquet", None)]
    assert not [row for row in builds["final"] if row[1] == "tracks__erased_copy.parquet"]
    # Batch 1 staged the erased person's delivery, the survivor was its duplicate.
    assert ("tracks__b1.parquet", "duplicate_message_id", 2) in builds["states"][0]
    assert ("tracks__erased_copy.parquet", None, 1) in builds["states"][0]


def test_the_erased_middle_delivery_leaves_ranks_renumbered(builds: dict) -> None:
    rows = [(file, reason, rank) for message_id, file, reason, rank in builds["final"]
            if message_id == builds["middle_id"]]
    assert rows == [("tracks__b1.parquet", None, 1), ("tracks__third_delivery.parquet", "duplicate_message_id", 2)]
    # Batch 1 ranked the three deliveries 1, 2, 3; the erasure (batch 2) deleted the second.
    assert ("tracks__erased_middle.parquet", "duplicate_message_id", 2) in builds["states"][0]
    assert ("tracks__third_delivery.parquet", "duplicate_message_id", 3) in builds["states"][1]


def test_the_erasure_records_the_keys_and_the_next_run_consumes_them(builds: dict) -> None:
    erased = {builds["survivor_id"], builds["middle_id"]}
    records = builds["records"]
    assert not erased & records[0]  # the record exists from the first build on, nothing erased yet
    assert erased <= records[1]  # the erasure of batch 2 recorded them after the base model ran
    assert not erased & records[2]  # batch 3's run checked them and consumed them


def test_without_the_record_every_key_is_checked(builds: dict) -> None:
    fallback = builds["fallback"]
    erased = {builds["survivor_id"], builds["middle_id"]}
    assert erased <= fallback["kept"]  # running another base model consumed nothing of tracks
    assert erased <= fallback["gaps_before"]  # the gaps the fallback must find
    assert fallback["erased_other"] == 0  # an erasure ran while the record was missing ...
    assert fallback["record_after_erasure"] == 0  # ... and did not create it
    assert fallback["gaps_after"] == []
    assert fallback["record_after"] == []  # created again, by the run that checked every key
    for name in COMPARED:
        assert fallback["rebuilt"][name], f"{name} is empty: the comparison would prove nothing"
        assert fallback["tables"][name] == fallback["rebuilt"][name], name


def test_a_full_rebuild_consumes_the_record(builds: dict) -> None:
    assert builds["record_after_rebuild"] == []
