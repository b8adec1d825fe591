"""Staff data over REST: ``/api/v1/staff``. Who is on post now against the rota, breaks, attendance, the rota.

Staff data names clerks and says when they were where: admins and supervisors
read it, nobody else (403 for devices, clerks and triage, checked once for the
whole blueprint, so a route added later cannot forget it). Changes (the rota,
ending a clerk's post) are for admins only, and each is audited in the
transaction that makes it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from ..core.posts import LOOKBACK, attendance, breaks, day_bounds
from ..core.rota import BadRotaEntry, RotaFieldError, compare, entry_from, parse_csv
from ..store.rota import UnknownRotaEntry
from .auth import client_address, current_principal, drop_sockets, hub
from .refusals import ApiError, error_response, role_zh
from .routes import _Body, parse

staff_api = Blueprint("staff", __name__, url_prefix="/api/v1/staff")

#: Who reads staff data.
READERS = ("admin", "supervisor")


#: The largest id a rota entry can have (a 32-bit integer column on both databases).
MAX_ID = 2**31 - 1


class RotaBody(_Body):
    date: Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]{1,64}$")]
    counter: Annotated[int, Field(ge=1, le=999)]
    start: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    end: Annotated[str, Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]


class RotaImportBody(_Body):
    csv: Annotated[str, Field(min_length=1, max_length=2_000_000, pattern=r"^[^\x00]*$")]


@staff_api.before_request
def _readers_only() -> None:
    """401 without a good token; 403 for any role but admin and supervisor, on every route here."""
    principal = current_principal()
    if principal.role not in READERS:
        raise ApiError(
            403,
            f"the role {principal.role!r} may not read staff data",
            zh=f"{role_zh(principal.role)}无权查看工作人员数据",
        )


@staff_api.errorhandler(UnknownRotaEntry)
def _unknown(exc: UnknownRotaEntry) -> tuple[Response, int]:
    return error_response(404, str(exc), "not_found", "该排班不存在")


def _admin_only() -> str:
    principal = current_principal()
    if principal.role != "admin":
        raise ApiError(
            403,
            "only an admin changes the rota or ends a clerk's post",
            zh="只有管理员可以修改排班或结束工作人员的在岗",
        )
    return principal.name


def _day() -> date:
    """``?date=2026-12-01``, or the hall's business day today."""
    the_hub = hub()
    raw = request.args.get("date")
    if raw is None:
        return the_hub.core.hall.calendar.business_day(the_hub.clock())
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise ApiError(400, "'date' must be a date like 2026-12-01", zh="date 须为日期，如 2026-12-01")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, "'date' must be a date like 2026-12-01", zh="date 须为日期，如 2026-12-01"
        ) from None


def _reasons() -> list[dict[str, str]]:
    return [r.as_dict() for r in hub().core.hall.break_reasons.values()]


def _users() -> dict[str, str]:
    return {u.username: u.role for u in hub().accounts.list_users()}


@staff_api.get("/now")
def now() -> Response:
    """Each counter now: who the rota says should be there, who is on post, on which break since when,
    and one word for it (ok, on_break, missing, someone_else, unplanned, closed)."""
    the_hub = hub()
    hall = the_hub.core.hall
    moment = the_hub.clock()
    day = hall.calendar.business_day(moment)
    hhmm = hall.calendar.local(moment).strftime("%H:%M")
    states = the_hub.core.counter_states()
    staffing = compare(hall.counters, the_hub.rota.day(day), states, hhmm)
    shown = {s.number: s.shown(hall.posts_required).value for s in states}
    counters = []
    for item in staffing:
        counter = hall.counters[item.counter]
        counters.append(
            {
                **item.as_dict(moment),
                "name_zh": counter.name_zh,
                "name_en": counter.name_en,
                "status": shown.get(item.counter, "closed"),
            }
        )
    return jsonify(
        at=moment.isoformat(), date=day.isoformat(), time=hhmm, counters=counters, reasons=_reasons()
    )


@staff_api.get("/breaks")
def day_breaks() -> Response:
    """The breaks of a business day (``?date=``, default today): clerk, counter, reason, start, end and
    length in seconds (one still going: no end, its length so far)."""
    the_hub = hub()
    day = _day()
    start, end = day_bounds(the_hub.core.hall.calendar, day)
    moment = the_hub.clock()
    events = the_hub.core.post_log(start - LOOKBACK, end)
    found = [b for b in breaks(events, moment) if start <= b.started_at < end]
    return jsonify(date=day.isoformat(), breaks=[b.as_dict() for b in found], reasons=_reasons())


@staff_api.get("/attendance")
def day_attendance() -> Response:
    """Each clerk's business day (``?date=``, default today) from the post log: first login, last logout,
    time on post, time on break by reason, time working (seconds)."""
    the_hub = hub()
    day = _day()
    start, end = day_bounds(the_hub.core.hall.calendar, day)
    events = the_hub.core.post_log(start - LOOKBACK, end)
    clerks = attendance(events, start, end, the_hub.clock())
    return jsonify(date=day.isoformat(), clerks=[c.as_dict() for c in clerks], reasons=_reasons())


@staff_api.get("/rota")
def rota_day() -> Response:
    """The rota of a business day (``?date=``, default today), and the users who may be on it."""
    day = _day()
    users = sorted(name for name, role in _users().items() if role in ("staff", "admin"))
    return jsonify(date=day.isoformat(), entries=[e.as_dict() for e in hub().rota.day(day)], users=users)


@staff_api.post("/rota")
def rota_add() -> tuple[Response, int]:
    """One rota entry (admins): 409 ``bad_rota`` for an unknown clerk or counter or an overlap."""
    actor = _admin_only()
    body = parse(RotaBody)
    the_hub = hub()
    try:
        entry = entry_from(body.model_dump(), _users(), the_hub.core.hall.counters)
    except RotaFieldError as exc:  # each language whole: no English inside the Chinese sentence
        raise BadRotaEntry(
            f"排班有误：{exc.message_zh}", f"bad rota entry: {exc.message_en}", exc.field
        ) from None
    kept = the_hub.rota.add(entry, the_hub.clock(), actor, client_address())
    return jsonify(entry=kept.as_dict()), 201


@staff_api.post("/rota/<int:entry_id>/remove")
def rota_remove(entry_id: int) -> Response:
    """Drop one rota entry by its id (admins)."""
    actor = _admin_only()
    parse(_Body)  # no body, or an empty object
    if entry_id > MAX_ID:  # no such row, and more than the column holds
        raise UnknownRotaEntry(f"no rota entry {entry_id}")
    removed = hub().rota.remove(entry_id, hub().clock(), actor, client_address())
    return jsonify(entry=removed.as_dict())


@staff_api.post("/rota/import")
def rota_import() -> tuple[Response, int]:
    """A rota CSV (``date, username, counter, start, end``), all or nothing (admins): every day it names
    gets exactly its entries; 400 ``bad_import`` lists the bad lines."""
    actor = _admin_only()
    body = parse(RotaImportBody)
    the_hub = hub()
    entries = parse_csv(body.csv, _users(), the_hub.core.hall.counters)  # bad_import in both languages
    kept = the_hub.rota.replace_days(entries, the_hub.clock(), actor, client_address())
    days = sorted({e.day.isoformat() for e in kept})
    return jsonify(imported=len(kept), days=days, entries=[e.as_dict() for e in kept]), 201


@staff_api.post("/posts/<counter:counter>/end")
def end_post(counter: int) -> Response:
    """End the post at a counter (admins): a clerk who left without logging out. Their login ends and
    their console is dropped; the counter closes on every screen. The post log's entry names the admin
    (same transaction); the audit log gets ``post.end`` after it."""
    actor = _admin_only()
    parse(_Body)
    the_hub = hub()
    the_hub.core.hall.counter(counter)  # 404 unknown_counter
    state = next((s for s in the_hub.core.counter_states() if s.number == counter), None)
    clerk = state.post if state else None
    session = the_hub.posts.end_by_admin(counter, actor)
    if session is None or clerk is None:
        raise ApiError(
            409, f"nobody is on post at counter {counter}", "conflict", zh=f"{counter} 号窗口没有工作人员在岗"
        )
    now = the_hub.clock()
    the_hub.accounts.end_session(session, now)
    drop_sockets([session])
    detail: dict[str, Any] = {"counter": counter}
    the_hub.audit.record(actor, "post.end", clerk, now, detail, client_address())
    return jsonify(counter=the_hub.core.counter_view(counter), ended=clerk)
