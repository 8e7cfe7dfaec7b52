"""Helpers shared by the tests that build the warehouse with dbt in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).parent / "dbt")
TIME_COLUMN = {
    "identifies": "received_at", "tracks": "received_at", "pages": "received_at", "screens": "received_at",
    "orders": "updated_at", "crm_contacts": "updated_at", "deletion_requests": "requested_at",
}


def split_into_batches(sample: Path, root: Path, cuts: tuple[str, ...]) -> list[Path]:
    """Split every raw file into len(cuts) + 1 folders by its time column (rows without a time go first)."""
    folders = [root / f"batch_{index}" for index in range(1, len(cuts) + 2)]
    for folder in folders:
        folder.mkdir(parents=True)
    bounds = ["timestamp '1900-01-01'", *[f"timestamp '{cut}'" for cut in cuts], "timestamp '9999-01-01'"]
    with duckdb.connect() as connection:
        for file in sample.glob("*.parquet"):
            table = file.stem
            column = TIME_COLUMN.get(table)
            for index, folder in enumerate(folders):
                if column is None:
                    where = "true" if index == 0 else "false"
                else:
                    value = f"coalesce(cast({column} as timestamp), timestamp '1900-01-01')"
                    where = f"{value} >= {bounds[index]} and {value} < {bounds[index + 1]}"
                connection.execute(
                    f"copy (select * from read_parquet('{file}') where {where}) "
                    f"to '{folder / f'{table}__b{index + 1}.parquet'}' (format parquet)"
                )
    return folders


def run_dbt(database: Path, work: Path, *args: str, project: Path = PROJECT_ROOT) -> str:
    """Run dbt against a DuckDB file in a subprocess; fail the test with dbt's output when dbt fails."""
    env = {
        **os.environ,
        "SEGMENTATION_DUCKDB_PATH": str(database),
        "DBT_TARGET_PATH": str(work / f"target_{project.name}"),
        "DBT_LOG_PATH": str(work / "logs"),
    }
    completed = subprocess.run(
        [DBT, *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    return completed.stdout
