"""Reports (报表) over REST: a day's and a month's report and a clerk's monthly scorecard, for admins and
supervisors; how right the estimated wait was, for admins.

``GET /reports/daily?day=``, ``/reports/monthly?month=`` answer JSON, or the same
report as a file with ``format=csv|xlsx|pdf`` (an attachment named
``qcall-monthly-2026-03.csv``). ``GET /reports/clerks/{username}?month=`` is a
clerk's scorecard (星级营业员), JSON.

The figures are the statistics' (server/reports/figures.py asks
server/store/stats.py), read and written off the hub's loop on the statistics'
thread: a month's PDF is a few hundred milliseconds of Python that the calls,
kiosks and screens must not wait behind. The reports name clerks and say how
each did: staff data, so 403 for devices, clerks and triage. Nothing about a
visitor is in them (docs/architecture.md, "Reports").

``GET /reports/estimates?from=YYYY-MM-DD&days=N``: how right the
estimated wait given at issue was (server/store/estimates.py): per service and
for the hall, the mean absolute error against the real wait (issue → first
call) and the share within ±5 minutes, over the tickets issued on those
business days (``days`` from ``from`` on, 1–367) that were called. Admins only.
A range is a first day and a count, so a request the document allows is never
refused (a ``to`` before ``from`` would be).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..core.stats import BadStatsQuery, check_year
from ..reports.figures import Period, build_report, clerk_groups, day_period, month_period, scorecard
from ..reports.table import file_name
from ..store.estimates import WITHIN_SECONDS, estimate_accuracy
from .auth import hub, requires
from .refusals import ApiError

reports_api = Blueprint("reports", __name__, url_prefix="/api/v1/reports")

#: format → (media type, the writer's module); ``json`` is the answer itself. The writers load with the
#: first file asked for: reportlab and openpyxl cost a hub that never writes one ~20 MB and start-up time.
FILES: dict[str, tuple[str, str]] = {
    "csv": ("text/csv; charset=utf-8", "csv_file"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx_file"),
    "pdf": ("application/pdf", "pdf_file"),
}
FORMATS = ("json", *FILES)
#: The longest range one estimate report may read (a year and a day: a leap year's whole).
LONGEST_RANGE_DAYS = 367


def writer(chosen: str) -> Callable[[dict[str, Any]], bytes]:
    """The function that writes a report as ``chosen`` (``write_csv`` of server/reports/csv_file.py, …)."""
    module = importlib.import_module(f"server.reports.{FILES[chosen][1]}")
    write: Callable[[dict[str, Any]], bytes] = getattr(module, f"write_{chosen}")
    return write


def _only(*names: str) -> None:
    """Refuse a parameter the route does not take: a typo (``mnth=``) must not answer another period."""
    unknown = sorted(set(request.args) - set(names))
    if unknown:
        raise BadStatsQuery(
            f"unknown parameter {unknown[0]!r}; expected {', '.join(names)}",
            f"没有参数 {unknown[0]!r}，可用的参数为 {'、'.join(names)}",
        )


def _format() -> str:
    chosen = request.args.get("format", "json")
    if chosen not in FORMATS:
        raise BadStatsQuery(
            f"'format' must be one of {', '.join(FORMATS)}; got {chosen!r}",
            f"format 须为 {'、'.join(FORMATS)} 之一，收到 {chosen!r}",
        )
    return chosen


def _answer(period: Period, chosen: str) -> Response:
    the_hub = hub()
    report = build_report(the_hub.statistics, the_hub.core.hall, period)
    if chosen == "json":
        response = jsonify(report)
    else:
        media, write = FILES[chosen][0], writer(chosen)
        body = the_hub.statistics.run(lambda: write(report))
        response = Response(body, mimetype=media.split(";")[0], content_type=media)
        response.headers["Content-Disposition"] = f'attachment; filename="{file_name(report, chosen)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@reports_api.get("/daily")
@requires("admin", "supervisor")
def daily() -> Response:
    """One business day: the hall, its hours, services, counters and clerks, the hand-offs."""
    _only("day", "format")
    return _answer(day_period(request.args.get("day")), _format())


@reports_api.get("/monthly")
@requires("admin", "supervisor")
def monthly() -> Response:
    """One calendar month: the hall, its days, services, counters and clerks, the hand-offs."""
    _only("month", "format")
    return _answer(month_period(request.args.get("month")), _format())


@reports_api.get("/clerks/<username>")
@requires("admin", "supervisor")
def clerk(username: str) -> Response:
    """A clerk's month: served, mean service time, satisfaction, ratings, no-shows; rank among the clerks.

    404 for a name that is neither a user nor a clerk in the month's figures (one since removed).
    """
    _only("month")
    period = month_period(request.args.get("month"))
    the_hub = hub()
    clerks = clerk_groups(the_hub.statistics, the_hub.core.hall, period)
    if not any(g["key"] == username for g in clerks) and not the_hub.accounts.has_user(username):
        raise ApiError(
            404, f"there is no clerk {username!r}", "unknown_clerk", zh=f"工作人员 {username!r} 不存在"
        )
    response = jsonify(scorecard(the_hub.core.hall, period, clerks, username))
    response.headers["Cache-Control"] = "no-store"
    return response


def _day(name: str) -> date:
    raw = request.args.get(name)
    if raw is None:
        raise ApiError(
            400, f"'{name}' is required: a date like 2026-12-01", zh=f"缺少 {name}：请填写日期，如 2026-12-01"
        )
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise ApiError(400, f"'{name}' must be a date like 2026-12-01", zh=f"{name} 须为日期，如 2026-12-01")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, f"'{name}' must be a date like 2026-12-01", zh=f"{name} 须为日期，如 2026-12-01"
        ) from None
    check_year(day.year, raw, name)  # 9999-12-31 and a few days more is no date: a 500, not an answer
    return day


@reports_api.get("/estimates")
@requires("admin")
def estimates() -> Response:
    """The estimated wait's error per service and for the hall, ``days`` business days from ``from``."""
    first = _day("from")
    raw = request.args.get("days", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= LONGEST_RANGE_DAYS:
        raise ApiError(
            400,
            f"'days' must be a whole number from 1 to {LONGEST_RANGE_DAYS}",
            zh=f"days 须为 1 到 {LONGEST_RANGE_DAYS} 的整数",
        )
    last = first + timedelta(days=int(raw) - 1)
    the_hub = hub()
    hall, services = estimate_accuracy(the_hub.store.engine, first, last)
    return jsonify(
        {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "within_minutes": WITHIN_SECONDS // 60,
            "hall": hall.as_dict(),
            "services": [s.as_dict() for s in services],
        }
    )
