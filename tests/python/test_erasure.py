"""Erasure end to end, on DuckDB and on PostgreSQL: a deletion request keyed by one identifier erases the whole person
from every table (raw, staging, identity with its history and merge log, profiles), leaving only
salted hashes; new data about the person arriving later is suppressed; nobody else is touched."""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from orchestration.loader import load_folder
from tests.python.helpers import built_sample_warehouse, open_query, person_hits, person_identity, run_dbt

AS_OF = ["--vars", "{as_of: '2026-11-01'}"]
NEW_ANONYMOUS_ID = "anon-after-erasure-7f3c"


def _salted(identifier_type: str, value: str) -> str:
    salt = os.environ["SEGMENTATION_ERASURE_SALT"]
    return hashlib.sha256(f"{salt}:{identifier_type}:{value}".encode()).hexdigest()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def erased(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp(f"erasure_{request.param}")
    target = built_sample_warehouse(request, work, "erasure", people=300, seed=21, days=365, build_args=AS_OF)

    with open_query(target) as query:
        profile_id = query(
            """
            select profile_id from identity.identity_map
            where profile_id in (select profile_id from profiles.int_profiles__orders)
              and profile_id in (select profile_id from segments.segment_memberships)
            group by profile_id
            having count(distinct identifier_type) >= 5 and count(*) filter (where identifier_type = 'phone') > 0
            order by count(*) desc, profile_id
            limit 1
            """
        )[0][0]
        identifiers, node_ids = person_identity(query, profile_id)
        map_before = set(query("select identifier_type, identifier_value, profile_id from identity.identity_map"))
        profiles_before = set(query("select * from profiles.profiles"))
        segments_before = {row[0] for row in query(
            "select segment_name from segments.segment_memberships where profile_id = ?", [profile_id])}
    hits_before = person_hits(target, identifiers, node_ids, profile_id)

    # The request names the person's email in another casing with stray spaces.
    email = next(value for kind, value in identifiers if kind == "email")
    requests = work / "requests"
    requests.mkdir()
    (requests / "deletion_requests.csv").write_text(
        "request_id,identifier_type,identifier_value,requested_at,source\n"
        f"req-test-1,Email,  {email.upper()} ,2026-11-02T09:00:00Z,support\n"
    )
    load_folder(requests, target)
    run_dbt(target, work, "build", *AS_OF)
    log = (work / "logs" / "dbt.log").read_text()
    erasure_statements = _node_statements(log[log.rfind("Running with dbt="):],
                                          "model.segmentation.privacy_suppressions")
    with open_query(target) as query:
        # Identifiers that shared a row with the erased person, for the next identity run to recompute.
        dirty_after_erasure = query("select count(*) from identity_work.identity_dirty_identifiers")[0][0]
        work_tables = {row[0] for row in query(
            "select table_name from information_schema.tables where table_schema = 'privacy_work'")}
        map_after = set(query("select identifier_type, identifier_value, profile_id from identity.identity_map"))
        profiles_after = set(query("select * from profiles.profiles"))
        suppressed = set(query("select identifier_type, identifier_hash from privacy.privacy_suppressions"))
        removed = {row[0] for row in query(
            "select segment_name from segments.segment_membership_changes "
            "where profile_id = ? and change_type = 'removed'", [profile_id])}
        log = query(
            "select relation_name, sum(rows_affected) from privacy.privacy_erasure_log "
            "where erasure_action = 'deleted' group by 1"
        )
    hits_after = person_hits(target, identifiers, node_ids, profile_id)

    # Later, the person comes back on a new device and gives the same email.
    returning = work / "returning"
    returning.mkdir()
    (returning / "identifies.jsonl").write_text(
        '{"id": "ret-1", "anonymous_id": "' + NEW_ANONYMOUS_ID + '", "user_id": null, '
        '"timestamp": "2026-11-03T10:00:00Z", '
        '"received_at": "2026-11-03T10:00:01Z", "sent_at": "2026-11-03T10:00:00Z", '
        '"traits": "{\\"email\\": \\"' + email + '\\"}"}\n'
    )
    (returning / "tracks.jsonl").write_text(
        '{"id": "ret-2", "anonymous_id": "' + NEW_ANONYMOUS_ID + '", "user_id": null, '
        '"timestamp": "2026-11-03T10:05:00Z", '
        '"received_at": "2026-11-03T10:05:01Z", "sent_at": "2026-11-03T10:05:00Z", "event": "Product Viewed", '
        '"properties": "{}"}\n'
    )
    load_folder(returning, target)
    run_dbt(target, work, "build", *AS_OF)
    with open_query(target) as query:
        suppressed_later = dict(query("select identifier_hash, reason from privacy.privacy_suppressions"))
        reconciled = query("select bool_and(is_reconciled) from staging.staging_reconciliation")[0][0]
        map_final = set(query("select identifier_type, identifier_value, profile_id from identity.identity_map"))
    hits_returning = person_hits(target, [*identifiers, ("anonymous_id", NEW_ANONYMOUS_ID)], node_ids, profile_id)
    return {
        "profile_id": profile_id, "identifiers": identifiers, "map_before": map_before, "map_after": map_after,
        "profiles_before": profiles_before, "profiles_after": profiles_after, "suppressed": suppressed,
        "hits_before": hits_before, "hits_after": hits_after,
        "suppressed_later": suppressed_later, "reconciled": reconciled, "map_final": map_final,
        "hits_returning": hits_returning, "segments_before": segments_before, "removed": removed,
        "log_sums": {relation: int(rows) for relation, rows in log},
        "target": target, "work": work, "dirty_after_erasure": dirty_after_erasure,
        "erasure_statements": erasure_statements, "work_tables": work_tables,
    }


def _node_statements(log: str, node_id: str) -> list[str]:
    """The SQL statements dbt's debug log shows run by one node (each `On <node>: <sql>` entry, up to
    the next log line)."""
    entries = re.split(r"\n(?=\S*\d\d:\d\d:\d\d\.\d+ \[)", log)
    prefix = f"On {node_id}: "
    return [entry.split(prefix, 1)[1] for entry in entries if prefix in entry]


def test_the_scan_finds_the_person_before_the_request(erased: dict) -> None:
    """The scan is able to see the person: raw, staging, identity and profiles all hold them at first."""
    schemas = {hit.split(".")[0] for hit in erased["hits_before"]}
    assert {"raw", "staging", "identity", "profiles"} <= schemas, erased["hits_before"]
    assert len({kind for kind, _ in erased["identifiers"]}) >= 5


def test_after_one_run_no_identifier_of_the_person_remains_anywhere(erased: dict) -> None:
    assert erased["hits_after"] == []


def test_only_salted_hashes_of_the_identifiers_remain(erased: dict) -> None:
    for identifier_type, value in erased["identifiers"]:
        assert (identifier_type, _salted(identifier_type, value)) in erased["suppressed"], identifier_type


def test_nobody_else_is_touched(erased: dict) -> None:
    person = {row for row in erased["map_before"] if row[2] == erased["profile_id"]}
    assert len(person) == len(erased["identifiers"])
    assert erased["map_after"] == erased["map_before"] - person
    gone = {row for row in erased["profiles_before"] if row[0] == erased["profile_id"]}
    assert erased["profiles_after"] == erased["profiles_before"] - gone


def test_the_erasure_log_counts_what_was_deleted(erased: dict) -> None:
    for relation in ("raw.identifies", "raw.deletion_requests", "staging.base_segment__identifies",
                     "identity.identity_map", "identity.identity_profile_registry", "profiles.profiles"):
        assert erased["log_sums"].get(relation, 0) > 0, relation


def test_new_data_about_an_erased_person_is_suppressed(erased: dict) -> None:
    assert erased["hits_returning"] == []
    assert not any(value == NEW_ANONYMOUS_ID for _, value, _ in erased["map_final"])
    assert erased["map_final"] == erased["map_after"]
    assert erased["suppressed_later"].get(_salted("anonymous_id", NEW_ANONYMOUS_ID)) == "same_person"
    assert erased["reconciled"] is True


def test_the_change_feed_removes_the_person_from_their_segments(erased: dict) -> None:
    assert erased["segments_before"]
    assert erased["removed"] == erased["segments_before"]


def test_identity_inputs_after_erasures_equal_a_rebuild(erased: dict) -> None:
    """After the erasures, an incremental run of the identity graph (which recomputes the identifiers
    that shared rows with the erased person, and what depends on them) holds exactly the rows of a
    rebuild from the remaining data. Runs last: it rebuilds the identity models in the fixture's warehouse."""
    target, work = erased["target"], erased["work"]
    select = ["--select", "+identity_map", "+identity_edges", *AS_OF]
    columns = {
        "identity.int_identity__identifiers": "node_id, identifier_type, identifier_value, first_seen_at, "
                                              "last_seen_at, observations, source_count, is_blocked, block_reason",
        "identity.int_identity__links": "node_a, node_b, first_seen_at, last_seen_at, observations, is_forced, "
                                        "source_models",
        "identity.int_identity__links_ruled": "node_a, node_b, observations, cut_by_rule, cut_reason, is_kept",
        "identity.identity_edges": "identifier_type_a, identifier_value_a, identifier_type_b, identifier_value_b, "
                                   "observations",
        "identity.identity_map": "identifier_type, identifier_value, profile_id, first_seen_at, last_seen_at",
    }

    def snapshot() -> dict[str, set[tuple]]:
        with open_query(target) as query:
            return {table: set(query(f"select {names} from {table}")) for table, names in columns.items()}

    run_dbt(target, work, "build", *select)
    incremental = snapshot()
    run_dbt(target, work, "build", "--full-refresh", *select)
    rebuilt = snapshot()
    for table in columns:
        assert incremental[table] - rebuilt[table] == set(), table
        assert rebuilt[table] - incremental[table] == set(), table
    # The equality is not vacuous: the erased person shared rows with identifiers that stay.
    assert erased["dirty_after_erasure"] > 0


def test_the_erasure_reads_the_identifies_view_once(erased: dict) -> None:
    """The identifies view extracts email, phone, crm_id and customer_id from JSON: the erasure copies
    its key and identifier columns once, and both of its readers (the rows linked through JSON, the
    identity note of rows shared with the erased person) select from that copy, one select per
    identifier. The copy is dropped in the same run; the person is gone all the same (tests above)."""
    statements = erased["erasure_statements"]
    assert statements, "no statement of privacy_suppressions in dbt.log"
    readers = [statement for statement in statements if re.search(r'from\s+\S*"stg_segment__identifies"', statement)]
    assert len(readers) == 1, readers
    assert re.search(r"create\s+temporary\s+table\s+erasure_staged__stg_segment__identifies as select message_id,",
                     readers[0]), readers[0][:300]
    copy_reads = [statement for statement in statements
                  if re.search(r"from erasure_staged__stg_segment__identifies where email in", statement)]
    assert any("identity_erased_rows_1" in statement for statement in copy_reads)
    assert any("erasure_rows__base_segment__identifies" in statement for statement in copy_reads)
    assert any(re.search(r"drop table if exists erasure_staged__stg_segment__identifies\s*$", statement)
               for statement in statements[statements.index(readers[0]):])
    assert not any("erasure_staged__" in table for table in erased["work_tables"])
