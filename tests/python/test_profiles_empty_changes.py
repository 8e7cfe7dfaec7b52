"""Profile models whose change set is empty render no work (macros/profiles: selects_nothing). Two runs
prove they still give a full build's answer, on both engines:

- a run with no new data leaves every profile table exactly as it was, _processed_at included (no row
  deleted and written again);
- a run whose only new data is one identify that links an anonymous visitor's identifier to another
  person's user id (an identity change, no new behavioural event) restitches the visitor's events and
  equals the profile layer built again from scratch (--full-refresh of models/profiles) on a copy of
  the same warehouse (same identity graph, so the same profile ids).

The scoped data tests (macros/tests/written_this_run.sql) follow on both engines: after the run with
no new data they read no row (`1 = 0`); after the identity-only run those of int_profiles__events read
the rows it wrote (its run stamp is their newest stamp, to the microsecond), while those of the staged
tracks, which no run wrote since, still read none."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.warehouse import Target
from tests.python.helpers import (
    LINEAGE,
    PROFILE_LAYER,
    PROFILE_TABLES,
    built_sample_warehouse,
    comparable,
    compiled_code,
    query_with_columns,
    rebuilt_copy,
    run_dbt,
    table_rows,
)

AS_OF = ["--vars", "{as_of: '2026-11-01'}"]
PROFILE_BUILD = [*PROFILE_LAYER, *AS_OF]
SCOPED_TESTS = ("unique_int_profiles__events_message_id", "not_null_int_profiles__events_profile_id",
                "not_null_stg_segment__tracks_event_at")
SCOPE = re.compile(r"\(select \* from \S+ where (.*?)\) dbt_subquery", re.DOTALL)


def _tables(target: Target, with_lineage: bool) -> dict[str, Counter]:
    return {table: table_rows(target, table, () if with_lineage else LINEAGE) for table in PROFILE_TABLES}


def _scopes(target: Target, work: Path) -> dict[str, str]:
    """The condition each of SCOPED_TESTS reads its relation with, as the next `dbt test` would."""
    return {name: " ".join(SCOPE.search(sql).group(1).split())
            for name, sql in compiled_code(target, work, SCOPED_TESTS).items()}


def _link_identify(sample: Path, folder: Path, target: Target) -> tuple[str, str]:
    """An identify copied from one of a person's (their user_id, a new message id) that carries the
    anonymous id of a visitor with events and no user id in another profile. Returns (anonymous id,
    the visitor's profile id)."""
    _, visitors = query_with_columns(target, """
        select visitor.identifier_value, visitor.profile_id
        from identity.identity_map as visitor
        where
            visitor.identifier_type = 'anonymous_id'
            and visitor.profile_id not in (
                select profile_id from identity.identity_map where identifier_type = 'user_id')
            and visitor.profile_id in (select profile_id from profiles.int_profiles__events)
        order by visitor.identifier_value""")
    _, users = query_with_columns(target, """
        select identifier_value from identity.identity_map
        where identifier_type = 'user_id' and profile_id in (select profile_id from profiles.int_profiles__events)
        order by identifier_value""")
    assert visitors and users
    anonymous_id, visitor_profile = visitors[0]
    folder.mkdir(parents=True)
    with duckdb.connect() as connection:
        known = ", ".join(f"'{user_id}'" for (user_id,) in users)
        rows = (f"select * replace('link-' || id as id, '{anonymous_id}' as anonymous_id) "
                f"from '{sample}/identifies.parquet' where user_id in ({known}) order by id limit 1")
        assert connection.execute(f"select count(*) from ({rows})").fetchone()[0] == 1
        connection.execute(f"copy ({rows}) to '{folder}/identifies__link.parquet' (format parquet)")
    return anonymous_id, visitor_profile


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def builds(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    engine = request.param
    work = tmp_path_factory.mktemp(f"empty_changes_{engine}")
    sample = work / "sample"
    # The second run settles what the first run's erasures leave to the next one in the identity layer.
    incremental = built_sample_warehouse(request, work, "empty_changes_incremental", people=60, seed=17, days=90,
                                         build_args=PROFILE_BUILD, builds=2, duckdb_file="incremental.duckdb",
                                         dbt_work=work / "incremental")
    settled = _tables(incremental, with_lineage=True)
    run_dbt(incremental, work / "incremental", "build", *PROFILE_BUILD)
    unchanged = _tables(incremental, with_lineage=True)
    idle_scopes = _scopes(incremental, work / "incremental")

    anonymous_id, visitor_profile = _link_identify(sample, work / "link", incremental)
    events_before = table_rows(incremental, "profiles.int_profiles__events")
    load_folder(work / "link", incremental)
    run_dbt(incremental, work / "incremental", "build", *PROFILE_BUILD)
    events_after = table_rows(incremental, "profiles.int_profiles__events")
    _, identity_changes = query_with_columns(incremental, """
        select profile_id from profiles.int_profiles__identity_changes
        where changed_at = (select max(changed_at) from profiles.int_profiles__identity_changes)""")
    linked = _tables(incremental, with_lineage=False)
    linked_scopes = _scopes(incremental, work / "incremental")
    _, [(events_stamp,)] = query_with_columns(
        incremental, "select processed_at from profiles_work.int_profiles__events__processed")

    full = rebuilt_copy(request, incremental, work, "empty_changes_full",
                        "run", "--select", "path:models/profiles", "--full-refresh", *AS_OF)
    return {
        "settled": settled, "unchanged": unchanged, "anonymous_id": anonymous_id,
        "events_changed": events_before != events_after, "identity_changes": {row[0] for row in identity_changes},
        "visitor_profile": visitor_profile,
        "linked": linked, "full": _tables(full, with_lineage=False),
        "idle_scopes": idle_scopes, "linked_scopes": linked_scopes, "events_stamp": events_stamp,
    }


@pytest.mark.parametrize("table", PROFILE_TABLES)
def test_a_run_with_no_new_data_leaves_the_table_as_it_was(builds: dict, table: str) -> None:
    before, after = builds["settled"][table], builds["unchanged"][table]
    assert sum(before.values()) > 0, table
    assert after == before, (table, list((after - before).items())[:3], list((before - after).items())[:3])


def test_the_identify_changed_identity_and_moved_the_visitors_events(builds: dict) -> None:
    # Else the identity-only run would prove nothing about restitching.
    assert builds["visitor_profile"] in builds["identity_changes"]
    assert builds["events_changed"]


@pytest.mark.parametrize("table", PROFILE_TABLES)
def test_an_identity_only_change_gives_the_full_build(builds: dict, table: str) -> None:
    incremental, full = builds["linked"][table], builds["full"][table]
    assert sum(full.values()) > 0, table
    assert incremental == full, (table, list((incremental - full).items())[:3], list((full - incremental).items())[:3])


def test_after_the_run_with_no_new_data_the_scoped_tests_read_no_row(builds: dict) -> None:
    assert builds["idle_scopes"] == dict.fromkeys(SCOPED_TESTS, "1 = 0")


def test_after_the_identity_only_run_the_scoped_tests_read_what_it_wrote(builds: dict) -> None:
    stamp = comparable(builds["events_stamp"]).isoformat(sep=" ")
    written = rf"_processed_at = cast\('{re.escape(stamp)}' as \w+\)"
    scopes = builds["linked_scopes"]
    assert re.fullmatch(rf"message_id in \(select message_id from \S+ where {written}\)",
                        scopes["unique_int_profiles__events_message_id"]), scopes
    assert re.fullmatch(written, scopes["not_null_int_profiles__events_profile_id"]), scopes
    assert scopes["not_null_stg_segment__tracks_event_at"] == "1 = 0"
