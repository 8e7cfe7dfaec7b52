"""The dbt project as Dagster sees it, and how its manifest is prepared."""

from __future__ import annotations

import os
import shutil
import sys
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


def prepare() -> None:
    """Regenerate segment_memberships' depends_on block, then `dbt parse` into the manifest.

    The block must be current before dbt parses, or the manifest misses a segment model's edge.
    """
    segment_models.write()
    # The same --target as the builds (resolved from $SEGMENTATION_TARGET): a parse for another target
    # would make every build parse the whole project again instead of partially.
    target = resolve_target().name
    dbt_resource().cli(["parse", "--quiet", "--target", target], target_path=dbt_project.target_path).wait()


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
    if not manifest_is_current():
        prepare()


def prepare_if_dev() -> None:
    """What `DbtProject.prepare_if_dev()` does, parse under `dagster dev`, but only when a project file
    changed (every step of a `dagster dev` run loads the definitions again: a parse each would cost
    10-20 s per step), and with the segment block regenerated first. Also parses when there is no
    manifest yet, so a fresh clone loads."""
    if using_dagster_dev() or not dbt_project.manifest_path.exists():
        prepare_if_stale()
