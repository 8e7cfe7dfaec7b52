"""Benchmark of the whole pipeline, stage by stage, with T0 and scipy on the same data and engine.

    python -m orchestration.benchmarks.pipeline --size S|M|L [--batches 2] [--out docs/benchmarks.md]
        [--work data/bench] [--target duckdb] [--people N]

Generates the sample data for the size once (cached in the work folder by size, people, seed and end
date), splits it by arrival time into a base and `--batches` batches of about 1 % of the events each
(the newest), then on a new DuckDB warehouse: loads the base and runs every stage (load, staging,
identity, privacy and profiles, segments and activation, quality, sync), as the scheduled jobs do:
load, quality and sync each in a fresh process, and the four dbt stages in one `dbt build` (the
hourly job's batches skip dbt's unit tests, as that job does). A stage's wall time is its own process's,
or for a dbt stage the time from the previous dbt stage's last node to its own last node (dbt's
start-up counts to staging); peak RSS is `ru_maxrss` of the process and its children (from
`os.wait4`), and within the dbt process each stage's peak is sampled every 0.2 s. Then it loads each
batch and runs the same stages again (incremental), and once more with no new data (the last batch's
files offered again: the loader skips them), which measures what every scheduled run costs whatever
arrived. On the same data it measures T0 (one scan of the
raw events), T0 of the raw identifier pairs and the identity components step on the warehouse's real
edges against scipy, and checks that the partitions are equal. Prints the numbers and ratios and
writes (or replaces) this size's section of docs/benchmarks.md. It asserts nothing about time: the
targets are reported as PASS or MISS next to the measured value.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from orchestration import segment_models
from orchestration.arrival_batches import EVENT_TABLES, newest_cuts, split_into_batches
from orchestration.benchmarks import report
from orchestration.dbt_runner import dbt_env, salt_file
from orchestration.sample_data import generate
from orchestration.warehouse import PROJECT_ROOT, Target

SIZES = {"S": 10_000, "M": 100_000, "L": 1_000_000}
END_DATE = date(2026, 11, 1)  # fixed, so a size's data (and the cache) is the same on every run
DBT = str(Path(sys.executable).parent / "dbt")
# dbt stages by folder, in build order. Identity models that read privacy_suppressions (run summaries and
# health) belong to privacy and profiles; a test belongs to the latest stage of the nodes it reads.
DBT_STAGES = ("staging", "identity", "profiles", "segments")
DBT_STAGE_FOLDERS = {
    "staging": "staging", "identity": "identity", "privacy": "profiles", "profiles": "profiles",
    "segments": "segments", "activation": "segments", "bi": "segments",
}
ERASURE_MODEL = "model.segmentation.privacy_suppressions"
STAGES = ("load", "staging", "identity", "profiles", "segments", "quality", "sync")
STAGE_LABELS = {
    "load": "load", "staging": "staging", "identity": "identity", "profiles": "privacy + profiles",
    "segments": "segments + activation + bi", "quality": "quality", "sync": "sync",
}
# Rows a stage produced, counted in the warehouse after it ran.
ROW_QUERIES = {
    "staging": " + ".join(f"(select count(*) from staging.stg_segment__{table})" for table in EVENT_TABLES),
    "identity": "select count(*) from identity.identity_map",
    "profiles": "select count(*) from profiles.profiles",
    "segments": "select count(*) from segments.segment_memberships",
}
ROW_NOTES = {
    "identity": ("select count(distinct profile_id) from identity.identity_map", "profiles"),
    "segments": ("select (select count(*) from activation.activation_email) + (select count(*) from "
                 "activation.activation_ads) + (select count(*) from activation.activation_crm)", "activation rows"),
}
ROW_UNITS = {
    "load": "raw rows loaded", "staging": "staged events", "identity": "identifiers mapped", "profiles": "profiles",
    "segments": "memberships", "quality": "rows validated", "sync": "changes synced",
}
console = Console(soft_wrap=True)


@dataclass
class StageResult:
    stage: str
    wall: float
    peak_bytes: int
    rows: int
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Run:
    """What one benchmark run measured."""

    size: str
    people: int
    seed: int
    batches: int
    raw_rows: int
    raw_events: int
    base_events: int
    batch_events: list[int]
    full: list[StageResult] = field(default_factory=list)
    incremental: list[list[StageResult]] = field(default_factory=list)
    # A run after the batches with no new data (the last batch's files offered again, all skipped): the
    # fixed cost every scheduled run pays, whatever arrived.
    idle: list[StageResult] = field(default_factory=list)
    t0: StageResult | None = None
    components: StageResult | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_average: list[float] = field(default_factory=lambda: [os.getloadavg()[0]])


class StageFailed(RuntimeError):
    """A stage's process exited with an error; the message ends with its output."""


# Runs the stage as its child and writes "<exit code> <ru_maxrss KiB>". The stage must be forked from a
# small process: Linux keeps the RSS high-water mark of the memory a process had before exec, so a
# stage forked from this (large) process would report at least this process's size.
LAUNCHER = """
import os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as result:
    result.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def measure(command: list[str], env: dict[str, str], log: Path,
            samples: list[tuple[float, int]] | None = None) -> tuple[float, int]:
    """Run `command` to completion; its wall seconds and peak RSS in bytes (the largest of the process
    and its children). With `samples`, appends (unix time, RSS of the process tree) every 0.2 s.
    Raises StageFailed with the end of its output when it fails."""
    usage_file = log.with_suffix(".rusage")
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, str(usage_file), *command],
                                   cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        sampler = None
        if samples is not None:
            sampler = threading.Thread(target=_sample_rss, args=(process, samples), daemon=True)
            sampler.start()
        process.wait()
        if sampler is not None:
            sampler.join()
    wall = time.perf_counter() - started
    exit_code, max_rss_kib = (int(value) for value in usage_file.read_text().split())
    if exit_code != 0:
        raise StageFailed(f"{' '.join(command[:4])} ... exited with {exit_code}; "
                          f"end of {log}:\n{log.read_text()[-4000:]}")
    return wall, max_rss_kib * 1024


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and its descendants (Linux /proc); 0 for processes that are gone."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        pending.extend(int(child) for child in children)
    return total


def _sample_rss(process: subprocess.Popen, samples: list[tuple[float, int]]) -> None:
    while process.poll() is None:
        samples.append((time.time(), _tree_rss(process.pid)))
        time.sleep(0.2)


def _timestamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()


def dbt_stage_of(manifest: dict[str, Any]) -> dict[str, str]:
    """The benchmark stage of every seed, model, data test and unit test in a dbt manifest."""
    nodes = {**manifest["nodes"], **manifest.get("unit_tests", {})}
    stage: dict[str, str] = {}

    def reads_erasure(unique_id: str, seen: set[str]) -> bool:
        if unique_id == ERASURE_MODEL:
            return True
        seen.add(unique_id)
        parents = nodes.get(unique_id, {}).get("depends_on", {}).get("nodes", [])
        return any(parent not in seen and reads_erasure(parent, seen) for parent in parents)

    for unique_id, node in nodes.items():
        if node["resource_type"] == "seed":
            stage[unique_id] = "staging"
        elif node["resource_type"] == "model":
            folder = Path(node["original_file_path"]).parts[1]
            stage[unique_id] = DBT_STAGE_FOLDERS.get(folder, "segments")
            if stage[unique_id] == "identity" and reads_erasure(unique_id, set()):
                stage[unique_id] = "profiles"
    for unique_id, node in nodes.items():
        if node["resource_type"] in ("test", "unit_test"):
            parents = [stage[parent] for parent in node["depends_on"]["nodes"] if parent in stage]
            stage[unique_id] = max(parents, key=DBT_STAGES.index) if parents else "staging"
    return stage


class Bench:
    """One warehouse in `folder` and the processes that build it."""

    def __init__(self, folder: Path, as_of: date) -> None:
        self.folder = folder
        self.database = folder / "warehouse.duckdb"
        self.target = Target(name="duckdb", kind="duckdb", duckdb_path=self.database)
        self.as_of = as_of
        self.runs = 0

    def reset(self) -> None:
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        salt = salt_file(self.target)
        assert salt is not None and not salt.exists()

    def env(self) -> dict[str, str]:
        python_path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, **dbt_env(self.target), "PYTHONPATH": python_path,
                "DBT_TARGET_PATH": str(self.folder / "target"), "DBT_LOG_PATH": str(self.folder / "logs")}

    def python_stage(self, stage: str, folder: Path | None = None) -> StageResult:
        self.runs += 1
        result_file = self.folder / f"{self.runs:03d}_{stage}.json"
        command = [sys.executable, "-m", "orchestration.benchmarks.stages", stage, "--database", str(self.database),
                   "--work", str(self.folder), "--result", str(result_file)]
        if folder is not None:
            command += ["--folder", str(folder)]
        wall, peak = measure(command, self.env(), self.folder / f"{self.runs:03d}_{stage}.log")
        result = json.loads(result_file.read_text())
        return StageResult(stage, wall, peak, int(result["rows"]), [result["notes"]], result)

    def dbt_build(self, incremental: bool) -> list[StageResult]:
        """The four dbt stages in one `dbt build` of the whole project, as the scheduled jobs run it; each
        stage's wall time and peak RSS cut from the node timings in run_results.json and the RSS samples."""
        self.runs += 1
        command = [DBT, "build", "--vars", f"{{as_of: '{self.as_of}'}}", "--project-dir", str(PROJECT_ROOT),
                   "--profiles-dir", str(PROJECT_ROOT), "--target", "duckdb"]
        if incremental:
            command += ["--exclude-resource-type", "unit_test"]  # the hourly job skips them too
        samples: list[tuple[float, int]] = []
        started = time.time()
        wall, peak = measure(command, self.env(), self.folder / f"{self.runs:03d}_dbt.log", samples)
        ended = started + wall
        target = self.folder / "target"
        run_results = json.loads((target / "run_results.json").read_text())
        stage_of = dbt_stage_of(json.loads((target / "manifest.json").read_text()))
        last_end = dict.fromkeys(DBT_STAGES, started)
        counts = {stage: {"models": 0, "tests": 0, "seconds": 0.0} for stage in DBT_STAGES}
        components_seconds = None
        for node in run_results["results"]:
            stage = stage_of.get(node["unique_id"])
            if stage is None:  # hooks
                continue
            finished = [_timestamp(t["completed_at"]) for t in node["timing"] if t.get("completed_at")]
            if finished:
                last_end[stage] = max(last_end[stage], *finished)
            kind = "models" if node["unique_id"].startswith(("model.", "seed.")) else "tests"
            counts[stage][kind] += 1
            counts[stage]["seconds"] += node["execution_time"]
            if node["unique_id"] == "model.segmentation.int_identity__components":
                components_seconds = node["execution_time"]
        boundaries = [started]
        for stage in DBT_STAGES:
            boundaries.append(min(max(boundaries[-1], last_end[stage]), ended))
        boundaries[-1] = ended
        results = []
        for position, stage in enumerate(DBT_STAGES):
            begin, end = boundaries[position], boundaries[position + 1]
            within = [rss for at, rss in samples if begin <= at <= end]
            c = counts[stage]
            notes = [f"{c['models']} models, {c['tests']} tests, {c['seconds']:.1f} s of node time"]
            extra: dict[str, Any] = {"dbt_stage": True, "node_seconds": c["seconds"]}
            if position == 0:
                extra.update(dbt_process_wall=wall, dbt_elapsed=run_results["elapsed_time"])
            if stage == "identity" and components_seconds is not None:
                extra["components_model_seconds"] = components_seconds
                notes.append(f"components model {components_seconds:.1f} s")
            rows = self.count(ROW_QUERIES[stage])
            if stage in ROW_NOTES:
                sql, label = ROW_NOTES[stage]
                notes.append(f"{self.count(sql):,} {label}")
            results.append(StageResult(stage, end - begin, max(within, default=0), rows, notes, extra))
        # The samples can miss a short spike: the stage that sampled the most holds the process's exact peak.
        max(results, key=lambda r: r.peak_bytes).peak_bytes = peak
        return results

    def count(self, sql: str) -> int:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return int(connection.execute(sql if sql.startswith("select") else f"select {sql}").fetchone()[0])

    def identity_rounds(self) -> int | None:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            row = connection.execute("select components_rounds from identity.identity_resolution_runs "
                                     "order by run_at desc limit 1").fetchone()
        return None if row is None else row[0]

    def run_stages(self, load_folder: Path, label: str, incremental: bool = False) -> list[StageResult]:
        """Every stage once, in order. `incremental` (a batch): dbt skips unit tests and quality validates the
        new loads' events, as the hourly job does."""
        results: list[StageResult] = []
        for stage in STAGES:
            if stage in DBT_STAGES[1:]:
                continue  # built by the staging stage's `dbt build`
            with console.status(f"{label}: {'dbt build' if stage == 'staging' else STAGE_LABELS[stage]}"):
                if stage == "load":
                    stage_results = [self.python_stage("load", load_folder)]
                elif stage == "staging":
                    stage_results = self.dbt_build(incremental)
                elif stage == "quality" and incremental:
                    stage_results = [self.python_stage("quality_incremental")]
                    stage_results[0].stage = "quality"
                else:
                    stage_results = [self.python_stage(stage)]
            for result in stage_results:
                if result.stage == "identity":
                    rounds = self.identity_rounds()
                    result.notes.append(f"{rounds} components rounds")
                    result.extra["rounds"] = rounds
                results.append(result)
                console.print(f"{label}: {STAGE_LABELS[result.stage]:<28} {result.wall:7.1f} s  "
                              f"{result.peak_bytes / 1e9:5.2f} GB  {result.rows:>12,} {ROW_UNITS[result.stage]}")
        return results


def prepare_data(work: Path, size: str, people: int, seed: int, batches: int) -> tuple[Path, list[Path]]:
    """The generated sample (cached by size, people, seed and end date) and its split into a base and
    `batches` batches of about 1 % of the events each (cached too)."""
    key = f"{size}-{people}-seed{seed}-{END_DATE:%Y%m%d}"
    sample = work / "data" / key / "sample"
    done = sample / ".complete"
    if not done.exists():
        if sample.exists():
            shutil.rmtree(sample)
        with console.status(f"generating {people:,} people (seed {seed})"):
            started = time.perf_counter()
            generate(sample, people=people, seed=seed, end_date=END_DATE, days=365)
        console.print(f"generated {people:,} people in {time.perf_counter() - started:.1f} s -> {sample}")
        done.touch()
    split = work / "data" / key / f"split-{batches}x1pct"
    split_done = split / ".complete"
    if not split_done.exists():
        if split.exists():
            shutil.rmtree(split)
        cuts = newest_cuts(sample, batches, 0.01)
        split_into_batches(sample, split, cuts)
        (split / "cuts.json").write_text(json.dumps(cuts))
        split_done.touch()
    folders = sorted((p for p in split.iterdir() if p.is_dir()), key=lambda p: int(p.name.split("_")[1]))
    return sample, folders


def parquet_rows(folder: Path, tables: tuple[str, ...] | None = None) -> int:
    with duckdb.connect() as connection:
        return sum(
            connection.execute(f"select count(*) from read_parquet('{file}')").fetchone()[0]
            for file in folder.glob("*.parquet") if tables is None or file.stem.split("__")[0] in tables
        )


def run(size: str, people: int, seed: int, batches: int, work: Path) -> Run:
    segment_models.write()  # what `segmentation build` does first
    sample, folders = prepare_data(work, size, people, seed, batches)
    measured = Run(size=size, people=people, seed=seed, batches=batches, raw_rows=parquet_rows(sample),
                   raw_events=parquet_rows(sample, EVENT_TABLES), base_events=parquet_rows(folders[0], EVENT_TABLES),
                   batch_events=[parquet_rows(folder, EVENT_TABLES) for folder in folders[1:]])
    console.rule(f"[bold]benchmark {size}[/]: {people:,} people, {measured.raw_rows:,} raw rows "
                 f"({measured.raw_events:,} events), base + {batches} batches of about 1 %")
    bench = Bench(work / "runs" / f"{size}-{people}", END_DATE)
    bench.reset()
    measured.full = bench.run_stages(folders[0], "full build")
    with console.status("T0: one scan of the raw events"):
        measured.t0 = bench.python_stage("t0")
    console.print(f"T0: {measured.t0.extra['seconds']:.2f} s over {measured.t0.rows:,} raw events")
    with console.status("identity components step against T0 of the raw pairs and scipy"):
        measured.components = bench.python_stage("components")
    extra = measured.components.extra
    console.print(f"components: {extra['seconds']:.2f} s in {extra['rounds']} rounds; T0 pairs "
                  f"{extra['t0_pairs']:.2f} s; scipy {extra['scipy_seconds']:.3f} s; partition equal to scipy's: "
                  f"{extra['partition_equal']}")
    for index, folder in enumerate(folders[1:], start=1):
        measured.incremental.append(bench.run_stages(folder, f"batch {index}", incremental=True))
    measured.idle = bench.run_stages(folders[-1], "no new data", incremental=True)
    measured.load_average.append(os.getloadavg()[0])
    return measured


def print_run(measured: Run) -> None:
    table = Table(title=f"benchmark {measured.size}: {measured.people:,} people")
    table.add_column("stage")
    table.add_column("full s", justify="right")
    table.add_column("peak GB", justify="right")
    table.add_column("rows", justify="right")
    for index in range(1, len(measured.incremental) + 1):
        table.add_column(f"batch {index} s", justify="right")
    for position, result in enumerate(measured.full):
        table.add_row(STAGE_LABELS[result.stage], f"{result.wall:.1f}", f"{result.peak_bytes / 1e9:.2f}",
                      f"{result.rows:,}", *[f"{batch[position].wall:.1f}" for batch in measured.incremental])
    table.add_row("total", f"{report.total(measured.full):.1f}", f"{report.peak(measured.full) / 1e9:.2f}", "",
                  *[f"{report.total(batch):.1f}" for batch in measured.incremental])
    console.print(table)
    for line in report.ratio_lines(measured):
        console.print(line)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="S",
                        help="S, M or L: 10k, 100k or 1M people (L: about 30M events, 20 GB, 10+ minutes)")
    parser.add_argument("--people", type=int, default=None,
                        help="override the size's number of people (tests); the section is named SIZE-PEOPLE")
    parser.add_argument("--seed", type=int, default=42, help="sample data seed")
    parser.add_argument("--batches", type=int, default=2, help="incremental batches of about 1%% of the events")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs" / "benchmarks.md",
                        help="the document whose section for this size is written")
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "data" / "bench",
                        help="cached datasets and the run's warehouse, logs and stage results")
    parser.add_argument("--target", choices=["duckdb"], default="duckdb",
                        help="only duckdb: T0 and the components comparison read the warehouse file")
    options = parser.parse_args(argv)
    people = options.people or SIZES[options.size]
    measured = run(options.size, people, options.seed, options.batches, options.work.resolve())
    print_run(measured)
    key = options.size if options.people is None else f"{options.size}-{people}"
    report.write_section(options.out, key, report.section(measured, key))
    console.print(f"wrote section {key} of {options.out}")


if __name__ == "__main__":
    main()
