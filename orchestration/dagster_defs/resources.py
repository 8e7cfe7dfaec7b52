"""Resources: which warehouse a run writes and which folder it loads from.

Both default to the environment the CLI uses (`SEGMENTATION_TARGET`, `SEGMENTATION_DUCKDB_PATH`,
`SEGMENTATION_LANDING_DIR`), resolved when a run starts, so one environment switch selects the dbt
target, the loader's warehouse and the quality suites' warehouse together.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource

from orchestration.dbt_runner import PROJECT_ROOT, dbt_env
from orchestration.warehouse import Target, resolve_target

LANDING_DIR_VARIABLE = "SEGMENTATION_LANDING_DIR"
DEFAULT_LANDING_DIR = "data/landing"


def landing_dir(folder: str | None = None) -> Path:
    """The landing folder: `folder`, else $SEGMENTATION_LANDING_DIR, else data/landing (relative to the project)."""
    path = Path(folder or os.environ.get(LANDING_DIR_VARIABLE) or DEFAULT_LANDING_DIR).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


class WarehouseResource(ConfigurableResource):
    """The warehouse target (a profiles.yml output) every step of a run reads and writes."""

    target_name: str | None = None  # default: $SEGMENTATION_TARGET, else duckdb
    duckdb_path: str | None = None  # default: $SEGMENTATION_DUCKDB_PATH, else warehouse/segmentation.duckdb

    def target(self) -> Target:
        target = resolve_target(self.target_name)
        if self.duckdb_path and target.kind == "duckdb":
            target = Target(name=target.name, kind="duckdb", duckdb_path=Path(self.duckdb_path).resolve())
        return target

    def export_dbt_env(self) -> Target:
        """Point dbt (profiles.yml reads the environment) at this target, with the erasure salt."""
        target = self.target()
        os.environ.update(dbt_env(target))
        return target


class LandingResource(ConfigurableResource):
    """The folder new raw files land in (Parquet, CSV or JSONL named by contract table)."""

    folder: str | None = None  # default: $SEGMENTATION_LANDING_DIR, else data/landing

    def path(self) -> Path:
        return landing_dir(self.folder)
