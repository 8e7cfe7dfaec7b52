"""Great Expectations quality suites on DuckDB (pandas batches) and PostgreSQL (the native datasource,
SQL pushdown): clean sample data passes every suite; each injected violation fails its checkpoint and
names the offending rows; results are recorded for passing and failing runs."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from datetime import date

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.quality import runner, suites
from orchestration.quality.runner import RESULTS_TABLE, QualityReport, run_quality
from orchestration.sample_data import generate
from orchestration.warehouse import Target, connect
from tests.python.helpers import OPTED_OUT_IN_ACTIVATION_EMAIL, run_dbt


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The sample warehouse built by dbt, once per engine: a DuckDB file, or a PostgreSQL database on
    the project's own server. Each test damages a private copy of it."""
    engine = request.param
    work = tmp_path_factory.mktemp(f"quality_{engine}")
    sample = work / "sample"
    generate(sample, people=300, seed=17, end_date=date(2026, 11, 1), days=365)
    server = request.getfixturevalue("pg_server") if engine == "postgres" else None
    if server is None:
        target = Target(name="duckdb", kind="duckdb", duckdb_path=work / "warehouse.duckdb")
    else:
        target = server.database("quality_base")
    load_folder(sample, target)
    run_dbt(target, work, "build", "--vars", "{as_of: '2026-11-01'}")
    # An email a valid deletion request named: the warehouse keeps only its salted hash.
    requests = sample / "deletion_requests.parquet"
    with duckdb.connect() as connection:
        candidates = [row[0] for row in connection.execute(
            f"select distinct lower(trim(identifier_value)) from read_parquet('{requests}') "
            "where lower(trim(identifier_type)) = 'email' and identifier_value like '%@%' "
            "and request_id is not null and requested_at is not null"
        ).fetchall()]
    suppressed = {row[0] for row in _query(
        target, "select identifier_hash from privacy.privacy_suppressions where identifier_type = 'email'")}
    salt = os.environ["SEGMENTATION_ERASURE_SALT"]
    erased_email = next(
        email for email in candidates
        if hashlib.sha256(f"{salt}:email:{email}".encode()).hexdigest() in suppressed
    )
    return {"work": work, "target": target, "server": server, "erased_email": erased_email}


def _query(target: Target, sql: str, params: tuple = ()) -> list[tuple]:
    """Run `sql` on `target`; `?` marks parameters on every engine."""
    with connect(target) as warehouse:
        return warehouse.query(sql.replace("?", warehouse.placeholder), params)


def _run(built: dict, name: str, damage: str | None = None) -> tuple[QualityReport, Target]:
    """Copy the warehouse, apply `damage` (SQL), run every suite on the copy."""
    if built["server"] is None:
        database = built["work"] / f"{name}.duckdb"
        shutil.copy(built["target"].duckdb_path, database)
        target = Target(name="duckdb", kind="duckdb", duckdb_path=database)
    else:
        target = built["server"].database(f"quality_{name}", template=built["target"].postgres.dbname)
    if damage:
        with connect(target) as warehouse:
            warehouse.execute(damage)
    return run_quality(target, docs_dir=built["work"] / f"docs_{name}"), target


def _published(target: Target) -> tuple[int, int]:
    """Rows external tools can read (activation_published) and rows built (activation), email table."""
    return (
        _query(target, "select count(*) from activation_published.activation_email")[0][0],
        _query(target, "select count(*) from activation.activation_email")[0][0],
    )


def _failed(report: QualityReport) -> dict[tuple[str, str], list[str]]:
    return {(o.dataset, o.column): o.unexpected_keys for o in report.failed()}


def test_activation_is_published_only_after_the_consent_guard_passed(built: dict) -> None:
    assert _published(built["target"])[0] == 0  # built, not yet checked
    _, target = _run(built, "publish")
    published, activation = _published(target)
    assert published == activation > 0


def test_clean_sample_data_passes_every_suite(built: dict) -> None:
    report, target = _run(built, "clean")
    assert report.failed() == [], report.failed()
    assert report.critical_passed
    assert {o.suite for o in report.outcomes} == {"raw_and_staging", "identity", "profiles", "consent_guard"}
    assert all(o.element_count > 0 for o in report.outcomes)  # every expectation saw rows
    assert report.docs_index.exists()
    pages = list((report.docs_index.parent / "validations").rglob("*.html"))
    assert len(pages) == len({o.dataset for o in report.outcomes})  # Data Docs: one page per dataset
    recorded = _query(target, f"select count(*), bool_and(success) from {RESULTS_TABLE} where run_id = ?",
                      (report.run_id,))
    assert recorded == [(len(report.outcomes), True)]


def test_an_opted_out_profile_in_activation_email_fails_the_consent_guard(built: dict) -> None:
    damage = OPTED_OUT_IN_ACTIVATION_EMAIL
    report, target = _run(built, "opted_out", damage)
    assert not report.critical_passed
    assert _failed(report)[("activation_rows", "has_required_consent")] == ["activation_email:injected-opt-out"]
    failed = _query(target, f"select suite_name, unexpected_keys from {RESULTS_TABLE} where run_id = ? and not success",
                    (report.run_id,))
    assert ("consent_guard", "activation_email:injected-opt-out") in failed
    assert _published(target)[0] == 0  # the failed guard keeps the whole build unpublished


def test_an_erased_email_in_activation_fails_the_consent_guard(built: dict) -> None:
    email = built["erased_email"]
    damage = f"""
        insert into activation.activation_email (activation_id, segment_name, profile_id, email, updated_at)
        select 'injected-erased', segment_name, profile_id, '{email}', now()
        from activation.activation_email limit 1
    """
    report, _ = _run(built, "erased", damage)
    assert not report.critical_passed
    assert _failed(report)[("activation_rows", "is_suppressed_identifier")] == ["activation_email:injected-erased"]


def test_a_duplicated_identifier_in_identity_map_fails_the_identity_suite(built: dict) -> None:
    damage = """
        insert into identity.identity_map
        select identifier_type, identifier_value, 'prof_injected_duplicate', first_seen_at, last_seen_at,
            _processed_at
        from identity.identity_map where identifier_type = 'email' limit 1
    """
    report, _ = _run(built, "duplicate", damage)
    failed = _failed(report)
    assert ("identity_map", "identifier_md5") in failed
    duplicated = failed[("identity_map", "identifier_md5")]
    assert len(duplicated) == 2 and "email:prof_injected_duplicate" in duplicated  # the copy and the original
    assert report.critical_passed  # the identity suite warns; it does not block activation


@pytest.mark.parametrize("event_at", ["3000-01-01 00:00:00", "1999-12-31 23:59:59"], ids=["past_2262", "before_2000"])
def test_an_event_time_out_of_range_fails_the_staging_suite(built: dict, event_at: str) -> None:
    """Either side of pandas' nanosecond range (to 2262): the staging suite names the one event whose
    time is outside 2000-2100, whether its column was compared vectorised or row by row."""
    damage = f"""
        update staging.base_segment__tracks set event_at = cast('{event_at}' as timestamp)
        where message_id = (select min(message_id) from staging.stg_segment__tracks)
    """
    report, target = _run(built, f"event_at_{event_at[:4]}", damage)
    damaged = _query(target, "select min(message_id) from staging.stg_segment__tracks")[0][0]
    assert _failed(report) == {("stg_segment__tracks", "event_at"): [damaged]}


def test_timestamps_are_compared_vectorised_when_every_value_fits_in_nanoseconds() -> None:
    """DuckDB's microsecond timestamps become nanoseconds (Great Expectations' vectorised range check);
    a column with a value past 2262 keeps its microseconds (it would not fit) and every other column
    is left as it was."""
    with duckdb.connect() as connection:
        frame = connection.execute(
            "select timestamp '2026-11-01 10:00:00' as seen_at, null::timestamp as never, 7 as n, 'x' as s").df()
        before = [str(dtype) for dtype in frame.dtypes]
        fits = runner.vectorisable(frame)
        past = runner.vectorisable(connection.execute(
            "select * from (values (timestamp '2026-11-01'), (timestamp '3000-01-01')) as t(seen_at)").df())
    assert before[:2] == ["datetime64[us]", "datetime64[us]"]
    assert [str(dtype) for dtype in fits.dtypes] == ["datetime64[ns]", "datetime64[ns]", *before[2:]]
    assert str(fits["seen_at"][0]) == "2026-11-01 10:00:00"
    assert str(past.dtypes["seen_at"]) == "datetime64[us]" and str(past["seen_at"][1]) == "3000-01-01 00:00:00"


def test_a_malformed_ad_hash_fails_the_consent_guard(built: dict) -> None:
    damage = """
        update activation.activation_ads set hashed_email = 'not-a-sha256'
        where activation_id = (select min(activation_id) from activation.activation_ads)
    """
    report, target = _run(built, "malformed", damage)
    damaged = _query(target, "select min(activation_id) from activation.activation_ads")[0][0]
    assert not report.critical_passed
    assert _failed(report)[("activation_rows", "hashed_value")] == [f"activation_ads:{damaged}"]


@pytest.mark.parametrize("built", ["duckdb"], indirect=True)
def test_large_datasets_validated_in_parts_give_the_same_outcomes(
    built: dict, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DuckDB validates datasets above PART_ROWS in hash parts to bound memory (PostgreSQL validates in
    the database): with tiny parts, a run over a duplicated identifier reports exactly what the
    whole-dataset run reports."""
    damage = """
        insert into identity.identity_map
        select identifier_type, identifier_value, 'prof_injected_duplicate', first_seen_at, last_seen_at,
            _processed_at
        from identity.identity_map where identifier_type = 'email' limit 1
    """
    whole, _ = _run(built, "whole", damage)
    monkeypatch.setattr(runner, "PART_ROWS", 150)
    parted, _ = _run(built, "parted", damage)

    def summary(report: QualityReport) -> set[tuple]:
        return {(o.suite, o.dataset, o.expectation, o.column, o.success, o.element_count, o.unexpected_count,
                 tuple(o.unexpected_keys)) for o in report.outcomes}

    assert max(o.element_count for o in parted.outcomes) > 150 * 3  # several parts were combined
    assert summary(parted) == summary(whole)
    assert not all(o.success for o in parted.outcomes)


def test_the_next_part_is_fetched_while_this_one_validates_and_at_most_two_are_alive() -> None:
    """DuckDB fetches part i + 1 in a thread while the caller validates part i; it starts part i + 2
    only once the caller is done with part i, so memory holds two parts, never more."""
    started: list[tuple[int, int]] = []  # (part, parts the caller was done with when it started)
    done: list[int] = []
    fetching = [threading.Event() for _ in range(6)]

    def parts():
        for part in range(6):
            started.append((part, len(done)))
            fetching[part].set()
            yield part

    seen = []
    for part in runner._fetched_ahead(parts()):
        if part < 5:
            assert fetching[part + 1].wait(timeout=30), f"part {part + 1} was not fetched during part {part}"
        seen.append(part)
        done.append(part)
    assert seen == list(range(6))
    assert [part for part, _ in started] == list(range(6))
    assert all(done_then >= part - 1 for part, done_then in started), started


def test_a_failed_fetch_is_raised_in_the_caller_and_closing_stops_the_thread() -> None:
    """A query that fails in the fetching thread fails the run, after the parts fetched before it; a run
    that stops early (an error while validating) stops the thread and closes the parts' source."""

    def failing():
        yield "first part"
        raise duckdb.CatalogException("Catalog Error: Table with name missing_table does not exist!")

    seen = []
    with pytest.raises(duckdb.CatalogException, match="missing_table"):
        for part in runner._fetched_ahead(failing()):
            seen.append(part)
    assert seen == ["first part"]

    closed = threading.Event()

    def endless():
        try:
            part = 0
            while True:
                yield part
                part += 1
        finally:
            closed.set()

    ahead = runner._fetched_ahead(endless())
    assert next(ahead) == 0
    ahead.close()
    assert closed.is_set()  # the source generator was closed
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("quality-fetch")]


# --------------------------------------------------------------------------------------------------
# Incremental validation: only the rows of loads not validated before (plus, for uniqueness, the
# earlier rows sharing a value with a new one).
# --------------------------------------------------------------------------------------------------

BATCH_LOAD = "quality-test-batch"
BATCH_ROWS = 20


def _copy(built: dict, name: str) -> Target:
    if built["server"] is None:
        database = built["work"] / f"{name}.duckdb"
        shutil.copy(built["target"].duckdb_path, database)
        return Target(name="duckdb", kind="duckdb", duckdb_path=database)
    return built["server"].database(f"quality_{name}", template=built["target"].postgres.dbname)


def _load_batch(target: Target, message_id: str = "'batch-' || message_id", event: str = "event") -> None:
    """A new load as the loader and dbt would leave it: BATCH_ROWS new raw tracks (copies of existing rows
    under new ids) and their staged rows, all with a new `_load_id`. `message_id` and `event` are the SQL
    of the staged rows' values (the defaults make them new and valid)."""
    with connect(target) as warehouse:
        for table, id_sql, extra in (("raw.tracks", "'batch-' || id", ""),
                                     ("staging.base_segment__tracks", message_id, f", event = {event}")):
            id_column = "id" if table == "raw.tracks" else "message_id"
            where = "" if table == "raw.tracks" else " where rejection_reason is null"
            warehouse.execute(f"create temporary table batch_rows as select * from {table}{where} "
                              f"order by {id_column} limit {BATCH_ROWS}")
            warehouse.execute(f"update batch_rows set {id_column} = {id_sql}, _load_id = '{BATCH_LOAD}', "
                              f"_loaded_at = _loaded_at + interval '1 day'{extra}")
            warehouse.execute(f"insert into {table} select * from batch_rows")
            warehouse.execute("drop table batch_rows")


def _runs(report: QualityReport) -> dict[str, tuple[str, int]]:
    return {run.dataset: (run.mode, run.rows) for run in report.datasets}


def _rows(report: QualityReport, dataset: str) -> set[int]:
    return {o.element_count for o in report.outcomes if o.dataset == dataset}


def test_an_incremental_run_validates_only_new_loads_and_a_clean_batch_passes(built: dict) -> None:
    target = _copy(built, "inc_clean")
    docs = built["work"] / "docs_inc_clean"
    first = run_quality(target, docs_dir=docs, incremental=True)  # no watermark yet: everything
    assert first.failed() == [] and {mode for mode, _ in _runs(first).values()} == {"full"}
    totals = {name: rows for name, (_, rows) in _runs(first).items()}
    assert totals["raw_tracks"] == _query(target, "select count(*) from raw.tracks")[0][0]

    _load_batch(target)
    report = run_quality(target, docs_dir=docs, incremental=True)
    assert report.failed() == [], report.failed()
    assert report.mode == "incremental"
    runs = _runs(report)
    # Event datasets: only the new load's rows; the rest whole, as in full mode.
    assert runs["raw_tracks"] == ("incremental", BATCH_ROWS)
    assert runs["stg_segment__tracks"] == ("incremental", BATCH_ROWS)
    assert runs["stg_segment__identifies"] == ("incremental", 0)
    for name in ("identity_map", "profile_sizes", "profile_traits"):
        assert runs[name] == ("incremental", 0)  # no identity or profile run wrote a row since
    assert runs["activation_rows"] == ("full", totals["activation_rows"])
    assert _rows(report, "stg_segment__tracks") == {BATCH_ROWS}  # every expectation saw only the new rows
    # Data Docs name the mode: the run, and the event datasets validated incrementally.
    pages = [str(page.relative_to(docs)) for page in (docs / "validations").rglob("*.html")
             if f"incremental {report.run_id[:8]}" in str(page)]
    assert len(pages) == 7 and sum("__incremental" in page for page in pages) == 6, pages
    recorded = _query(target, f"select dataset_name, validation_mode, max(element_count) from {RESULTS_TABLE} "
                              "where run_id = ? group by dataset_name, validation_mode", (report.run_id,))
    assert ("stg_segment__tracks", "incremental", BATCH_ROWS) in recorded
    assert ("activation_rows", "full", totals["activation_rows"]) in recorded
    # The watermark moved: the batch is recorded for each event dataset that has its rows, and the next
    # run validates nothing of the event datasets.
    marked = _query(target, f"select dataset_name, row_count from {runner.LOADS_TABLE} where load_id = ?",
                    (BATCH_LOAD,))
    assert sorted(marked) == [("raw_tracks", BATCH_ROWS), ("stg_segment__tracks", BATCH_ROWS)]
    again = _runs(run_quality(target, docs_dir=docs, incremental=True))
    assert again["raw_tracks"] == again["stg_segment__tracks"] == ("incremental", 0)
    # A full run still validates every row.
    full = _runs(run_quality(target, docs_dir=docs))
    assert full["raw_tracks"] == ("full", totals["raw_tracks"] + BATCH_ROWS)


def test_an_incremental_run_catches_a_duplicate_of_an_old_row_and_keeps_reporting_it(built: dict) -> None:
    """A new staged row repeating the message_id of a row validated before: the old row joins the
    window, so the uniqueness expectation fails and names the message id, as a full run does."""
    target = _copy(built, "inc_duplicate")
    docs = built["work"] / "docs_inc_duplicate"
    assert run_quality(target, docs_dir=docs).failed() == []  # the full run records the watermark
    old = _query(target, "select min(message_id) from staging.stg_segment__tracks")[0][0]
    # The first batch row repeats the old message id; the others are new.
    _load_batch(target, message_id=f"case when message_id = (select min(message_id) from batch_rows) "
                                   f"then '{old}' else 'batch-' || message_id end")
    report = run_quality(target, docs_dir=docs, incremental=True)
    failed = {(o.dataset, o.expectation): o for o in report.failed()}
    assert set(failed) == {("stg_segment__tracks", "expect_column_values_to_be_unique")}
    duplicate = failed[("stg_segment__tracks", "expect_column_values_to_be_unique")]
    assert duplicate.unexpected_keys == [old] and duplicate.unexpected_count == 2  # the old row and the new
    assert duplicate.element_count == BATCH_ROWS + 1  # the new rows and the one old row sharing a key
    assert duplicate.mode == "incremental" and report.critical_passed
    full = run_quality(target, docs_dir=built["work"] / "docs_inc_duplicate_full")
    assert [(o.dataset, o.unexpected_keys, o.unexpected_count) for o in full.failed()] == [
        ("stg_segment__tracks", [old], 2)]  # the same outcome as a full run
    # The failed dataset's watermark did not move: the next incremental run reports it again.
    assert _query(target, f"select count(*) from {runner.LOADS_TABLE} where load_id = ? "
                          "and dataset_name = 'stg_segment__tracks'", (BATCH_LOAD,)) == [(0,)]
    again = run_quality(target, docs_dir=docs, incremental=True)
    assert [(o.dataset, o.unexpected_keys) for o in again.failed()] == [("stg_segment__tracks", [old])]
    assert _runs(again)["raw_tracks"] == ("incremental", 0)  # raw passed: its watermark moved


def test_identity_map_is_validated_by_the_rows_a_run_wrote_and_their_identifiers(built: dict) -> None:
    """identity_map rows carry the run that wrote them: an incremental validation reads the rows of runs
    not validated before, and the earlier rows of the same identifiers, so a new row that repeats an
    old identifier under another profile fails uniqueness as in a full run."""
    target = _copy(built, "inc_identity")
    docs = built["work"] / "docs_inc_identity"
    assert run_quality(target, docs_dir=docs).failed() == []
    total = _query(target, "select count(*) from identity.identity_map")[0][0]
    # A later identity run rewrote 3 identifiers: their rows carry its stamp.
    with connect(target) as warehouse:
        warehouse.execute("create temporary table rewritten as select * from identity.identity_map "
                          "where identifier_type = 'email' order by identifier_value limit 3")
        warehouse.execute("update rewritten set _processed_at = _processed_at + interval '1 hour'")
        warehouse.execute("delete from identity.identity_map where (identifier_type, identifier_value) in "
                          "(select identifier_type, identifier_value from rewritten)")
        warehouse.execute("insert into identity.identity_map select * from rewritten")
    clean = run_quality(target, docs_dir=docs, incremental=True)
    assert _runs(clean)["identity_map"] == ("incremental", 3) and clean.failed() == []
    # The next run wrote one row: an identifier validated long ago, now also under another profile.
    old = _query(target, "select identifier_type, identifier_value, profile_id from identity.identity_map "
                         "where identifier_type = 'email' and _processed_at = "
                         "(select min(_processed_at) from identity.identity_map) order by identifier_value limit 1")[0]
    duplicate = ("insert into identity.identity_map select identifier_type, identifier_value, "
                 "'prof_injected_duplicate', first_seen_at, last_seen_at, _processed_at + interval '2 hour' "
                 "from identity.identity_map where identifier_type = 'email' and identifier_value = ?")
    with connect(target) as warehouse:
        warehouse.execute(duplicate.replace("?", warehouse.placeholder), [old[1]])
    report = run_quality(target, docs_dir=docs, incremental=True)
    assert _runs(report)["identity_map"] == ("incremental", 2)  # the new row and the old one it repeats
    duplicated = sorted(_failed(report)[("identity_map", "identifier_md5")])
    assert duplicated == sorted([f"email:{old[2]}", "email:prof_injected_duplicate"])
    full = run_quality(target, docs_dir=built["work"] / "docs_inc_identity_full")
    assert _runs(full)["identity_map"] == ("full", total + 1)
    assert sorted(_failed(full)[("identity_map", "identifier_md5")]) == duplicated  # as a full run finds


def test_an_incremental_run_catches_a_bad_row_in_new_data(built: dict) -> None:
    target = _copy(built, "inc_bad_row")
    docs = built["work"] / "docs_inc_bad_row"
    assert run_quality(target, docs_dir=docs).failed() == []
    _load_batch(target, event="case when message_id = (select min(message_id) from batch_rows) "
                              "then 'Injected Unknown Event' else event end")
    bad = _query(target, "select message_id from staging.stg_segment__tracks where event_name = ?",
                 ("Injected Unknown Event",))
    report = run_quality(target, docs_dir=docs, incremental=True)
    assert [(o.dataset, o.column, o.unexpected_keys, o.element_count) for o in report.failed()] == [
        ("stg_segment__tracks", "event_name", [bad[0][0]], BATCH_ROWS)]


def test_profile_traits_and_sizes_are_validated_by_the_rows_a_run_wrote(built: dict) -> None:
    """profile_traits rows carry the run that wrote them: an incremental run validates the rewritten
    rows only, and fails on a bad one as a full run does. profile_sizes counts, for each profile with a
    new identity_map row, all the profile's rows: a profile pushed over the limit by new rows fails."""
    target = _copy(built, "inc_profiles")
    docs = built["work"] / "docs_inc_profiles"
    assert run_quality(target, docs_dir=docs).failed() == []
    # A later profiles run rewrote two profiles, one of them with a recency score out of range.
    with connect(target) as warehouse:
        warehouse.execute("create temporary table rewritten as select * from profiles.profile_traits "
                          "order by profile_id limit 2")
        warehouse.execute("update rewritten set _processed_at = _processed_at + interval '1 hour', "
                          "recency_score = case when profile_id = (select min(profile_id) from rewritten) "
                          "then 9 else recency_score end")
        warehouse.execute("delete from profiles.profile_traits where profile_id in "
                          "(select profile_id from rewritten)")
        warehouse.execute("insert into profiles.profile_traits select * from rewritten")
    bad = _query(target, "select min(profile_id) from profiles.profile_traits")[0][0]
    report = run_quality(target, docs_dir=docs, incremental=True)
    assert _runs(report)["profile_traits"] == ("incremental", 2)
    assert _failed(report) == {("profile_traits", "recency_score"): [bad]}
    assert _failed(run_quality(target, docs_dir=built["work"] / "docs_inc_profiles_full")) == _failed(report)
    # An identity run gave one profile enough new identifiers to pass the limit: its window is all its rows.
    profile, size = _query(target, "select profile_id, count(*) from identity.identity_map group by profile_id "
                                   "order by profile_id limit 1")[0]
    added = suites.MAX_IDENTIFIERS_PER_PROFILE + 1 - size
    with connect(target) as warehouse:
        warehouse.execute(
            "insert into identity.identity_map select 'anonymous_id', 'injected-' || cast(n as varchar), "
            f"profile_id, first_seen_at, last_seen_at, _processed_at + interval '2 hour' from identity.identity_map "
            f"cross join generate_series(1, {added}) as numbers(n) where profile_id = '{profile}' "
            f"and identifier_value = (select min(identifier_value) from identity.identity_map "
            f"where profile_id = '{profile}')")
    report = run_quality(target, docs_dir=docs, incremental=True)
    assert _runs(report)["profile_sizes"] == ("incremental", 1)  # the one profile, counted over all its rows
    assert _failed(report)[("profile_sizes", "identifiers")] == [profile]
    full = run_quality(target, docs_dir=built["work"] / "docs_inc_profiles_full2")
    assert _runs(full)["profile_sizes"][0] == "full"
    assert _failed(full)[("profile_sizes", "identifiers")] == [profile]
