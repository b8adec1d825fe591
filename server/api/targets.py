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
        raise ApiError(400, f"'{name}' must be a date like 2026-12-01, got {raw[:40]!r}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"'{name}': {raw} is no day of the calendar") from None


def requested_days() -> tuple[date, date]:
    """``?day=`` (one business day), or ``?from=&to=`` (both, inclusive); none: today's business day."""
    args = request.args
    day, first, last = args.get("day"), args.get("from"), args.get("to")
    if day is not None:
        if first is not None or last is not None:
            raise ApiError(400, "give 'day', or 'from' and 'to', not both")
        one = _day("day", day)
        return one, one
    if first is None and last is None:
        the_hub = hub()
        today = the_hub.core.hall.calendar.business_day(the_hub.clock())
        return today, today
    if first is None or last is None:
        raise ApiError(400, "a range needs both 'from' and 'to' (or give 'day')")
    start, end = _day("from", first), _day("to", last)
    if end < start:
        raise ApiError(400, f"'to' ({end}) is before 'from' ({start})")
    if end - start >= timedelta(days=MAX_DAYS):
        raise ApiError(400, f"a range covers at most {MAX_DAYS} days")
    return start, end


@targets_api.get("")
@requires("staff", "admin")
def share_within_target() -> Response:
    """Legs that had a target and legs that met it, for the hall, per service and per counter.

    ``?day=2026-12-01`` (default: today's business day) or ``?from=&to=``
    (inclusive, at most a year). Counted from the kept legs: a leg counts once
    its verdict is written (its first call, its end); docs/architecture.md, "Targets".
    """
    first, last = requested_days()
    principal = current_principal()
    the_hub = hub()
    hall = the_hub.core.hall
    report = the_hub.core.target_report(first, last)
    counters = sorted(set(hall.counters) | set(report.counters))
    if principal.role != "admin":
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
