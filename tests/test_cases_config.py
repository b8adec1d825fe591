"""Kinds of case in the site file: the utility hall's 业扩报装, the documented keys, one-line mistakes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from server.config import CaseKindSection, CaseStepSection, ConfigError, load_config
from server.core.cases import deadline
from tests.support import CASE_KINDS_TOML, write_site

ROOT = Path(__file__).resolve().parents[1]
#: The tests' 业扩报装, on the test site's PAY service.
KIND = CASE_KINDS_TOML.replace('service = "NEW"', 'service = "PAY"')


def test_the_utility_hall_follows_a_new_connection_over_china_s_working_days() -> None:
    config = load_config(ROOT / "config" / "samples" / "utility_hall.toml")
    (kind,) = config.case_kinds_by_code().values()
    assert (kind.code, kind.name_zh, kind.service) == ("NEW_CONNECTION", "业扩报装", "NEW")
    assert [(s.code, s.name_zh, s.working_days) for s in kind.steps] == [
        ("APPLICATION", "受理申请", 1),
        ("SURVEY", "现场勘查", 3),
        ("DESIGN", "方案答复", 5),
        ("CONNECTION", "装表接电", 5),
    ]
    calendar = config.hall().calendar
    # Its calendar is China's: a survey started Wednesday 30 September ends Saturday 10 October (调休).
    assert deadline(calendar, datetime(2026, 9, 30, 7, 0, tzinfo=UTC), 3)[0] == date(2026, 10, 10)


def test_default_config_documents_every_case_kind_key() -> None:
    text = (ROOT / "config" / "default.toml").read_text(encoding="utf-8")
    assert re.search(r"^# \[\[case_kinds\]\]$", text, re.M) and re.search(
        r"^# \[\[case_kinds\.steps\]\]$", text, re.M
    )
    for model in (CaseKindSection, CaseStepSection):
        for key in model.model_fields:
            if key != "steps":
                assert re.search(rf"^# {key} = ", text, re.M), f"case_kinds.{key} is not documented"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('service = "PAY"', 'service = "SOLAR"'),
            "case_kinds[0].service: unknown service 'SOLAR'; expected one of",
        ),
        (
            ("working_days = 3", "working_days = 0"),
            "case_kinds[0].steps[1].working_days: Input should be greater than or equal to 1, got 0",
        ),
        (
            ("working_days = 1", "working_days = -2"),
            "case_kinds[0].steps[0].working_days: Input should be greater than or equal to 1, got -2",
        ),
        (
            ("working_days = 3", 'working_days = "3"'),
            "case_kinds[0].steps[1].working_days: Input should be a valid integer, got '3'",
        ),
        (
            ('code = "SURVEY"', 'code = "APPLICATION"'),
            "case_kinds[0].steps[1].code: 'APPLICATION' is used twice; expected each code once",
        ),
        (
            ('name_en = "Site survey"', 'name_en = "Site survey"\nhours = 3'),
            "case_kinds[0].steps[1].hours: unknown key; check its spelling",
        ),
    ],
)
def test_mistakes_in_a_kind_of_case_are_one_line(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = write_site(tmp_path / "site.toml", "sqlite:///x.db")
    text = path.read_text(encoding="utf-8") + KIND.replace(*change)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    assert expected in message, message


def test_a_kind_twice_and_a_kind_without_steps_are_refused(tmp_path: Path) -> None:
    path = write_site(tmp_path / "site.toml", "sqlite:///x.db")
    base = path.read_text(encoding="utf-8")
    path.write_text(base + KIND + KIND, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"case_kinds\[1\]\.code: 'NEW_CONNECTION' is used twice"):
        load_config(path)
    path.write_text(base + KIND.split("[[case_kinds.steps]]")[0], encoding="utf-8")
    with pytest.raises(ConfigError, match=r"case_kinds\[0\]\.steps: required key is missing"):
        load_config(path)
    path.write_text(base + KIND, encoding="utf-8")
    assert list(load_config(path).case_kinds_by_code()) == ["NEW_CONNECTION"]
