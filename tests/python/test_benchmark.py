"""The pipeline benchmark runs end to end on a tiny dataset and writes a complete section: every stage
with numeric wall and peak values and nonzero rows, T0, the ratios and the targets, and the components
step's partition equal to scipy's. Times are not asserted (they are measured, not promised)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from orchestration.benchmarks import pipeline, report

PEOPLE = 1500


@pytest.fixture(scope="module")
def bench_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("bench")
    out = work / "benchmarks.md"
    # Another size's section must survive a run.
    out.write_text(report.HEADER + "\n<!-- bench:L:start -->\n## L: kept\n<!-- bench:L:end -->\n")
    pipeline.main(["--size", "S", "--people", str(PEOPLE), "--batches", "1", "--work", str(work / "work"),
                   "--out", str(out)])
    return work


@pytest.fixture(scope="module")
def document(bench_folder: Path) -> str:
    return (bench_folder / "benchmarks.md").read_text()


def _section(document: str, key: str) -> str:
    match = re.search(rf"<!-- bench:{key}:start -->\n(.*?)\n<!-- bench:{key}:end -->", document, re.DOTALL)
    assert match, f"no section {key}"
    return match.group(1)


def test_every_stage_has_numeric_wall_peak_and_rows(document: str) -> None:
    section = _section(document, f"S-{PEOPLE}")
    for label in pipeline.STAGE_LABELS.values():
        row = re.search(rf"^\| {re.escape(label)} \| ([\d.]+) \| ([\d.]+) \| ([\d,]+) [^|]+\|.*?\| ([\d.]+) \| "
                        rf"([\d.]+) \| ([\d,]+) \|$", section, re.MULTILINE)
        assert row, f"no complete row for stage {label}"
        wall, peak, rows, batch_wall, batch_peak, _ = row.groups()
        assert float(wall) > 0 and float(peak) > 0 and float(batch_wall) > 0 and float(batch_peak) > 0, label
        assert int(rows.replace(",", "")) > 0, label
    assert re.search(r"identity \|.*\b\d+ components rounds", section)


def test_t0_ratios_and_targets_are_reported(document: str) -> None:
    section = _section(document, f"S-{PEOPLE}")
    assert re.search(r"^- T0 \(one scan of [\d,]+ raw events.*: [\d.]+ s$", section, re.MULTILINE)
    assert re.search(r"^- T0 pairs \(select distinct over [\d,]+ raw identifier pairs.*: [\d.]+ s$", section,
                     re.MULTILINE)
    for ratio in ("full build / T0", "components / T0 pairs", "components / scipy", "incremental / full build"):
        assert re.search(rf"^- ratio {re.escape(ratio)}: [\d.]+", section, re.MULTILINE), ratio
    assert len(re.findall(r"^\| .+ \| .+ \| (PASS|MISS) \|$", section, re.MULTILINE)) == 5
    assert re.search(r"memory_limit \S+", section)
    assert re.search(r"- machine: \d+ cores", section) and "dbt-core" in section and "duckdb" in section


def test_components_partition_equals_scipy(document: str) -> None:
    section = _section(document, f"S-{PEOPLE}")
    assert "partition equal to scipy's: yes (components step); yes (the build's int_identity__components)" in section


def test_other_sections_are_kept(document: str) -> None:
    assert _section(document, "L") == "## L: kept"
    assert document.startswith("# Benchmarks")


def test_the_dataset_is_cached_in_the_work_folder(bench_folder: Path) -> None:
    assert list((bench_folder / "work").glob(f"data/S-{PEOPLE}-seed42-*/sample/.complete"))


def test_one_dbt_process_is_cut_into_the_four_stages(bench_folder: Path, document: str) -> None:
    """The dbt stages come from one `dbt build`: every node is attributed to its stage (identity summaries
    that read the suppression list go with privacy and profiles; a test with the latest node it reads), and
    each stage's row names the models and tests it ran."""
    run = next((bench_folder / "work" / "runs").iterdir())
    stage_of = pipeline.dbt_stage_of(json.loads((run / "target" / "manifest.json").read_text()))
    expected = {
        "seed.segmentation.identity_blocklist": "staging",
        "model.segmentation.base_segment__tracks": "staging",
        "model.segmentation.identity_map": "identity",
        "model.segmentation.privacy_suppressions": "profiles",
        "model.segmentation.identity_resolution_runs": "profiles",
        "model.segmentation.sessions": "profiles",
        "model.segmentation.segment_memberships": "segments",
        "model.segmentation.activation_email": "segments",
    }
    assert {node: stage_of[node] for node in expected} == expected
    session_tests = {stage for node, stage in stage_of.items() if node.startswith("test.segmentation.unique_sessions_")}
    assert session_tests == {"profiles"}
    # one dbt process for the full build, one for the batch, one for the run with no new data
    assert len(list(run.glob("*_dbt.log"))) == 3
    section = _section(document, f"S-{PEOPLE}")
    for label in ("staging", "identity", "privacy + profiles", "segments + activation + bi"):
        row = re.search(rf"^\| {re.escape(label)} \|[^|]+\|[^|]+\|[^|]+\| (\d+) models, (\d+) tests", section,
                        re.MULTILINE)
        assert row and int(row.group(1)) > 0 and int(row.group(2)) > 0, label


def test_a_run_with_no_new_data_is_measured(bench_folder: Path, document: str) -> None:
    """After the batches the stages run once more on files already loaded: the loader loads nothing,
    and the section reports that run's total and stages as the floor under every batch."""
    run = next((bench_folder / "work" / "runs").iterdir())
    loads = sorted(run.glob("*_load.json"))
    assert len(loads) == 3  # the base, the batch, the run with no new data
    assert json.loads(loads[0].read_text())["rows"] > 0 and json.loads(loads[1].read_text())["rows"] > 0
    assert json.loads(loads[-1].read_text())["rows"] == 0
    line = re.search(r"^- run with no new data .*: ([\d.]+) s = ([\d.]+) % of the full build \(load [\d.]+, "
                     r"staging [\d.]+, .*dbt ([\d.]+) s wall", _section(document, f"S-{PEOPLE}"), re.MULTILINE)
    assert line, "no line for the run with no new data"
    assert float(line.group(1)) > float(line.group(3)) > 0 and float(line.group(2)) > 0
