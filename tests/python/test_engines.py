"""Cross-engine equivalence: the same sample data, loaded in the same two batches, gives the same
identity map, profiles, consent, segment memberships and change feeds on DuckDB and on PostgreSQL
(the project's own server). Tables are compared as multisets of rows; floats within a tolerance."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime
from decimal import Decimal

import pytest

from orchestration.loader import load_folder
from orchestration.sample_data import generate
from orchestration.warehouse import Target, connect
from tests.python.helpers import run_dbt, split_into_batches

CUTS = ("2026-08-01",)
AS_OF = ("2026-08-01", "2026-11-01")
FLOAT_DIGITS = 6  # floats compare to 6 significant digits (engines sum in different orders)

# What is compared, as SQL that runs on both engines. Columns that name the run (run ids, the
# wall-clock time of the build) differ by nature and are left out; so is definition_version, an MD5 of
# the segment's SQL as compiled for each engine (its SQL differs by dispatch).
COMPARED = {
    "identity_map": "select identifier_type, identifier_value, profile_id, first_seen_at, last_seen_at "
                    "from identity.identity_map",
    "profiles": "select * from profiles.profiles",
    "profile_traits": "select * from profiles.profile_traits",
    "profile_consent": "select * from profiles.profile_consent",
    "segment_memberships": "select segment_name, profile_id, is_holdout, priority_group, is_activatable "
                           "from segments.segment_memberships",
    "segment_membership_changes": "select changes.segment_name, changes.profile_id, changes.change_type, "
                                  "changes.is_activatable, runs.run_number from segments.segment_membership_changes "
                                  "as changes inner join ({runs}) as runs on changes.run_id = runs.run_id",
    "activation_email": "select activation_id, segment_name, profile_id, email from activation.activation_email",
    "activation_ads": "select activation_id, segment_name, profile_id, hashed_email, hashed_phone "
                      "from activation.activation_ads",
}
# The change feed's runs, numbered in build order (its run ids are the engines' own invocation ids).
RUNS = ("select run_id, row_number() over (order by min(changed_at)) as run_number "
        "from segments.segment_membership_changes group by run_id")
# Columns stamped with the build's wall-clock time or run id, per table.
RUN_STAMPED = {
    "profiles": {"updated_at", "_processed_at"},
    "profile_traits": {"computed_at", "_processed_at"},
    "profile_consent": {"computed_at", "_processed_at"},
}


def _normalise(value: object) -> object:
    if isinstance(value, float | Decimal):
        number = float(value)
        return 0.0 if number == 0 else round(number, FLOAT_DIGITS - 1 - int(math.floor(math.log10(abs(number)))))
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(target: Target, name: str) -> tuple[list[str], Counter]:
    with connect(target) as warehouse:
        cursor_sql = COMPARED[name].replace("{runs}", RUNS)
        if warehouse.kind == "duckdb":
            result = warehouse.connection.execute(cursor_sql)
            columns = [d[0] for d in result.description]
            rows = result.fetchall()
        else:
            with warehouse.connection.cursor() as cursor:
                cursor.execute(cursor_sql)
                columns = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
    keep = [i for i, column in enumerate(columns) if column not in RUN_STAMPED.get(name, set())]
    return [columns[i] for i in keep], Counter(tuple(_normalise(row[i]) for i in keep) for row in rows)


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory: pytest.TempPathFactory, pg_server) -> dict[str, Target]:
    work = tmp_path_factory.mktemp("engines")
    sample = work / "sample"
    generate(sample, people=400, seed=23, end_date=date(2026, 11, 1), days=365)
    batches = split_into_batches(sample, work / "batches", CUTS)
    targets = {
        "duckdb": Target(name="duckdb", kind="duckdb", duckdb_path=work / "warehouse.duckdb"),
        "postgres": pg_server.database("engines"),
    }
    for engine, target in targets.items():
        for folder, as_of in zip(batches, AS_OF, strict=True):
            load_folder(folder, target)
            run_dbt(target, work / engine, "build", "--vars", f"{{as_of: '{as_of}'}}")
    return targets


@pytest.mark.parametrize("name", sorted(COMPARED))
def test_duckdb_and_postgres_give_identical_results(both_engines: dict[str, Target], name: str) -> None:
    duck_columns, duck_rows = _rows(both_engines["duckdb"], name)
    pg_columns, pg_rows = _rows(both_engines["postgres"], name)
    assert duck_columns == pg_columns
    assert sum(duck_rows.values()) > 0, f"{name} is empty: the comparison would prove nothing"
    only_duckdb = duck_rows - pg_rows
    only_postgres = pg_rows - duck_rows
    assert not only_duckdb and not only_postgres, (
        f"{name}: {sum(only_duckdb.values())} rows only on DuckDB, e.g. {list(only_duckdb)[:3]}; "
        f"{sum(only_postgres.values())} only on PostgreSQL, e.g. {list(only_postgres)[:3]}"
    )
