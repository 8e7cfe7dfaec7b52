"""The reviewed destinations file (`orchestration/destinations.yml`): parsed and validated strictly.

Every problem (an unknown key, a wrong type, a missing environment variable, an unknown segment or one
not meant for the destination's channel) is collected and raised together in one `ConfigError`, each
line naming the destination. Secrets never live in the file: it names the environment variables
that hold them, and they are read only when a destination is opened.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from orchestration.warehouse import PROJECT_ROOT

DEFAULT_CONFIG_PATH = PROJECT_ROOT / "orchestration" / "destinations.yml"
CONFIG_ENV = "SEGMENTATION_DESTINATIONS"
Channel = Literal["email", "ads", "crm"]
IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
SQL_SCHEMES = ("postgresql", "postgres", "duckdb")


class ConfigError(ValueError):
    """The destinations file is invalid; `problems` lists every problem found."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{path}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookAuth(_Strict):
    """A header whose secret comes only from the environment variable `token_env`."""

    header: str = "Authorization"
    scheme: str | None = "Bearer"
    token_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")

    def header_value(self) -> str:
        token = os.environ[self.token_env]
        return f"{self.scheme} {token}" if self.scheme else token


class Backoff(_Strict):
    """Exponential backoff between attempts: base * 2^(n-1) seconds plus up to `base` of jitter, at most `max`."""

    base_seconds: float = Field(default=0.5, ge=0)
    max_seconds: float = Field(default=30.0, gt=0)


class _Destination(_Strict):
    name: str = Field(pattern=IDENTIFIER)
    channel: Channel
    segments: list[str] | Literal["all"] = "all"
    batch_size: int = Field(default=500, ge=1, le=100_000)
    enabled: bool = True
    # Stop this destination (status failed, cursor after the last handled batch) after this many
    # batches in a row went to the dead-letter table: a receiver that is down should not drain the feed.
    max_consecutive_dead_letters: int = Field(default=3, ge=1)

    def env_problems(self) -> list[str]:
        """Environment variables this destination needs but that are unset."""
        return []


class WebhookDestination(_Destination):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    auth: WebhookAuth | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff: Backoff = Backoff()

    def env_problems(self) -> list[str]:
        if self.auth and not os.environ.get(self.auth.token_env):
            return [f"environment variable {self.auth.token_env} (auth token) is not set"]
        return []


class FileDestination(_Destination):
    type: Literal["file"]
    folder: Path
    format: Literal["csv", "parquet", "jsonl"] = "jsonl"
    # Rows per file: a run writes one file unless more changes than this are pending.
    batch_size: int = Field(default=100_000, ge=1, le=1_000_000)

    def resolved_folder(self) -> Path:
        """The destination's own folder; relative paths are relative to the project root."""
        folder = self.folder if self.folder.is_absolute() else PROJECT_ROOT / self.folder
        return folder / self.name


class SqlDestination(_Destination):
    type: Literal["sql"]
    connection_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")
    table: str = Field(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")
    # The upsert's conflict key; rows are always deleted by (segment_name, profile_id).
    key_columns: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(
        default=["segment_name", "profile_id"], min_length=1
    )

    def connection_url(self) -> str:
        return os.environ[self.connection_env]

    def env_problems(self) -> list[str]:
        url = os.environ.get(self.connection_env)
        if not url:
            return [f"environment variable {self.connection_env} (connection URL) is not set"]
        if urlparse(url).scheme not in SQL_SCHEMES:
            return [f"{self.connection_env} must be a postgresql:// or duckdb:/// URL"]
        return []


Destination = Annotated[WebhookDestination | FileDestination | SqlDestination, Field(discriminator="type")]
_DESTINATION: TypeAdapter[Destination] = TypeAdapter(Destination)


@dataclass(frozen=True)
class SyncConfig:
    """The validated destinations file."""

    destinations: list[Destination]

    def named(self, names: list[str] | None) -> list[Destination]:
        """The enabled destinations, or exactly the ones named (enabled or not: naming one runs it)."""
        if not names:
            return [d for d in self.destinations if d.enabled]
        by_name = {d.name: d for d in self.destinations}
        return [by_name[name] for name in dict.fromkeys(names)]


def config_path(path: Path | None = None) -> Path:
    """`path`, else `$SEGMENTATION_DESTINATIONS`, else `orchestration/destinations.yml`."""
    if path is not None:
        return path
    return Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else DEFAULT_CONFIG_PATH


def load_config(
    path: Path,
    catalog: Mapping[str, set[str]] | None = None,
    names: list[str] | None = None,
    check_env: bool = True,
) -> SyncConfig:
    """Parse and validate the file; raise `ConfigError` with every problem. `catalog` (segment name ->
    its channels, from the warehouse's segment_catalog) checks segment names when given; `names` must
    each name a destination. Environment variables are checked for the destinations that would run
    (enabled, or named) unless `check_env` is false (Dagster reads the file to define one asset per
    destination; the variables are checked when the sync runs)."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(path, [f"cannot read the file: {error}"]) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("destinations", []), list):
        raise ConfigError(path, ["the file must be a mapping with a `destinations` list"])
    problems = [f"{key}: unknown key" for key in raw if key != "destinations"]
    destinations: list[Destination] = []
    for index, entry in enumerate(raw.get("destinations", [])):
        name = entry.get("name") if isinstance(entry, dict) else None
        label = f"destination {name!r}" if name else f"destinations[{index}]"
        try:
            destinations.append(_DESTINATION.validate_python(entry))
        except ValidationError as error:
            problems += [f"{label}: {_describe(e)}" for e in error.errors()]
    counts = Counter(d.name for d in destinations)
    problems += [f"destination {name!r}: the name is used {n} times" for name, n in counts.items() if n > 1]
    unknown = [name for name in names or [] if name not in counts]
    problems += [f"--destination {name!r}: no such destination in the file" for name in unknown]
    config = SyncConfig(destinations)
    for destination in [] if unknown else config.named(names):
        if check_env:
            problems += [f"destination {destination.name!r}: {p}" for p in destination.env_problems()]
        if catalog is not None and destination.segments != "all":
            problems += [f"destination {destination.name!r}: {p}" for p in _segment_problems(destination, catalog)]
    if problems:
        raise ConfigError(path, problems)
    return config


def _segment_problems(destination: _Destination, catalog: Mapping[str, set[str]]) -> list[str]:
    problems = []
    for segment in destination.segments:
        if segment not in catalog:
            problems.append(f"unknown segment {segment!r} (known: {', '.join(sorted(catalog))})")
        elif destination.channel not in catalog[segment]:
            problems.append(
                f"segment {segment!r} is not activated on channel {destination.channel!r} "
                f"(its destinations: {', '.join(sorted(catalog[segment])) or 'none'})"
            )
    return problems


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error of a destination entry as `field: message`."""
    location = [str(part) for part in error["loc"]]
    if location and location[0] in ("webhook", "file", "sql"):
        location = location[1:]  # the discriminator's tag, not a field
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    return f"{'.'.join(location)}: {message}" if location else message
