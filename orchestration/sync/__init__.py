"""Built-in reverse-ETL sync: segment membership changes to webhooks, files and SQL tables.

Entry point: `run_sync(target, config_path=None, destination_names=None, progress=None)`.
"""

from orchestration.sync.config import ConfigError
from orchestration.sync.engine import SyncReport, run_sync
from orchestration.sync.state import SyncRefused

__all__ = ["ConfigError", "SyncRefused", "SyncReport", "run_sync"]
