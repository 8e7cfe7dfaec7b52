"""int_profiles__events attributes the stored events of profiles whose identity changed again through
the identifiers each row keeps (anonymous_id, user_id, device_id), instead of reading every staged
event (macros/profiles/incremental_profiles.sql). On both engines:

- a merge of two profiles that both have old events (an identify that gives an anonymous visitor's id
  to a person with a user id), loaded together with a new event of the visitor, moves every event of
  both onto one profile and gives the same profile tables as a full rebuild of a copy of the warehouse;
- the restitch reads the changed profiles' stored rows, not the staged events: an old staged event of a
  visitor whose name is altered directly in the warehouse (no new load, so nothing says it changed)
  moves to the merged profile with the name it was stitched with;
- a change of the blocklist (unblocking the user id 'undefined', which the sample data sends with real
  anonymous ids) rewrites every row and gives the full build: an identifier that had no profile getting
  one is the one change the changed profiles' rows do not cover."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.warehouse import Target, connect
from tests.python.helpers import (
    PROFILE_LAYER,
    PROFILE_TABLES,
    built_sample_warehouse,
    copy_project,
    query_with_columns,
    rebuilt_copy,
    run_dbt,
    table_rows,
)

AS_OF = ["--vars", "{as_of: '2026-11-01'}"]
PROFILE_BUILD = [*PROFILE_LAYER, *AS_OF]
PROFILES_FULL_REFRESH = ["run", "--select", "path:models/profiles", "--full-refresh", *AS_OF]
ALTERED_NAME = "Altered In The Warehouse"


def _execute(target: Target, sql: str) -> None:
    with connect(target) as warehouse:
        warehouse.execute(sql)


def _events_by_profile(target: Target) -> dict[str, set[str]]:
    _, rows = query_with_columns(target, "select profile_id, message_id from profiles.int_profiles__events")
    found: dict[str, set[str]] = {}
    for profile_id, message_id in rows:
        found.setdefault(profile_id, set()).add(message_id)
    return found


def _merge_pairs(target: Target, count: int) -> list[dict[str, str]]:
    """`count` (visitor anonymous id with old tracks and no user id, its profile; a user id of a person
    with events, their profile), all profiles distinct."""
    _, visitors = query_with_columns(target, """
        select events.anonymous_id, events.profile_id, min(events.message_id)
        from profiles.int_profiles__events as events
        where
            events.event_type = 'track'
            and events.user_id is null
            and events.anonymous_id is not null
            and events.profile_id not in (
                select profile_id from identity.identity_map where identifier_type = 'user_id')
        group by events.anonymous_id, events.profile_id
        order by events.anonymous_id""")
    _, users = query_with_columns(target, """
        select identifier_value, profile_id from identity.identity_map
        where identifier_type = 'user_id' and profile_id in (select profile_id from profiles.int_profiles__events)
        order by identifier_value""")
    visitor_by_profile = {profile: (anonymous_id, track) for anonymous_id, profile, track in reversed(visitors)}
    user_by_profile = {profile: user_id for user_id, profile in reversed(users)}
    pairs = [
        {"anonymous_id": anonymous_id, "visitor_profile": visitor_profile, "track": track,
         "user_id": user_id, "user_profile": user_profile}
        for (visitor_profile, (anonymous_id, track)), (user_profile, user_id) in zip(
            sorted(visitor_by_profile.items()), sorted(user_by_profile.items()), strict=False)
    ]
    assert len(pairs) >= count, pairs
    return pairs[:count]


def _write_link(sample: Path, folder: Path, pair: dict[str, str], new_track: bool) -> None:
    """An identify copied from one of the person's (their user id, a new message id) carrying the
    visitor's anonymous id; with new_track, also a new track of the visitor (a new message id)."""
    folder.mkdir(parents=True)
    with duckdb.connect() as connection:
        identify = (f"select * replace('link-' || id as id, '{pair['anonymous_id']}' as anonymous_id) "
                    f"from '{sample}/identifies.parquet' where user_id = '{pair['user_id']}' order by id limit 1")
        assert connection.execute(f"select count(*) from ({identify})").fetchone()[0] == 1
        connection.execute(f"copy ({identify}) to '{folder}/identifies__link.parquet' (format parquet)")
        if new_track:
            track = (f"select * replace('new-' || id as id) from '{sample}/tracks.parquet' "
                     f"where anonymous_id = '{pair['anonymous_id']}' order by id limit 1")
            assert connection.execute(f"select count(*) from ({track})").fetchone()[0] == 1
            connection.execute(f"copy ({track}) to '{folder}/tracks__new.parquet' (format parquet)")


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def builds(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    engine = request.param
    work = tmp_path_factory.mktemp(f"restitch_{engine}")
    sample = work / "sample"
    # The second run settles what the first run's erasures leave to the next one in the identity layer.
    incremental = built_sample_warehouse(request, work, "restitch_incremental", people=60, seed=23, days=90,
                                         build_args=PROFILE_BUILD, builds=2, duckdb_file="incremental.duckdb",
                                         dbt_work=work / "incremental")
    merged, altered = _merge_pairs(incremental, 2)

    # A merge of two profiles with old events, plus a new event of the visitor in the same batch.
    before_merge = _events_by_profile(incremental)
    _write_link(sample, work / "merge", merged, new_track=True)
    load_folder(work / "merge", incremental)
    run_dbt(incremental, work / "incremental", "build", *PROFILE_BUILD)
    after_merge = _events_by_profile(incremental)
    _, changes = query_with_columns(incremental, """
        select profile_id from profiles.int_profiles__identity_changes
        where changed_at = (select max(changed_at) from profiles.int_profiles__identity_changes)""")
    merge_tables = {table: table_rows(incremental, table) for table in PROFILE_TABLES}
    full = rebuilt_copy(request, incremental, work, "restitch_full", *PROFILES_FULL_REFRESH)
    full_tables = {table: table_rows(full, table) for table in PROFILE_TABLES}

    # An old staged track of the second visitor, renamed in the warehouse (no new load), then a merge.
    _execute(incremental, f"update staging.base_segment__tracks set event = '{ALTERED_NAME}' "
                          f"where message_id = '{altered['track']}'")
    _, staged = query_with_columns(
        incremental, f"select event_name from staging.stg_segment__tracks where message_id = '{altered['track']}'")
    query = ("select profile_id, event_name from profiles.int_profiles__events "
             f"where message_id = '{altered['track']}'")
    _, stitched_before = query_with_columns(incremental, query)
    _write_link(sample, work / "alter", altered, new_track=False)
    load_folder(work / "alter", incremental)
    run_dbt(incremental, work / "incremental", "build", *PROFILE_BUILD)
    _, stitched_after = query_with_columns(incremental, query)

    # Unblock the user id 'undefined' (a project copy without that blocklist rule).
    project = copy_project(work / "project_unblocked")
    blocklist = project / "seeds" / "identity_blocklist.csv"
    rules = blocklist.read_text().splitlines(keepends=True)
    blocklist.write_text("".join(rule for rule in rules if not rule.startswith("*,exact,undefined,")))
    assert len(blocklist.read_text().splitlines()) == len(rules) - 1
    _, undefined_events = query_with_columns(incremental, """
        select count(*) from staging.stg_segment__tracks where user_id = 'undefined'""")
    run_dbt(incremental, work / "incremental", "build", *PROFILE_BUILD, project=project)
    _, unblocked_stamps = query_with_columns(incremental, """
        select count(*), count(distinct _processed_at) from profiles.int_profiles__events""")
    unblocked_tables = {table: table_rows(incremental, table) for table in PROFILE_TABLES}
    unblocked_full = rebuilt_copy(request, incremental, work, "restitch_unblocked_full", *PROFILES_FULL_REFRESH,
                                  project=project)
    return {
        "merged": merged, "altered": altered, "before_merge": before_merge, "after_merge": after_merge,
        "changes": {row[0] for row in changes}, "merge_tables": merge_tables, "full_tables": full_tables,
        "staged": staged, "stitched_before": stitched_before, "stitched_after": stitched_after,
        "undefined_events": undefined_events[0][0], "unblocked_stamps": unblocked_stamps[0],
        "unblocked_tables": unblocked_tables,
        "unblocked_full_tables": {table: table_rows(unblocked_full, table) for table in PROFILE_TABLES},
    }


def test_the_merge_moves_both_profiles_old_events_and_the_new_one_onto_one_profile(builds: dict) -> None:
    pair, before, after = builds["merged"], builds["before_merge"], builds["after_merge"]
    visitor_events, user_events = before[pair["visitor_profile"]], before[pair["user_profile"]]
    assert visitor_events and user_events
    assert {pair["visitor_profile"], pair["user_profile"]} <= builds["changes"]
    holders = [profile for profile, events in after.items() if events & (visitor_events | user_events)]
    assert len(holders) == 1, holders
    new_tracks = {message for message in after[holders[0]] if message.startswith("new-")}
    assert after[holders[0]] == visitor_events | user_events | new_tracks
    assert len(new_tracks) == 1


@pytest.mark.parametrize("table", PROFILE_TABLES)
def test_the_merge_gives_the_full_build(builds: dict, table: str) -> None:
    incremental, full = builds["merge_tables"][table], builds["full_tables"][table]
    assert sum(full.values()) > 0, table
    assert incremental == full, (table, list((incremental - full).items())[:3], list((full - incremental).items())[:3])


def test_the_restitch_reads_the_stored_rows_not_the_staged_events(builds: dict) -> None:
    # The warehouse edit is visible in staging, so re-reading the staged event would pick it up.
    assert builds["staged"] == [(ALTERED_NAME,)]
    [(profile_before, name_before)] = builds["stitched_before"]
    [(profile_after, name_after)] = builds["stitched_after"]
    assert profile_before == builds["altered"]["visitor_profile"]
    # The event was restitched (it moved with the merge), with the name it was first stitched with.
    assert profile_after != profile_before
    assert name_after == name_before != ALTERED_NAME


def test_a_blocklist_change_rewrites_every_event_row(builds: dict) -> None:
    # Events the unblocked value can take from the profile of their anonymous id.
    assert builds["undefined_events"] > 0
    rows, stamps = builds["unblocked_stamps"]
    assert rows > 0
    assert stamps == 1


@pytest.mark.parametrize("table", PROFILE_TABLES)
def test_a_blocklist_change_gives_the_full_build(builds: dict, table: str) -> None:
    incremental, full = builds["unblocked_tables"][table], builds["unblocked_full_tables"][table]
    assert sum(full.values()) > 0, table
    assert incremental == full, (table, list((incremental - full).items())[:3], list((full - incremental).items())[:3])
