"""Late events in the incremental profile models: a batch of events that arrive late (one between two
sessions, joining them; one before a profile's first session; a message delivered again that moves to
another profile and day; one weeks older than every other change; one that merges two profiles whose
events are all old) rewrites only the sessions and days they touch, and the result equals one full
build of the same data. The models read the events through literal bounds (the earliest change; rows
restitched in this run), so a change outside them would be missed: the far and the merged ones are
there to catch that."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import PROFILE_LAYER, run_dbt

AS_OF = ["--vars", "{as_of: '2026-11-01'}"]
PROFILE_BUILD = [*PROFILE_LAYER, *AS_OF]
COMPARED = {
    "profiles.int_profiles__events": "* exclude (_loaded_at, _processed_at)",
    "profiles.sessions": "* exclude (_max_loaded_at, _processed_at)",
    "profiles.profile_event_daily": "* exclude (_max_loaded_at, _processed_at)",
}

# (message id, anonymous id, event time, received at, event name[, user id]); received at is the event
# time + 1 s unless given.
ON_TIME = [
    ("bridge-0", "late-bridge", "2026-10-01T09:00:00", None, "Product Viewed"),  # a session kept as it is
    ("bridge-1", "late-bridge", "2026-10-10T10:00:00", None, "Product Viewed"),
    ("bridge-2", "late-bridge", "2026-10-10T10:10:00", None, "Product Viewed"),
    ("bridge-3", "late-bridge", "2026-10-10T10:50:00", None, "Product Viewed"),  # 40 quiet minutes before
    ("bridge-4", "late-bridge", "2026-10-10T11:00:00", None, "Product Added"),
    ("bridge-5", "late-bridge", "2026-10-10T14:00:00", None, "Product Viewed"),
    ("first-1", "late-first", "2026-10-20T10:00:00", None, "Product Viewed"),
    ("first-2", "late-first", "2026-10-21T10:00:00", None, "Product Viewed"),
    ("from-1", "late-from", "2026-10-10T12:00:00", None, "Product Viewed"),
    ("moved", "late-from", "2026-10-12T12:05:00", "2026-10-12T12:05:30", "Product Added"),  # its day's only event
    ("to-1", "late-to", "2026-10-11T09:10:00", None, "Product Viewed"),
    ("far-1", "late-far", "2026-10-25T10:00:00", None, "Product Viewed"),
    ("far-2", "late-far", "2026-10-26T10:00:00", None, "Product Viewed"),
    ("merge-a", "late-merge-a", "2026-10-02T08:00:00", None, "Product Viewed"),
    ("merge-b", "late-merge-b", "2026-10-03T08:00:00", None, "Product Viewed", "late-merge-user"),
]
LATE = [
    ("bridge-late", "late-bridge", "2026-10-10T10:30:00", None, "Checkout Started"),  # 20 minutes from both
    ("first-late", "late-first", "2026-10-19T23:50:00", None, "Product Viewed"),  # before the first session
    # Delivered again, received earlier than the first delivery (so this one is staged): another person, day.
    ("moved", "late-to", "2026-10-11T09:00:00", "2026-10-11T09:00:01", "Product Added"),
    ("far-late", "late-far", "2026-09-05T10:00:00", None, "Product Viewed"),  # weeks before any other change
    # Links late-merge-a to the user of late-merge-b: the two profiles merge, with all their old events.
    ("merge-link", "late-merge-a", "2026-10-27T08:00:00", None, "Product Viewed", "late-merge-user"),
]


def _write_tracks(folder: Path, part: str, events: list[tuple]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for message_id, anonymous_id, event_at, received_at, event_name, *user_id in events:
        received = received_at or event_at[:-2] + "01"
        lines.append(json.dumps({
            "id": message_id, "anonymous_id": anonymous_id, "user_id": (user_id or [None])[0],
            "timestamp": event_at + "Z",
            "received_at": received + "Z", "sent_at": event_at + "Z", "event": event_name, "properties": "{}",
        }))
    (folder / f"tracks__{part}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def _tables(database: Path) -> dict[str, set]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {table: set(connection.execute(f"select {columns} from {table}").fetchall())
                for table, columns in COMPARED.items()}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("late_events")
    sample = work / "sample"
    generate(sample, people=40, seed=5, end_date=date(2026, 11, 1), days=60)
    on_time = _write_tracks(work / "on_time", "on_time", ON_TIME)
    late = _write_tracks(work / "late", "late", LATE)

    incremental = work / "incremental.duckdb"
    target = Target(name="duckdb", kind="duckdb", duckdb_path=incremental)
    load_folder(sample, target)
    load_folder(on_time, target)
    run_dbt(incremental, work, "build", *PROFILE_BUILD)
    load_folder(late, target)
    run_dbt(incremental, work, "build", *PROFILE_BUILD)

    full = work / "full.duckdb"
    for folder in (sample, on_time, late):
        load_folder(folder, Target(name="duckdb", kind="duckdb", duckdb_path=full))
    run_dbt(full, work, "build", *PROFILE_BUILD)

    with duckdb.connect(str(incremental), read_only=True) as connection:
        def rows(sql: str) -> list[tuple]:
            return connection.execute(sql).fetchall()

        people = dict(rows(
            "select identifier_value, profile_id from identity.identity_map "
            "where identifier_type = 'anonymous_id' and identifier_value like 'late-%'"))
        sessions = {
            person: rows(
                "select session_number, strftime(started_at, '%m-%d %H:%M'), strftime(ended_at, '%m-%d %H:%M'), "
                "event_count, _processed_at = (select max(_processed_at) from profiles.sessions) "
                f"from profiles.sessions where profile_id = '{profile_id}' order by session_number")
            for person, profile_id in people.items()
        }
        days = {
            person: rows(
                "select strftime(event_date, '%m-%d'), event_name, event_count from profiles.profile_event_daily "
                f"where profile_id = '{profile_id}' order by 1, 2")
            for person, profile_id in people.items()
        }
        rewritten = {
            table: rows(
                f"select count(*) from {table} where _processed_at = (select max(_processed_at) from {table})")[0][0]
            for table in COMPARED
        }
    return {"incremental": _tables(incremental), "full": _tables(full), "sessions": sessions, "days": days,
            "rewritten": rewritten}


@pytest.mark.parametrize("table", sorted(COMPARED))
def test_late_events_give_the_full_build(builds: dict, table: str) -> None:
    assert builds["incremental"][table] == builds["full"][table]


def test_a_late_event_between_two_sessions_joins_them(builds: dict) -> None:
    # The session of 10-01 is kept (not rewritten), the two of 10-10 become one, the 14:00 one is renumbered.
    assert builds["sessions"]["late-bridge"] == [
        (1, "10-01 09:00", "10-01 09:00", 1, False),
        (2, "10-10 10:00", "10-10 11:00", 5, True),
        (3, "10-10 14:00", "10-10 14:00", 1, True),
    ]


def test_a_late_event_before_the_first_session_renumbers_them(builds: dict) -> None:
    assert builds["sessions"]["late-first"] == [
        (1, "10-19 23:50", "10-19 23:50", 1, True),
        (2, "10-20 10:00", "10-20 10:00", 1, True),
        (3, "10-21 10:00", "10-21 10:00", 1, True),
    ]


def test_a_message_delivered_again_moves_to_its_new_profile_and_day(builds: dict) -> None:
    assert builds["sessions"]["late-from"] == [(1, "10-10 12:00", "10-10 12:00", 1, False)]
    assert builds["days"]["late-from"] == [("10-10", "Product Viewed", 1)]
    assert builds["sessions"]["late-to"] == [(1, "10-11 09:00", "10-11 09:10", 2, True)]
    assert builds["days"]["late-to"] == [("10-11", "Product Added", 1), ("10-11", "Product Viewed", 1)]


def test_a_late_event_weeks_before_every_other_change_renumbers_its_sessions(builds: dict) -> None:
    assert builds["sessions"]["late-far"] == [
        (1, "09-05 10:00", "09-05 10:00", 1, True),
        (2, "10-25 10:00", "10-25 10:00", 1, True),
        (3, "10-26 10:00", "10-26 10:00", 1, True),
    ]
    assert builds["days"]["late-far"] == [
        ("09-05", "Product Viewed", 1), ("10-25", "Product Viewed", 1), ("10-26", "Product Viewed", 1)]


def test_a_merge_rewrites_the_merged_profiles_old_sessions_and_days(builds: dict) -> None:
    merged = [
        (1, "10-02 08:00", "10-02 08:00", 1, True),
        (2, "10-03 08:00", "10-03 08:00", 1, True),
        (3, "10-27 08:00", "10-27 08:00", 1, True),
    ]
    assert builds["sessions"]["late-merge-a"] == builds["sessions"]["late-merge-b"] == merged
    assert builds["days"]["late-merge-a"] == [
        ("10-02", "Product Viewed", 1), ("10-03", "Product Viewed", 1), ("10-27", "Product Viewed", 1)]


def test_the_late_batch_rewrote_only_what_it_touched(builds: dict) -> None:
    assert builds["rewritten"] == {
        # the five late events, and the two older events of the merged profiles (restitched)
        "profiles.int_profiles__events": 5 + 2,
        # bridge: the joined session and the one after it; first: all three; to: its one session;
        # far: all three; merged: all three
        "profiles.sessions": 6 + 3 + 3,
        # the touched days only: bridge 10-10 (three event names), first 10-19, to 10-11 (two); from 10-12
        # is gone; far 09-05; merged: all three
        "profiles.profile_event_daily": 3 + 1 + 2 + 1 + 3,
    }
