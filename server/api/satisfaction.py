"""Satisfaction (满意度) over REST: the levels a pad or phone offers, and the visitor's rating from the phone.

The phone rates with the ticket's own key, as it cancels: the ticket id in its
status URL (72 random bits) is the only credential the visitor holds, and it
rates that ticket's services only — once per leg, within
``[satisfaction] phone_window_minutes`` of the leg's end. No staff token is
ever asked of a visitor. Refusals are bilingual (a visitor reads them).
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, Response, jsonify
from pydantic import Field

from .auth import hub
from .refusals import ApiError
from .routes import _Body, parse, ticket_json

satisfaction_api = Blueprint("satisfaction", __name__, url_prefix="/api/v1")


class TicketEvaluationBody(_Body):
    """The phone's rating: a level of the site, a reason on a low one, and the leg (absent: the latest)."""

    rating: Annotated[str, Field(min_length=1, max_length=32)]
    reason: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    leg: Annotated[int, Field(ge=1, le=1000)] | None = None


@satisfaction_api.get("/satisfaction")
def levels() -> Response:
    """The rating levels and the reasons offered on a low one, in both languages (open: nothing private)."""
    return jsonify(hub().core.hall.satisfaction.public())


@satisfaction_api.post("/tickets/<ticket_id>/evaluation")
def rate_from_phone(ticket_id: str) -> Response:
    """The visitor rates a finished service of their own ticket: knowing the ticket's id is the right to."""
    if len(ticket_id) > 32:
        raise ApiError(404, "没有这张号票 / no such ticket", "unknown_ticket")
    body = parse(TicketEvaluationBody)
    ticket, leg = hub().core.evaluate_ticket(ticket_id, body.rating, body.reason, body.leg)
    return jsonify(ticket=ticket_json(ticket, 0), leg=leg.leg, rating=leg.rating, reason=leg.rating_reason)
