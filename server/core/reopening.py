"""What a visitor is told when no ticket is issued now: when tickets are issued again, in both languages.

The kiosk shows the hub's refusal as it comes ("本业务 周三 08:30 开始办理 /
This service opens Wed 08:30"), and ``GET /hours`` gives the same words for
the closed screen, so the hall says it one way everywhere. Times are the
hall's local time; a day is said relative to now (today, tomorrow, a weekday
within the week, else the date).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .calendar import Half, Verdict
from .errors import HalfDayFull, HallClosed, Reopens, ServiceClosed

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def when(moment: datetime, now: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """``moment`` as said at ``now``: ("今天 13:30", "today 13:30"), ("周三 08:30", "Wed 08:30")."""
    local = moment.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    hhmm = local.strftime("%H:%M")
    weekday = local.weekday()
    if days <= 0:
        return f"今天 {hhmm}", f"today {hhmm}"
    if days == 1:
        return f"明天 {hhmm}", f"tomorrow {hhmm}"
    if days < 7:
        return f"{WEEKDAYS_ZH[weekday]} {hhmm}", f"{WEEKDAYS_EN[weekday]} {hhmm}"
    zh = f"{local.month}月{local.day}日 {WEEKDAYS_ZH[weekday]} {hhmm}"
    return zh, f"{WEEKDAYS_EN[weekday]} {local.day} {MONTHS_EN[local.month - 1]} {hhmm}"


def closed_refusal(verdict: Verdict, own_hours: bool, now: datetime, zone: ZoneInfo) -> Reopens:
    """The refusal of a walk-in ticket when ``verdict`` is not issuing: hall or service, closed or
    past the last ticket, with the next opening when one is known."""
    kind: type[Reopens] = ServiceClosed if own_hours else HallClosed
    who_zh, who_en = ("本业务", "This service") if own_hours else ("大厅", "The hall")
    opens = verdict.opens_at
    if opens is None:
        return kind(f"{who_zh}现在不办理，暂停取号", f"{who_en} is closed now: no tickets are issued")
    at_zh, at_en = when(opens, now, zone)
    if verdict.open:  # within the hours, past the last ticket
        return kind(
            f"{who_zh}已停止取号，{at_zh} 开始取号",
            f"{who_en} issues no more tickets now; tickets again from {at_en}",
            opens,
        )
    return kind(f"{who_zh} {at_zh} 开始办理", f"{who_en} opens {at_en}", opens)


def half_day_refusal(half: Half, opens: datetime | None, now: datetime, zone: ZoneInfo) -> HalfDayFull:
    """The refusal of a walk-in ticket beyond the half-day's cap (上午/下午号源), with the next half-day."""
    which_zh, which_en = ("上午", "morning") if half == "am" else ("下午", "afternoon")
    full_zh = f"本业务{which_zh}号源已满"
    full_en = f"This service's {which_en} tickets are all taken"
    if opens is None:
        return HalfDayFull(full_zh, full_en)
    at_zh, at_en = when(opens, now, zone)
    return HalfDayFull(f"{full_zh}，{at_zh} 开始取号", f"{full_en}; next tickets from {at_en}", opens)
