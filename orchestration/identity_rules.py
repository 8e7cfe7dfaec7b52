"""Validate the identity rule seeds before dbt runs, with messages that name the file, line and value.

The rules live in three seeds that analysts edit in review: `identity_identifier_types.csv`
(types, priority, per-profile limits, hub thresholds), `identity_blocklist.csv` and
`identity_overrides.csv`. A typo there would silently change who is merged with whom, so
`segmentation build` and `segmentation demo` refuse to run with an invalid rule file.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
# RE2 (DuckDB, Spark, BigQuery) has no backreferences or look-around; reject them up front.
_UNSUPPORTED_REGEX = re.compile(r"\(\?[=!]|\(\?<[=!]|\\[1-9]")


class RuleError(ValueError):
    """An identity rule file is invalid; the message lists every problem."""


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline="") as handle:
        return [(number, row) for number, row in enumerate(csv.DictReader(handle), start=2)]


def _positive_or_empty(value: str) -> bool:
    return value.strip() == "" or (value.strip().isdigit() and int(value) > 0)


def validate(seeds: Path = SEEDS) -> list[str]:
    """Problems found in the rule seeds, as 'file line N: message'; empty when they are valid."""
    problems: list[str] = []
    types_file = seeds / "identity_identifier_types.csv"
    known: set[str] = set()
    priorities: set[str] = set()
    for line, row in _rows(types_file):
        where = f"{types_file.name} line {line}"
        name = (row.get("identifier_type") or "").strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            problems.append(f"{where}: identifier_type {name!r} must be lower_snake_case")
        if name in known:
            problems.append(f"{where}: identifier_type {name!r} is declared twice")
        known.add(name)
        priority = (row.get("priority") or "").strip()
        if not priority.isdigit():
            problems.append(f"{where}: priority {priority!r} must be a positive whole number")
        elif priority in priorities:
            problems.append(f"{where}: priority {priority} is used twice; priorities must be distinct")
        priorities.add(priority)
        for column in ("max_per_profile", "hub_max_links"):
            if not _positive_or_empty(row.get(column) or ""):
                problems.append(f"{where}: {column} {row.get(column)!r} must be empty or a positive whole number")

    blocklist_file = seeds / "identity_blocklist.csv"
    for line, row in _rows(blocklist_file):
        where = f"{blocklist_file.name} line {line}"
        type_name = (row.get("identifier_type") or "").strip()
        if type_name != "*" and type_name not in known:
            problems.append(
                f"{where}: unknown identifier_type {type_name!r} (known: {', '.join(sorted(known))}, or *)"
            )
        match_type = (row.get("match_type") or "").strip()
        pattern = row.get("pattern") or ""
        if match_type not in ("exact", "regex"):
            problems.append(f"{where}: match_type {match_type!r} must be exact or regex")
        if not pattern:
            problems.append(f"{where}: pattern is empty")
        if match_type == "regex" and pattern:
            try:
                re.compile(pattern)
            except re.error as error:
                problems.append(f"{where}: pattern '{pattern}' is not a valid regular expression: {error}")
            else:
                if _UNSUPPORTED_REGEX.search(pattern):
                    problems.append(
                        f"{where}: pattern '{pattern}' uses a backreference or look-around, which RE2 "
                        "(the warehouse's regex engine) does not support"
                    )
        if not (row.get("reason") or "").strip():
            problems.append(f"{where}: reason is empty; say why the value is junk")

    overrides_file = seeds / "identity_overrides.csv"
    for line, row in _rows(overrides_file):
        where = f"{overrides_file.name} line {line}"
        if (row.get("action") or "").strip() not in ("force_merge", "force_split"):
            problems.append(f"{where}: action {row.get('action')!r} must be force_merge or force_split")
        for side in ("a", "b"):
            type_name = (row.get(f"identifier_type_{side}") or "").strip()
            if type_name not in known:
                problems.append(f"{where}: unknown identifier_type_{side} {type_name!r}")
            if not (row.get(f"identifier_value_{side}") or "").strip():
                problems.append(f"{where}: identifier_value_{side} is empty")
        if not (row.get("reason") or "").strip():
            problems.append(f"{where}: reason is empty; overrides must say why")
    return problems


def check(seeds: Path = SEEDS) -> None:
    """Raise RuleError listing every problem in the rule seeds."""
    problems = validate(seeds)
    if problems:
        raise RuleError("identity rules are invalid; nothing was built:\n  " + "\n  ".join(problems))
