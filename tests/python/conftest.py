"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.warehouse import Target


@pytest.fixture
def duckdb_target(tmp_path: Path) -> Target:
    """A DuckDB target in a private file (not created until something connects)."""
    return Target(name="duckdb", kind="duckdb", duckdb_path=tmp_path / "warehouse" / "test.duckdb")
