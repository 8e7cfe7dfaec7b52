"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestration.warehouse import Target
from tests.python.helpers import PARTIAL_PARSE, PROJECT_ROOT, PostgresServer


@pytest.fixture
def duckdb_target(tmp_path: Path) -> Target:
    """A DuckDB target in a private file (not created until something connects)."""
    return Target(name="duckdb", kind="duckdb", duckdb_path=tmp_path / "warehouse" / "test.duckdb")


@pytest.fixture(scope="session", autouse=True)
def partial_parse_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One folder of dbt's saved parses for the session, shared by the xdist workers (helpers.PartialParseCache)."""
    base = tmp_path_factory.getbasetemp()
    PARTIAL_PARSE.folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "dbt-partial-parse"


# dbt runs in tests erase people from sample data: they need the erasure salt (never a real one).
os.environ.setdefault("SEGMENTATION_ERASURE_SALT", "test-only-salt-0123456789abcdef")


@pytest.fixture(scope="session")
def pg_server() -> PostgresServer:
    """The project's PostgreSQL server, in its own git-ignored folder and port (not the development one).

    Under pytest-xdist (`make test` runs two workers) each worker starts its own cluster: worker gwN
    takes folder `<dir>-gwN` and port `<port> + N`, so the workers' databases never meet.
    """
    folder = Path(os.environ.get("SEGMENTATION_TEST_PG_DIR", PROJECT_ROOT / ".postgres-test"))
    port = int(os.environ.get("SEGMENTATION_TEST_PG_PORT", "55432"))
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... under xdist, unset otherwise
    if worker:
        folder = folder.with_name(f"{folder.name}-{worker}")
        port += int(worker.removeprefix("gw"))
    server = PostgresServer.start(folder, port)
    yield server
    server.stop()
