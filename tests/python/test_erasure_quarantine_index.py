"""The erasure's token index of quarantined raw rows, on DuckDB and on PostgreSQL.

The erasure finds quarantined raw rows that mention an erased identifier anywhere in their text through
a token index kept between runs (docs/privacy.md). These tests build a warehouse, erase people over
several runs and check that the index never lets a row escape: a quarantined row loaded long before the
request, a row that was staged when the index was built and became quarantined later, and a row of a
new load; that the erasure log counts what disappeared; and that a --full-refresh rebuilds exactly the
index the incremental runs kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestration.loader import load_folder
from orchestration.warehouse import Target
from tests.python.helpers import PROJECT_ROOT, built_sample_warehouse, open_query, run_dbt

AS_OF = ["--vars", "{as_of: '2026-11-01'}"]
INDEX = "privacy_work.quarantine_tokens__base_segment__tracks"
INDEXED_ROWS = "privacy_work.quarantine_rows__base_segment__tracks"
KEY = "_load_id, _file_name, _file_row_number"


def _track(message_id: str, anonymous_id: str, received_at: str, event: str | None, note: str) -> str:
    return json.dumps({
        "id": message_id, "anonymous_id": anonymous_id, "user_id": None, "timestamp": received_at,
        "received_at": received_at, "sent_at": received_at, "event": event,
        "properties": json.dumps({"note": note}),
    }) + "\n"


def _load(target: Target, folder: Path, files: dict[str, str]) -> None:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    load_folder(folder, target)


def _requests(*emails: str, request_id: str) -> dict[str, str]:
    lines = [f"{request_id}-{index},email,{email},2026-11-02T09:00:00Z,support" for index, email in enumerate(emails)]
    return {"deletion_requests.csv": "request_id,identifier_type,identifier_value,requested_at,source\n"
            + "\n".join(lines) + "\n"}


def _spaced(phone: str) -> str:
    """The phone as someone would type it in a free-text field: digit groups split by spaces."""
    return f"{phone[:3]} {phone[3:7]} {phone[7:]}"


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp(f"quarantine_index_{request.param}")
    target = built_sample_warehouse(request, work, "quarantine_index", people=120, seed=7, days=120,
                                    build_args=AS_OF)

    with open_query(target) as query:
        # Five people with an email (the last one also with a phone), one identifier per type each.
        people = query(
            """
            select profile_id, min(identifier_value) filter (where identifier_type = 'email'),
                   min(identifier_value) filter (where identifier_type = 'phone')
            from identity.identity_map
            group by profile_id
            having count(*) filter (where identifier_type = 'email') = 1
               and count(*) filter (where identifier_type = 'phone') <= 1
            order by count(*) filter (where identifier_type = 'phone'), profile_id
            """
        )
    with_phone = [row for row in people if row[2] is not None]
    first, b, c, e = people[:4]
    d = with_phone[0]

    # Old quarantined rows (no event name) mentioning b and e, a control row mentioning nobody, and a
    # staged delivery whose text mentions c.
    _load(target, work / "old", {"tracks.jsonl": "".join([
        _track("q-old-b", "anon-q-old-b", "2026-10-10T10:00:00Z", None, f"wrote from {b[1].upper()}"),
        _track("q-old-e", "anon-q-old-e", "2026-10-10T10:00:00Z", None, f"call {e[1]} later"),
        _track("q-old-keep", "anon-q-old-keep", "2026-10-10T10:00:00Z", None, "nobody@nowhere.example"),
        _track("msg-requarantine", "anon-q-c", "2026-10-20T10:00:01Z", "Product Viewed", f"cc {c[1]}"),
    ])})
    run_dbt(target, work, "build", *AS_OF)
    # The first erasure indexes every quarantined row, the old ones included.
    _load(target, work / "first", _requests(first[1], request_id="req-first"))
    run_dbt(target, work, "build", *AS_OF)
    with open_query(target) as query:
        indexed_first = {tuple(row) for row in query(f"select {KEY} from {INDEXED_ROWS}")}
        requarantine_first = query(
            f"select {KEY}, rejection_reason from staging.base_segment__tracks where message_id = 'msg-requarantine'")

    # A redelivery received earlier makes the indexed-while-staged row a duplicate; a new quarantined
    # row mentions d's phone, spaced.
    _load(target, work / "later", {"tracks.jsonl": "".join([
        _track("msg-requarantine", "anon-q-c", "2026-10-20T09:00:00Z", "Product Viewed", "redelivered"),
        _track("q-new-d", "anon-q-new-d", "2026-10-25T10:00:00Z", None, f"phone {_spaced(d[2])}"),
    ])})
    _load(target, work / "second", _requests(b[1], c[1], d[1], request_id="req-second"))

    def counts(query) -> dict[str, int]:
        return {
            "raw": query("select count(*) from raw.tracks")[0][0],
            "base": query("select count(*) from staging.base_segment__tracks")[0][0],
            "logged_raw": query("select coalesce(sum(rows_affected), 0) from privacy.privacy_erasure_log "
                                "where relation_name = 'raw.tracks' and erasure_action = 'deleted'")[0][0],
            "logged_base": query("select coalesce(sum(rows_affected), 0) from privacy.privacy_erasure_log "
                                 "where relation_name = 'staging.base_segment__tracks' "
                                 "and erasure_action = 'deleted'")[0][0],
        }

    with open_query(target) as query:
        before_second = counts(query)
    run_dbt(target, work, "build", *AS_OF)
    # Which dbt node wrote tokens into the index in that run (the query comment names the node).
    log = (work / "logs" / "dbt.log").read_text()
    second_log = log[log.rfind("Running with dbt="):]
    indexed_by = set(re.findall(
        r'"node_id": "([^"]+)"\} \*/\s+insert into \S*quarantine_tokens__(\w+)', second_log))
    manifest = json.loads((work / f"target_{PROJECT_ROOT.name}" / "manifest.json").read_text())
    with open_query(target) as query:
        after_second = counts(query)
        index_status = {row[0]: row[1:] for row in query(
            "select base_model, indexed_rows, tokens from privacy.privacy_quarantine_index")}
        remaining = query("select id, _load_id from raw.tracks where id like 'q-%' or id = 'msg-requarantine'")
        tokens = query(f"select token_kind, token from {INDEX}")
        quarantined = {tuple(row) for row in query(
            f"select {KEY} from staging.base_segment__tracks where rejection_reason is not null")}
        indexed = {tuple(row) for row in query(f"select {KEY} from {INDEXED_ROWS}")}
        index_before_refresh = {tuple(row) for row in query(f"select {KEY}, token_kind, token from {INDEX}")}

    # A full refresh drops the index; its erasure (of e, mentioned by an old row) rebuilds it.
    _load(target, work / "third", _requests(e[1], request_id="req-third"))
    run_dbt(target, work, "build", "--full-refresh", *AS_OF)
    with open_query(target) as query:
        remaining_after_refresh = {row[0] for row in query("select id from raw.tracks where id like 'q-%'")}
        quarantined_after_refresh = {tuple(row) for row in query(
            f"select {KEY} from staging.base_segment__tracks where rejection_reason is not null")}
        indexed_after_refresh = {tuple(row) for row in query(f"select {KEY} from {INDEXED_ROWS}")}
        index_after_refresh = {tuple(row) for row in query(f"select {KEY}, token_kind, token from {INDEX}")}
    return {
        "people": {"b": b, "c": c, "d": d, "e": e}, "indexed_first": indexed_first,
        "requarantine_first": requarantine_first, "before_second": before_second, "after_second": after_second,
        "remaining": remaining, "tokens": tokens, "quarantined": quarantined, "indexed": indexed,
        "index_before_refresh": index_before_refresh, "remaining_after_refresh": remaining_after_refresh,
        "quarantined_after_refresh": quarantined_after_refresh, "indexed_after_refresh": indexed_after_refresh,
        "index_after_refresh": index_after_refresh, "indexed_by": indexed_by, "manifest": manifest,
        "index_status": index_status,
    }


def test_the_first_erasure_indexed_the_old_rows_and_the_staged_delivery_was_not(runs: dict) -> None:
    """The scenario is the one meant: the old rows were in the index before the later requests, and
    the delivery that later became a duplicate was staged (so not indexed) then."""
    [(load_id, file_name, row_number, reason)] = runs["requarantine_first"]
    assert reason is None
    assert (load_id, file_name, row_number) not in runs["indexed_first"]
    assert len(runs["indexed_first"]) >= 3


def test_quarantined_rows_mentioning_people_erased_later_are_erased(runs: dict) -> None:
    ids = [row[0] for row in runs["remaining"]]
    assert "q-old-b" not in ids  # loaded and indexed long before the request
    assert "q-new-d" not in ids  # a new load, the phone written with spaces
    assert "q-old-keep" in ids  # mentions nobody
    # Of the two deliveries of msg-requarantine, the old one (quarantined since the redelivery, and
    # mentioning c) is erased; the redelivery, staged and mentioning nobody, stays.
    assert ids.count("msg-requarantine") == 1
    [(old_load, _, _, _)] = runs["requarantine_first"]
    assert [load for message, load in runs["remaining"] if message == "msg-requarantine"] != [old_load]


def test_the_index_keeps_no_token_of_the_erased_people(runs: dict) -> None:
    people = runs["people"]
    erased_tokens = {("text", people[name][1].lower()) for name in ("b", "c", "d")}
    erased_tokens.add(("phone", re.sub(r"\D", "", people["d"][2])[-9:]))
    assert erased_tokens & set(runs["tokens"]) == set()
    assert ("text", "nobody@nowhere.example") in set(runs["tokens"])


def test_every_quarantined_row_is_indexed(runs: dict) -> None:
    assert runs["quarantined"] <= runs["indexed"]


def test_the_log_counts_what_the_erasure_deleted(runs: dict) -> None:
    """The raw rows that disappeared are the ones logged, and so many base rows are logged too (the run
    also staged the later load, so the base table's own difference does not tell)."""
    before, after = runs["before_second"], runs["after_second"]
    deleted_raw = before["raw"] - after["raw"]
    assert deleted_raw >= 3  # q-old-b, q-new-d, the old delivery of msg-requarantine, d's own events
    assert after["logged_raw"] - before["logged_raw"] == deleted_raw
    assert after["logged_base"] - before["logged_base"] == deleted_raw
    assert after["base"] == after["raw"]  # every remaining raw row keeps its base row, none more


def test_a_full_refresh_rebuilds_the_index_the_runs_kept(runs: dict) -> None:
    assert "q-old-e" not in runs["remaining_after_refresh"]
    assert "q-old-keep" in runs["remaining_after_refresh"]
    # Rebuilt from scratch: exactly the rows quarantined now, with the tokens the incremental runs
    # had recorded for them.
    assert runs["indexed_after_refresh"] == runs["quarantined_after_refresh"]
    kept = {row for row in runs["index_before_refresh"] if row[:3] in runs["indexed_after_refresh"]}
    assert runs["index_after_refresh"] == kept
    assert kept


def test_the_index_is_kept_up_to_date_beside_the_identity_models_not_by_the_erasure(runs: dict) -> None:
    """The run with a new quarantined row (q-new-d) indexed it in privacy_quarantine_index's hook, a
    node that reads only base tables (so dbt runs it beside the identity models); the erasure, which
    waits for it and runs alone, wrote no token."""
    assert ("model.segmentation.privacy_quarantine_index", "base_segment__tracks") in runs["indexed_by"]
    assert {node for node, _ in runs["indexed_by"]} == {"model.segmentation.privacy_quarantine_index"}
    nodes = runs["manifest"]["nodes"]

    def ancestors(unique_id: str) -> set[str]:
        found: set[str] = set()
        pending = [unique_id]
        while pending:
            for parent in nodes.get(pending.pop(), {}).get("depends_on", {}).get("nodes", []):
                if parent not in found:
                    found.add(parent)
                    pending.append(parent)
        return found

    index_parents = ancestors("model.segmentation.privacy_quarantine_index")
    assert {"model.segmentation.base_segment__tracks", "model.segmentation.base_shop__orders"} <= index_parents
    assert not [node for node in index_parents if node.split(".")[-1].startswith(("int_identity", "identity_"))]
    assert "model.segmentation.privacy_quarantine_index" in ancestors("model.segmentation.privacy_suppressions")
    # Its counts are taken before the erasure removes the erased rows' entries.
    indexed_rows, tokens = runs["index_status"]["base_segment__tracks"]
    assert indexed_rows >= len(runs["indexed"]) > 0
    assert tokens > indexed_rows
