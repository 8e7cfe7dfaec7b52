"""Dagster orchestration of the warehouse: `dagster dev -m orchestration.dagster_defs` (see docs/orchestration.md)."""

from orchestration.dagster_defs.definitions import defs

__all__ = ["defs"]
