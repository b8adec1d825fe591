"""The calendar's keys in the site file: what they build, and one clear line for each mistake.

``[hours]`` (holidays, open_on_holidays, makeup_day_hours, last_ticket_minutes,
at_closing, ``[[hours.exceptions]]``) and a service's own ``hours``,
``last_ticket_minutes`` and ``half_day_caps``. The small valid site and the
one-line check are test_config.py's.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest

from server.config import load_config
from tests.test_config import edit, problem, write

HOURS = '[hours]\nmon = ["08:30-12:00", "13:30-17:30"]\n'


def hours(extra: str) -> str:
    """BASE with ``extra`` lines in ``[hours]``."""
    return edit(HOURS, HOURS + extra)


def service(extra: str) -> str:
    """BASE with ``extra`` lines in the PAY service."""
    return edit('prefix = "A"\n', 'prefix = "A"\n' + extra)


def test_every_calendar_key_builds_the_hall(tmp_path: Path) -> None:
    text = hours(
        'holidays = "CN"\nopen_on_holidays = false\nmakeup_day_hours = "mon"\n'
        'last_ticket_minutes = 30\nat_closing = "carry_over"\n'
        'sat = ["09:00-12:00", "08:00-08:30"]\n'
        "[[hours.exceptions]]\ndate = 2026-12-01\nhours = []\n"
        'name_zh = "系统升级"\nname_en = "System upgrade"\nworking_day = false\n'
        '[[hours.exceptions]]\ndate = "2026-12-02"\nservices = ["INFO"]\nhours = ["09:00-10:00"]\n'
    )
    text = text.replace(
        'prefix = "A"\n',
        'prefix = "A"\nlast_ticket_minutes = 0\nhalf_day_caps = { am = 40, pm = 30 }\n'
        'hours = { sun = ["09:00-24:00"] }\n',
        1,
    )
    config = load_config(write(tmp_path, text))
    hall = config.hall()
    calendar = hall.calendar
    assert config.hours.at_closing == "carry_over"
    assert calendar.workdays.country == "CN" and not calendar.open_on_holidays
    assert calendar.makeup_day_hours == 0 and calendar.last_ticket == timedelta(minutes=30)
    assert list(calendar.hours[5]) == [(time(8, 0), time(8, 30)), (time(9, 0), time(12, 0))]  # in order
    assert calendar.spans(date(2026, 12, 1)) == ()
    assert not calendar.workdays.is_working_day(date(2026, 12, 1))
    assert calendar.spans(date(2026, 12, 2), "INFO") == ((time(9, 0), time(10, 0)),)
    pay = calendar.service_hours["PAY"]
    assert pay.last_ticket == timedelta(0) and pay.hours == {6: [(time(9, 0), time(23, 59, 59))]}
    assert (hall.half_day_caps["PAY"].am, hall.half_day_caps["PAY"].pm) == (40, 30)
    assert "INFO" not in hall.half_day_caps


BAD = [
    pytest.param(
        hours('tue = ["08:00-12:00", "11:00-13:00"]\n'),
        ["hours.tue", "overlap", "'08:00-12:00'", "'11:00-13:00'"],
        id="overlapping-ranges",
    ),
    pytest.param(hours('tue = ["8:00-12:00"]\n'), ["hours.tue", "'8:00-12:00'"], id="malformed-range"),
    pytest.param(hours('holidays = "XX"\n'), ["hours.holidays", "'XX'", "'CN'"], id="unknown-country"),
    pytest.param(
        hours("open_on_holidays = false\n"),
        ["hours.open_on_holidays", "holidays"],
        id="closed-on-holidays-of-no-country",
    ),
    pytest.param(
        hours('makeup_day_hours = "monday"\n'), ["hours.makeup_day_hours", "'monday'"], id="bad-weekday"
    ),
    pytest.param(
        hours("last_ticket_minutes = -5\n"), ["hours.last_ticket_minutes", "-5"], id="negative-last-ticket"
    ),
    pytest.param(hours('at_closing = "keep"\n'), ["hours.at_closing", "'keep'"], id="unknown-at-closing"),
    pytest.param(
        hours('[[hours.exceptions]]\ndate = "2026-13-01"\nhours = []\n'),
        ["hours.exceptions[0].date", "2026-10-01", "'2026-13-01'"],
        id="bad-date",
    ),
    pytest.param(
        hours('[[hours.exceptions]]\ndate = "1 Oct"\n'),
        ["hours.exceptions[0].date", "'1 Oct'"],
        id="date-not-iso",
    ),
    pytest.param(
        hours("[[hours.exceptions]]\ndate = 2026-10-01T09:00:00\n"),
        ["hours.exceptions[0].date", "2026-10-01"],
        id="date-with-a-time",
    ),
    pytest.param(
        hours('[[hours.exceptions]]\nhours = []\nname_zh = "休息"\n'),
        ["hours.exceptions[0].date", "missing"],
        id="exception-without-date",
    ),
    pytest.param(
        hours('[[hours.exceptions]]\ndate = 2026-10-01\nhours = ["12:00-09:00"]\n'),
        ["hours.exceptions[0].hours", "'12:00-09:00'"],
        id="exception-range-backwards",
    ),
    pytest.param(
        hours("[[hours.exceptions]]\ndate = 2026-10-01\n" * 2),
        ["hours.exceptions[1].date", "2026-10-01", "twice"],
        id="exception-twice",
    ),
    pytest.param(
        hours('[[hours.exceptions]]\ndate = 2026-10-01\nservices = ["FAULT"]\n'),
        ["hours.exceptions[0].services", "'FAULT'", "'PAY'"],
        id="exception-unknown-service",
    ),
    pytest.param(
        hours('[[hours.exceptions]]\ndate = 2026-10-01\nservices = ["PAY"]\nworking_day = true\n'),
        ["hours.exceptions[0]", "working_day", "whole hall"],
        id="working-day-of-a-service",
    ),
    pytest.param(
        hours("[[hours.exceptions]]\ndate = 2026-10-01\nopen = false\n"),
        ["hours.exceptions[0].open", "unknown key"],
        id="exception-unknown-key",
    ),
    pytest.param(
        service('hours = { mon = ["08:00-12:00", "09:00-10:00"] }\n'),
        ["services[0].hours.mon", "overlap"],
        id="service-overlapping-ranges",
    ),
    pytest.param(
        service('hours = { monday = ["08:00-12:00"] }\n'),
        ["services[0].hours.monday", "unknown key"],
        id="service-unknown-weekday",
    ),
    pytest.param(service("hours = {}\n"), ["services[0].hours", "no weekday"], id="service-hours-empty"),
    pytest.param(
        service("half_day_caps = { am = -1 }\n"), ["services[0].half_day_caps.am", "-1"], id="negative-cap"
    ),
    pytest.param(
        service("half_day_caps = { morning = 10 }\n"),
        ["services[0].half_day_caps.morning", "unknown key"],
        id="cap-unknown-half",
    ),
    pytest.param(
        service("last_ticket_minutes = 1000\n"),
        ["services[0].last_ticket_minutes", "720", "1000"],
        id="service-last-ticket-too-long",
    ),
]


@pytest.mark.parametrize(("text", "needles"), BAD)
def test_a_calendar_mistake_is_one_line(tmp_path: Path, text: str, needles: list[str]) -> None:
    message = problem(write(tmp_path, text))
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
