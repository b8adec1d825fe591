"""The visitor's phone: take a ticket at ``/phone/`` (no login), and say "I'm on my way" when called.

A phone's ticket is a kiosk's ticket without paper: the same issue path
(:func:`~server.api.routes.issue_printed`, the dispenser, one commit), the
issuer recorded as the channel ``phone`` and nothing about the visitor. The
limits that keep a flood out are :class:`~server.phone.PhoneLimits`; every
refusal is a 429 whose message a visitor reads, in both languages.
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import Field

from ..core.errors import UnknownTicket
from ..core.model import AT_COUNTER, CALLABLE
from ..phone import (
    COOKIE,
    COOKIE_MAX_AGE,
    PhoneCaps,
    PhoneLimits,
    PhonePass,
    PhoneRefusal,
    read_pass,
    write_pass,
)
from ..security import retry_after
from .auth import client_address, hub
from .refusals import ApiError, refusal_body
from .routes import _Body, issue_printed, parse, status_url, ticket_json

phone_api = Blueprint("phone_api", __name__, url_prefix="/api/v1")

#: Who issued a phone's ticket, in its ``issued`` event: the channel, never the visitor.
PHONE_ISSUER = "phone"


class PhoneTicketBody(_Body):
    """The service to queue for; nothing else (no category: a phone asks for no priority)."""

    service: Annotated[str, Field(min_length=1, max_length=32)]


def phone_limits() -> PhoneLimits:
    """This app's phone limits, counted in the hub's database; the caps are ``[phone]`` as the hub
    holds it at each reservation (a change saved from the admin page applies to the next one)."""
    limits: PhoneLimits | None = current_app.extensions.get("qcall_phone_limits")
    if limits is None:
        the_hub = hub()

        def caps() -> PhoneCaps:
            config = the_hub.config.phone
            return PhoneCaps(
                config.tickets_per_day,
                config.tickets_per_hour,
                config.tickets_per_address,
                config.address_window_minutes * 60.0,
            )

        limits = current_app.extensions.setdefault("qcall_phone_limits", PhoneLimits(the_hub.limits, caps))
    return limits


def _active(ticket_id: str) -> bool:
    """Whether the phone's last ticket still waits or is at a counter (today or carried over)."""
    try:
        ticket, _ahead = hub().core.ticket(ticket_id)
    except UnknownTicket:
        return False
    return ticket.status in CALLABLE or ticket.status in AT_COUNTER


def _secret() -> str | bytes:
    secret: str | bytes = current_app.secret_key or ""
    return secret


@phone_api.get("/phone")
def phone_page() -> Response:
    """What the phone page shows: whether the hall takes phone tickets, each service's queue and wait,
    the phone's own ticket still active (to go back to it), and the day's limit. No login."""
    the_hub = hub()
    config = the_hub.config.phone
    hall = the_hub.core.hall
    queues = {q["code"]: q for q in the_hub.core.service_queues()["services"]}
    phone = read_pass(_secret(), request.cookies.get(COOKIE))
    day = hall.calendar.business_day(the_hub.clock())
    phone = phone_limits().remembered(phone, day)
    mine = phone.last_ticket if phone.last_ticket and _active(phone.last_ticket) else None
    site = the_hub.config.site
    answer = jsonify(
        enabled=config.enabled,
        site={"name_zh": site.name_zh, "name_en": site.name_en},
        tickets_per_day=config.tickets_per_day,
        taken_today=phone.count,
        ticket=None if mine is None else {"id": mine, "status_url": status_url(mine)},
        services=[
            {
                "code": code,
                "name_zh": service.name_zh,
                "name_en": service.name_en,
                "waiting": queues.get(code, {}).get("waiting", 0),
                "estimate_minutes": queues.get(code, {}).get("estimate_minutes"),
            }
            for code, service in hall.services.items()
        ],
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _refused(refusal: PhoneRefusal) -> tuple[Response, int]:
    """The 429 of a limit: ``{"error", "code"}``, the phone's active ticket if that is the reason."""
    body = refusal_body(429, refusal.message, refusal.code)  # "中文 / English": each on its own too
    if refusal.ticket is not None:
        body["ticket"] = {"id": refusal.ticket, "status_url": status_url(refusal.ticket)}
    response = jsonify(body)
    if refusal.retry_after is not None:
        response.headers["Retry-After"] = str(retry_after(refusal.retry_after))
    return response, 429


@phone_api.post("/phone/tickets")
def take_ticket() -> tuple[Response, int]:
    """A ticket from the phone page: the kiosk's issue path, no printer, within the phone's limits."""
    the_hub = hub()
    if not the_hub.config.phone.enabled:
        raise ApiError(
            404,
            "本厅暂不支持手机取号，请到取号机取号 / this hall does not issue tickets to phones",
            "phone_off",
        )
    body = parse(PhoneTicketBody)
    if body.service not in the_hub.core.hall.services:
        raise ApiError(400, f"没有这项业务 / there is no service {body.service!r}", "unknown_service")
    limits = phone_limits()
    address = client_address()
    day = the_hub.core.hall.calendar.business_day(the_hub.clock())
    held: PhonePass = read_pass(_secret(), request.cookies.get(COOKIE))
    reserved = limits.reserve(held, address, day)
    if isinstance(reserved, PhoneRefusal):
        return _refused(reserved)
    phone, reservation = reserved
    try:
        answer = issue_printed(None, body.service, issued_by=PHONE_ISSUER)
    except BaseException:
        limits.release(reservation)  # closed, full, store down: nothing counted
        raise
    taken = limits.issued(phone, reservation, answer["id"])
    response = jsonify(answer)
    response.set_cookie(
        COOKIE,
        write_pass(_secret(), taken),
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
        path="/",
    )
    return response, 201


@phone_api.post("/tickets/<ticket_id>/on-my-way")
def on_my_way(ticket_id: str) -> Response:
    """ "我在路上 / I'm on my way": the called visitor is coming; the no-show timer waits once more.

    The ticket id is the right, as for cancelling. 409 ``not_called`` unless
    the ticket is being called, ``already_on_the_way`` when said since this call.
    """
    if len(ticket_id) > 32:
        raise ApiError(404, "没有这张号票 / no such ticket", "unknown_ticket")
    parse(_Body)  # no body, or an empty object
    ticket = hub().core.on_my_way(ticket_id)
    return jsonify(ticket_json(ticket, 0))
