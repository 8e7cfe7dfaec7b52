"""Project hygiene that a reviewer would otherwise check by hand: SQL style, Python lint, the contract
files being generated from the contract, and every quarantine reason having a unit test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestration import contract_docs, segment_models

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _model_yaml_files() -> list[Path]:
    return sorted((PROJECT_ROOT / "models").rglob("_*__models.yml"))


def test_sql_has_zero_sqlfluff_violations(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SEGMENTATION_DUCKDB_PATH": str(tmp_path / "lint.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    completed = subprocess.run(
        [str(BIN / "sqlfluff"), "lint", "models", "tests/dbt", "--format", "json", "--nofail"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    report = json.loads(completed.stdout)
    linted = [entry["filepath"] for entry in report]
    violations = [
        f"{entry['filepath']}:{v['start_line_no']} {v['code']} {v['description']}"
        for entry in report
        for v in entry["violations"]
    ]
    assert len(linted) >= 20, completed.stderr[-2000:]
    assert violations == []


def test_python_is_ruff_clean() -> None:
    completed = subprocess.run(
        [str(BIN / "ruff"), "check", "orchestration", "tests"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout


def test_sources_yaml_and_contract_doc_are_generated_from_the_contract() -> None:
    assert contract_docs.drift() == []


def test_contract_drift_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drift check is real: an edited copy of a generated file is reported."""
    doc = tmp_path / "data-contract.md"
    doc.write_text(contract_docs.DOC_PATH.read_text().replace("| `event` |", "| `event_name` |"))
    monkeypatch.setattr(contract_docs, "DOC_PATH", doc)
    assert contract_docs.drift() == [doc]


def test_every_quarantine_reason_has_a_unit_test_case() -> None:
    """Each reason a quarantine model accepts is produced by at least one dbt unit test's expected rows."""
    declared: dict[str, set[str]] = {}
    produced: set[str] = set()
    for path in _model_yaml_files():
        document = yaml.safe_load(path.read_text())
        for model in document.get("models", []):
            for column in model.get("columns", []):
                if column["name"] != "quarantine_reason":
                    continue
                for test in column.get("data_tests", []):
                    if isinstance(test, dict) and "accepted_values" in test:
                        declared[model["name"]] = set(test["accepted_values"]["arguments"]["values"])
        for unit_test in document.get("unit_tests", []):
            for row in unit_test["expect"]["rows"]:
                if row.get("rejection_reason"):
                    produced.add(row["rejection_reason"])
    assert len(declared) == 8
    uncovered = {model: reasons - produced for model, reasons in declared.items() if reasons - produced}
    assert uncovered == {}


def _test_name(test: str | dict) -> str:
    """The generic test's name of a data_tests entry: `unique` or `{unique: {config: ...}}`."""
    return test if isinstance(test, str) else next(iter(test))


def test_every_model_documents_its_grain_and_primary_key() -> None:
    documented: dict[str, dict] = {}
    for path in _model_yaml_files():
        for model in yaml.safe_load(path.read_text()).get("models", []):
            documented[model["name"]] = model
    sql_models = {p.stem for p in (PROJECT_ROOT / "models").rglob("*.sql")}
    assert sql_models - set(documented) == set()
    for name, model in documented.items():
        assert model.get("description", "").startswith("One row per"), name
        if name.startswith(("stg_", "quarantine_")) and name != "stg_segment__consent_preferences":
            key_tests = [
                column["name"]
                for column in model.get("columns", [])
                if {"unique", "not_null"} <= {_test_name(test) for test in column.get("data_tests", [])}
            ]
            assert key_tests, f"{name} has no column tested unique + not_null"


def test_segment_memberships_depends_on_every_segment_model() -> None:
    assert segment_models.segment_models(), "no segment models found"
    assert segment_models.is_current(), "run `segmentation segments --write`"


def test_segment_dependency_block_is_regenerated_from_the_files(tmp_path: Path) -> None:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    for name in ("seg_b", "seg_a"):
        (definitions / f"{name}.sql").write_text("select 1 as profile_id\n")
    memberships = tmp_path / "segment_memberships.sql"
    memberships.write_text(f"head\n{segment_models.BEGIN}\nstale\n{segment_models.END}\ntail\n")
    assert segment_models.write(memberships, definitions) is True
    text = memberships.read_text()
    assert "stale" not in text
    assert text.index("ref('seg_a')") < text.index("ref('seg_b')")
    assert text.startswith("head\n") and text.endswith("tail\n")
    assert segment_models.write(memberships, definitions) is False


def test_a_new_target_folder_parses_partially_from_the_saved_parse_of_the_same_warehouse_name(tmp_path: Path) -> None:
    """The suite's dbt commands share saved parses (helpers.PartialParseCache): a warehouse of the same file
    name in another folder, with a new target folder, parses partially; other vars parse in full."""
    from tests.python.helpers import PARTIAL_PARSE, run_dbt

    def parse(work: Path, *args: str) -> str:
        run_dbt(work / "warehouse.duckdb", work, "parse", *args)
        return (work / "logs" / "dbt.log").read_text()

    assert PARTIAL_PARSE.folder is not None
    first = parse(tmp_path / "first", "--vars", "{partial_parse_probe: first}")
    assert "Unable to do partial parsing" in first  # nothing saved yet for these vars
    second = parse(tmp_path / "second", "--vars", "{partial_parse_probe: first}")
    assert "Unable to do partial parsing" not in second and "Partial parsing enabled" in second, second[-3000:]
    # dbt still checks what it is given: the second folder's saved parse is for other vars.
    other_vars = parse(tmp_path / "second", "--vars", "{partial_parse_probe: other}")
    assert other_vars.count("Unable to do partial parsing because config vars") == 1
