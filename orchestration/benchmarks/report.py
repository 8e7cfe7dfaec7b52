"""The benchmark's report: machine, versions, per-stage tables, T0 ratios and targets, as a Markdown
section of docs/benchmarks.md between `<!-- bench:<size>:start -->` and `<!-- bench:<size>:end -->`
markers, so a run of one size keeps the other sizes' numbers."""

from __future__ import annotations

import math
import os
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestration.benchmarks.pipeline import Run, StageResult

PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "great-expectations", "dagster", "scipy")
SECTION_ORDER = ("S", "M", "L")
HEADER = """# Benchmarks

Measured with `make bench SIZE=S|M|L` (`python -m orchestration.benchmarks.pipeline --size S|M|L`): the
sample generator's data for 10,000 (S), 100,000 (M) or 1,000,000 (L) people ending on 2026-11-01,
split by arrival time into a base and two batches of about 1 % of the events each (the newest). On a
new DuckDB warehouse the base is loaded and every stage runs once, as the scheduled jobs run them, then
each batch is loaded and the same stages run again (incremental). Load, quality and sync each run in a
fresh process (wall seconds and peak RSS are the process's own). Staging, identity, privacy and
profiles, and segments run in one `dbt build` of the whole project (models, data tests, and unit tests
on the full build; the batches skip unit tests, as the hourly job does). A dbt stage's wall time runs
from the previous dbt stage's last node to its own last node, so dbt's start-up and parsing count to
staging and the four add up to the process's wall time; its peak RSS is the largest of samples taken
every 0.2 s (DuckDB's memory is in the dbt process), and the stage with the largest sample carries the
process's exact peak (`ru_maxrss`). The notes give each stage's models, tests and node seconds (summed
over dbt's threads). On the same data and engine the run also measures:

- T0: one scan of the raw events on a fresh DuckDB connection (`count(*)` and
  `count(distinct anonymous_id)` over raw tracks, pages, screens and identifies);
- T0 of the raw identifier pairs: one `select distinct` over every pair of identifiers a staged record
  carries (the identity graph's input, one row per record and pair);
- the identity components step (`connected_components_to_table`, the macro the identity model runs) on
  the warehouse's real kept edges, against scipy's `connected_components` on the same edges (in memory,
  a reference for correctness, not a target); the partitions are checked to be equal.

Rows are what the stage's main table holds after it ran (load: raw rows the run loaded; staging: staged
events; identity: identifiers in identity_map; profiles; segment memberships; quality: rows validated;
sync: changes the run delivered). Memory is in GB (10^9 bytes). The targets are for L on 2 cores and
24 GB; they are measured and reported here, never asserted in tests. CI runs only S.
"""


def machine() -> dict[str, str]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{int(total.group(1)) * 1024 / 1e9:.1f} GB" if total else "unknown",
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown",
        "system": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def total(results: list[StageResult]) -> float:
    return sum(result.wall for result in results)


def peak(results: list[StageResult]) -> int:
    return max(result.peak_bytes for result in results)


def dbt_seconds(results: list[StageResult]) -> tuple[float, float, int]:
    """(wall seconds of the dbt stages, dbt's own elapsed seconds, dbt processes)."""
    stages = [result for result in results if result.extra.get("dbt_stage")]
    processes = [result for result in stages if "dbt_elapsed" in result.extra]
    return sum(r.wall for r in stages), sum(r.extra["dbt_elapsed"] for r in processes), len(processes)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf


def ratios(measured: Run) -> dict[str, float]:
    assert measured.t0 is not None and measured.components is not None
    components = measured.components.extra
    full = total(measured.full)
    incremental = [total(batch) for batch in measured.incremental]
    return {
        "full": full,
        "t0": measured.t0.extra["seconds"],
        "full_over_t0": _ratio(full, measured.t0.extra["seconds"]),
        "components_over_t0_pairs": _ratio(components["seconds"], components["t0_pairs"]),
        "components_over_scipy": _ratio(components["seconds"], components["scipy_seconds"]),
        "incremental_over_full": _ratio(max(incremental), full) if incremental else math.nan,
        "peak": max([peak(measured.full), *[peak(batch) for batch in measured.incremental]]),
    }


def ratio_lines(measured: Run) -> list[str]:
    assert measured.t0 is not None and measured.components is not None
    r = ratios(measured)
    c = measured.components.extra
    incremental = ", ".join(f"batch {i}: {total(batch):.1f} s = {100 * _ratio(total(batch), r['full']):.1f} %"
                            for i, batch in enumerate(measured.incremental, start=1))
    nodes = measured.components.rows
    dbt_wall, dbt_own, invocations = dbt_seconds(measured.full)
    batches_dbt = "; ".join(
        f"batch {i}: {dbt_seconds(batch)[0]:.1f} s wall, {dbt_seconds(batch)[1]:.1f} s in dbt "
        f"= {100 * _ratio(dbt_seconds(batch)[1], dbt_own):.1f} % of the full build's"
        for i, batch in enumerate(measured.incremental, start=1))
    return [
        f"T0 (one scan of {measured.t0.rows:,} raw events: count and {measured.t0.extra['anonymous_ids']:,} distinct "
        f"anonymous ids, fresh connection): {r['t0']:.2f} s",
        f"T0 pairs (select distinct over {c['raw_pairs']:,} raw identifier pairs -> {c['distinct_pairs']:,}): "
        f"{c['t0_pairs']:.2f} s",
        f"components step: {c['seconds']:.2f} s in the warehouse ({c['wall_with_dbt']:.1f} s with dbt's start-up), "
        f"{c['rounds']} rounds (2·log2(nodes) = {2 * math.log2(max(nodes, 2)):.1f}) on {nodes:,} nodes and "
        f"{c['edges']:,} edges, {c['components']:,} components; scipy {c['scipy_seconds']:.3f} s",
        f"partition equal to scipy's: {'yes' if c['partition_equal'] else 'NO'} (components step); "
        f"{'yes' if c['model_partition_equal'] else 'NO'} (the build's int_identity__components)",
        f"ratio full build / T0: {r['full_over_t0']:.1f}x",
        f"ratio components / T0 pairs: {r['components_over_t0_pairs']:.1f}x",
        f"ratio components / scipy: {r['components_over_scipy']:.1f}x",
        f"ratio incremental / full build: {100 * r['incremental_over_full']:.1f} % (largest batch; {incremental})",
        *idle_lines(measured, r["full"]),
        f"dbt stages (staging to segments, {invocations} dbt process{'es' if invocations != 1 else ''}): full build "
        f"{dbt_wall:.1f} s wall, {dbt_own:.1f} s in dbt's own elapsed time (the rest, "
        f"{(dbt_wall - dbt_own) / max(invocations, 1):.1f} s per dbt process, is start-up and parsing); {batches_dbt}",
    ]


def idle_lines(measured: Run, full: float) -> list[str]:
    """The run with no new data: its total and its stages (the floor under every batch)."""
    if not measured.idle:
        return []
    from orchestration.benchmarks.pipeline import STAGE_LABELS

    stages = ", ".join(f"{STAGE_LABELS[result.stage]} {result.wall:.1f}" for result in measured.idle)
    dbt_wall, dbt_own, _ = dbt_seconds(measured.idle)
    return [f"run with no new data (the last batch's files again, all skipped): {total(measured.idle):.1f} s "
            f"= {100 * _ratio(total(measured.idle), full):.1f} % of the full build ({stages}; dbt {dbt_wall:.1f} s "
            f"wall, {dbt_own:.1f} s in dbt)"]


def targets(measured: Run) -> list[tuple[str, str, bool]]:
    r = ratios(measured)
    return [
        ("full build end to end ≤ 15 min", f"{r['full'] / 60:.1f} min", r["full"] <= 15 * 60),
        ("full build ≤ 25× T0", f"{r['full_over_t0']:.1f}×", r["full_over_t0"] <= 25),
        ("peak memory ≤ 8 GB", f"{r['peak'] / 1e9:.2f} GB", r["peak"] <= 8e9),
        ("incremental batch of 1 % ≤ 5 % of the full build", f"{100 * r['incremental_over_full']:.1f} %",
         r["incremental_over_full"] <= 0.05),
        ("identity components step ≤ 5× T0 of the raw identifier pairs", f"{r['components_over_t0_pairs']:.1f}×",
         r["components_over_t0_pairs"] <= 5),
    ]


def _stage_table(measured: Run) -> list[str]:
    from orchestration.benchmarks.pipeline import ROW_UNITS, STAGE_LABELS

    batch_columns = "".join(f" batch {i} wall s | batch {i} peak GB | batch {i} rows |"
                            for i in range(1, len(measured.incremental) + 1))
    lines = [f"| stage | wall s | peak RSS GB | rows | notes |{batch_columns}",
             "|---|---:|---:|---:|---|" + "---:|---:|---:|" * len(measured.incremental)]
    for position, result in enumerate(measured.full):
        cells = "".join(
            f" {batch[position].wall:.1f} | {batch[position].peak_bytes / 1e9:.2f} | {batch[position].rows:,} |"
            for batch in measured.incremental
        )
        lines.append(f"| {STAGE_LABELS[result.stage]} | {result.wall:.1f} | {result.peak_bytes / 1e9:.2f} | "
                     f"{result.rows:,} {ROW_UNITS[result.stage]} | {'; '.join(result.notes)} |{cells}")
    cells = "".join(f" {total(batch):.1f} | {peak(batch) / 1e9:.2f} | |" for batch in measured.incremental)
    lines.append(f"| **total (end to end)** | **{total(measured.full):.1f}** | **{peak(measured.full) / 1e9:.2f}** "
                 f"| | |{cells}")
    return lines


def section(measured: Run, key: str) -> str:
    assert measured.t0 is not None
    m, v = machine(), versions()
    t0 = measured.t0.extra
    lines = [
        f"## {key}: {measured.people:,} people",
        "",
        f"Measured {measured.started_at:%Y-%m-%d %H:%M} UTC: `python -m orchestration.benchmarks.pipeline "
        f"--size {measured.size}{'' if key == measured.size else f' --people {measured.people}'}` "
        f"(seed {measured.seed}, {measured.batches} batches).",
        "",
        f"- machine: {m['cores']} cores ({m['cpu']}), {m['memory']} memory, {m['system']}; load average "
        f"(1 min) {measured.load_average[0]:.1f} at the start and {measured.load_average[-1]:.1f} at the end"
        # The benchmark's own threads keep every core busy: a load above the cores plus one means other work.
        + (" (above the core count plus one: other work shared the machine)"
           if max(measured.load_average) > (os.cpu_count() or 1) + 1 else ""),
        "- versions: " + ", ".join(f"{name} {version}" for name, version in v.items()),
        f"- DuckDB in effect (dbt and T0): memory_limit {t0['memory_limit']}, threads {t0['threads']}; "
        + (f"profiles.yml settings: {', '.join(f'{k} {v}' for k, v in t0['settings'].items())}" if t0["settings"]
           else "profiles.yml sets none, so DuckDB's defaults (memory_limit 80 % of RAM, a thread per core)"),
        f"- data: {measured.raw_rows:,} raw rows, of which {measured.raw_events:,} events; base "
        f"{measured.base_events:,} events, batches " + ", ".join(f"{n:,}" for n in measured.batch_events) + " events",
        "",
        "Full build, then the incremental batches (each row: the same stage on the batch):",
        "",
        *_stage_table(measured),
        "",
        *[f"- {line}" for line in ratio_lines(measured)],
        "",
        "| target | measured | |",
        "|---|---:|---|",
        *[f"| {name} | {value} | {'PASS' if passed else 'MISS'} |" for name, value, passed in targets(measured)],
    ]
    return "\n".join(lines)


def write_section(path: Path, key: str, text: str) -> None:
    """Replace (or add) the section `key` of the document at `path`, keeping every other section and the
    text before the first section."""
    existing = path.read_text() if path.exists() else HEADER
    pattern = re.compile(r"<!-- bench:(?P<key>[\w-]+):start -->\n(?P<body>.*?)\n<!-- bench:(?P=key):end -->",
                         re.DOTALL)
    sections = {match["key"]: match["body"] for match in pattern.finditer(existing)}
    first = pattern.search(existing)
    header = existing[:first.start()] if first else existing
    sections[key] = text
    order = [k for k in SECTION_ORDER if k in sections] + sorted(k for k in sections if k not in SECTION_ORDER)
    body = "\n\n".join(f"<!-- bench:{k}:start -->\n{sections[k]}\n<!-- bench:{k}:end -->" for k in order)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header.rstrip("\n") + "\n\n" + body + "\n")
