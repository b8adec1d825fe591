"""Appointments (预约) over REST: book, list, cancel, import, and check in at the kiosk.

Least rights: a hospital's booking system gets a ``booking`` token that may
book, import and cancel and nothing else (no queue, no list of names); staff
and admins book and list; kiosks only check in. A check-in is a ticket
request like a tap on a service button (the same dispenser, the same brake
per kiosk, the same print job), with the booking claimed in the ticket's own
transaction.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from ..core.appointments import (
    Actor,
    Appointment,
    Arrival,
    ImportRefused,
    UnknownAppointment,
    claim_for,
    draft_from,
    mask_name,
    parse_csv,
)
from ..core.bilingual import Problem
from .auth import client_address, current_principal, hub, requires
from .refusals import ApiError
from .routes import _Body, issue_brake, issue_printed, parse

appointments_api = Blueprint("appointments", __name__, url_prefix="/api/v1/appointments")


#: Texts without NUL (security.py refuses it anywhere): the OpenAPI document says the same.
NO_NUL = r"^[^\x00]*$"


class BookingBody(_Body):
    """Shapes are checked here (400 ``bad_request``); what the hall cannot take, by the book (409)."""

    service: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    #: The business day, ``2026-12-01``, and the slot's local start, ``09:30``.
    date: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    start: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{4,16}$")] | None = None
    counter: Annotated[int, Field(ge=1, le=999)] | None = None
    resource: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9]{5,20}$")] | None = None
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)] | None = None
    source: Literal["phone", "web", "onsite"] | None = None


class ImportBody(_Body):
    csv: Annotated[str, Field(min_length=1, max_length=2_000_000, pattern=NO_NUL)]


class CheckInBody(_Body):
    code: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] | None = None
    phone: Annotated[str, Field(min_length=1, max_length=40, pattern=NO_NUL)] | None = None
    appointment_id: Annotated[str, Field(min_length=1, max_length=32, pattern=NO_NUL)] | None = None


def _actor() -> Actor:
    return Actor(current_principal().name, client_address())


def _view(appointment: Appointment) -> dict[str, Any]:
    the_hub = hub()
    view = appointment.staff_view(the_hub.core.hall.calendar)
    service = the_hub.core.hall.services.get(appointment.service)
    view["service_name_zh"] = service.name_zh if service else appointment.service
    view["service_name_en"] = service.name_en if service else appointment.service
    if current_principal().role == "supervisor":
        # The code is a bearer's: enough to check in at a kiosk. A supervisor reads the bookings, no more.
        del view["code"]
    return view


@appointments_api.post("")
@requires("staff", "admin", "booking")
def create() -> tuple[Response, int]:
    """One booking (phone, web, on site); 201 with its code, 409 ``slot_full`` when the half-day is full."""
    body = parse(BookingBody)
    try:
        date.fromisoformat(body.date)
    except ValueError:
        raise ApiError(
            400, f"'date': {body.date} is no day of the calendar", zh=f"date：{body.date} 不是日历上的日期"
        ) from None
    book = hub().appointments
    default_source = "web" if current_principal().role == "booking" else "onsite"
    fields = body.model_dump()
    draft = draft_from(fields, book.bookable, body.source or default_source)
    made = book.book([draft], _actor())[0]
    return jsonify(appointment=_view(made)), 201


@appointments_api.get("")
@requires("staff", "admin", "supervisor")
def list_day() -> Response:
    """The bookings of one business day (``?date=``, default today), phones and names masked.

    With them, for a booking form: the services that take appointments and ``call_by_name``.
    """
    the_hub = hub()
    raw = request.args.get("date")
    if raw is not None:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ApiError(400, "'date' must be a date like 2026-12-01", zh="date 须为日期，如 2026-12-01")
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise ApiError(
                400, "'date' must be a date like 2026-12-01", zh="date 须为日期，如 2026-12-01"
            ) from None
    else:
        day = the_hub.core.hall.calendar.business_day(the_hub.clock())
    book = the_hub.appointments
    listed = book.day(day)
    services = the_hub.core.hall.services
    # What a booking form needs: the services that take appointments, and whether a name is kept.
    bookable = [
        {"code": code, "name_zh": services[code].name_zh, "name_en": services[code].name_en}
        for code in book.bookable
    ]
    return jsonify(
        date=day.isoformat(),
        appointments=[_view(a) for a in listed],
        services=bookable,
        call_by_name=book.rules.call_by_name,
    )


@appointments_api.post("/<appointment_id>/cancel")
@requires("staff", "admin", "booking")
def cancel(appointment_id: str) -> Response:
    if len(appointment_id) > 32:  # no id is longer: not worth a query
        raise UnknownAppointment("没有此预约", "no such appointment")
    return jsonify(appointment=_view(hub().appointments.cancel(appointment_id, _actor())))


@appointments_api.post("/import")
@requires("admin", "booking")
def import_csv() -> tuple[Response, int]:
    """A booking system's CSV export, all or nothing: 400 ``bad_import`` lists the bad lines."""
    body = parse(ImportBody)
    book = hub().appointments
    drafts = parse_csv(body.csv, book.bookable)
    if not drafts:
        zh, en = "列名行之后没有预约", "the CSV holds no bookings after its header"
        raise ImportRefused([Problem("", zh, en, 2)], 1)
    made = book.book(drafts, _actor())
    return jsonify(imported=len(made), appointments=[_view(a) for a in made]), 201


@appointments_api.post("/check-in")
@requires("kiosk", "staff", "admin")
def check_in() -> tuple[Response, int]:
    """Check in by code (typed or scanned) or by phone: 201 the ticket, or 200 ``choices`` to pick from.

    Each attempt takes from the kiosk's ticket brake, so a kiosk token cannot
    be used to guess codes quickly.
    """
    body = parse(CheckInBody)
    if any(getattr(body, name) is None for name in body.model_fields_set):
        raise ApiError(
            400,
            "'code', 'phone' and 'appointment_id' are strings when given, never null",
            zh="code、phone 和 appointment_id 给出时须为文字，不能为 null",
        )
    if (body.code is None) == (body.phone is None) or (body.code is not None and body.appointment_id):
        raise ApiError(
            400,
            "send 'code', or 'phone' (with 'appointment_id' when picking one)",
            zh="请提供 code，或提供 phone（选择其中一个预约时再加 appointment_id）",
        )
    principal = current_principal()
    braked = issue_brake(principal, "tries")
    if braked is not None:
        return braked
    the_hub = hub()
    book = the_hub.appointments
    calendar = the_hub.core.hall.calendar
    if body.code is not None:
        chosen: tuple[Appointment, Arrival] = book.for_code(body.code)
    else:
        ready = book.for_phone(body.phone or "")
        if body.appointment_id is not None:
            match = [pair for pair in ready if pair[0].id == body.appointment_id]
            if not match:
                raise UnknownAppointment("没有此预约", "no such appointment for this phone number")
            chosen = match[0]
        elif len(ready) > 1:
            return jsonify(choices=[_choice(a, how) for a, how in ready]), 200
        else:
            chosen = ready[0]
    appointment, how = chosen
    kiosk = principal.name if principal.is_device else None
    answer = issue_printed(
        kiosk, appointment.service, issued_by=kiosk, appointment=claim_for(appointment, how)
    )
    answer["arrival"] = how
    answer["slot_start"] = calendar.local(appointment.slot_start).strftime("%H:%M")
    if book.rules.call_by_name:
        answer["name"] = mask_name(appointment.name)
    return jsonify(answer), 201


def _choice(appointment: Appointment, how: Arrival) -> dict[str, Any]:
    view = appointment.kiosk_view(hub().core.hall.calendar)
    service = hub().core.hall.services.get(appointment.service)
    view["service_name_zh"] = service.name_zh if service else appointment.service
    view["service_name_en"] = service.name_en if service else appointment.service
    view["arrival"] = how
    return view
