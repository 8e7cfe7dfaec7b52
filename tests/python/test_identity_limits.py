"""Identity edge cases on hand-made data: per-profile limits hold across a whole component (two users,
or six emails, joined only through other identifiers; the cuts are audited), and a late-arriving
identifier older than a profile's anchor does not change the profile's id."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.contract import TABLES
from orchestration.loader import load_folder
from orchestration.warehouse import Target
from tests.python.helpers import run_dbt

SELECTION = ["--select", "+identity_map", "+identity_rule_audit", "+identity_edges", "+profile_merges"]
START = datetime(2026, 10, 1, 12, 0, 0)


def _identify(number: int, anonymous_id: str | None, user_id: str | None, email: str,
              delivered_late_by: timedelta = timedelta(0)) -> dict:
    at = START + timedelta(hours=number)
    received = at + timedelta(seconds=1) + delivered_late_by
    return {"id": f"m{number}", "anonymous_id": anonymous_id, "user_id": user_id, "timestamp": at,
            "sent_at": received, "received_at": received, "traits": json.dumps({"email": email})}


def _load_and_build(folder: Path, database: Path, work: Path) -> dict[str, str]:
    """Load a folder, build identity, and return identifier -> profile id."""
    load_folder(folder, Target(name="duckdb", kind="duckdb", duckdb_path=database))
    run_dbt(database, work, "build", *SELECTION)
    with duckdb.connect(str(database), read_only=True) as connection:
        return dict(connection.execute(
            "select identifier_type || ':' || identifier_value, profile_id from identity.identity_map"
        ).fetchall())


def _write(folder: Path, rows: list[dict]) -> None:
    """An identifies file, and empty files for every other table so all raw tables exist."""
    folder.mkdir(parents=True)
    for name, table in TABLES.items():
        columns = {column.name: [] for column in table.columns}
        if name == "identifies":
            columns = {column.name: [row.get(column.name) for row in rows] for column in table.columns}
        arrays = {
            column.name: pa.array(
                columns[column.name],
                type=pa.timestamp("us") if column.type == "timestamp" else (
                    pa.decimal128(18, 4) if column.type == "decimal" else (
                        pa.int64() if column.type == "integer" else pa.string())),
            )
            for column in table.columns
        }
        pq.write_table(pa.table(arrays), folder / f"{name}.parquet")


def test_two_users_joined_through_other_identifiers_stay_apart(tmp_path: Path) -> None:
    # u1 - e1@ - shared cookie - e2@ - u2: no identifier links two user_ids directly, so the
    # per-identifier limit does not fire; the component would hold two user_ids.
    rows = [
        _identify(1, "cookie-u1", "u1", "e1@example.com"),
        _identify(2, "cookie-u1", "u1", "e1@example.com"),
        _identify(3, "shared-cookie", None, "e1@example.com"),
        _identify(4, "shared-cookie", None, "e2@example.com"),
        _identify(5, "cookie-u2", "u2", "e2@example.com"),
    ]
    _write(tmp_path / "raw", rows)
    database = tmp_path / "limits.duckdb"
    profile = _load_and_build(tmp_path / "raw", database, tmp_path)
    with duckdb.connect(str(database), read_only=True) as connection:
        audited = connection.execute(
            "select count(*) from identity.identity_rule_audit where rule_name = 'limit' "
            "and reason like '%per-profile limit%'"
        ).fetchone()[0]
        edges = connection.execute("select count(*) from identity.identity_edges").fetchone()[0]
        links = connection.execute(
            "select count(*) from identity.int_identity__links_ruled where is_kept"
        ).fetchone()[0]
    assert profile["user_id:u1"] != profile["user_id:u2"]
    assert profile["email:e1@example.com"] == profile["user_id:u1"]
    assert profile["email:e2@example.com"] == profile["user_id:u2"]
    assert profile["anonymous_id:cookie-u1"] == profile["user_id:u1"]
    assert audited == 1
    assert edges == links - 1


def test_a_late_older_identifier_does_not_change_the_profile_id(tmp_path: Path) -> None:
    database = tmp_path / "late.duckdb"
    first = _load_and_build(_folder(tmp_path, "batch_1", [_identify(10, "cookie-new", "u1", "u1@example.com")]),
                            database, tmp_path)
    original = first["user_id:u1"]
    # An event from an older cookie of the same user, delivered twelve days late: its identifier is
    # now the oldest of the profile.
    late = [_identify(1, "cookie-old", "u1", "u1@example.com", delivered_late_by=timedelta(days=12))]
    second = _load_and_build(_folder(tmp_path, "batch_2", late), database, tmp_path)
    assert second["anonymous_id:cookie-old"] == second["user_id:u1"] == original
    with duckdb.connect(str(database), read_only=True) as connection:
        retired = connection.execute(
            "select count(*) from identity.identity_profile_registry where retired_at is not null"
        ).fetchone()[0]
    assert retired == 0


def _folder(root: Path, name: str, rows: list[dict]) -> Path:
    _write(root / name, rows)
    return root / name


def test_a_profile_never_holds_more_emails_than_the_limit(tmp_path: Path) -> None:
    # No single identifier links more than 4 emails, but together the component would hold 6 > 5:
    # the weakest email (fewest observations) leaves with its territory.
    number = iter(range(1, 100))
    rows = []
    for email in ("e1", "e2", "e3"):
        rows += [_identify(next(number), "cookie-u1", "u1", f"{email}@example.com") for _ in range(2)]
    for email, times in (("e4", 2), ("e5", 2), ("e6", 1)):
        rows += [_identify(next(number), "shared", None, f"{email}@example.com") for _ in range(times)]
    rows.append(_identify(next(number), "shared", "u1", "e1@example.com"))
    database = tmp_path / "emails.duckdb"
    profile = _load_and_build(_folder(tmp_path, "raw", rows), database, tmp_path)
    emails_of_u1 = {
        key for key, value in profile.items() if key.startswith("email:") and value == profile["user_id:u1"]
    }
    assert emails_of_u1 == {f"email:e{n}@example.com" for n in range(1, 6)}
    assert profile["email:e6@example.com"] != profile["user_id:u1"]
    assert profile["anonymous_id:shared"] == profile["user_id:u1"]
    with duckdb.connect(str(database), read_only=True) as connection:
        cuts = connection.execute(
            "select identifier_value_a, identifier_value_b from identity.identity_rule_audit "
            "where reason like '%per-profile limit%' order by all"
        ).fetchall()
    assert cuts == [("e6@example.com", "shared")] or cuts == [("shared", "e6@example.com")]


def _graph_state(database: Path) -> dict[str, object]:
    """The identity tables a batch maintains incrementally; components as the partition they form."""
    with duckdb.connect(str(database), read_only=True) as connection:
        groups: dict[int, set[int]] = {}
        for node_id, component_id in connection.execute(
            "select node_id, component_id from identity.int_identity__components_limited"
        ).fetchall():
            groups.setdefault(component_id, set()).add(node_id)
        return {
            "limited": frozenset(frozenset(group) for group in groups.values()),
            "map": set(connection.execute(
                "select identifier_type, identifier_value, profile_id, first_seen_at, last_seen_at "
                "from identity.identity_map").fetchall()),
            "edges": set(connection.execute("select * from identity.identity_edges").fetchall()),
            "ruled": set(connection.execute("select * from identity.int_identity__links_ruled").fetchall()),
            "limit_cuts": set(connection.execute("select * from identity.int_identity__limit_cuts").fetchall()),
        }


def test_a_limit_a_later_batch_breaks_is_enforced_incrementally(tmp_path: Path) -> None:
    """The second user arrives in a later batch: the incremental run splits the component exactly as a
    --full-refresh of the same warehouse does, and a third batch that strengthens the second user
    keeps it so."""
    database = tmp_path / "limits.duckdb"
    batches = [
        [_identify(1, "cookie-u1", "u1", "e1@example.com"), _identify(2, "cookie-u1", "u1", "e1@example.com"),
         _identify(3, "shared-cookie", None, "e1@example.com")],
        [_identify(4, "shared-cookie", None, "e2@example.com"), _identify(5, "cookie-u2", "u2", "e2@example.com")],
        [_identify(6 + n, "cookie-u2", "u2", "e2@example.com") for n in range(3)],
    ]
    for number, rows in enumerate(batches, start=1):
        profile = _load_and_build(_folder(tmp_path, f"batch_{number}", rows), database, tmp_path)
        check = tmp_path / f"check_{number}.duckdb"
        check.write_bytes(database.read_bytes())
        run_dbt(check, tmp_path, "build", "--full-refresh", *SELECTION)
        assert _graph_state(database) == _graph_state(check), number
    assert profile["user_id:u1"] != profile["user_id:u2"]
    assert profile["email:e2@example.com"] == profile["user_id:u2"]
