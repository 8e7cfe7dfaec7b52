"""The identity rule files are checked before anything runs, and a bad file is refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orchestration import identity_rules


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    for name in ("identity_identifier_types.csv", "identity_blocklist.csv", "identity_overrides.csv"):
        shutil.copy(identity_rules.SEEDS / name, folder / name)
    return folder


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


def test_committed_rules_are_valid() -> None:
    assert identity_rules.validate() == []


def test_unknown_type_is_refused_with_file_and_line(seeds: Path) -> None:
    _append(seeds / "identity_blocklist.csv", "emial,exact,foo@bar.com,typo in the type")
    with pytest.raises(identity_rules.RuleError) as error:
        identity_rules.check(seeds)
    message = str(error.value)
    assert "identity_blocklist.csv line 12" in message
    assert "unknown identifier_type 'emial'" in message


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("^(test@", "not a valid regular expression"), ("^(a)\\1$", "backreference or look-around")],
)
def test_bad_regex_is_refused(seeds: Path, pattern: str, expected: str) -> None:
    _append(seeds / "identity_blocklist.csv", f"email,regex,{pattern},bad rule")
    problems = identity_rules.validate(seeds)
    assert len(problems) == 1
    assert expected in problems[0] and pattern in problems[0]


def test_bad_limits_and_overrides_are_refused(seeds: Path) -> None:
    _append(seeds / "identity_identifier_types.csv", "loyalty_id,1,-2,,loyalty card")
    _append(seeds / "identity_overrides.csv", "force_glue,email,a@example.com,user_id,,,support,2026-01-01")
    problems = identity_rules.validate(seeds)
    assert any("priority 1 is used twice" in p for p in problems)
    assert any("max_per_profile '-2'" in p for p in problems)
    assert any("action 'force_glue'" in p for p in problems)
    assert any("identifier_value_b is empty" in p for p in problems)
    assert any("overrides must say why" in p for p in problems)


def test_declared_types_can_be_used_in_rules(seeds: Path) -> None:
    _append(seeds / "identity_identifier_types.csv", "loyalty_id,8,1,,loyalty card number")
    _append(seeds / "identity_blocklist.csv", "loyalty_id,regex,^TEST,test cards")
    assert identity_rules.validate(seeds) == []
