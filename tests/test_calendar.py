"""The hall's calendar over the real year 2026: opening hours, holidays, make-up days, exceptions, deadlines.

Plain Python (server/core/calendar.py), no store. China's holidays and
make-up working days (调休) come from chinese-calendar: a test changes the
library's answer and the hall follows, so no table in this project decides.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.core.calendar import DayException, HallCalendar, ServiceHours
from server.core.errors import HalfDayFull, HallClosed, ServiceClosed
from server.core.reopening import closed_refusal, half_day_refusal, when
from server.core.workdays import WorkCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAY = [(time(9, 0), time(12, 0)), (time(13, 30), time(17, 0))]


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A wall-clock moment in the hall, as the UTC moment the hub's clock gives."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


def government_hall(**changes: object) -> HallCalendar:
    """A hall open Monday to Friday (lunch break), closed on China's public holidays, which opens on
    a make-up working day (调休) with Monday's hours; the last ticket 30 minutes before each closing."""
    settings: dict[str, object] = {
        "timezone": "Asia/Shanghai",
        "hours": dict.fromkeys(range(5), WEEKDAY),
        "enforce_hours": True,
        "workdays": WorkCalendar("CN"),
        "open_on_holidays": False,
        "makeup_day_hours": 0,
        "last_ticket": timedelta(minutes=30),
    }
    settings.update(changes)
    return HallCalendar(**settings)  # type: ignore[arg-type]


# -- a day's hours over 2026 -------------------------------------------------------------


def test_breaks_and_the_last_ticket_before_each_closing() -> None:
    hall = government_hall()
    tuesday = date(2026, 12, 1)
    assert hall.spans(tuesday) == tuple(WEEKDAY)
    assert not hall.is_open(at(2026, 12, 1, 8, 59))
    assert hall.issuing(at(2026, 12, 1, 9, 0))
    assert hall.issuing(at(2026, 12, 1, 11, 29, 59))
    # 11:30–12:00: open (a booked visitor checks in), no walk-in ticket.
    assert hall.is_open(at(2026, 12, 1, 11, 30)) and not hall.issuing(at(2026, 12, 1, 11, 30))
    assert not hall.is_open(at(2026, 12, 1, 12, 30))  # lunch break
    assert hall.closing(tuesday) == at(2026, 12, 1, 17, 0)
    verdict = hall.verdict(at(2026, 12, 1, 11, 40))
    assert verdict.closes_at == at(2026, 12, 1, 12, 0) and verdict.last_ticket_at is None
    assert verdict.opens_at == at(2026, 12, 1, 13, 30)
    assert hall.verdict(at(2026, 12, 1, 10, 0)).last_ticket_at == at(2026, 12, 1, 11, 30)


def test_china_2026_holidays_close_the_hall_and_make_up_saturdays_open_it() -> None:
    hall = government_hall()
    # National Day: 1–7 October off (2026); Sunday 20 September and Saturday 10 October make up.
    for day in range(1, 8):
        assert hall.spans(date(2026, 10, day)) == (), day
    assert hall.spans(date(2026, 10, 8)) == tuple(WEEKDAY)  # Thursday
    assert hall.spans(date(2026, 9, 20)) == tuple(WEEKDAY)  # 调休 Sunday: Monday's hours
    assert hall.spans(date(2026, 10, 10)) == tuple(WEEKDAY)  # 调休 Saturday
    assert hall.spans(date(2026, 10, 11)) == ()  # a plain Sunday
    # Spring Festival: 15–23 February; Saturdays 14 and 28 February work.
    assert hall.spans(date(2026, 2, 14)) == tuple(WEEKDAY)
    assert hall.spans(date(2026, 2, 16)) == ()
    assert hall.spans(date(2026, 2, 28)) == tuple(WEEKDAY)
    # The next opening skips the holiday and its weekend.
    assert hall.next_opening(at(2026, 9, 30, 17, 0)) == at(2026, 10, 8, 9, 0)
    assert hall.next_opening(at(2026, 2, 13, 17, 0)) == at(2026, 2, 14, 9, 0)
    assert hall.next_opening(at(2026, 2, 14, 17, 0)) == at(2026, 2, 24, 9, 0)
    assert hall.verdict(at(2026, 10, 3, 10, 0)).day_name == ("国庆节", "National Day")
    # Over the whole year: open exactly on China's 2026 working days (248), by the library.
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert sum(bool(hall.spans(day)) for day in days) == 248


def test_the_days_follow_the_library_not_a_table_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the State Council to add a holiday, the library's answer is what the hall follows."""
    import chinese_calendar

    hall = government_hall()
    tuesday = date(2026, 12, 1)
    assert hall.spans(tuesday) == tuple(WEEKDAY)
    real_detail, real_workday = chinese_calendar.get_holiday_detail, chinese_calendar.is_workday
    monkeypatch.setattr(
        chinese_calendar,
        "get_holiday_detail",
        lambda day: (True, "National Day") if day == tuesday else real_detail(day),
    )
    monkeypatch.setattr(chinese_calendar, "is_workday", lambda day: day != tuesday and real_workday(day))
    assert hall.spans(tuesday) == ()
    assert not hall.workdays.is_working_day(tuesday)
    assert hall.deadline(at(2026, 11, 30, 10, 0), 1) == at(2026, 12, 2) + timedelta(days=1) - timedelta(
        microseconds=1
    )


def test_a_hall_open_on_holidays_keeps_its_weekday_hours_and_names_the_day() -> None:
    hall = government_hall(open_on_holidays=True)
    assert hall.spans(date(2026, 10, 1)) == tuple(WEEKDAY)  # Thursday, National Day
    assert hall.verdict(at(2026, 10, 1, 10, 0)).issuing
    assert hall.verdict(at(2026, 10, 1, 10, 0)).day_name == ("国庆节", "National Day")
    # Without makeup_day_hours a make-up Saturday keeps Saturday's hours (none here).
    assert government_hall(makeup_day_hours=None).spans(date(2026, 10, 10)) == ()


def test_a_site_exception_wins_over_weekdays_holidays_and_make_up_days() -> None:
    exceptions = (
        DayException(date(2026, 12, 1), (), "系统升级", "System upgrade"),  # a Tuesday, closed
        DayException(date(2026, 10, 2), ((time(9, 0), time(12, 0)),), "国庆值班", "Holiday desk"),
        DayException(date(2026, 10, 10), ()),  # the make-up Saturday: the hall stays closed
        DayException(date(2026, 12, 2), (), services=frozenset({"NEW"})),  # one service closed
        DayException(date(2026, 12, 3), name_zh="开放日", name_en="Open day"),  # usual hours, a name
    )
    hall = government_hall(exceptions=exceptions, workdays=WorkCalendar("CN", {date(2026, 12, 1): True}))
    assert hall.spans(date(2026, 12, 1)) == ()
    assert hall.verdict(at(2026, 12, 1, 10, 0)).day_name == ("系统升级", "System upgrade")
    assert hall.next_opening(at(2026, 11, 30, 17, 0)) == at(2026, 12, 2, 9, 0)
    assert hall.spans(date(2026, 10, 2)) == ((time(9, 0), time(12, 0)),)
    assert hall.spans(date(2026, 10, 10)) == ()
    assert hall.spans(date(2026, 12, 2), "NEW") == () and hall.spans(date(2026, 12, 2)) == tuple(WEEKDAY)
    assert hall.issuing(at(2026, 12, 2, 10, 0), "PAY") and not hall.issuing(at(2026, 12, 2, 10, 0), "NEW")
    assert hall.spans(date(2026, 12, 3)) == tuple(WEEKDAY)
    assert hall.verdict(at(2026, 12, 3, 10, 0)).day_name == ("开放日", "Open day")


def test_a_service_keeps_its_own_hours_and_last_ticket() -> None:
    pharmacy = ServiceHours({d: [(time(8, 0), time(20, 0))] for d in range(7)}, timedelta(0))
    clinic = ServiceHours({0: [(time(9, 0), time(12, 0))]})
    hall = government_hall(service_hours={"PHARM": pharmacy, "OPH": clinic}, open_on_holidays=True)
    sunday = at(2026, 11, 29, 19, 59)
    assert hall.issuing(sunday, "PHARM") and not hall.is_open(sunday) and not hall.is_open(sunday, "PAY")
    assert hall.next_opening(at(2026, 12, 1, 10, 0), "OPH") == at(2026, 12, 7, 9, 0)
    assert not hall.issuing(at(2026, 12, 7, 11, 45), "OPH")  # the hall's last ticket
    assert hall.issuing(at(2026, 12, 7, 16, 59), "PHARM")


def test_24_00_closes_at_midnight_and_a_short_range_issues_nothing() -> None:
    late = government_hall(
        hours={1: [(time(18, 0), time(23, 59, 59))], 2: [(time(9, 0), time(9, 20))], 3: WEEKDAY},
        open_on_holidays=True,
    )
    assert late.closing(date(2026, 12, 1)) == at(2026, 12, 2)
    assert late.issuing(at(2026, 12, 1, 23, 29, 59)) and not late.issuing(at(2026, 12, 1, 23, 30))
    # Wednesday's 20 minutes end before their last ticket: the next opening is Thursday's.
    assert late.next_opening(at(2026, 12, 1, 23, 45)) == at(2026, 12, 3, 9, 0)


def test_no_hours_at_all_has_no_next_opening_and_unenforced_hours_never_close() -> None:
    closed = government_hall(hours={})
    assert closed.next_opening(at(2026, 12, 1, 10, 0)) is None
    refusal = closed_refusal(closed.verdict(at(2026, 12, 1, 10, 0)), False, at(2026, 12, 1, 10, 0), SHANGHAI)
    assert refusal.opens_at is None and "大厅" in refusal.message_zh
    free = government_hall(enforce_hours=False, hours={})
    assert free.issuing(at(2026, 10, 1, 3, 0)) and free.next_opening(at(2026, 10, 1, 3, 0)) is None


def test_the_verdict_is_kept_for_its_minute_and_no_longer() -> None:
    hall = government_hall()
    first = hall.verdict(at(2026, 12, 1, 11, 29, 1))
    assert hall.verdict(at(2026, 12, 1, 11, 29, 59)) is first and first.issuing
    turned = hall.verdict(at(2026, 12, 1, 11, 30, 0))
    assert turned is not first and not turned.issuing
    assert hall.verdict(at(2026, 12, 1, 11, 30, 30), "PAY") is turned  # a service on the hall's hours


# -- half-days (上午/下午号源) -------------------------------------------------------------


def test_half_days_split_at_noon_of_the_business_day() -> None:
    hall = government_hall(noon=time(12, 30), day_starts_at=time(3, 0))
    assert hall.half_day(at(2026, 12, 1, 12, 29)) == "am"
    assert hall.half_day(at(2026, 12, 1, 12, 30)) == "pm"
    assert hall.half_day(at(2026, 12, 2, 1, 0)) == "pm"  # before 03:00: still the 1st's afternoon
    # The morning's tickets gone: the afternoon's open at 13:30; the afternoon's gone: tomorrow 09:00.
    assert hall.next_half_day(at(2026, 12, 1, 10, 0)) == at(2026, 12, 1, 13, 30)
    assert hall.next_half_day(at(2026, 12, 1, 14, 0)) == at(2026, 12, 2, 9, 0)
    # A hall open through noon: the afternoon's tickets start at noon itself.
    through = government_hall(hours={1: [(time(9, 0), time(17, 0))]})
    assert through.next_half_day(at(2026, 12, 1, 10, 0)) == at(2026, 12, 1, 12, 0)


# -- what the visitor is told ---------------------------------------------------------------


def test_the_next_opening_is_said_in_both_languages() -> None:
    now = at(2026, 12, 1, 18, 0)  # a Tuesday evening
    assert when(at(2026, 12, 1, 19, 0), now, SHANGHAI) == ("今天 19:00", "today 19:00")
    assert when(at(2026, 12, 2, 8, 30), now, SHANGHAI) == ("明天 08:30", "tomorrow 08:30")
    assert when(at(2026, 12, 3, 8, 30), now, SHANGHAI) == ("周四 08:30", "Thu 08:30")
    assert when(at(2026, 12, 14, 9, 0), now, SHANGHAI) == ("12月14日 周一 09:00", "Mon 14 Dec 09:00")
    hall = government_hall()
    closed = closed_refusal(hall.verdict(at(2026, 9, 30, 18, 0)), True, at(2026, 9, 30, 18, 0), SHANGHAI)
    assert isinstance(closed, ServiceClosed) and closed.code == "service_closed"
    assert closed.message == "本业务 10月8日 周四 09:00 开始办理 / This service opens Thu 8 Oct 09:00"
    assert closed.opens_at == at(2026, 10, 8, 9, 0)
    late = closed_refusal(hall.verdict(at(2026, 12, 1, 16, 40)), False, at(2026, 12, 1, 16, 40), SHANGHAI)
    assert isinstance(late, HallClosed)
    assert late.message_zh == "大厅已停止取号，明天 09:00 开始取号"
    assert late.message_en == "The hall issues no more tickets now; tickets again from tomorrow 09:00"
    full = half_day_refusal("am", at(2026, 12, 1, 13, 30), at(2026, 12, 1, 10, 0), SHANGHAI)
    assert isinstance(full, HalfDayFull) and full.code == "half_day_full"
    assert full.message_zh == "本业务上午号源已满，今天 13:30 开始取号"
    assert full.message_en == "This service's morning tickets are all taken; next tickets from today 13:30"


# -- working-day deadlines -------------------------------------------------------------------


def test_deadlines_skip_holidays_and_count_make_up_saturdays() -> None:
    hall = government_hall()
    end_of = lambda day: datetime.combine(day, time.max, SHANGHAI).astimezone(UTC)  # noqa: E731
    # Wednesday 30 September + 1 working day: Thursday 8 October (1–7 October off).
    assert hall.deadline(at(2026, 9, 30, 16, 0), 1) == end_of(date(2026, 10, 8))
    # Friday 9 October + 1: the make-up Saturday 10 October counts.
    assert hall.deadline(at(2026, 10, 9, 10, 0), 1) == end_of(date(2026, 10, 10))
    # Friday 18 September + 1: the make-up Sunday 20 September.
    assert hall.deadline(at(2026, 9, 18, 10, 0), 1) == end_of(date(2026, 9, 20))
    # Friday 13 February + 2: Saturday 14 (make-up), then Tuesday 24 after the festival.
    assert hall.deadline(at(2026, 2, 13, 10, 0), 2) == end_of(date(2026, 2, 24))
    # 0: the end of the same working day; on a day off, of the next working day.
    assert hall.deadline(at(2026, 12, 1, 10, 0), 0) == end_of(date(2026, 12, 1))
    assert hall.deadline(at(2026, 10, 3, 10, 0), 0) == end_of(date(2026, 10, 8))
    # The moment's local date counts, not its UTC date: 07:30 on the 1st in Shanghai is 23:30 UTC on the 30th.
    assert hall.deadline(at(2026, 12, 1, 7, 30), 1) == end_of(date(2026, 12, 2))
    assert hall.deadline(at(2026, 12, 1, 7, 30), 1).tzinfo is UTC
