"""Working days over a real year: China's 2026 holidays and make-up days come from chinese-calendar."""

from __future__ import annotations

from datetime import date

import pytest

from server.core.workdays import UnknownCountry, WorkCalendar

CN = WorkCalendar("CN")


def test_china_2026_holidays_and_make_up_days_come_from_the_library() -> None:
    # Spring Festival 2026: 15–23 February off; Saturday 14 and Saturday 28 February are make-up working days.
    assert not CN.is_working_day(date(2026, 2, 16))
    assert not CN.is_working_day(date(2026, 2, 23))
    assert CN.is_working_day(date(2026, 2, 14))  # a Saturday
    assert CN.is_working_day(date(2026, 2, 28))  # a Saturday
    # National Day: 1–7 October off; Saturday 10 October works.
    assert [CN.is_working_day(date(2026, 10, d)) for d in range(1, 11)] == [False] * 7 + [True, True, True]
    assert date(2026, 10, 10).weekday() == 5
    # A plain week and a plain weekend.
    assert CN.is_working_day(date(2026, 12, 1)) and not CN.is_working_day(date(2026, 12, 5))
    # 2026: 261 weekdays − 19 of them off + 6 make-up days = 248 working days.
    days = [date.fromordinal(date(2026, 1, 1).toordinal() + i) for i in range(365)]
    assert sum(CN.is_working_day(day) for day in days) == 248


def test_deadlines_skip_holidays_and_count_make_up_saturdays() -> None:
    # Friday 13 February + 1 working day = Saturday 14 (a make-up day); + 2 = Tuesday 24 (after the festival).
    assert CN.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert CN.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    # Wednesday 30 September + 1 = Thursday 8 October.
    assert CN.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    # A deadline of the same day on a day off moves to the next working day.
    assert CN.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 8)
    assert CN.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3


def test_a_site_exception_wins() -> None:
    site = WorkCalendar("CN", {date(2026, 2, 16): True, date(2026, 12, 1): False})
    assert site.is_working_day(date(2026, 2, 16))
    assert not site.is_working_day(date(2026, 12, 1))
    assert site.add_working_days(date(2026, 11, 30), 1) == date(2026, 12, 2)


def test_other_countries_come_from_holidays_and_an_unknown_one_is_refused() -> None:
    hk = WorkCalendar("HK")
    assert not hk.is_working_day(date(2026, 12, 25))
    assert hk.is_working_day(date(2026, 12, 24))
    with pytest.raises(UnknownCountry, match="'XX'"):
        WorkCalendar("XX")


def test_a_year_the_library_does_not_know_falls_back_to_weekdays_and_says_so() -> None:
    day = date(2031, 3, 3)  # a Monday, beyond chinese-calendar's data
    assert not CN.known(day)
    assert CN.is_working_day(day) and not CN.is_working_day(date(2031, 3, 1))
    assert CN.known(date(2026, 3, 3))


def test_no_country_is_monday_to_friday() -> None:
    plain = WorkCalendar()
    assert plain.add_working_days(date(2026, 12, 4), 1) == date(2026, 12, 7)
    with pytest.raises(ValueError, match=">= 0"):
        plain.add_working_days(date(2026, 12, 4), -1)
