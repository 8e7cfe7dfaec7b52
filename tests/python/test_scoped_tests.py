"""Scoped data tests (macros/tests/written_this_run.sql): on an incremental run the tests of incremental
models check only the keys the model's newest run wrote, on --full-refresh or with var test_scope
'all' everything.

A warehouse is built from a year of sample data, then a small last batch (two days) runs
incrementally. The tests show that
  - a model bug that duplicates a row the run writes fails the incremental build (the scoped unique
    test keeps every row of a written key);
  - a duplicate of a row the newest run wrote fails `dbt test`, a duplicate among rows no run wrote
    since is left to the full test (test_scope all, the nightly --full-refresh), which finds it;
  - the compiled test SQL holds the filter on an incremental run and not on --full-refresh or with
    test_scope all, and the filter keeps a small part of the table's rows;
  - the run stamp of the model that writes a tested relation (the model, or the base model under a
    staged view) is that relation's newest stamp after a run that wrote rows, to the microsecond;
  - after a run with no new data every scoped test reads nothing (`1 = 0`): a defect in an older row
    is not reported, `test_scope: all` reports it, and once a run writes rows again a defect in a row
    it wrote is reported;
  - a staged view's scoped tests read the newest stamp from the base table under it, never by
    computing the view for every row (stg_segment__consent_preferences parses JSON and filters on
    it), and still find a duplicate the newest run wrote."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import compiled_code, copy_project, run_dbt, split_into_batches

CUTS = ("2026-10-30",)
SCOPED = {
    # test name: (tested relation, its row count must exceed the scanned rows this many times)
    "unique_int_profiles__events_message_id": ("profiles.int_profiles__events", 5),
    "unique_sessions_session_id": ("profiles.sessions", 5),
    "segmentation_unique_combination_of_columns_sessions_profile_id__session_number": ("profiles.sessions", 5),
    "not_null_profile_event_daily_profile_id": ("profiles.profile_event_daily", 5),
    "unique_stg_segment__pages_message_id": ("staging.stg_segment__pages", 20),
    "not_null_stg_segment__tracks_event_at": ("staging.stg_segment__tracks", 20),
}
# The run stamp (macros/run_stamps.sql) of the model that writes each tested relation.
RUN_STAMPS = {
    "profiles.int_profiles__events": "profiles_work.int_profiles__events__processed",
    "profiles.sessions": "profiles_work.sessions__processed",
    "profiles.profile_event_daily": "profiles_work.profile_event_daily__processed",
    "staging.stg_segment__pages": "staging_work.base_segment__pages__processed",
    "staging.stg_segment__tracks": "staging_work.base_segment__tracks__processed",
}
FILTER = re.compile(r"\(select \* from (\S+) where (.*?)\) dbt_subquery", re.DOTALL)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("scoped_tests")
    sample = work / "sample"
    generate(sample, people=300, seed=13, end_date=date(2026, 11, 1), days=365)
    folders = split_into_batches(sample, work, CUTS)
    database = work / "warehouse.duckdb"
    target = Target(name="duckdb", kind="duckdb", duckdb_path=database)
    load_folder(folders[0], target)
    run_dbt(database, work, "build")
    load_folder(folders[1], target)
    run_dbt(database, work, "build")
    return {"work": work, "database": database}


def _compile(warehouse: dict, *args: str) -> dict[str, str]:
    """Compiles the scoped tests (dbt runs get_where_subquery, so the filter is resolved) and returns
    each test's compiled SQL."""
    return compiled_code(warehouse["database"], warehouse["work"], list(SCOPED), *args)


def test_an_incremental_run_tests_only_what_it_wrote(warehouse: dict) -> None:
    compiled = _compile(warehouse)
    with duckdb.connect(str(warehouse["database"]), read_only=True) as connection:
        for name, (relation, factor) in SCOPED.items():
            [(tested, condition)] = FILTER.findall(compiled[name])
            assert relation.split(".")[1] in tested, name
            assert "_processed_at = cast('" in condition, name
            total = connection.execute(f"select count(*) from {relation}").fetchone()[0]
            scanned = connection.execute(f"select count(*) from {tested} where {condition}").fetchone()[0]
            assert 0 < scanned * factor < total, (name, scanned, total)
        # The writer's run stamp is the newest stamp: its run wrote rows, which the test checks.
        for relation, stamp in RUN_STAMPS.items():
            assert connection.execute(f"""
                select count(*) from {stamp}
                where processed_at = (select max(_processed_at) from {relation})""").fetchone()[0] == 1, relation


@pytest.mark.parametrize("args", [("--full-refresh",), ("--vars", "{test_scope: all}")], ids=["full_refresh", "all"])
def test_full_refresh_and_test_scope_all_test_everything(warehouse: dict, args: tuple[str, ...]) -> None:
    for name, sql in _compile(warehouse, *args).items():
        assert "_processed_at" not in sql, name
        assert "__written_this_run__" not in sql, name


def test_a_table_the_newest_run_wrote_whole_is_tested_without_a_filter(warehouse: dict, tmp_path: Path) -> None:
    """After a first build every row carries the newest stamp: the filter would keep every row at the
    cost of a second scan, so the test reads the table as it is. The other tables keep their filter."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse["database"], database)
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "update profiles.sessions set _processed_at = (select max(_processed_at) from profiles.sessions)")
    compiled = compiled_code(database, tmp_path, list(SCOPED))
    for name, (relation, _) in SCOPED.items():
        filtered = FILTER.findall(compiled[name])
        if relation == "profiles.sessions":
            assert [condition.strip() for _, condition in filtered] == ["true"], name
        else:
            assert filtered and "_processed_at = cast('" in filtered[0][1], name


def test_a_duplicate_the_newest_run_wrote_fails_and_an_older_one_waits_for_the_full_test(warehouse: dict) -> None:
    database, work = warehouse["database"], warehouse["work"]
    select = ["--select", "sessions,test_name:unique"]
    with duckdb.connect(str(database)) as connection:
        connection.execute("create table profiles.sessions_backup as select * from profiles.sessions")
        # A copy of a session row the newest run wrote.
        connection.execute("""
            insert into profiles.sessions
            select * from profiles.sessions
            where _processed_at = (select max(_processed_at) from profiles.sessions)
            limit 1
        """)
    with pytest.raises(AssertionError, match="FAIL 1 unique_sessions_session_id"):
        run_dbt(database, work, "test", *select)

    with duckdb.connect(str(database)) as connection:
        connection.execute("delete from profiles.sessions")
        connection.execute("insert into profiles.sessions select * from profiles.sessions_backup")
        # A copy of a row no run wrote since the previous tests: not in the newest run's keys.
        connection.execute("""
            insert into profiles.sessions
            select * from profiles.sessions
            where _processed_at < (select max(_processed_at) from profiles.sessions)
            limit 1
        """)
    run_dbt(database, work, "test", *select)
    with pytest.raises(AssertionError, match="FAIL 1 unique_sessions_session_id"):
        run_dbt(database, work, "test", *select, "--vars", "{test_scope: all}")

    with duckdb.connect(str(database)) as connection:
        connection.execute("delete from profiles.sessions")
        connection.execute("insert into profiles.sessions select * from profiles.sessions_backup")
        connection.execute("drop table profiles.sessions_backup")
    run_dbt(database, work, "test", *select)


def test_after_a_run_with_no_new_data_the_scoped_tests_check_nothing(warehouse: dict, tmp_path: Path) -> None:
    """A run with no new data on a copy of the warehouse: its tests read no row, so a duplicate among
    older rows waits for the full test (test_scope all). The next run that writes rows is tested on
    them again: a duplicate of a row it wrote fails, the older duplicate still waits."""
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse["database"], database)
    with duckdb.connect(str(database), read_only=True) as connection:
        newest_before = {relation: connection.execute(f"select max(_processed_at) from {relation}").fetchone()[0]
                         for relation in RUN_STAMPS}
    run_dbt(database, tmp_path, "build")
    compiled = compiled_code(database, tmp_path, list(SCOPED))
    with duckdb.connect(str(database), read_only=True) as connection:
        for name, (relation, _) in SCOPED.items():
            [(_, condition)] = FILTER.findall(compiled[name])
            newest, stamp = connection.execute(
                f"select max(_processed_at), (select processed_at from {RUN_STAMPS[relation]}) from {relation}"
            ).fetchone()
            # The run wrote no row of the relation exactly when its newest stamp is older than the run stamp.
            assert (condition.strip() == "1 = 0") == (newest < stamp), (name, condition, newest, stamp)
            assert (newest < stamp) == (newest == newest_before[relation]), (name, newest, stamp)
    # No new load: the Segment base models wrote nothing, their staged views' tests read no row.
    for name in ("unique_stg_segment__pages_message_id", "not_null_stg_segment__tracks_event_at"):
        assert [condition.strip() for _, condition in FILTER.findall(compiled[name])] == ["1 = 0"], name

    select = ["--select", "stg_segment__pages,test_name:unique"]
    failure = "FAIL 1 unique_stg_segment__pages_message_id"
    with duckdb.connect(str(database)) as connection:
        # A copy of a page some earlier run wrote and tested.
        connection.execute("insert into staging.base_segment__pages select * from staging.base_segment__pages "
                           "where rejection_reason is null order by message_id limit 1")
    run_dbt(database, tmp_path, "test", *select)
    with pytest.raises(AssertionError, match=failure):
        run_dbt(database, tmp_path, "test", *select, "--vars", "{test_scope: all}")

    with duckdb.connect(str(database)) as connection:
        # New data: a page view delivered again under a new message id.
        connection.execute("""
            insert into raw.pages
            select * replace ('scoped-idle-' || id as id, 'scoped-idle-load' as _load_id)
            from raw.pages
            order by id
            limit 1
        """)
    run_dbt(database, tmp_path, "build", "--select", "+stg_segment__pages")
    run_dbt(database, tmp_path, "test", *select)
    with duckdb.connect(str(database)) as connection:
        # A copy of the page the run wrote.
        connection.execute("insert into staging.base_segment__pages select * from staging.base_segment__pages "
                           "where message_id like 'scoped-idle-%'")
    with pytest.raises(AssertionError, match=failure):
        run_dbt(database, tmp_path, "test", *select)


CONSENT_UNIQUE = "segmentation_unique_combination_of_columns_stg_segment__consent_preferences_message_id__purpose"


def test_a_staged_views_stamps_come_from_its_base_table(warehouse: dict, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse["database"], database)
    select = ["--select", CONSENT_UNIQUE]
    with duckdb.connect(str(database)) as connection:
        newest_consent, newest_tracks = connection.execute("""
            select
                (select max(_processed_at) from staging.stg_segment__consent_preferences),
                (select max(_processed_at) from staging.base_segment__tracks)""").fetchone()
        # The newest run wrote consent decisions, so the scoped test has rows to check.
        assert newest_consent == newest_tracks
        # A copy of a consent event some earlier run wrote: not in the newest run's keys.
        connection.execute("""
            insert into staging.base_segment__tracks
            select * from staging.base_segment__tracks
            where message_id = (
                select min(message_id) from staging.stg_segment__consent_preferences
                where _processed_at < (select max(_processed_at) from staging.stg_segment__consent_preferences))""")
    log = tmp_path / "logs" / "dbt.log"
    log.unlink(missing_ok=True)
    run_dbt(database, tmp_path, "test", *select)
    stamp_queries = re.findall(
        r"select max\(_processed_at\), min\(_processed_at\), "
        r"(?:false|max\(_processed_at\) < \(select max\(processed_at\) from \S+\)) from (\S+)", log.read_text())
    assert stamp_queries, "no stamps query in dbt.log"
    assert all(relation.endswith('"base_segment__tracks"') for relation in stamp_queries), stamp_queries
    with pytest.raises(AssertionError, match=f"FAIL [0-9]+ {CONSENT_UNIQUE}"):
        run_dbt(database, tmp_path, "test", *select, "--vars", "{test_scope: all}")

    with duckdb.connect(str(database)) as connection:
        # And a copy of a consent event the newest run wrote: the scoped test reports it.
        connection.execute("""
            insert into staging.base_segment__tracks
            select * from staging.base_segment__tracks
            where message_id = (
                select min(message_id) from staging.stg_segment__consent_preferences
                where _processed_at = (select max(_processed_at) from staging.stg_segment__consent_preferences))""")
    with pytest.raises(AssertionError, match=f"FAIL [0-9]+ {CONSENT_UNIQUE}"):
        run_dbt(database, tmp_path, "test", *select)


def test_a_bug_that_duplicates_a_new_row_fails_the_incremental_build(
    warehouse: dict, tmp_path: Path
) -> None:
    """A copy of the project whose stg_segment__pages repeats one row the run wrote: the next
    incremental build, with new data, fails on the scoped unique test. Runs last: it changes the
    warehouse."""
    database, work = warehouse["database"], warehouse["work"]
    project = copy_project(tmp_path / "project")
    model = project / "models" / "staging" / "segment" / "stg_segment__pages.sql"
    model.write_text(model.read_text().replace(
        "select * from renamed",
        "select * from renamed\nunion all\n(select * from renamed\n"
        "where _processed_at = {{ segmentation.run_timestamp() }}\norder by message_id\nlimit 1)",
    ))
    with duckdb.connect(str(database)) as connection:
        # New data for the run: a page view delivered again under a new message id.
        connection.execute("""
            insert into raw.pages
            select * replace ('scoped-test-' || id as id, 'scoped-test-load' as _load_id)
            from raw.pages
            limit 1
        """)
    with pytest.raises(AssertionError, match="FAIL 1 unique_stg_segment__pages_message_id"):
        run_dbt(database, work, "build", "--select", "+stg_segment__pages", project=project)
