"""Statistics (统计) over REST: ``GET /api/v1/stats``, for admins and supervisors only.

The figures name clerks (by user name, when grouped by clerk) and say how each
counter and clerk did: staff data, so no device and no other staff may read
them (403). Nothing about a visitor is in them: counts, times and ratings,
never a name, phone, ticket id or priority category.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, jsonify, request

from ..core.stats import BadStatsQuery, StatsQuery, parse_day, report_json
from ..reports.figures import satisfaction_config
from .auth import hub, requires
from .refusals import ApiError

stats_api = Blueprint("stats", __name__, url_prefix="/api/v1")

#: The query parameters ``/stats`` takes; any other is refused (a typo must not widen the figures).
PARAMETERS = ("from", "to", "by", "service", "counter")


def stats_query() -> StatsQuery:
    """The question in the query string, checked: 400 with a sentence that says what is wrong."""
    unknown = sorted(set(request.args) - set(PARAMETERS))
    if unknown:
        raise BadStatsQuery(
            f"unknown parameter {unknown[0]!r}; expected {', '.join(PARAMETERS)}",
            f"没有参数 {unknown[0]!r}，可用的参数为 {'、'.join(PARAMETERS)}",
        )
    first_raw = request.args.get("from")
    if first_raw is None:
        raise BadStatsQuery(
            "'from' is required: the first business day, as YYYY-MM-DD",
            "缺少 from：请填写起始营业日，格式为 YYYY-MM-DD",
        )
    first = parse_day(first_raw, "from")
    last = parse_day(request.args["to"], "to") if "to" in request.args else first
    hall = hub().core.hall
    service = request.args.get("service")
    if service is not None and service not in hall.services:
        raise ApiError(
            400, f"there is no service {service!r}", "unknown_service", zh=f"业务 {service!r} 不存在"
        )
    counter: int | None = None
    raw_counter = request.args.get("counter")
    if raw_counter is not None:
        if not (raw_counter.isascii() and raw_counter.isdigit() and len(raw_counter) <= 6):
            raise BadStatsQuery(
                f"'counter' must be a counter number; got {raw_counter!r}",
                f"counter 须为窗口号，收到 {raw_counter!r}",
            )
        counter = int(raw_counter)
        if counter not in hall.counters:
            raise ApiError(
                400, f"there is no counter {counter}", "unknown_counter", zh=f"{counter} 号窗口不存在"
            )
    return StatsQuery(first, last, request.args.get("by", "day"), service, counter)


@stats_api.get("/stats")
@requires("admin", "supervisor")
def stats() -> Response:
    """The hall's figures for a period of business days, grouped by day, hour, service, counter or clerk."""
    query = stats_query()
    the_hub = hub()
    hall = the_hub.core.hall
    report = the_hub.statistics.report(query)
    answer = report_json(report, hall.services, hall.counters)
    answer.update(
        timezone=hall.calendar.timezone,
        satisfaction=satisfaction_config(hall),
    )
    # Complaints of the same business days, from their own log (查处率, closure time).
    start = hall.calendar.day_start(query.first)
    end = hall.calendar.day_start(query.last + timedelta(days=1))
    answer["complaints"] = the_hub.complaints.figures(start, end).as_dict()
    response = jsonify(answer)
    response.headers["Cache-Control"] = "no-store"
    return response
