"""``GET /api/v1/hours``: whether the hall and each service issue tickets now, and when that changes.

Open to anyone, like ``/health``: opening hours are posted on the hall's door.
The kiosk draws its closed screen and its closed service buttons from it, and
asks again when ``next_change_in`` says something changes (the hub's clock
decides, not the kiosk's); a phone or a lobby screen may show the same. The
verdicts are the ones the issue path uses, kept per minute, so asking costs
little.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, jsonify

from ..core.calendar import END_OF_DAY, HallCalendar
from ..core.reopening import when
from .auth import hub

hours_api = Blueprint("hours", __name__, url_prefix="/api/v1")


@hours_api.get("/hours")
def hours() -> Response:
    """The hall's and every service's opening state now, today's ranges and the next opening."""
    the_hub = hub()
    hall = the_hub.core.hall
    calendar = hall.calendar
    now = the_hub.clock()
    today = calendar.local(now).date()
    states: dict[str | None, dict[str, Any]] = {None: _state(calendar, None, now, today)}
    states.update((code, _state(calendar, code, now, today)) for code in hall.services)
    changes = [
        moment
        for state in states.values()
        for key in ("opens_at", "closes_at", "last_ticket_at")
        if (moment := state.pop("_" + key)) is not None and moment > now
    ]
    answer = jsonify(
        now=now.astimezone(calendar.zone).isoformat(),
        enforced=calendar.enforce_hours,
        hall=states[None],
        services=[{"code": code, **states[code]} for code in hall.services],
        next_change_in=math.ceil((min(changes) - now).total_seconds()) if changes else None,
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _state(calendar: HallCalendar, service: str | None, now: datetime, today: date) -> dict[str, Any]:
    verdict = calendar.verdict(now, service)
    zone = calendar.zone
    opens = verdict.opens_at
    words = when(opens, now, zone) if opens is not None else (None, None)
    name = verdict.day_name or (None, None)

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat() if moment is not None else None

    return {
        "open": verdict.open,
        "issuing": verdict.issuing,
        "opens_at": local(opens),
        "opens_zh": words[0],
        "opens_en": words[1],
        "closes_at": local(verdict.closes_at),
        "last_ticket_at": local(verdict.last_ticket_at),
        "today": [
            f"{start:%H:%M}-{'24:00' if end == END_OF_DAY else f'{end:%H:%M}'}"
            for start, end in (calendar.spans(today, service) if calendar.enforce_hours else ())
        ],
        "day_name_zh": name[0],
        "day_name_en": name[1],
        # The moments themselves, for next_change_in (taken out before the answer leaves).
        "_opens_at": opens,
        "_closes_at": verdict.closes_at,
        "_last_ticket_at": verdict.last_ticket_at,
    }
