"""Split a folder of raw sample files into batches by arrival time, as a warehouse receives them.

Used by the tests that prove incremental runs equal a full build and by the benchmark, which loads a
base and then small batches of the newest data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

# The column that says when a row arrived, per raw table; tables without one (order_items) go first.
TIME_COLUMN = {
    "identifies": "received_at", "tracks": "received_at", "pages": "received_at", "screens": "received_at",
    "orders": "updated_at", "crm_contacts": "updated_at", "deletion_requests": "requested_at",
}
EVENT_TABLES = ("tracks", "pages", "screens", "identifies")


def split_into_batches(sample: Path, root: Path, cuts: Sequence[str]) -> list[Path]:
    """Split every raw Parquet file of `sample` into len(cuts) + 1 folders `root/batch_<n>` by its time
    column: batch n holds the rows with cuts[n-2] <= time < cuts[n-1] (rows without a time go first)."""
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


def newest_cuts(sample: Path, batches: int, fraction: float) -> list[str]:
    """Cut times that leave `batches` batches of about `fraction` of the events each (the newest by
    arrival time) after a base of the rest; oldest cut first."""
    files = ", ".join(f"'{sample / f'{table}.parquet'}'" for table in EVENT_TABLES)
    quantiles = [round(1 - fraction * (batches - index), 6) for index in range(batches)]
    with duckdb.connect() as connection:
        (cuts,) = connection.execute(
            f"select quantile_disc(received_at, {quantiles}) "
            f"from read_parquet([{files}], union_by_name = true)"
        ).fetchone()
    return [f"{cut:%Y-%m-%d %H:%M:%S.%f}" for cut in cuts]
