"""Reports for admins: ``/api/v1/reports``. Figures read from the store, for a day or a range of days.

``GET /reports/estimates?from=YYYY-MM-DD&days=N``: how right the
estimated wait given at issue was (server/store/estimates.py): per service and
for the hall, the mean absolute error against the real wait (issue → first
call) and the share within ±5 minutes, over the tickets issued on those
business days (``days`` from ``from`` on, 1–367) that were called. Admins only,
like every report. A range is a first day and a count, so a request the
document allows is never refused (a ``to`` before ``from`` would be).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask import Blueprint, Response, jsonify, request

from ..store.estimates import WITHIN_SECONDS, estimate_accuracy
from .auth import current_principal, hub
from .refusals import ApiError

reports = Blueprint("reports", __name__, url_prefix="/api/v1/reports")

#: The longest range one request may read (a year and a day: a leap year's whole).
LONGEST_RANGE_DAYS = 367


@reports.before_request
def _admins_only() -> None:
    if current_principal().role != "admin":
        raise ApiError(403, "reports are for admins only", "forbidden")


def _day(name: str) -> date:
    raw = request.args.get(name)
    if raw is None:
        raise ApiError(400, f"'{name}' is required: a date like 2026-12-01")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise ApiError(400, f"'{name}' must be a date like 2026-12-01")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"'{name}' must be a date like 2026-12-01") from None


@reports.get("/estimates")
def estimates() -> Response:
    """The estimated wait's error per service and for the hall, ``days`` business days from ``from``."""
    first = _day("from")
    raw = request.args.get("days", "1")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= LONGEST_RANGE_DAYS:
        raise ApiError(400, f"'days' must be a whole number from 1 to {LONGEST_RANGE_DAYS}")
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
