"""Notices over REST: what the screens show now, and their management by admins and supervisors.

``GET /api/v1/notices`` is the screens' read (kiosk and lobby tokens, staff):
the notices showing now, the hotline, the phone page's link and QR, and for
a hospital the day's clinic rooms with the doctor rostered (出诊医生, from the
rota: a display name a hospital posts anyway, never a user name). Nothing in
it names a visitor or says who posted a notice.

``/api/v1/admin/notices`` is for admins and supervisors (403 for every other
role, checked once for the blueprint): every notice with its state, post,
edit, withdraw. Each change is audited in its transaction (the store) and the
screens hear ``notices_changed`` after it commits (the board).
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any, Literal

import segno
from flask import Blueprint, Response, jsonify
from pydantic import Field

from ..core.notices import BadNotice, NoticeDraft, NoticeWithdrawn, UnknownNotice
from ..devices.printing import is_loopback_url
from .auth import client_address, current_principal, hub, requires
from .refusals import ApiError, error_response, role_zh
from .routes import _Body, parse, status_url_base

notices_api = Blueprint("notices", __name__, url_prefix="/api/v1")
notices_admin = Blueprint("notices_admin", __name__, url_prefix="/api/v1/admin/notices")

#: Who manages notices.
MANAGERS = ("admin", "supervisor")
#: The largest id a notice can have (a 32-bit integer column on both databases).
MAX_ID = 2**31 - 1
#: Where the visitor's phone page lives (another part of the hub serves it).
PHONE_PATH = "/phone/"


class TariffBody(_Body):
    """A tariff's table as typed; :func:`server.core.notices.checked` checks each heading and cell."""

    columns: Annotated[list[dict[str, str]], Field(max_length=50)]
    rows: Annotated[list[list[str]], Field(max_length=200)]


Moment = Annotated[str, Field(max_length=40)]


class NoticeBody(_Body):
    """A notice as an admin sends it; the texts' lengths are checked by the core, in both languages."""

    kind: Literal["notice", "tariff", "outage", "hotline"]
    title_zh: str = ""
    title_en: str = ""
    body_zh: str = ""
    body_en: str = ""
    tariff: TariffBody | None = None
    area_zh: str = ""
    area_en: str = ""
    outage_from: Moment | None = None
    outage_to: Moment | None = None
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    position: Annotated[int, Field(ge=0, le=999)] = 0

    def draft(self) -> NoticeDraft:
        data = self.model_dump()
        return NoticeDraft(**data)


@notices_admin.before_request
def _managers_only() -> None:
    """401 without a good token; 403 for any role but admin and supervisor, on every route here."""
    principal = current_principal()
    if principal.role not in MANAGERS:
        raise ApiError(
            403,
            f"the role {principal.role!r} may not manage notices",
            zh=f"{role_zh(principal.role)}无权管理公告",
        )


def _bad_notice(exc: BadNotice) -> tuple[Response, int]:
    return error_response(
        400, exc.message, exc.code, exc.message_zh, error_en=exc.message_en, field=exc.field
    )


def _unknown(exc: UnknownNotice) -> tuple[Response, int]:
    return error_response(404, exc.message, "not_found", "该公告不存在")


def _withdrawn(exc: NoticeWithdrawn) -> tuple[Response, int]:
    return error_response(409, exc.message, exc.code, "该公告已撤回，不能再修改或撤回；如有需要请发布新公告")


for _blueprint in (notices_api, notices_admin):
    _blueprint.register_error_handler(BadNotice, _bad_notice)
    _blueprint.register_error_handler(UnknownNotice, _unknown)
    _blueprint.register_error_handler(NoticeWithdrawn, _withdrawn)


# -- the screens' read ---------------------------------------------------------------------


@notices_api.get("/notices")
@requires("kiosk", "display", "staff", "admin", "supervisor", "triage")
def showing() -> Response:
    """The notices showing now (display order), the hotline, the phone page's QR, the doctors on duty."""
    the_hub = hub()
    now, shown, following = the_hub.notices.showing()
    config = the_hub.config
    # A screen on the hub PC reaches it at 127.0.0.1: no phone can open that, so no QR (as on a ticket).
    phone = None if is_loopback_url(status_url_base()) else status_url_base() + PHONE_PATH
    return jsonify(
        now=now.isoformat(),
        notices=[n.public() for n in shown],
        next_change_in=max(0.0, (following - now).total_seconds()) if following else None,
        hotline=config.site.hotline or None,
        phone_url=phone,
        phone_qr_url="/api/v1/notices/phone-qr.svg" if phone else None,
        doctors=_doctors(now) if config.notices.doctors_on_duty else None,
        rotate_seconds=config.notices.rotate_seconds,
    )


@notices_api.get("/notices/phone-qr.svg")
def phone_qr() -> Response:
    """The QR code of the hall's phone page (take a ticket from the phone): open, like a ticket's QR."""
    buffer = io.BytesIO()
    segno.make(status_url_base() + PHONE_PATH, error="m").save(buffer, kind="svg", scale=8, border=2)
    response = Response(buffer.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "max-age=300"
    return response


def _doctors(now: datetime) -> list[dict[str, Any]]:
    """Today's rota, the spans not over yet, by counter and start: the room and the posted name only."""
    the_hub = hub()
    calendar = the_hub.core.hall.calendar
    hhmm = calendar.local(now).strftime("%H:%M")
    entries = [e for e in the_hub.rota.day(calendar.business_day(now)) if e.end > hhmm]
    names = the_hub.notices.store.public_names({e.username for e in entries})
    counters = the_hub.core.hall.counters
    duty = []
    for entry in entries:
        counter = counters.get(entry.counter)
        duty.append(
            {
                "counter": entry.counter,
                "counter_name_zh": counter.name_zh if counter else f"{entry.counter}号",
                "counter_name_en": counter.name_en if counter else f"No. {entry.counter}",
                "start": entry.start,
                "end": entry.end,
                "now": entry.covers(hhmm),
                "name": names.get(entry.username),
            }
        )
    return duty


# -- management ----------------------------------------------------------------------------


def _id(notice_id: int) -> int:
    if not 1 <= notice_id <= MAX_ID:
        raise ApiError(404, f"no notice {notice_id}", zh=f"公告 {notice_id} 不存在")
    return notice_id


@notices_admin.get("")
def list_all() -> Response:
    """Every notice: showing, scheduled, expired and withdrawn, each with its state now."""
    the_hub = hub()
    now = the_hub.clock()
    return jsonify(
        now=now.isoformat(),
        default_days=the_hub.config.notices.default_days,
        timezone=the_hub.core.hall.calendar.timezone,
        notices=[n.as_dict(now) for n in the_hub.notices.all()],
    )


@notices_admin.post("")
def create() -> tuple[Response, int]:
    """Post a notice (audited ``notice.create``); the screens hear ``notices_changed``."""
    draft = parse(NoticeBody).draft()
    the_hub = hub()
    notice = the_hub.notices.create(draft, current_principal().name, client_address())
    return jsonify(notice.as_dict(the_hub.clock())), 201


@notices_admin.put("/<int:notice_id>")
def edit(notice_id: int) -> Response:
    """Replace a notice's texts and schedule (audited ``notice.edit``, before → after)."""
    draft = parse(NoticeBody).draft()
    the_hub = hub()
    notice = the_hub.notices.edit(_id(notice_id), draft, current_principal().name, client_address())
    return jsonify(notice.as_dict(the_hub.clock()))


@notices_admin.post("/<int:notice_id>/withdraw")
def withdraw(notice_id: int) -> Response:
    """Take a notice off every screen now (audited ``notice.withdraw``)."""
    the_hub = hub()
    notice = the_hub.notices.withdraw(_id(notice_id), current_principal().name, client_address())
    return jsonify(notice.as_dict(the_hub.clock()))
