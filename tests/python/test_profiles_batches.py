"""Profiles built incrementally over several batches equal one full build: sessions (late events land
in the right session, merged profiles' sessions merge), daily event counts, traits, consent, the golden
record. Traits are evaluated as of a fixed date so both builds see the same windows.

Profile ids are compared through the people they stand for: an id is issued from the oldest identifier
known when the profile first appears, so when an older identifier of a person arrives in a later batch
the incremental warehouse keeps the id it issued (ids are stable) while a build from scratch derives it
from that older identifier. Everything else must be identical."""

from __future__ import annotations

import re
from datetime import date

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import PROFILE_LAYER, run_dbt, split_into_batches

AS_OF = ["--vars", "{as_of: '2026-11-01'}"]
PROFILE_BUILD = [*PROFILE_LAYER, *AS_OF]
CUTS = ("2026-05-01", "2026-08-01", "2026-10-01")
# Lineage differs between the two builds (load time), everything else must be equal.
COMPARED = {
    "profiles.int_profiles__events": "* exclude (_loaded_at, _processed_at)",
    "profiles.sessions": "* exclude (_max_loaded_at, session_id, _processed_at)",
    "profiles.profile_event_daily": "* exclude (_max_loaded_at, _processed_at)",
    "profiles.profile_traits": "* exclude (_processed_at)",
    "profiles.profile_consent": "* exclude (_processed_at)",
    "profiles.profile_consent_history": "* exclude (_processed_at)",
    "profiles.profiles": "* exclude (_processed_at)",
    "profiles.profiles_pseudonymised": "* exclude (_processed_at)",
    "profiles.int_profiles__identity": "* exclude (_processed_at)",
    "profiles.int_profiles__orders": "* exclude (_loaded_at, _processed_at)",
    "profiles.int_profiles__attribute_candidates": "* exclude (_processed_at)",
}

IDENTITY_COLUMNS = "identifier_type, identifier_value, profile_id, first_seen_at, last_seen_at"
INCREMENTAL = ("profiles.int_profiles__events", "profiles.sessions", "profiles.profile_event_daily")
# The per-profile marts: the last batch rewrites exactly the profiles int_profiles__mart_changes logged.
PER_PROFILE = (
    "profiles.int_profiles__identity", "profiles.int_profiles__orders", "profiles.int_profiles__attribute_candidates",
    "profiles.profile_consent_history", "profiles.profiles", "profiles.profiles_pseudonymised",
    "profiles.profile_consent",
)


def _tables(database, rename: dict[str, str] | None = None) -> dict[str, set]:
    """Each compared table as a set of rows, with profile ids translated through `rename`."""
    rename = rename or {}
    tables = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        for table, columns in COMPARED.items():
            cursor = connection.execute(f"select {columns} from {table}")
            position = [column[0] for column in cursor.description].index("profile_id")
            tables[table] = {
                (*row[:position], rename.get(row[position], row[position]), *row[position + 1:])
                for row in cursor.fetchall()
            }
    return tables


def _people(database) -> dict[str, frozenset]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select profile_id, identifier_type, identifier_value from identity.identity_map").fetchall()
    people: dict[str, set] = {}
    for profile_id, identifier_type, identifier_value in rows:
        people.setdefault(profile_id, set()).add((identifier_type, identifier_value))
    return {profile_id: frozenset(identifiers) for profile_id, identifiers in people.items()}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("profile_batches")
    sample = work / "sample"
    generate(sample, people=300, seed=8, end_date=date(2026, 11, 1), days=365)
    folders = split_into_batches(sample, work, CUTS)

    incremental = work / "incremental.duckdb"
    for folder in folders:
        if folder == folders[-1]:
            with duckdb.connect(str(incremental), read_only=True) as connection:
                before_last = connection.execute(
                    "select max(_loaded_at), max(_processed_at) from profiles.int_profiles__events").fetchone()
                identity_before = set(
                    connection.execute(f"select {IDENTITY_COLUMNS} from identity.identity_map").fetchall())
        load_folder(folder, Target(name="duckdb", kind="duckdb", duckdb_path=incremental))
        run_dbt(incremental, work, "build", *PROFILE_BUILD)

    # Only the first build copies identity_map whole; the incremental runs apply their diff to the copy.
    log = (work / "logs" / "dbt.log").read_text()
    copies = len(re.findall(r"create table \S+identity_map__previous\S* as select", log))
    # profile_consent_history's incremental runs: the changed identifiers filter the consent events.
    consent_filters = len(re.findall(
        r"trim\(event\) = 'Segment Consent Preference Updated'\s+and \(user_id in \(select identifier_value", log))

    # What the last batch's run rewrote in the incremental profile models (the rest was kept).
    rewritten = {}
    with duckdb.connect(str(incremental), read_only=True) as connection:
        for table in INCREMENTAL:
            rewritten[table] = connection.execute(
                f"select count(*) filter (where _processed_at = (select max(_processed_at) from {table})), "
                f"count(distinct profile_id) filter (where _processed_at = (select max(_processed_at) from {table})), "
                f"count(*), count(distinct profile_id) from {table}").fetchone()
        # identity_map rows the last run added or removed, and the copy int_profiles__mart_changes keeps.
        identity_after = set(connection.execute(f"select {IDENTITY_COLUMNS} from identity.identity_map").fetchall())
        identity_copy = connection.execute(f"""
            select
                (select count(*) from (
                    select {IDENTITY_COLUMNS} from identity.identity_map
                    except all
                    select {IDENTITY_COLUMNS} from profiles_work.identity_map__previous)),
                (select count(*) from (
                    select {IDENTITY_COLUMNS} from profiles_work.identity_map__previous
                    except all
                    select {IDENTITY_COLUMNS} from identity.identity_map)),
                (select count(*) from profiles_work.identity_map__previous),
                (select count(*) from information_schema.tables
                 where table_schema = 'profiles_work' and table_name = 'identity_map__diff')""").fetchone()
        # The profiles the last run logged as changed, and per mart the profiles it rewrote and holds.
        last_run = connection.execute("select max(changed_at) from profiles.int_profiles__mart_changes").fetchone()[0]
        logged = {row[0] for row in connection.execute(
            "select profile_id from profiles.int_profiles__mart_changes where changed_at = $run", {"run": last_run}
        ).fetchall()}
        per_profile = {
            table: (
                {row[0] for row in connection.execute(
                    f"select distinct profile_id from {table} where _processed_at = $run", {"run": last_run}
                ).fetchall()},
                {row[0] for row in connection.execute(f"select distinct profile_id from {table}").fetchall()},
            )
            for table in (*PER_PROFILE, "profiles.profile_traits")
        }
        # The events the last batch brought, the events of the profiles whose identity it changed, and what
        # the models built on the events hold for the profiles that got events (what they rewrote before).
        last_batch = connection.execute(
            """
            with

            changed as (
                select profile_id from profiles.int_profiles__identity_changes where changed_at > $processed
            ),

            touched as (
                select distinct profile_id from profiles.int_profiles__events
                where _processed_at = (select max(_processed_at) from profiles.int_profiles__events)
            )

            select
                count(*) filter (where _loaded_at > $loaded),
                count(*) filter (where profile_id in (select profile_id from changed)),
                count(*) filter (where _loaded_at > $loaded or profile_id in (select profile_id from changed)),
                (select count(*) from profiles.sessions where profile_id in (select profile_id from touched)),
                (select count(*) from profiles.profile_event_daily where profile_id in (select profile_id from touched))
            from profiles.int_profiles__events
            """, {"loaded": before_last[0], "processed": before_last[1]}).fetchone()

    full = work / "full.duckdb"
    load_folder(sample, Target(name="duckdb", kind="duckdb", duckdb_path=full))
    run_dbt(full, work, "build", *PROFILE_BUILD)

    batched_people, full_people = _people(incremental), _people(full)
    full_id_of = {identifiers: profile_id for profile_id, identifiers in full_people.items()}
    rename = {profile_id: full_id_of.get(identifiers, profile_id) for profile_id, identifiers in batched_people.items()}
    return {
        "after_batches": _tables(incremental, rename), "full": _tables(full),
        "batched_people": set(batched_people.values()), "full_people": set(full_people.values()),
        "rewritten": rewritten, "last_batch": dict(zip(
            ("new_events", "restitched_events", "new_or_restitched", "touched_sessions", "touched_daily"),
            last_batch, strict=True)),
        "logged": logged, "per_profile": per_profile, "identity_copy": identity_copy, "identity_copies": copies,
        "consent_filters": consent_filters,
        # Erased identifiers leave identity_map and the copy in the erasure itself, which deletes their
        # profiles' rows everywhere: the profiles of the rows added, and of the rows removed whose
        # identifier is still mapped (moved, merged, seen again).
        "identity_changed": {row[2] for row in identity_after - identity_before} | {
            row[2] for row in identity_before - identity_after
            if row[:2] in {(after[0], after[1]) for after in identity_after}},
        "renamed": sum(1 for old, new in rename.items() if old != new),
    }


def test_batches_and_full_build_find_the_same_people(builds: dict) -> None:
    assert len(builds["full_people"]) > 100
    assert builds["batched_people"] == builds["full_people"]
    # Only profiles whose oldest identifier arrived late keep a different (older) id.
    assert builds["renamed"] <= len(builds["full_people"]) // 20


@pytest.mark.parametrize("table", sorted(COMPARED))
def test_batches_equal_one_full_build(builds: dict, table: str) -> None:
    batched, full = builds["after_batches"][table], builds["full"][table]
    assert len(full) > 100, table
    assert batched - full == set(), table
    assert full - batched == set(), table


@pytest.mark.parametrize("table", INCREMENTAL)
def test_the_last_batch_rewrote_only_the_profiles_it_touched(builds: dict, table: str) -> None:
    rows, profiles, total_rows, total_profiles = builds["rewritten"][table]
    assert 0 < profiles < total_profiles * 0.8, (table, profiles, total_profiles)
    assert 0 < rows < total_rows * 0.8, (table, rows, total_rows)


def test_the_last_batch_rewrote_its_new_events_not_whole_profiles(builds: dict) -> None:
    last = builds["last_batch"]
    events_rewritten = builds["rewritten"]["profiles.int_profiles__events"][0]
    # Exactly the events loaded in the batch plus those of the profiles whose identity it changed.
    assert events_rewritten == last["new_or_restitched"], last
    assert 0 < last["new_events"] <= events_rewritten <= last["new_events"] + last["restitched_events"], last
    # Sessions and days: only those at or after the earliest change of a profile, far fewer than
    # the profiles with new events hold (which the batch rewrote entirely before).
    sessions_rewritten = builds["rewritten"]["profiles.sessions"][0]
    daily_rewritten = builds["rewritten"]["profiles.profile_event_daily"][0]
    assert sessions_rewritten <= last["touched_sessions"] // 3, (sessions_rewritten, last)
    assert daily_rewritten <= last["touched_daily"] // 3, (daily_rewritten, last)


def test_the_identity_map_copy_follows_each_run_and_its_changes_are_logged(builds: dict) -> None:
    """int_profiles__mart_changes keeps its copy of identity_map by applying each run's diff to it: after
    three incremental runs the copy holds exactly identity_map's rows, the diff table is gone, and every
    profile of a row the last run added or changed (old and new profile of a moved identifier) is logged."""
    missing, extra, copied, diff_tables = builds["identity_copy"]
    assert (missing, extra, diff_tables) == (0, 0, 0), builds["identity_copy"]
    assert copied > 100
    assert builds["identity_copies"] == 1, builds["identity_copies"]
    assert builds["identity_changed"], "the last batch changed no identity_map row"
    assert builds["identity_changed"] <= builds["logged"], builds["identity_changed"] - builds["logged"]


@pytest.mark.parametrize("table", PER_PROFILE)
def test_the_last_batch_rewrote_exactly_the_changed_profiles(builds: dict, table: str) -> None:
    written, held = builds["per_profile"][table]
    # Every logged profile the mart holds rows for was rewritten, and no other profile.
    assert written == builds["logged"] & held, table
    assert 0 < len(written) < len(held) * 0.8, (table, len(written), len(held))


def test_the_last_batch_rewrote_the_traits_of_the_changed_profiles_only(builds: dict) -> None:
    # The logged profiles, those with new or moved events and the buyers whose RFM scores moved.
    written, held = builds["per_profile"]["profiles.profile_traits"]
    assert builds["logged"] & held <= written
    assert 0 < len(written) < len(held) * 0.8, (len(written), len(held))


def test_the_consent_history_filters_the_consent_events_before_reading_their_json(builds: dict) -> None:
    """Each incremental run after the first build reads the consent decisions of the changed profiles
    only: their identifiers filter the consent events before the JSON is cut into a row per purpose
    (not the decisions after). The rows are those of a full build (test_batches_equal_one_full_build)
    and the changed profiles' rows are rewritten (test_the_last_batch_rewrote_exactly_the_changed_profiles)."""
    rewritten, held = builds["per_profile"]["profiles.profile_consent_history"]
    assert rewritten and len(rewritten) < len(held), (len(rewritten), len(held))
    assert builds["consent_filters"] == len(CUTS), builds["consent_filters"]
