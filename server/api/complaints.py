"""Complaints and suggestions (投诉/意见) over REST: recorded by a clerk, a kiosk or the visitor's phone,
followed through to closure by their owner, admins and supervisors.

Least rights:

- Recording: staff, supervisors and admins (the console; they may name a
  case and the clerk concerned), a kiosk token, or nobody logged in at all
  from the phone's status page, where knowing the ticket's id is the right
  (as for the phone's cancel): then the ticket is required. A kiosk or a
  phone is answered with a receipt only (the id, the category, the deadline
  day); any other device or role is refused (403).
- Reading and working on one: admins and supervisors, every complaint; a
  staff member, only the complaints they own (首问负责). Anyone else: 403.
  Only admins and supervisors give a complaint another owner (audited).
- The contact phone: whole in a complaint's detail for those who may read it,
  masked in every list, never in an event, an audit entry, a push or a log.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from ..core.appointments import Actor
from ..core.complaints import (
    Channel,
    Complaint,
    ComplaintScope,
    Intake,
    unknown_complaint,
)
from ..core.stats import parse_day
from ..store.accounts import Principal
from .auth import bearer_token, client_address, cookie_session_id, current_principal, hub, requires
from .refusals import ApiError, role_zh
from .routes import _Body, parse

complaints_api = Blueprint("complaints", __name__, url_prefix="/api/v1/complaints")

#: Texts without NUL (security.py refuses it anywhere).
NO_NUL = r"^[^\x00]*$"
#: Who reads and works on every complaint.
READERS = ("admin", "supervisor")
#: Users who may record one at the console.
USERS = ("staff", "supervisor", "admin")
#: The longest period of the figures, in days.
MAX_PERIOD_DAYS = 400
ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
#: A date and time with its offset, as the return call's ``at`` is written (checked again as a moment).
AT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([+-][0-9]{2}:[0-9]{2}|Z)$"
)
#: A business day in the figures' query.
DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


class RecordBody(_Body):
    category: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    text: Annotated[str, Field(min_length=1, max_length=500, pattern=NO_NUL)]
    ticket: Annotated[str, Field(pattern=ID_PATTERN)] | None = None
    case: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,40}$")] | None = None
    clerk: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)] | None = None
    contact_phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,24}$")] | None = None


class NoteBody(_Body):
    note: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


class OwnerBody(_Body):
    owner: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]


class ReturnCallBody(_Body):
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    note: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] | None = None
    #: When the call was made (ISO 8601 with offset); absent: now.
    at: Annotated[str, Field(min_length=10, max_length=40, pattern=AT_PATTERN)] | None = None


class CloseBody(_Body):
    result: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


# -- rights ------------------------------------------------------------------------------


def _actor() -> Actor:
    return Actor(current_principal().name, client_address())


def _may_read(principal: Principal, complaint: Complaint) -> bool:
    return principal.role in READERS or (principal.role == "staff" and principal.name == complaint.owner)


def _complaint_for(complaint_id: str) -> tuple[Principal, Complaint]:
    """The complaint if the caller may read and work on it: 404 when there is none, 403 when not theirs."""
    principal = current_principal()
    if len(complaint_id) > 32:
        raise unknown_complaint()
    complaint = hub().complaints.find(complaint_id)
    if not _may_read(principal, complaint):
        raise ApiError(
            403,
            "this complaint is not yours: its owner, admins and supervisors only",
            zh="这件投诉不归您处理：只有负责人、管理员和值班长可以查看",
        )
    return principal, complaint


def _view(complaint: Complaint, contact: bool = True) -> dict[str, Any]:
    return complaint.view(hub().complaints.clock(), contact)


# -- recording ---------------------------------------------------------------------------


@complaints_api.post("")
def record() -> tuple[Response, int]:
    """Record a complaint: a clerk, a kiosk, or the visitor's phone with their ticket's id; 201."""
    body = parse(RecordBody)
    the_hub = hub()
    anonymous = bearer_token() is None and cookie_session_id() is None
    if anonymous:
        if body.ticket is None:
            raise ApiError(
                401,
                "without a login, send the ticket's id ('ticket'): it is the right to complain",
                zh="未登录时请提供号票编号（ticket）：凭号票才能投诉",
            )
        channel, by, principal = Channel.PHONE, "visitor", None
    else:
        principal = current_principal()
        if principal.role == "kiosk":
            channel, by = Channel.KIOSK, principal.name
        elif principal.role in USERS:
            channel, by = Channel.COUNTER, principal.name
        else:
            raise ApiError(
                403,
                f"the role {principal.role!r} may not record a complaint",
                zh=f"{role_zh(principal.role)}无权登记投诉",
            )
    if channel is not Channel.COUNTER and (body.case is not None or body.clerk is not None):
        raise ApiError(
            403,
            "only staff name a case or a clerk; the ticket names its clerk by itself",
            zh="只有工作人员可以指定事项或经办人；号票会自动带上它的经办人",
        )
    intake = Intake(
        body.category, body.text, channel, by, body.ticket, body.case, body.clerk, body.contact_phone
    )
    complaint = the_hub.complaints.record(intake, Actor(by, client_address()))
    if principal is None or channel is Channel.KIOSK:
        return jsonify(receipt=complaint.receipt()), 201
    return jsonify(
        receipt=complaint.receipt(), complaint=_view(complaint, _may_read(principal, complaint))
    ), 201


@complaints_api.get("/categories")
def categories() -> Response:
    """The site's categories in both languages (the kiosk's and the phone's form): nothing personal."""
    return jsonify(categories=[c.as_dict() for c in hub().complaints.rules.categories])


# -- reading -----------------------------------------------------------------------------


@complaints_api.get("")
@requires("admin", "supervisor", "staff")
def listed() -> Response:
    """Complaints in the caller's reach (``status`` = open, overdue or all), phones masked."""
    principal = current_principal()
    which = request.args.get("status", "open")
    if which not in ("open", "overdue", "all"):
        raise ApiError(
            400,
            f"'status' must be open, overdue or all; got {which[:20]!r}",
            zh=f"status 须为 open、overdue 或 all，收到 {which[:20]!r}",
        )
    everything = principal.role in READERS
    scope = ComplaintScope(
        everything=everything,
        owner=None if everything else principal.name,
        open_only=which == "open",
        overdue_only=which == "overdue",
    )
    book = hub().complaints
    return jsonify(
        now=book.clock().isoformat(),
        complaints=[_view(c, contact=False) for c in book.listed(scope)],
        categories=[c.as_dict() for c in book.rules.categories],
        return_call_required=book.rules.return_call_required,
    )


@complaints_api.get("/figures")
@requires(*READERS)
def figures() -> Response:
    """查处率 and closure time for the business days ``from``..``to`` (both included), from the log."""
    unknown = sorted(set(request.args) - {"from", "to"})
    if unknown:
        raise ApiError(
            400,
            f"unknown parameter {unknown[0][:20]!r}; expected from, to",
            zh=f"没有参数 {unknown[0][:20]!r}，可用的参数为 from、to",
        )
    if "from" not in request.args:
        raise ApiError(
            400,
            "'from' is required: the first business day, as YYYY-MM-DD",
            zh="缺少 from：请填写起始营业日，格式为 YYYY-MM-DD",
        )
    first = parse_day(request.args["from"], "from")
    last = parse_day(request.args["to"], "to") if "to" in request.args else first
    if last < first or (last - first).days >= MAX_PERIOD_DAYS:
        raise ApiError(
            400,
            f"'to' must be on or after 'from', at most {MAX_PERIOD_DAYS} days later",
            zh=f"to 须不早于 from，且最多晚 {MAX_PERIOD_DAYS} 天",
        )
    book = hub().complaints
    start, end = _period(first, last)
    answer = jsonify(
        {"from": first.isoformat(), "to": last.isoformat(), **book.figures(start, end).as_dict()}
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _period(first: Any, last: Any) -> tuple[datetime, datetime]:
    calendar = hub().complaints.calendar
    return calendar.day_start(first), calendar.day_start(last + timedelta(days=1))


@complaints_api.get("/<complaint_id>")
@requires("admin", "supervisor", "staff")
def detail(complaint_id: str) -> Response:
    """One complaint in full, with its timeline (its owner, admins and supervisors)."""
    _principal, complaint = _complaint_for(complaint_id)
    events = hub().complaints.timeline(complaint.id)
    return jsonify(complaint=_view(complaint), events=[e.as_dict() for e in events])


# -- working on one ----------------------------------------------------------------------


@complaints_api.post("/<complaint_id>/notes")
@requires("admin", "supervisor", "staff")
def note(complaint_id: str) -> Response:
    """A follow-up note in the complaint's log."""
    body = parse(NoteBody)
    _principal, complaint = _complaint_for(complaint_id)
    return jsonify(complaint=_view(hub().complaints.note(complaint.id, body.note, _actor())))


@complaints_api.post("/<complaint_id>/owner")
@requires(*READERS)
def owner(complaint_id: str) -> Response:
    """Give the complaint another owner (首问负责): admins and supervisors; audited."""
    body = parse(OwnerBody)
    _principal, complaint = _complaint_for(complaint_id)
    return jsonify(complaint=_view(hub().complaints.assign(complaint.id, body.owner, _actor())))


@complaints_api.post("/<complaint_id>/return-call")
@requires("admin", "supervisor", "staff")
def return_call(complaint_id: str) -> Response:
    """The visitor was called back (回访): when, by the caller, their satisfaction, a note."""
    body = parse(ReturnCallBody)
    _principal, complaint = _complaint_for(complaint_id)
    at = _moment(body.at) if body.at is not None else None
    changed = hub().complaints.return_call(complaint.id, body.satisfaction, body.note, _actor(), at)
    return jsonify(complaint=_view(changed))


@complaints_api.post("/<complaint_id>/close")
@requires("admin", "supervisor", "staff")
def close(complaint_id: str) -> Response:
    """Close with a result (after the return call, where the site requires one)."""
    body = parse(CloseBody)
    _principal, complaint = _complaint_for(complaint_id)
    return jsonify(complaint=_view(hub().complaints.close(complaint.id, body.result, _actor())))


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            400,
            "'at' must be a date and time (ISO 8601 with offset)",
            zh="at 须为日期和时间（ISO 8601 格式，带时区偏移）",
        ) from None
    if moment.tzinfo is None:
        raise ApiError(
            400,
            "'at' must carry its offset, e.g. 2026-12-01T10:00:00+08:00",
            zh="at 须带时区偏移，如 2026-12-01T10:00:00+08:00",
        )
    return moment
