"""Segments over several runs: the change feed is exact (applying run N's changes to run N-1's
memberships gives run N's), also across identity merges and an erasure; history agrees with the
memberships; holdouts are deterministic; priorities hold; bad definitions fail the build clearly."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration import segment_models
from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import DBT, copy_project, run_dbt, split_into_batches

CUTS = ("2026-05-01", "2026-08-01", "2026-10-01")
AS_OF = ("2026-05-01", "2026-08-01", "2026-10-01", "2026-11-01")


def _state(database: Path) -> dict:
    with duckdb.connect(str(database), read_only=True) as connection:
        members = set(connection.execute(
            "select segment_name, profile_id from segments.segment_memberships").fetchall())
        open_stays = set(connection.execute(
            "select segment_name, profile_id from segments.segment_membership_history where exited_at is null"
        ).fetchall())
        last_run = connection.execute(
            "select run_id from segments.segment_size_history order by measured_at desc limit 1").fetchone()[0]
        changes = connection.execute(
            "select segment_name, profile_id, change_type from segments.segment_membership_changes where run_id = ?",
            [last_run],
        ).fetchall()
        erased = {row[0] for row in connection.execute(
            "select profile_id from privacy.privacy_erased_profiles").fetchall()}
        profiles = {row[0] for row in connection.execute("select profile_id from profiles.profiles").fetchall()}
        merged_away = {row[0] for row in connection.execute(
            "select profile_id from identity.profile_merges where change_type = 'merge'").fetchall()}
        memberships = connection.execute(
            "select segment_name, profile_id, is_holdout, priority_group, is_activatable "
            "from segments.segment_memberships").fetchall()
        # Activation rows whose person lacks a consent their segment or destination needs, is held out,
        # is suppressed by priority, or was erased: there must be none.
        violations = connection.execute(
            """
            with activation as (
                select 'email' as destination, segment_name, profile_id from activation.activation_email
                union all select 'ads', segment_name, profile_id from activation.activation_ads
                union all select 'crm', segment_name, profile_id from activation.activation_crm
            ),
            required as (
                select activation.*, catalog.consent_purposes || case destination
                    when 'email' then ',email_marketing' when 'ads' then ',advertising' else '' end as purposes
                from activation
                inner join segments.segment_catalog as catalog using (segment_name)
            ),
            purposes as (
                select destination, segment_name, profile_id, unnest(string_split(purposes, ',')) as purpose
                from required
            )
            select destination, segment_name, profile_id, 'no consent: ' || purposes.purpose
            from purposes
            left join profiles.profile_consent as consent using (profile_id, purpose)
            where not coalesce(consent.is_granted, false)
            union all
            select destination, segment_name, profile_id, 'not activatable'
            from activation
            left join segments.segment_memberships as memberships using (segment_name, profile_id)
            where not coalesce(memberships.is_activatable, false)
            union all
            select destination, segment_name, profile_id, 'erased'
            from activation
            where profile_id in (select profile_id from privacy.privacy_erased_profiles)
            """
        ).fetchall()
        ads_hash_mismatch = connection.execute(
            "select count(*) from activation.activation_ads as ads inner join profiles.profiles using (profile_id) "
            "where ads.hashed_email is distinct from sha256(lower(trim(profiles.email)))"
        ).fetchone()[0]
        activation_rows = set(connection.execute(
            "select activation_id, updated_at from activation.activation_email "
            "union all select activation_id, updated_at from activation.activation_ads").fetchall())
        activation_count = connection.execute(
            "select (select count(*) from activation.activation_email)"
            " + (select count(*) from activation.activation_ads)"
            " + (select count(*) from activation.activation_crm)").fetchone()[0]
    return {"members": members, "open_stays": open_stays, "changes": changes, "erased": erased,
            "profiles": profiles, "merged_away": merged_away, "memberships": memberships,
            "violations": violations, "ads_hash_mismatch": ads_hash_mismatch, "activation_rows": activation_rows,
            "activation_count": activation_count}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("segments")
    sample = work / "sample"
    generate(sample, people=400, seed=13, end_date=date(2026, 11, 1), days=365)
    folders = split_into_batches(sample, work, CUTS)
    database = work / "warehouse.duckdb"
    target = Target(name="duckdb", kind="duckdb", duckdb_path=database)
    states = []
    outputs = []
    for index, (folder, as_of) in enumerate(zip(folders, AS_OF, strict=True)):
        if index == 2:
            # Erase a current segment member: the feed must say "removed" for each of their segments.
            member = sorted(states[-1]["members"])[0][1]
            with duckdb.connect(str(database), read_only=True) as connection:
                user = connection.execute(
                    "select identifier_type, identifier_value from identity.identity_map where profile_id = ? "
                    "order by identifier_type limit 1", [member]).fetchone()
            (folder / "deletion_requests__erase_member.csv").write_text(
                "request_id,identifier_type,identifier_value,requested_at,source\n"
                f"req-seg-1,{user[0]},{user[1]},2026-09-01T00:00:00Z,support\n")
        load_folder(folder, target)
        outputs.append(run_dbt(database, work, "build", "--vars", f"{{as_of: '{as_of}'}}"))
        states.append(_state(database))
    # The same data and as-of moment again: nothing may change.
    run_dbt(database, work, "build", "--vars", f"{{as_of: '{AS_OF[-1]}'}}")
    return {"states": states, "erased_member": member, "rerun": _state(database), "outputs": outputs}


def test_changes_turn_the_previous_memberships_into_the_current_ones(runs: dict) -> None:
    states = runs["states"]
    assert len(states[0]["members"]) > 50
    previous: set = set()
    for state in states:
        added = {(s, p) for s, p, change in state["changes"] if change == "added"}
        removed = {(s, p) for s, p, change in state["changes"] if change == "removed"}
        updated = {(s, p) for s, p, change in state["changes"] if change == "updated"}
        assert added.isdisjoint(previous)
        assert removed <= previous
        assert updated <= previous & state["members"]
        assert (previous - removed) | added == state["members"]
        previous = state["members"]


def test_people_move_in_and_out_as_time_passes(runs: dict) -> None:
    kinds = [{change for _, _, change in state["changes"]} for state in runs["states"][1:]]
    assert all({"added", "removed"} <= changes for changes in kinds), kinds


def test_merged_and_erased_profiles_leave_their_segments(runs: dict) -> None:
    states = runs["states"]
    erased = runs["erased_member"]
    assert states[-1]["merged_away"], "the batches should merge some profiles"
    assert erased in states[2]["erased"]
    removed_erased = {s for s, p, change in states[2]["changes"] if p == erased and change == "removed"}
    assert removed_erased == {s for s, p in states[1]["members"] if p == erased}
    for state in states:
        ids = {p for _, p in state["members"]}
        assert ids <= state["profiles"]
        assert ids.isdisjoint(state["erased"] | state["merged_away"])


def test_history_open_stays_are_the_current_memberships(runs: dict) -> None:
    for state in runs["states"]:
        assert state["open_stays"] == state["members"]


HOLDOUT_PERCENT = {"cart_abandoners_24h": 10, "churn_risk": 10}


def test_holdout_is_a_deterministic_hash_of_profile_and_segment(runs: dict) -> None:
    held_out = 0
    for state in runs["states"]:
        for segment, profile, is_holdout, _, activatable in state["memberships"]:
            bucket = int(hashlib.md5(f"{profile}:{segment}".encode()).hexdigest()[:8], 16) % 100
            assert is_holdout == (bucket < HOLDOUT_PERCENT.get(segment, 0)), (segment, profile)
            assert not (is_holdout and activatable)
            held_out += is_holdout
    assert held_out > 0


def test_a_person_is_activatable_for_one_segment_per_priority_group(runs: dict) -> None:
    seen: dict = {}
    suppressed = 0
    for _, profile, is_holdout, group, activatable in runs["states"][-1]["memberships"]:
        if group is None:
            continue
        seen.setdefault((group, profile), []).append((activatable, is_holdout))
    for decisions in seen.values():
        assert sum(1 for activatable, _ in decisions if activatable) <= 1
        suppressed += sum(1 for activatable, holdout in decisions if not activatable and not holdout)
    assert suppressed > 0


def test_a_bad_segment_definition_fails_the_build_naming_the_problem(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    definitions = project / "models" / "segments" / "definitions"
    (definitions / "seg_broken.sql").write_text("select profile_id from {{ ref('profiles') }}\n")
    (definitions / "_broken.yml").write_text(
        "version: 2\nmodels:\n  - name: seg_broken\n    config:\n      meta:\n        segment:\n"
        "          name: churn_risk\n          description: a copy\n          purposes: [telepathy]\n")
    segment_models.write(
        memberships=project / "models" / "segments" / "segment_memberships.sql", definitions=definitions)
    completed = subprocess.run(
        [DBT, "compile", "--select", "segment_memberships", "--project-dir", str(project),
         "--profiles-dir", str(project)],
        cwd=project, capture_output=True, text=True, timeout=600,
        env={**os.environ, "SEGMENTATION_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
             "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "logs")},
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert "seg_broken" in output
    assert "segment name 'churn_risk' is already used by" in output
    assert "meta.segment.owner is missing" in output
    assert "unknown consent purpose 'telepathy'" in output


def test_no_activation_row_without_consent_or_for_holdout_or_erased_people(runs: dict) -> None:
    assert sum(state["activation_count"] for state in runs["states"]) > 50
    for state in runs["states"]:
        assert state["violations"] == []
        assert state["ads_hash_mismatch"] == 0


def test_a_rerun_with_nothing_new_changes_nothing(runs: dict) -> None:
    rerun, last = runs["rerun"], runs["states"][-1]
    assert rerun["changes"] == []
    assert rerun["members"] == last["members"]
    assert rerun["activation_rows"] == last["activation_rows"]


def test_size_monitors_warn_without_failing_the_build(runs: dict) -> None:
    """The builds succeeded (run_dbt checks), and the warn-level monitors spoke when segments jumped or
    emptied between runs."""
    warned = "\n".join(line for output in runs["outputs"] for line in output.splitlines() if "WARN" in line)
    assert "segment_size_change_within" in warned
    assert "segment_not_empty" in warned
