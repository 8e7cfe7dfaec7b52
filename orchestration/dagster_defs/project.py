"""The dbt project as Dagster sees it, and how its manifest is prepared."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dagster_dbt.dbt_project import using_dagster_dev

from orchestration import segment_models
from orchestration.dbt_runner import PROJECT_ROOT
from orchestration.warehouse import resolve_target

# DBT_TARGET_PATH moves dbt's target folder (the tests use it); the manifest follows it.
dbt_project = DbtProject(
    project_dir=PROJECT_ROOT,
    profiles_dir=PROJECT_ROOT,
    target_path=os.environ.get("DBT_TARGET_PATH", "target"),
)


def dbt_executable() -> str:
    """The dbt next to this Python (the project's virtualenv), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


@contextlib.contextmanager
def _prepare_lock() -> Iterator[Path]:
    """Hold an exclusive lock on the target folder while the manifest is checked or rewritten.

    Several processes prepare at once in practice (pytest workers importing the definitions, a run
    beside `dagster dev`): without the lock two `dbt parse` runs write the same manifest and a reader
    gets half a file. Yields the target folder (absolute)."""
    target = (dbt_project.project_dir / dbt_project.target_path).resolve()
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield target
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _prepare_locked(target: Path) -> None:
    segment_models.write()
    # The same --target as the builds (resolved from $SEGMENTATION_TARGET): a parse for another target
    # would make every build parse the whole project again instead of partially.
    name = resolve_target().name
    # dbt writes its files in place; parse into a private folder and move each file in whole, so a process
    # reading the manifest without the lock (dagster-dbt at import) sees the old file or the new, never half.
    # The CLI resource copies the current partial_parse.msgpack in first, so the parse stays partial.
    print(f"dbt parse --target {name}: writing the manifest in {target}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix=".parse-", dir=target) as scratch:
        dbt_resource().cli(["parse", "--quiet", "--target", name], target_path=Path(scratch)).wait()
        written = sorted(Path(scratch).iterdir(), key=lambda f: f.name == "manifest.json")  # manifest last
        for file in written:
            if file.is_file():
                os.replace(file, target / file.name)


def prepare() -> None:
    """Regenerate segment_memberships' depends_on block, then `dbt parse` into the manifest.

    The block must be current before dbt parses, or the manifest misses a segment model's edge.
    """
    with _prepare_lock() as target:
        _prepare_locked(target)


# What `dbt parse` reads: when none of it changed since the manifest was written, the manifest is current.
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml",
                  "models", "macros", "seeds", "snapshots", "analyses", "tests/dbt")


def manifest_is_current() -> bool:
    """The manifest exists, the segment block is current and no project file is newer than the manifest."""
    manifest = dbt_project.manifest_path
    if not manifest.exists() or not segment_models.is_current():
        return False
    written = manifest.stat().st_mtime
    for name in PROJECT_INPUTS:
        path = dbt_project.project_dir / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        if any(file.stat().st_mtime > written for file in files):
            return False
    return True


def prepare_if_stale() -> None:
    """Parse when the manifest is missing or older than a project file. Checked under the lock, so a process
    that waited while another parsed finds the manifest current and does not parse again."""
    if manifest_is_current():
        return
    with _prepare_lock() as target:
        if not manifest_is_current():
            _prepare_locked(target)


def prepare_if_dev() -> None:
    """What `DbtProject.prepare_if_dev()` does, parse under `dagster dev`, but only when a project file
    changed (every step of a `dagster dev` run loads the definitions again: a parse each would cost
    10-20 s per step), and with the segment block regenerated first. Also parses when there is no
    manifest yet, so a fresh clone loads."""
    if using_dagster_dev() or not dbt_project.manifest_path.exists():
        prepare_if_stale()
