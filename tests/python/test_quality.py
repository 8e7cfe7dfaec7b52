"""Great Expectations quality suites on DuckDB: clean sample data passes every suite; each injected
violation fails its checkpoint and names the offending rows; results are recorded for passing and
failing runs."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.loader import load_folder
from orchestration.quality.runner import RESULTS_TABLE, QualityReport, run_quality
from orchestration.sample_data import generate
from orchestration.warehouse import Target
from tests.python.helpers import run_dbt


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("quality")
    sample = work / "sample"
    generate(sample, people=300, seed=17, end_date=date(2026, 11, 1), days=365)
    database = work / "warehouse.duckdb"
    load_folder(sample, Target(name="duckdb", kind="duckdb", duckdb_path=database))
    run_dbt(database, work, "build", "--vars", "{as_of: '2026-11-01'}")
    # An email a valid deletion request named: the warehouse keeps only its salted hash.
    requests = sample / "deletion_requests.parquet"
    with duckdb.connect() as connection:
        candidates = [row[0] for row in connection.execute(
            f"select distinct lower(trim(identifier_value)) from read_parquet('{requests}') "
            "where lower(trim(identifier_type)) = 'email' and identifier_value like '%@%' "
            "and request_id is not null and requested_at is not null"
        ).fetchall()]
    with duckdb.connect(str(database), read_only=True) as connection:
        suppressed = {row[0] for row in connection.execute(
            "select identifier_hash from privacy.privacy_suppressions where identifier_type = 'email'").fetchall()}
    salt = os.environ["SEGMENTATION_ERASURE_SALT"]
    erased_email = next(
        email for email in candidates
        if hashlib.sha256(f"{salt}:email:{email}".encode()).hexdigest() in suppressed
    )
    return {"work": work, "database": database, "erased_email": erased_email}


def _run(built: dict, name: str, damage: str | None = None) -> tuple[QualityReport, Path]:
    """Copy the warehouse, apply `damage` (SQL), run every suite on the copy."""
    database = built["work"] / f"{name}.duckdb"
    shutil.copy(built["database"], database)
    if damage:
        with duckdb.connect(str(database)) as connection:
            connection.execute(damage)
    target = Target(name="duckdb", kind="duckdb", duckdb_path=database)
    return run_quality(target, docs_dir=built["work"] / f"docs_{name}"), database


def _published(database: Path) -> tuple[int, int]:
    """Rows external tools can read (activation_published) and rows built (activation), email table."""
    with duckdb.connect(str(database), read_only=True) as connection:
        return (
            connection.execute("select count(*) from activation_published.activation_email").fetchone()[0],
            connection.execute("select count(*) from activation.activation_email").fetchone()[0],
        )


def _failed(report: QualityReport) -> dict[tuple[str, str], list[str]]:
    return {(o.dataset, o.column): o.unexpected_keys for o in report.failed()}


def test_activation_is_published_only_after_the_consent_guard_passed(built: dict) -> None:
    assert _published(built["database"])[0] == 0  # built, not yet checked
    _, database = _run(built, "publish")
    published, activation = _published(database)
    assert published == activation > 0


def test_clean_sample_data_passes_every_suite(built: dict) -> None:
    report, database = _run(built, "clean")
    assert report.failed() == [], report.failed()
    assert report.critical_passed
    assert {o.suite for o in report.outcomes} == {"raw_and_staging", "identity", "profiles", "consent_guard"}
    assert report.docs_index.exists()
    with duckdb.connect(str(database), read_only=True) as connection:
        recorded = connection.execute(
            f"select count(*), bool_and(success) from {RESULTS_TABLE} where run_id = ?", [report.run_id]).fetchone()
    assert recorded == (len(report.outcomes), True)


def test_an_opted_out_profile_in_activation_email_fails_the_consent_guard(built: dict) -> None:
    damage = """
        insert into activation.activation_email (activation_id, segment_name, profile_id, email, updated_at)
        select 'injected-opt-out', 'vip_rfm', consent.profile_id, 'someone@example.com', now()
        from profiles.profile_consent as consent
        where consent.purpose = 'email_marketing' and not consent.is_granted
        limit 1
    """
    report, database = _run(built, "opted_out", damage)
    assert not report.critical_passed
    assert _failed(report)[("activation_rows", "has_required_consent")] == ["activation_email:injected-opt-out"]
    with duckdb.connect(str(database), read_only=True) as connection:
        failed = connection.execute(
            f"select suite_name, unexpected_keys from {RESULTS_TABLE} where run_id = ? and not success",
            [report.run_id]).fetchall()
    assert ("consent_guard", "activation_email:injected-opt-out") in failed
    assert _published(database)[0] == 0  # the failed guard keeps the whole build unpublished


def test_an_erased_email_in_activation_fails_the_consent_guard(built: dict) -> None:
    email = built["erased_email"]
    damage = f"""
        insert into activation.activation_email (activation_id, segment_name, profile_id, email, updated_at)
        select 'injected-erased', segment_name, profile_id, '{email}', now()
        from activation.activation_email limit 1
    """
    report, _ = _run(built, "erased", damage)
    assert not report.critical_passed
    assert _failed(report)[("activation_rows", "is_suppressed_identifier")] == ["activation_email:injected-erased"]


def test_a_duplicated_identifier_in_identity_map_fails_the_identity_suite(built: dict) -> None:
    damage = """
        insert into identity.identity_map
        select identifier_type, identifier_value, 'prof_injected_duplicate', first_seen_at, last_seen_at
        from identity.identity_map where identifier_type = 'email' limit 1
    """
    report, _ = _run(built, "duplicate", damage)
    failed = _failed(report)
    assert ("identity_map", "identifier_type,identifier_value") in failed
    assert any("prof_injected_duplicate" in key for key in failed[("identity_map", "identifier_type,identifier_value")])
    assert report.critical_passed  # the identity suite warns; it does not block activation


def test_a_malformed_ad_hash_fails_the_consent_guard(built: dict) -> None:
    damage = """
        update activation.activation_ads set hashed_email = 'not-a-sha256'
        where activation_id = (select min(activation_id) from activation.activation_ads)
    """
    report, database = _run(built, "malformed", damage)
    with duckdb.connect(str(database), read_only=True) as connection:
        damaged = connection.execute("select min(activation_id) from activation.activation_ads").fetchone()[0]
    assert not report.critical_passed
    assert _failed(report)[("activation_rows", "hashed_value")] == [f"activation_ads:{damaged}"]
