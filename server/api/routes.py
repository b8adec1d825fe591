"""The REST adapter: ``/api/v1``. Thin on purpose: parse, authorize, ask the core, shape JSON."""

from __future__ import annotations

import io
import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, TypeVar

import segno
from flask import Blueprint, Response, current_app, jsonify, request, session
from flask.globals import request_ctx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from werkzeug.sansio.utils import get_current_url

from ..core.appointments import AppointmentClaim
from ..core.bilingual import Bilingual
from ..core.cases import CaseClaim
from ..core.estimate import minutes
from ..core.model import CALLABLE, EventKind, Ticket
from ..core.priority import pending_request
from ..core.queue import IssueRequest
from ..core.satisfaction import Satisfaction, offer_view
from ..devices.voice import VOICE_DEVICE
from ..pydantic_zh import in_chinese, pattern_hint
from ..security import IssueLimiter, retry_after
from ..store.accounts import AccountError, Principal, token_hash
from .auth import (
    SESSION_KEY,
    check_counter,
    client_address,
    current_principal,
    drop_sockets,
    hub,
    requires,
)
from .refusals import ApiError, error_response, role_zh
from .throttle import LoginThrottle, refusal_message

api = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).with_name("openapi.json")
log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LoginBody(_Body):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    counter: int | None = None
    #: A clerk on post at another counter moves here (that post ends); absent: ``[staff] second_login``.
    move: bool | None = None


class LogoutBody(_Body):
    #: Log out even with a visitor at the counter: called, they go back to the queue; served, finished.
    force: bool = False


class PauseBody(_Body):
    #: The break's reason, a code of ``[staff] break_reasons``; absent: ``default_break_reason``.
    reason: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class PasswordChangeBody(_Body):
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Annotated[str, Field(min_length=1, max_length=256)]


class TicketBody(_Body):
    #: Required unless ``case`` is given (then the case's service is the one).
    service: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    #: A priority category code of the site (``[[priority]]``); what a kiosk may give is limited.
    category: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    #: The triage desk (``[[triage_desks]]``) issuing it: the ticket prints on the desk's printer.
    desk: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    #: A case's code (办理编号): a ticket for its next step, for the case's service, linked to it.
    #: Checked in the route (:func:`case_code`), off the plain ticket's path.
    case: Annotated[str, Field(min_length=1, max_length=40)] | None = None


class PriorityBody(_Body):
    #: The new category code, or null to take the priority away.
    category: Annotated[str, Field(min_length=1, max_length=32)] | None
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class ReprintBody(_Body):
    printer: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class CallBody(_Body):
    ticket_id: Annotated[str, Field(min_length=1, max_length=32)]


class CancelBody(_Body):
    """At a counter: the ticket to cancel; absent, the counter's current ticket."""

    ticket_id: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class RequeueBody(_Body):
    """At a counter: the late visitor's ticket by id or printed number; absent, the current ticket."""

    ticket_id: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    number: Annotated[str, Field(pattern=r"^[A-Z]{1,2}[0-9]{2,4}$")] | None = None

    @model_validator(mode="after")
    def _one(self) -> RequeueBody:
        if self.ticket_id is not None and self.number is not None:
            raise Bilingual("ticket_id 和 number 只能给出其一", "give 'ticket_id' or 'number', not both")
        return self


class EvaluationBody(_Body):
    """A pad's rating: one of the site's levels (``[satisfaction] levels``), a reason on a low one."""

    rating: Annotated[str, Field(min_length=1, max_length=32)]
    reason: Annotated[str, Field(min_length=1, max_length=32)] | None = None


class TransferBody(_Body):
    service: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    counter: int | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> TransferBody:
        if self.service is None and self.counter is None:
            raise Bilingual("转移须给出 service 或 counter", "a transfer needs 'service' or 'counter'")
        return self


def parse(model: type[M]) -> M:
    """The JSON body as ``model``, or a 400 that says which field is wrong and why."""
    data = request.get_json(silent=True)
    if data is None:
        if request.get_data():
            raise ApiError(
                400,
                "the body is not valid JSON (send Content-Type: application/json)",
                zh="请求内容不是有效的 JSON（请以 Content-Type: application/json 发送）",
            )
        data = {}
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object", zh="请求内容须为 JSON 对象")
    # JSON has one number type: 510.0 is the integer 510 to JSON Schema (and the OpenAPI
    # document), so a whole float is taken as one; the strict models refuse "510" still.
    data = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in data.items()}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        if first["type"] == "missing":
            raise ApiError(400, f"'{field}' is required", zh=f"缺少必填项 {field}") from None
        if first["type"] == "extra_forbidden":
            raise ApiError(
                400, f"'{field}' is not a known field", zh=f"没有 {field} 这一项，请检查拼写"
            ) from None
        if first["type"] == "string_pattern_mismatch":
            # What the field expects in words: never the regular expression, never the value sent.
            # Worded in both languages where it is made ("中文 / English"), as a visitor's refusal is:
            # the phone page and the console's dialogs show the hub's words (Q.hubWords).
            zh, en, whole = pattern_hint(str((first.get("ctx") or {}).get("pattern", "")))
            if not whole:
                zh, en = f"{field}：{zh}", f"'{field}': {en}"
            raise ApiError(400, f"{zh} / {en}", zh=zh) from None
        message = first["msg"].removeprefix("Value error, ")
        # pydantic's words, or the check's own Chinese; never the value sent (a password, a phone).
        said = in_chinese(first, field, message, site_file=False)
        if first["loc"]:
            # The fallback sentence names the field itself (「field」的值…).
            zh = said if said.startswith("「") else f"{field}：{said}"
            raise ApiError(400, f"'{field}': {message}", zh=zh) from None
        raise ApiError(400, message, zh=said) from None


def status_url_base() -> str:
    """Where visitors' status pages live: ``site.public_url``, else the address this request came to."""
    req = request_ctx.request  # not the proxy: two reads, twice a ticket (see security.check_request)
    return hub().config.site.public_url or host_url(req.scheme, req.host)


@lru_cache(maxsize=64)
def host_url(scheme: str, host: str) -> str:
    """``request.host_url`` without its slash, worked out once per host (~4 % of a ticket's CPU)."""
    return get_current_url(scheme, host).rstrip("/")


def status_url(ticket_id: str, base: str | None = None) -> str:
    return f"{status_url_base() if base is None else base}/t/{ticket_id}"


def ticket_json(ticket: Ticket, waiting_ahead: int, url_base: str | None = None) -> dict[str, Any]:
    """The ticket as its API answers show it; ``url_base``: :func:`status_url_base`, when known already."""
    hall = hub().core.hall
    service = hall.services.get(ticket.service)
    counter = hall.counters.get(ticket.counter) if ticket.counter is not None else None
    target = hall.counters.get(ticket.target_counter) if ticket.target_counter is not None else None
    return {
        **ticket.public(),
        "waiting_ahead": waiting_ahead,
        "status_url": status_url(ticket.id, url_base),
        "qr_url": f"/api/v1/tickets/{ticket.id}/qr.svg",
        "service_name_zh": service.name_zh if service else ticket.service,
        "service_name_en": service.name_en if service else ticket.service,
        "counter_name_zh": counter.name_zh if counter else None,
        "counter_name_en": counter.name_en if counter else None,
        # Where a transfer sent it, by the counter's configured name (the visitor's page says it).
        "target_counter_name_zh": target.name_zh if target else None,
        "target_counter_name_en": target.name_en if target else None,
        "timezone": hall.calendar.timezone,  # the visitor's page shows its times in the hall's zone
    }


# -- open --------------------------------------------------------------------


@api.get("/health")
def health() -> tuple[Response, int]:
    """The truth about taking tickets: 503 when the store cannot commit one, 200 otherwise.

    ``status`` is ``ok``, ``degraded`` (tickets are taken, but a device such
    as a printer or the voice is not working) or ``unavailable`` (the store
    cannot take writes: 503). Device details stay on the staff-only
    ``/devices``; this open answer carries names and states only.
    """
    the_hub = hub()
    store = the_hub.store_health.state()
    devices = [
        {k: d[k] for k in ("name", "kind", "state", "healthy", "since")}
        for d in the_hub.devices.all()
        if d["name"] != VOICE_DEVICE and d.get("configured", True)  # a stranger page is not the hall's health
    ]
    voice = the_hub.devices.get(VOICE_DEVICE)
    voice_enabled = the_hub.voice.enabled
    voice_json = {
        "state": (voice.state if voice else "unknown") if voice_enabled else "off",
        "healthy": (voice.healthy if voice else False) if voice_enabled else True,
    }
    problems = []
    if not store.ok:
        problems.append(f"store: {store.detail}")
    problems += [f"{d['name']}: {d['state']}" for d in devices if not d["healthy"]]
    if not voice_json["healthy"]:
        problems.append(f"voice: {voice_json['state']}")
    status = "unavailable" if not store.ok else ("degraded" if problems else "ok")
    answer = jsonify(
        status=status,
        connections=current_app.extensions["qcall_connections"].count,
        store=store.public(the_hub.store_health.backend),
        devices=devices,
        voice=voice_json,
        problems=problems,
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer, 200 if store.ok else 503


@api.get("/openapi.json")
def openapi() -> Response:
    """The API document as this site speaks it: the request bodies' service codes are the site's.

    The file describes every hall; a client (or a generator like Schemathesis)
    should know which codes this hall takes, not learn it from 400s.
    """
    document = current_app.extensions.get("qcall_openapi")
    if document is None:
        hall = hub().core.hall
        document = site_openapi(
            json.loads(OPENAPI.read_bytes()),
            list(hall.services),
            sorted(hall.counters),
            list(hall.categories),
            [t.name for t in hub().config.triage_desks],
            list(hall.break_reasons),
            hall.satisfaction,
        )
        current_app.extensions["qcall_openapi"] = document
    return Response(document, mimetype="application/json")


def site_openapi(
    doc: dict[str, Any],
    services: list[str],
    counters: list[int],
    categories: list[str] | None = None,
    desks: list[str] | None = None,
    break_reasons: list[str] | None = None,
    satisfaction: Satisfaction | None = None,
) -> str:
    """``doc`` with the site's service codes in the ticket and transfer bodies, its counters at login,
    its priority categories, triage desks and break reasons (a site without any takes only null), its
    rating levels and reasons, and its services and counters as the statistics' filters."""
    schemas = doc["components"]["schemas"]
    rated = satisfaction or Satisfaction()
    for body in ("EvaluationBody", "TicketEvaluationBody"):
        fields = schemas[body]["properties"]
        fields["rating"]["enum"] = [level.code for level in rated.levels]
        schemas[body]["if"]["properties"]["rating"]["enum"] = [lv.code for lv in rated.levels if lv.satisfied]
        for choice in fields["reason"]["anyOf"]:
            if choice.get("type") == "string":
                choice["enum"] = [reason.code for reason in rated.reasons]
    for parameter in doc["paths"]["/stats"]["get"]["parameters"]:
        if parameter["name"] in ("service", "counter"):
            parameter["schema"]["enum"] = services if parameter["name"] == "service" else counters
    for body, key, names in (
        ("TicketBody", "category", categories or []),
        ("PriorityBody", "category", categories or []),
        ("TicketBody", "desk", desks or []),
        ("PauseBody", "reason", break_reasons or []),
    ):
        field = schemas[body]["properties"][key]
        if names:
            for choice in field["anyOf"]:
                if choice.get("type") == "string":
                    choice["enum"] = names
        else:
            field["anyOf"] = [c for c in field["anyOf"] if c.get("type") != "string"]
    for choice in schemas["LoginBody"]["properties"]["counter"]["anyOf"]:
        if choice.get("type") == "integer":
            choice["enum"] = counters
    schemas["TicketBody"]["properties"]["service"]["enum"] = services
    for choice in schemas["TransferBody"]["properties"]["service"]["anyOf"]:
        if choice.get("type") == "string":
            choice["enum"] = services
    return json.dumps(doc, ensure_ascii=False, indent=2)


# -- staff login ---------------------------------------------------------------


def login_throttle() -> LoginThrottle:
    # One throttle per app, made on first use (setdefault: two racing first logins share one).
    return current_app.extensions.setdefault("qcall_login_throttle", LoginThrottle())


def throttled(username: str, address: str) -> tuple[Response, int] | None:
    """The 429 answer while this name or address is locked out, else None."""
    wait = login_throttle().retry_after(username, address)
    if wait is None:
        return None
    message, retry_after = refusal_message(wait)
    minutes = max(1, -(-retry_after // 60))
    zh = f"登录失败次数过多，请 {minutes} 分钟后再试"
    response, status = error_response(429, message, "too_many_attempts", zh)
    response.headers["Retry-After"] = str(retry_after)
    return response, status


@api.post("/auth/login")
def login() -> Response | tuple[Response, int]:
    body = parse(LoginBody)
    throttle = login_throttle()
    address = client_address()
    # Refused before the password is checked: a right guess during the lockout gains nothing.
    refusal = throttled(body.username, address)
    if refusal is not None:
        return refusal
    the_hub = hub()
    if body.counter is not None and body.counter not in the_hub.core.hall.counters:
        raise ApiError(
            400, f"there is no counter {body.counter}", "unknown_counter", zh=f"{body.counter} 号窗口不存在"
        )
    posts = the_hub.posts
    move = posts.moves(body.move)
    try:
        made = the_hub.accounts.login(
            body.username,
            body.password,
            body.counter,
            the_hub.clock(),
            the_hub.config.hub.staff_session_hours,
            single_session=the_hub.config.hub.single_session,
            admit=lambda principal: posts.admit(principal, move),  # one clerk, one counter (409)
        )
    except AccountError as exc:
        wrong_password = "password" in str(exc)
        if wrong_password:
            throttle.failed(body.username, address)
        raise ApiError(401 if wrong_password else 400, str(exc), zh=account_zh(str(exc))) from None
    throttle.succeeded(body.username)
    drop_sockets(made.ended)  # single_session: the earlier console's live link ends with its session
    taken = posts.take(made, move)  # on post at the counter: it opens on every screen
    if taken is not None and taken.moved:
        drop_sockets([post["session"] for post in taken.moved])  # the console at the counter left
    session.clear()
    session[SESSION_KEY] = made.cookie_id  # an id the store resolves, never the token
    principal = made.principal
    return jsonify(
        token=made.token,
        username=principal.name,
        role=principal.role,
        counter=principal.counter,
        expires_at=made.expires_at.isoformat(),
        timezone=the_hub.core.hall.calendar.timezone,  # the staff pages show the hall's times from the start
    )


@api.post("/auth/logout")
@requires("staff", "admin", "triage", "supervisor")
def logout() -> Response:
    """End the session the caller used (bearer token or cookie) and its open sockets.

    A clerk on post goes off post and the counter closes on every screen; with
    a visitor still called or served there the logout is refused (409
    ``ticket_at_counter``) unless ``force`` (the visitor is handed back).
    """
    body = parse(LogoutBody)
    principal = current_principal()
    hub().posts.leave(principal, body.force)
    hub().accounts.end_session(principal.key, hub().clock())
    drop_sockets([principal.key])
    session.clear()
    return jsonify(ok=True)


@api.post("/auth/password")
@requires("staff", "admin", "triage", "supervisor")
def change_password() -> Response | tuple[Response, int]:
    """A logged-in user's own new password; their other sessions end, this one stays.

    The current password is asked for (a console left open must not let a
    passer-by take the account), and wrong guesses count against the login
    throttle like wrong logins.
    """
    body = parse(PasswordChangeBody)
    principal = current_principal()
    address = client_address()
    refusal = throttled(principal.name, address)
    if refusal is not None:
        return refusal
    the_hub = hub()
    try:
        ended = the_hub.accounts.change_own_password(
            principal, body.current_password, body.new_password, the_hub.clock(), address
        )
    except AccountError as exc:
        if "current password" in str(exc):
            login_throttle().failed(principal.name, address)
            raise ApiError(403, str(exc), "wrong_password", zh=account_zh(str(exc))) from None
        raise ApiError(400, str(exc), zh=account_zh(str(exc))) from None
    drop_sockets(ended.ended)
    the_hub.posts.settle()  # a post held by one of the logins just ended closes now
    return jsonify(ok=True, sessions_ended=len(ended.ended))


@api.get("/auth/me")
@requires("staff", "admin", "triage", "supervisor")
def me() -> Response:
    principal = current_principal()
    return jsonify(
        username=principal.name,
        role=principal.role,
        counter=principal.counter,
        timezone=hub().core.hall.calendar.timezone,
    )


# -- tickets -------------------------------------------------------------------


@api.post("/tickets")
@requires("kiosk", "staff", "admin", "triage")
def issue_ticket() -> tuple[Response, int]:
    """A ticket for a service, with a priority category if asked (kiosk: only what the site lets it give).

    A kiosk's ticket prints on the kiosk's printer; a triage nurse's (or clerk's)
    on the printer of the triage desk named in ``desk``. The ticket records who
    issued it: the kiosk's name, or the user's.
    """
    body = parse(TicketBody)
    principal = current_principal()
    the_hub = hub()
    if body.desk is not None:
        if principal.is_device:
            raise ApiError(
                403,
                "'desk' is for a triage desk's user, not a device",
                zh="desk 只供分诊台的工作人员使用，设备不能使用",
            )
        if body.desk not in {t.name for t in the_hub.config.triage_desks}:
            raise ApiError(
                400,
                f"there is no triage desk {body.desk!r}",
                "unknown_desk",
                zh=f"分诊台 {body.desk!r} 不存在",
            )
    kiosk = principal.name if principal.is_device else body.desk
    issuer = principal.name
    braked = issue_brake(principal, "tickets")
    if braked is not None:
        return braked
    service, case = body.service, None
    if service is None or body.case is not None:  # a ticket for a case's next step: rare, checked here
        from .cases import lookup_brake, ticket_claim

        code = case_code(body)
        braked = lookup_brake()
        if braked is not None:
            return braked
        service, case = ticket_claim(code)
    # Shared with the requests that arrive with it: one durable commit, then the 201.
    answer = issue_printed(
        kiosk,
        service,
        issued_by=issuer,
        category=body.category,
        role=principal.role,
        desk=body.desk,
        case=case,
    )
    return jsonify(answer), 201


def case_code(body: TicketBody) -> str:
    """The case of a ticket request without a service: 400 unless it names exactly one of the two."""
    if "service" in body.model_fields_set and body.service is None:
        raise ApiError(
            400, "'service' is a string when given, never null", zh="service 给出时须为文字，不能为 null"
        )
    if body.case is None:
        raise ApiError(400, "'service' is required", zh="缺少必填项 service")
    if body.service is not None:
        raise ApiError(
            400,
            "give 'service' or 'case', not both (a case's ticket is for the case's service)",
            zh="service 和 case 只能给出其一（事项的号票属于该事项的业务）",
        )
    return body.case


def issue_printed(
    kiosk: str | None,
    service: str,
    *,
    issued_by: str | None,
    category: str | None = None,
    role: str | None = None,
    appointment: AppointmentClaim | None = None,
    desk: str | None = None,
    case: CaseClaim | None = None,
) -> dict[str, Any]:
    """Issue one ticket through the dispenser, its print job committed with it, and say so to the kiosk.

    The one issue path of the REST adapter (a kiosk's or triage desk's ticket,
    an appointment check-in): ``kiosk`` names the kiosk or desk whose printer
    prints it (None: no paper); the rest is the :class:`IssueRequest`, built
    once here with its print request. Returns the committed ticket's JSON
    answer with ``print``: ``none`` (no printer), the printer's state, or
    ``failed`` (the ticket stands: a printing fault never stops a ticket).
    """
    the_hub = hub()
    printing = the_hub.printing
    url_base = status_url_base()  # for the paper's QR code and the answer's status_url
    try:
        request_print = printing.request_for(kiosk, url_base)
    except Exception:  # a printing fault never stops a ticket
        log.exception("could not prepare a print job")
        request_print = None
    issued = the_hub.dispenser.issue(
        IssueRequest(
            service,
            issued_by=issued_by,
            print_request=request_print,
            category=category,
            role=role,
            appointment=appointment,
            desk=desk,
            case=case,
        )
    )
    answer = ticket_json(issued.ticket, issued.waiting_ahead, url_base)
    # The estimate given at issue, as stored with the ticket (null: no counter open for the service).
    answer["estimated_wait_minutes"] = minutes(issued.ticket.estimate_seconds)
    answer["print"] = {"printer": None, "state": "none"}
    if issued.print_job is not None:
        try:
            answer["print"] = printing.print_issued(issued)
        except Exception:  # the ticket is committed: the visitor gets it on screen whatever happens
            log.exception("could not queue ticket %s for printing", issued.ticket.number)
            answer["print"] = {"printer": None, "state": "failed", "detail": "printing is unavailable"}
    return answer


@api.post("/tickets/<ticket_id>/reprint")
@requires("staff", "admin")
def reprint_ticket(ticket_id: str) -> tuple[Response, int]:
    """Print a ticket again (a new print job), on the printer of the kiosk or triage desk that
    issued it, or on the one named."""
    body = parse(ReprintBody)
    the_hub = hub()
    ticket, ahead = the_hub.core.ticket(ticket_id)  # 404 for an unknown ticket
    printing = the_hub.printing
    if not printing.printers:
        raise ApiError(409, "no printer is configured on this hub", "no_printer", zh="本系统没有配置打印机")
    issued = next((e for e in ticket.history if e.kind is EventKind.ISSUED), None)
    # A kiosk's ticket names the kiosk; a triage nurse's names the nurse and the desk, whose printer it is.
    kiosk = (issued.detail.get("desk") or issued.detail.get("issued_by")) if issued else None
    kiosk_printer = printing.printer_of.get(kiosk) if isinstance(kiosk, str) else None
    printer = body.printer or kiosk_printer
    if printer is None:
        raise ApiError(
            409,
            "this ticket was not issued at a kiosk or triage desk with a printer: name the printer to use",
            "no_printer",
            zh="这张号票不是在带打印机的取号机或分诊台取的，请指定要使用的打印机",
        )
    if printer not in printing.printers:
        raise ApiError(
            400, f"there is no printer {printer!r}", "unknown_printer", zh=f"打印机 {printer!r} 不存在"
        )
    principal = current_principal()
    now = the_hub.clock()
    detail = {"number": ticket.number, "printer": printer}

    def audit(conn: Any) -> None:
        the_hub.audit.record(
            principal.name,
            "ticket.reprint",
            f"ticket:{ticket.id}",
            now,
            detail,
            address=request.remote_addr or "",
            conn=conn,
        )

    answer = printing.reprint(
        ticket,
        ahead,
        printer,
        kiosk if printer == kiosk_printer else None,
        status_url(ticket.id),
        also=audit,
    )
    return jsonify(ticket_id=ticket.id, number=ticket.number, print=answer), 201


#: What a device's brake holds back (``issue_brake``'s ``what``), in Chinese.
_BRAKE_ZH = {"tickets": "取号", "tries": "尝试签到"}

#: The account store's refusals (English, the CLI's words too) in Chinese: a pattern of the English,
#: and the Chinese with its groups filled in.
_ACCOUNT_ZH = tuple(
    (re.compile(pattern), zh)
    for pattern, zh in (
        (r"^wrong user name or password", "用户名或密码错误"),
        (r"^the current password is wrong", "当前密码不正确"),
        (r"^a password needs at least (\d+)", "密码太短，请至少使用 {0} 个字符"),
        (r"^a password has at most (\d+)", "密码太长，最多 {0} 个字符"),
        (r"^staff log in at a counter", "工作人员须在窗口登录：请填写窗口号"),
        (r"^(\w+) users log in without a counter", "{0} 角色的用户登录时不填窗口号，请去掉窗口号"),
        (r"^display_name: a display name has at most (\d+)", "显示名称太长，最多 {0} 个字符"),
        (r"^display_name: a display name may not hold control", "显示名称不能含有控制字符"),
        (r"^no token has the id or name (.+)$", "没有编号或名称为 {0} 的令牌"),
        (r"^no token has the id (.+)$", "没有编号为 {0} 的令牌"),
        (r"^every token named (.+) is revoked already", "名为 {0} 的令牌都已被吊销"),
        (r"^token (\S+) is revoked already", "令牌 {0} 已被吊销"),
        (
            r"^a live device token named (.+?) exists already; rotate it",
            "已有名为 {0} 的有效设备令牌；如需替换，请轮换它",
        ),
        (r"^a live device token named (.+?) exists already", "已有名为 {0} 的有效设备令牌"),
        (r"^the token of this pairing \((.+)\) was made already", "此配对码的令牌（{0}）已经生成"),
        (r"^unknown (?:user|device) role (.+); expected one of (.+)$", "没有 {0} 这个角色，可选：{1}"),
        (r"^a user name is 1 to 64 ASCII letters", "用户名须为 1 到 64 个英文字母、数字、“.”、“_”或“-”"),
        (r"^a device name is 1 to 64 ASCII letters", "设备名称须为 1 到 64 个英文字母、数字、“.”、“_”或“-”"),
        (r"^user (.+) exists already", "用户 {0} 已存在"),
        (r"^user (.+) is disabled already", "用户 {0} 已被停用"),
        (r"^user (.+) is enabled already", "用户 {0} 已是启用状态"),
        (r"^no user (.+)$", "没有用户 {0}"),
    )
)


def account_zh(english: str) -> str:
    """An account refusal's Chinese (login, password, tokens, users): a whole sentence, never the English."""
    for pattern, zh in _ACCOUNT_ZH:
        found = pattern.search(english)
        if found:
            return zh.format(*found.groups())
    return "账号操作未被受理，请检查填写的内容后重试"


def issue_brake(principal: Principal, what: str) -> tuple[Response, int] | None:
    """The 429 answer while ``principal`` has taken its burst of ``what`` (tickets, check-in tries).

    Keyed by the token's hash (Principal.key): the brake keeps no credential in memory.
    """
    wait = issue_limiter().take(principal.key or token_hash(principal.name))
    if wait is None:
        return None
    response, status = error_response(
        429,
        f"too many {what} from this device at once; please wait a moment",
        "too_many_requests",
        f"这台设备{_BRAKE_ZH.get(what, '请求')}过于频繁，请稍候再试",
    )
    response.headers["Retry-After"] = str(retry_after(wait))
    return response, status


def issue_limiter() -> IssueLimiter:
    """This app's brake on ticket issue (made here too when an app was built without one)."""
    extensions = current_app._get_current_object().extensions  # type: ignore[attr-defined]  # noqa: SLF001
    limiter: IssueLimiter | None = extensions.get("qcall_issue_limiter")
    if limiter is None:
        hub_config = extensions["qcall"].config.hub
        limiter = IssueLimiter(hub_config.ticket_burst, hub_config.tickets_per_minute)
        extensions["qcall_issue_limiter"] = limiter
    return limiter


@api.get("/tickets/<ticket_id>")
def get_ticket(ticket_id: str) -> Response:
    core = hub().core
    ticket, ahead = core.ticket(ticket_id)
    ratings = [e.detail.get("rating") for e in ticket.history if e.kind is EventKind.EVALUATED]
    return jsonify(
        {
            **ticket_json(ticket, ahead),
            # Live: its place now and the pace now (null once called, or with no counter open).
            "estimated_wait_minutes": core.estimate(ticket, ahead),
            "evaluation": ratings[-1] if ratings else None,
            # The service the phone may rate now (core.satisfaction.offer_view), or null.
            "evaluation_offer": offer_view(
                core.evaluation_offer(ticket),
                core.hall.satisfaction.phone_window,
                core.hall.services,
                core.hall.counters,
            ),
            "history": [e.public() for e in ticket.history],
        }
    )


@api.get("/priority-categories")
@requires("kiosk", "staff", "admin", "triage", "supervisor")
def priority_categories() -> Response:
    """The site's priority categories a caller may offer: a kiosk's green-channel buttons, a console's list.

    A kiosk gets only the categories it may give or ask for (``kiosk``, ``confirm``);
    staff, triage, supervisors and admins get all. Not on the public snapshot: a lobby has no use for them.
    """
    principal = current_principal()
    categories = hub().core.hall.categories.values()
    shown = [c for c in categories if principal.role != "kiosk" or c.grant.value != "staff"]
    return jsonify(
        categories=[
            {
                "code": c.code,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "weight": c.weight,
                "grant": c.grant.value,
            }
            for c in shown
        ]
    )


@api.get("/triage-desks")
@requires("staff", "admin", "triage")
def triage_desks() -> Response:
    """The site's triage desks (``[[triage_desks]]``): the desk picker of the triage page.

    Names and printers only; a device has no use for them (a kiosk prints on its own printer).
    """
    return jsonify(desks=[{"name": t.name, "printer": t.printer} for t in hub().config.triage_desks])


def _priority_rights(ticket: Ticket) -> Principal:
    """Admins see and change any ticket's priority; staff only a ticket at their counter or in its queue.

    "In its queue": waiting for a service the counter serves, or sent to it.
    Everyone else (kiosks, displays, triage, staff of another counter) gets 403.
    """
    principal = current_principal()
    if principal.role == "admin":
        return principal
    if principal.role != "staff" or principal.counter is None:
        raise ApiError(
            403,
            f"the role {principal.role!r} may not see or change a ticket's priority",
            zh=f"{role_zh(principal.role)}无权查看或修改号票的优先级",
        )
    counter = hub().core.hall.counters.get(principal.counter)
    here = ticket.counter == principal.counter or ticket.target_counter == principal.counter
    queued = ticket.status in CALLABLE and counter is not None and ticket.service in counter.services
    if not (here or queued):
        raise ApiError(
            403,
            f"ticket {ticket.number} is not at counter {principal.counter} or in its queue",
            zh=f"号票 {ticket.number} 不在 {principal.counter} 号窗口，也不在其队列中",
        )
    return principal


@api.get("/tickets/<ticket_id>/priority")
@requires("staff", "admin")
def ticket_priority(ticket_id: str) -> Response:
    """A ticket's priority category, an open kiosk request, and its priority ledger (staff, admin)."""
    ticket, ledger = hub().core.priority_ledger(ticket_id)
    _priority_rights(ticket)
    return jsonify(
        ticket_id=ticket.id,
        number=ticket.number,
        category=ticket.category,
        priority=ticket.priority,
        requested=pending_request(ledger),
        ledger=[change.as_dict() for change in ledger],
    )


@api.post("/tickets/<ticket_id>/priority")
@requires("staff", "admin")
def change_priority(ticket_id: str) -> Response:
    """Give, change, confirm or take away a ticket's priority category, with a reason (ledgered)."""
    body = parse(PriorityBody)
    the_hub = hub()
    ticket, _ledger = the_hub.core.priority_ledger(ticket_id)
    principal = _priority_rights(ticket)
    changed = the_hub.core.set_priority(ticket.id, body.category, body.reason, principal.name, principal.role)
    return jsonify(
        ticket_id=changed.id, number=changed.number, category=changed.category, priority=changed.priority
    )


@api.post("/tickets/<ticket_id>/cancel")
def cancel_ticket(ticket_id: str) -> Response:
    """The visitor gives up their place from the phone: knowing the ticket's id is the right to.

    The id (72 random bits) is what the phone's status page already holds; it
    shows and now cancels that ticket only. Refusals are bilingual (a visitor
    reads them): 409 ``not_cancellable`` once served or ended.
    """
    if len(ticket_id) > 32:
        raise ApiError(404, "没有这张号票 / no such ticket", "unknown_ticket")
    parse(_Body)  # no body, or an empty object
    ticket = hub().core.cancel(ticket_id)
    return jsonify(ticket_json(ticket, 0))


@api.get("/tickets/<ticket_id>/legs")
@requires("staff", "admin")
def ticket_legs(ticket_id: str) -> Response:
    """The ticket's journey so far: each station's service, counter, staff, times, calls and outcome.

    Staff and admins only: legs and the owner (首问负责) name staff, which no public screen shows.
    """
    ticket, legs = hub().core.journey(ticket_id)
    return jsonify(
        ticket_id=ticket.id,
        number=ticket.number,
        status=ticket.status.value,
        priority=ticket.priority,
        owner=ticket.owner,
        leg=ticket.leg,
        legs=[leg.staff_view() for leg in legs],
    )


@api.get("/tickets/<ticket_id>/qr.svg")
def ticket_qr(ticket_id: str) -> Response:
    hub().core.ticket(ticket_id)  # 404 for an unknown ticket
    buffer = io.BytesIO()
    segno.make(status_url(ticket_id), error="m").save(buffer, kind="svg", scale=8, border=2)
    return Response(buffer.getvalue(), mimetype="image/svg+xml")


@api.get("/devices")
@requires("staff", "admin", "supervisor")
def devices() -> Response:
    """Every configured device and its last known state, for the admin page (a supervisor reads it too)."""
    return jsonify(devices=hub().devices.all())


@api.get("/queue")
@requires("kiosk", "display", "pad", "staff", "admin", "triage", "supervisor")
def queue() -> Response:
    return Response(json.dumps(hub().snapshots.get(), ensure_ascii=False), mimetype="application/json")


# -- counters ------------------------------------------------------------------


@api.get("/counters/<counter:counter>")
def counter_view(counter: int) -> Response:
    core = hub().core
    _counter_action(counter)
    return jsonify(
        counter=core.counter_view(counter), waiting=core.waiting_list(counter), post=_post(counter)
    )


def _post(counter: int) -> dict[str, Any] | None:
    """Who is on post at the counter and their break, for its console (never on a public screen)."""
    state = next((s for s in hub().core.counter_states() if s.number == counter), None)
    if state is None or state.post is None:
        return None
    on_break = None
    if state.break_since is not None:
        on_break = {"reason": state.break_reason, "since": state.break_since.isoformat()}
    since = state.post_since.isoformat() if state.post_since else None
    return {"username": state.post, "since": since, "break": on_break}


def _acted(counter: int, ticket: Ticket) -> Response:
    return jsonify(ticket=ticket_json(ticket, 0), counter=hub().core.counter_view(counter))


def _counter_action(counter: int) -> str:
    current_principal()  # 401 first: strangers learn nothing, not even which counters exist
    hub().core.hall.counter(counter)
    return check_counter(counter).name


@api.get("/counters/<counter:counter>/next")
def next_up(counter: int) -> Response:
    """The order the policy would call next here, each with the reason for its place (``?limit=`` 1–20)."""
    _counter_action(counter)
    raw = request.args.get("limit", "10")
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 20:
        raise ApiError(400, "'limit' must be a whole number from 1 to 20", zh="limit 须为 1 到 20 的整数")
    return jsonify(hub().core.next_up(counter, int(raw)))


@api.post("/counters/<counter:counter>/call")
def call_ticket(counter: int) -> Response:
    staff = _counter_action(counter)
    body = parse(CallBody)
    return _acted(counter, hub().core.call_ticket(counter, body.ticket_id, staff))


def _ticket_action(action: str) -> Any:
    """A view for a counter action that takes no body and returns the ticket it moved."""

    def view(counter: int) -> Response:
        staff = _counter_action(counter)
        return _acted(counter, getattr(hub().core, action)(counter, staff))

    view.__name__ = action
    view.__doc__ = f"POST /counters/<n>/{action.replace('_', '-')}: the core's ``{action}``."
    return view


@api.post("/counters/<counter:counter>/call-next")
def call_next(counter: int) -> Response:
    """POST /counters/<n>/call-next: the core's ``call_next``, answered with the view the call left."""
    staff = _counter_action(counter)
    called, view = hub().core.call_next_viewed(counter, staff)
    return jsonify(ticket=ticket_json(called, 0), counter=view)


for _action in ("recall", "start", "finish", "no_show"):
    api.add_url_rule(
        f"/counters/<counter:counter>/{_action.replace('_', '-')}",
        view_func=_ticket_action(_action),
        methods=["POST"],
    )


@api.post("/counters/<counter:counter>/transfer")
def transfer(counter: int) -> Response:
    staff = _counter_action(counter)
    body = parse(TransferBody)
    return _acted(counter, hub().core.transfer(counter, body.service, body.counter, staff))


@api.post("/counters/<counter:counter>/cancel")
def cancel_at_counter(counter: int) -> Response:
    """Staff cancel the counter's current ticket, or a ticket waiting for this counter."""
    staff = _counter_action(counter)
    body = parse(CancelBody)
    core = hub().core
    ticket_id = body.ticket_id
    if ticket_id is None:
        current = core.counter_view(counter)["current"]
        if current is None:
            raise ApiError(
                409,
                f"counter {counter} has no current ticket",
                "invalid_transition",
                zh=f"{counter} 号窗口当前没有号票",
            )
        ticket_id = current["id"]
    return _acted(counter, core.cancel(ticket_id, counter_number=counter, staff=staff))


@api.post("/counters/<counter:counter>/requeue")
def requeue(counter: int) -> Response:
    """过号重排: put a late visitor back in the queue ([calls] requeue_position), keeping the number."""
    staff = _counter_action(counter)
    body = parse(RequeueBody)
    return _acted(counter, hub().core.requeue(counter, body.ticket_id, body.number, staff))


def _bound_pad(counter: int) -> Principal:
    """The pad calling, if it is the evaluation pad of `counter` (404 no such counter, 403 another's)."""
    pad = current_principal()
    the_hub = hub()
    the_hub.core.hall.counter(counter)
    if the_hub.config.device_counter(pad.name, "evaluation_pad") != counter:
        raise ApiError(
            403,
            f"pad {pad.name!r} is not the evaluation pad of counter {counter}",
            zh=f"评价器 {pad.name!r} 不是 {counter} 号窗口的评价器",
        )
    return pad


@api.get("/counters/<counter:counter>/evaluation")
@requires("pad")
def evaluation_check(counter: int) -> Response:
    """May this pad rate for this counter? The pad's page asks at load, so an installer sees a
    wrong token or binding before any visitor is asked for a rating (nothing is written)."""
    pad = _bound_pad(counter)
    return jsonify(counter=counter, pad=pad.name)


@api.post("/counters/<counter:counter>/evaluation")
@requires("pad")
def evaluation(counter: int) -> Response:
    """The visitor rates the service just finished here, on the pad bound to this counter."""
    pad = _bound_pad(counter)
    the_hub = hub()
    body = parse(EvaluationBody)
    ticket = the_hub.core.evaluate(counter, body.rating, source=pad.name, reason=body.reason)
    return jsonify(ticket=ticket_json(ticket, 0), rating=body.rating)


@api.post("/counters/<counter:counter>/pause")
def pause(counter: int) -> Response:
    """A break of the clerk on post, with its reason (``[staff] break_reasons``); 暂停服务 on every screen."""
    staff = _counter_action(counter)
    body = parse(PauseBody)
    hub().core.pause(counter, staff, body.reason)
    return jsonify(counter=hub().core.counter_view(counter), post=_post(counter))


@api.post("/counters/<counter:counter>/resume")
def resume(counter: int) -> Response:
    staff = _counter_action(counter)
    hub().core.resume(counter, staff)
    return jsonify(counter=hub().core.counter_view(counter), post=_post(counter))


@api.get("/break-reasons")
@requires("staff", "admin", "supervisor")
def break_reasons() -> Response:
    """The reasons a clerk picks from for a break (the console's pause), and the one used without."""
    hall = hub().core.hall
    return jsonify(
        reasons=[r.as_dict() for r in hall.break_reasons.values()], default=hall.default_break_reason
    )
