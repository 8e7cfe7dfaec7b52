"""The erasure's key sets (docs/privacy.md), on DuckDB and on PostgreSQL.

The erasure reads its key sets once (erased profile ids, the batch's values per identifier type, its
node ids): small sets go into the deletes as literals, larger ones stay subqueries, and an empty set
leaves its conditions out. These tests erase one person with every set kept as a subquery (var
identity_literal_keys_max 0) and another with literals, and check that neither leaves a trace; and that
a request naming nobody (no erased profile, so every profile-keyed condition is left out) deletes only
the request itself while logging the same tables as a real erasure, with zeros."""

from __future__ import annotations

import pytest

from orchestration.loader import load_folder
from orchestration.warehouse import Target
from tests.python.helpers import built_sample_warehouse, open_query, person_hits, person_identity, run_dbt

AS_OF = "as_of: '2026-11-01'"
UNKNOWN_EMAIL = "nobody.known@erasure.invalid"
REQUEST_TABLES = {"raw.deletion_requests", "staging.base_privacy__deletion_requests"}


def _erase(target: Target, work, name: str, email: str, variables: str) -> dict[str, int]:
    """Loads a request naming `email`, runs `dbt build` and returns the run's erasure log: rows
    deleted per table."""
    with open_query(target) as query:
        runs_before = {row[0] for row in query("select distinct run_id from privacy.privacy_erasure_log")}
    folder = work / name
    folder.mkdir()
    (folder / "deletion_requests.csv").write_text(
        "request_id,identifier_type,identifier_value,requested_at,source\n"
        f"req-{name},email,{email},2026-11-02T09:00:00Z,support\n"
    )
    load_folder(folder, target)
    run_dbt(target, work, "build", "--vars", "{" + variables + "}")
    with open_query(target) as query:
        rows = query("select run_id, relation_name, sum(rows_affected) from privacy.privacy_erasure_log "
                     "where erasure_action = 'deleted' group by run_id, relation_name")
    return {relation: int(deleted) for run_id, relation, deleted in rows if run_id not in runs_before}


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp(f"erasure_key_sets_{request.param}")
    target = built_sample_warehouse(request, work, "erasure_key_sets", people=80, seed=13, days=90,
                                    build_args=["--vars", "{" + AS_OF + "}"])
    with open_query(target) as query:
        chosen = query(
            """
            select profile_id, min(identifier_value) filter (where identifier_type = 'email')
            from identity.identity_map
            group by profile_id
            having count(*) filter (where identifier_type = 'email') = 1 and count(distinct identifier_type) >= 3
            order by count(*) desc, profile_id
            limit 2
            """
        )
        people = {name: (profile_id, email, *person_identity(query, profile_id))
                  for name, (profile_id, email) in zip(("subqueries", "literals"), chosen, strict=True)}

    nobody = _erase(target, work, "nobody", UNKNOWN_EMAIL, AS_OF)
    subqueries = _erase(target, work, "subqueries", people["subqueries"][1], AS_OF + ", identity_literal_keys_max: 0")
    literals = _erase(target, work, "literals", people["literals"][1], AS_OF)
    hits = {}
    for name, (profile_id, _, identifiers, node_ids) in people.items():
        hits[name] = person_hits(target, identifiers, node_ids, profile_id)
    return {"people": people, "nobody": nobody, "subqueries": subqueries, "literals": literals, "hits": hits}


def test_the_people_chosen_have_several_identifiers(runs: dict) -> None:
    for _, _, identifiers, node_ids in runs["people"].values():
        assert len({kind for kind, _ in identifiers}) >= 3
        assert node_ids


def test_both_forms_of_the_key_sets_erase_the_person_everywhere(runs: dict) -> None:
    assert runs["hits"] == {"subqueries": [], "literals": []}
    for name in ("subqueries", "literals"):
        for relation in ("identity.identity_map", "identity.identity_profile_registry", "profiles.profiles",
                         "profiles.int_profiles__events"):
            assert runs[name].get(relation, 0) > 0, (name, relation)


def test_a_request_naming_nobody_deletes_only_the_request(runs: dict) -> None:
    nobody = runs["nobody"]
    assert {relation: deleted for relation, deleted in nobody.items() if deleted} == dict.fromkeys(REQUEST_TABLES, 1)


def test_tables_whose_conditions_were_left_out_are_logged_with_zeros(runs: dict) -> None:
    """The log lists a table whatever the batch holds: a table whose conditions all matched an empty
    set (here every profile-keyed table) is logged with 0, as a delete of no rows was. (Later runs may
    log more tables: the profile models create work tables as they go.)"""
    for relation in ("profiles.profiles", "profiles.int_profiles__events", "profiles.sessions",
                     "identity.identity_map", "identity.identity_profile_registry"):
        assert runs["nobody"][relation] == 0, relation
    assert set(runs["nobody"]) <= set(runs["subqueries"])
    assert set(runs["nobody"]) <= set(runs["literals"])
