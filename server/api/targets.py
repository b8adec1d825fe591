"""The share within target (时限合格率) over REST: ``GET /api/v1/targets``.

Least rights: an admin sees the hall, every service and every counter; a
clerk sees the hall and the services (figures that name nobody) and only
their own counter's line, not how colleagues at other counters did.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..core.targets import Shares, TargetReport
from .auth import current_principal, hub, requires
from .refusals import ApiError

targets_api = Blueprint("targets", __name__, url_prefix="/api/v1/targets")

#: The longest range one answer covers: a year (a leap year's days).
MAX_DAYS = 366


def _day(name: str, raw: str) -> date:
    """A query parameter as a date, or a 400 that names it and shows the form it takes."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        raise ApiError(
            400,
            f"'{name}' must be a date like 2026-12-01, got {raw[:40]!r}",
            zh=f"{name} 须为日期，如 2026-12-01，收到 {raw[:40]!r}",
        )
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, f"'{name}': {raw} is no day of the calendar", zh=f"{name}：{raw} 不是日历上的日期"
        ) from None


def requested_days() -> tuple[date, date]:
    """``?day=`` (default: today's business day) and ``?days=`` (1 to 366, default 1): the days counted.

    A range is a first day and a length, not two ends, so no combination of
    well-formed values is refused; one that would run past the calendar's last
    day (9999-12-31) ends there.
    """
    raw_day, raw_days = request.args.get("day"), request.args.get("days", "1")
    if raw_day is None:
        the_hub = hub()
        first = the_hub.core.hall.calendar.business_day(the_hub.clock())
    else:
        first = _day("day", raw_day)
    if not raw_days.isascii() or not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_DAYS:
        raise ApiError(
            400,
            f"'days' must be a whole number from 1 to {MAX_DAYS}, got {raw_days[:40]!r}",
            zh=f"days 须为 1 到 {MAX_DAYS} 的整数，收到 {raw_days[:40]!r}",
        )
    span = int(raw_days) - 1
    last = first + timedelta(days=span) if date.max - first >= timedelta(days=span) else date.max
    return first, last


@targets_api.get("")
@requires("staff", "admin", "supervisor")
def share_within_target() -> Response:
    """Legs that had a target and legs that met it, for the hall, per service and per counter.

    ``?day=2026-12-01`` (default: today's business day) and ``?days=7`` (from that
    day on, at most a year; default 1). Counted from the kept legs: a leg counts
    once its verdict is written (its first call, its end); docs/architecture.md, "Targets".
    """
    first, last = requested_days()
    principal = current_principal()
    the_hub = hub()
    hall = the_hub.core.hall
    report = the_hub.core.target_report(first, last)
    counters = sorted(set(hall.counters) | set(report.counters))
    if principal.role not in ("admin", "supervisor"):  # a clerk sees their own counter only
        counters = [n for n in counters if n == principal.counter]
    return jsonify(
        first_day=first.isoformat(),
        last_day=last.isoformat(),
        targets=_configured(),
        hall=report.hall.as_dict(),
        services=[_service_line(code, report) for code in [*hall.services, *_unconfigured(report)]],
        counters=[_counter_line(number, report) for number in counters],
    )


def _configured() -> dict[str, Any]:
    """The targets in force now, in minutes (null: none), and the warning's lead."""
    rules = hub().core.hall.targets
    return {
        "warn_before_minutes": int(rules.warn_before.total_seconds() // 60),
        "site": {
            "wait_minutes": _whole_minutes(rules.default.wait),
            "service_minutes": _whole_minutes(rules.default.service),
        },
        "services": [
            {
                "code": code,
                "wait_minutes": _whole_minutes(rules.of(code).wait),
                "service_minutes": _whole_minutes(rules.of(code).service),
            }
            for code in hub().core.hall.services
        ],
    }


def _whole_minutes(span: timedelta | None) -> int | None:
    return int(span.total_seconds() // 60) if span is not None else None


def _unconfigured(report: TargetReport) -> list[str]:
    """Services in the kept legs that the site file no longer names (their legs still count)."""
    return sorted(code for code in report.services if code not in hub().core.hall.services)


def _service_line(code: str, report: TargetReport) -> dict[str, Any]:
    service = hub().core.hall.services.get(code)
    return {
        "code": code,
        "name_zh": service.name_zh if service else code,
        "name_en": service.name_en if service else code,
        **report.services.get(code, Shares()).as_dict(),
    }


def _counter_line(number: int, report: TargetReport) -> dict[str, Any]:
    counter = hub().core.hall.counters.get(number)
    return {
        "number": number,
        "name_zh": counter.name_zh if counter else f"{number}号窗口",
        "name_en": counter.name_en if counter else f"Counter {number}",
        **report.counters.get(number, Shares()).as_dict(),
    }
