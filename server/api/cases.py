"""Cases that span days over REST: staff open and work them, a visitor follows one by its code.

Least rights:

- A clerk opens a case from the ticket at their own counter. They see and
  work on (complete a step, hand it off) the cases they own (首问负责), whose
  active step is theirs, or whose service their counter serves; only the
  case's owner (or an admin) cancels it. The contact name and phone are shown
  unmasked to the case's owner, the active step's owner and admins; masked to
  other staff. Admins see and do everything.
- A visitor needs no login: ``GET /cases/{code}/progress`` shows the kind,
  the steps, their status and dates, and nothing personal. Codes are not
  guessable (:mod:`server.core.case_codes`), and each client address may
  look up only ``[cases] lookup_failures`` unknown codes per
  ``lookup_window_minutes`` (a typo the check character catches is not
  counted): 429 after that. A ticket for a case (``POST /tickets`` with
  ``case``) counts the same way.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import Field

from ..core import case_codes
from ..core.appointments import Actor
from ..core.cases import (
    ALL_CASES,
    Case,
    CaseClaim,
    CaseRefused,
    CaseScope,
    StepPlan,
    UnknownCase,
    not_a_code,
)
from ..security import retry_after
from ..store.accounts import Principal
from .auth import check_counter, client_address, current_principal, hub, requires
from .refusals import ApiError, error_response
from .routes import _Body, parse
from .throttle import FailureThrottle

cases_api = Blueprint("cases", __name__, url_prefix="/api/v1/cases")

#: Texts without NUL (security.py refuses it anywhere): the OpenAPI document says the same.
NO_NUL = r"^[^\x00]*$"
#: What a path's code may be before it is normalised (a code with its dash, in either case).
CODE_TEXT = 40


class OpenBody(_Body):
    counter: Annotated[int, Field(ge=1, le=999)]
    kind: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]{1,32}$")]
    contact_name: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)] | None = None
    contact_phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{5,24}$")] | None = None


class StepBody(_Body):
    """The step the clerk sees as current: a second click on a done step is refused, not repeated."""

    step: Annotated[int, Field(ge=1, le=20)]
    counter: Annotated[int, Field(ge=1, le=999)] | None = None
    note: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] | None = None


class HandOffBody(_Body):
    step: Annotated[int, Field(ge=1, le=20)]
    to: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] | None = None


class CancelCaseBody(_Body):
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]


# -- rights ------------------------------------------------------------------------------


def _actor() -> Actor:
    return Actor(current_principal().name, client_address())


def _counter_services(principal: Principal) -> frozenset[str]:
    counter = hub().core.hall.counters.get(principal.counter) if principal.counter is not None else None
    return frozenset(counter.services) if counter else frozenset()


def _scope(principal: Principal) -> CaseScope:
    """Admins and supervisors (read only): every case. Staff: theirs, their active steps', and their
    counter's services'."""
    if principal.role in ("admin", "supervisor"):
        return ALL_CASES
    return CaseScope(owner=principal.name, services=_counter_services(principal))


def _theirs(principal: Principal, case: Case) -> bool:
    """The case or its active step is the caller's own (they may read the contact)."""
    if principal.role == "supervisor":  # reads every case, works on none: the contact stays masked
        return False
    active = case.active
    return principal.role == "admin" or principal.name in (case.owner, active.owner if active else None)


def _may_work(principal: Principal, case: Case) -> bool:
    return _theirs(principal, case) or case.service in _counter_services(principal)


def _case_for_staff(code: str) -> tuple[Principal, Case]:
    """The case ``code`` if the caller may work on it: 404 when there is none, 403 when not theirs."""
    principal = current_principal()
    case = hub().cases.find(code[:CODE_TEXT])
    if not _may_work(principal, case):
        shown = case_codes.shown(case.code)
        raise ApiError(
            403,
            f"case {shown} is not yours, nor of your counter's services",
            zh=f"事项 {shown} 不归您办理，也不属于您窗口的业务",
        )
    return principal, case


def _view(principal: Principal, case: Case) -> dict[str, Any]:
    book = hub().cases
    return case.staff_view(book.calendar, book.kind_of(case), book.clock(), contact=_theirs(principal, case))


# -- staff -------------------------------------------------------------------------------


@cases_api.post("")
@requires("staff", "admin")
def open_case() -> tuple[Response, int]:
    """Open a case from the ticket at the caller's counter (called or being served); 201 with its code."""
    body = parse(OpenBody)
    check_counter(body.counter)
    the_hub = hub()
    the_hub.core.hall.counter(body.counter)  # 404 for a counter the site does not have
    current = the_hub.core.counter_view(body.counter)["current"]
    if current is None:
        n = body.counter
        raise CaseRefused(f"{n}号窗口当前没有号票", f"counter {n} has no current ticket")
    case = the_hub.cases.open(
        body.kind, current["id"], body.counter, _actor(), body.contact_name, body.contact_phone
    )
    return jsonify(case=_view(current_principal(), case)), 201


@cases_api.get("")
@requires("staff", "admin", "supervisor")
def list_open() -> Response:
    """Open cases the caller may work on, the soonest deadline first (``?overdue=1``: only those with an
    overdue step, the oldest first), the site's kinds of case, and how many open and overdue cases
    there are in all (``total``, ``overdue``; ``truncated`` when the list holds fewer).

    A supervisor (值班长) reads every open case to run the floor, the contact masked as for a clerk the
    case is not theirs (they work on none: every other case route stays staff's and admins')."""
    principal = current_principal()
    book = hub().cases
    raw = request.args.get("overdue", "0")
    if raw not in ("0", "1", "true", "false"):
        raise ApiError(
            400,
            "'overdue' must be 1, true, 0 or false",
            code="bad_request",
            zh="overdue 须为 1、true、0 或 false",
        )
    overdue_only = raw in ("1", "true")
    listed, total, late = book.counted(_scope(principal), overdue_only)
    return jsonify(
        cases=[_view(principal, c) for c in listed],
        # The true counts beside a list cut at LIST_LIMIT: a page can say "the first 500 shown".
        total=total,
        overdue=late,
        truncated=len(listed) < (late if overdue_only else total),
        kinds=[
            {
                "code": k.code,
                "name_zh": k.name_zh,
                "name_en": k.name_en,
                "service": k.service,
                "steps": [_plan(p) for p in k.steps],
            }
            for k in book.kinds.values()
        ],
    )


def _plan(step: StepPlan) -> dict[str, Any]:
    return {
        "code": step.code,
        "name_zh": step.name_zh,
        "name_en": step.name_en,
        "working_days": step.working_days,
    }


@cases_api.get("/overdue")
@requires("staff", "admin", "supervisor")
def list_overdue() -> Response:
    """Open cases with an overdue step the caller may work on (oldest deadline first), and when the next
    deadline in their reach passes: the console looks again then."""
    principal = current_principal()
    book = hub().cases
    late, upcoming = book.overdue(_scope(principal))
    return jsonify(
        now=book.clock().isoformat(),
        next_deadline=upcoming.isoformat() if upcoming else None,
        cases=[_view(principal, c) for c in late],
    )


@cases_api.get("/by-ticket/<ticket_id>")
@requires("staff", "admin")
def of_ticket(ticket_id: str) -> Response:
    """The case a ticket belongs to (opened from it, or taken for a step of it), or null.

    The console asks for the ticket at its counter: a clerk may see the case of
    the visitor in front of them, and otherwise only cases they may work on.
    """
    principal = current_principal()
    the_hub = hub()
    ticket, _ = the_hub.core.ticket(ticket_id[:32])  # 404 for an unknown ticket
    case = the_hub.cases.of_ticket(ticket.id)
    if case is None:
        return jsonify(ticket_id=ticket.id, case=None)
    here = principal.counter is not None and ticket.counter == principal.counter
    if not (here or _may_work(principal, case)):
        raise ApiError(
            403,
            f"ticket {ticket.number}'s case is not yours, nor of your counter's services",
            zh=f"号票 {ticket.number} 的事项不归您办理，也不属于您窗口的业务",
        )
    return jsonify(ticket_id=ticket.id, case=_view(principal, case))


@cases_api.get("/<code>")
@requires("staff", "admin")
def case_detail(code: str) -> Response:
    """A case in full for staff who may work on it: steps with owners and deadlines, its log, its tickets."""
    principal, case = _case_for_staff(code)
    events, tickets = hub().cases.record(case)
    return jsonify(
        case=_view(principal, case),
        events=[e.as_dict() for e in events],
        tickets=[t.as_dict() for t in tickets],
    )


@cases_api.post("/<code>/complete")
@requires("staff", "admin")
def complete_step(code: str) -> Response:
    """Complete the active step (``step`` as the clerk sees it): the next starts with its own deadline."""
    body = parse(StepBody)
    _principal, case = _case_for_staff(code)
    if body.counter is not None:
        check_counter(body.counter)
    done = hub().cases.complete_step(case.code, body.step, _actor(), body.counter, body.note)
    return jsonify(case=_view(current_principal(), done))


@cases_api.post("/<code>/hand-off")
@requires("staff", "admin")
def hand_off(code: str) -> Response:
    """The active step is now another staff member's; the case's owner stays responsible."""
    body = parse(HandOffBody)
    _principal, case = _case_for_staff(code)
    moved = hub().cases.hand_off(case.code, body.step, body.to, _actor(), body.reason)
    return jsonify(case=_view(current_principal(), moved))


@cases_api.post("/<code>/cancel")
@requires("staff", "admin")
def cancel(code: str) -> Response:
    """Cancel an open case with a reason: its owner or an admin only."""
    body = parse(CancelCaseBody)
    principal, case = _case_for_staff(code)
    if principal.role != "admin" and principal.name != case.owner:
        raise ApiError(
            403,
            f"only the case's owner ({case.owner}) or an admin may cancel it",
            zh=f"只有事项的负责人（{case.owner}）或管理员可以取消它",
        )
    gone = hub().cases.cancel(case.code, _actor(), body.reason)
    return jsonify(case=_view(principal, gone))


# -- the visitor -------------------------------------------------------------------------


@cases_api.get("/<code>/progress")
def progress(code: str) -> Response | tuple[Response, int]:
    """A case's progress for whoever holds its code: kind, steps, status and dates; nothing personal."""
    braked = lookup_brake()
    if braked is not None:
        return braked
    case = find_for_visitor(code)
    book = hub().cases
    # The hall's zone: the page says when it last looked in the hall's time, as the paper does.
    answer = jsonify({**case.progress(book.calendar, book.kind_of(case)), "timezone": book.calendar.timezone})
    answer.headers["Cache-Control"] = "no-store"
    return answer


def lookup_throttle() -> FailureThrottle:
    """This app's count of unknown codes per address (made on first use, from ``[cases]``)."""
    throttle: FailureThrottle | None = current_app.extensions.get("qcall_case_lookups")
    if throttle is None:
        section = hub().config.cases
        throttle = current_app.extensions.setdefault(
            "qcall_case_lookups",
            FailureThrottle(section.lookup_failures, section.lookup_window_minutes * 60.0),
        )
    return throttle


def lookup_brake() -> tuple[Response, int] | None:
    """429 ``too_many_attempts`` while this address has tried too many unknown codes, else None."""
    wait = lookup_throttle().retry_after(client_address())
    if wait is None:
        return None
    minutes = max(1, -(-int(wait) // 60))
    response, status = error_response(
        429,
        f"查询次数过多，请 {minutes} 分钟后再试 / too many unknown case codes; try again in {minutes} min",
        "too_many_attempts",
    )
    response.headers["Retry-After"] = str(retry_after(wait))
    return response, status


def find_for_visitor(text: str) -> Case:
    """The case ``text`` names; an unknown well-formed code counts against the caller's address."""
    if case_codes.normalize(text[:CODE_TEXT]) is None:
        raise not_a_code()  # a typo: nothing looked up, nothing learnt, not counted
    try:
        return hub().cases.find(text[:CODE_TEXT])
    except UnknownCase:
        lookup_throttle().failed(client_address())
        raise


def ticket_claim(text: str) -> tuple[str, CaseClaim]:
    """For ``POST /tickets`` with ``case``: the service to queue for and the claim to link the ticket.

    The caller checks :func:`lookup_brake` first. The case must be open (409
    ``case_closed``); an unknown code is a 404 and counts like a lookup.
    """
    case = find_for_visitor(text)
    return case.service, hub().cases.claim(case)
