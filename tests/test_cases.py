"""Cases that span days (业扩报装), through the real core on a real store (SQLite and PostgreSQL).

The clock is moved by hand over real 2026 dates: National Day (1–7 October off,
Saturday 10 October a make-up working day) and the Spring Festival (15–23
February off, Saturdays 14 and 28 February worked), from chinese-calendar.
Each test states one rule: the deadline in working days, the overdue step
listed for staff at the right moment (just before and just after), the owner
(首问负责) who stays, exactly one of two racing completions, a ticket for the
next step linked in its own transaction, and a visitor's view with nothing
personal in it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from server.core import case_codes
from server.core.appointments import Actor
from server.core.calendar import HallCalendar
from server.core.case_book import CaseBook
from server.core.cases import (
    ALL_CASES,
    Case,
    CaseClosed,
    CaseEventKind,
    CaseKind,
    CaseRefused,
    CaseScope,
    CaseStatus,
    StepNotActive,
    StepPlan,
    StepStatus,
    UnknownCase,
    deadline,
)
from server.core.model import Counter, Service
from server.core.queue import Hall, Issued, IssueRequest, QueueCore
from server.core.workdays import WorkCalendar
from server.store import open_store
from server.store.accounts import Accounts
from server.store.cases import SqlCases
from server.store.schema import audit_log, case_tickets, tickets

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = HallCalendar(timezone="Asia/Shanghai", workdays=WorkCalendar("CN"))
NEW_CONNECTION = CaseKind(
    "NEW_CONNECTION",
    "业扩报装",
    "New connection",
    "NEW",
    (
        StepPlan("APPLICATION", "受理申请", "Application", 1),
        StepPlan("SURVEY", "现场勘查", "Site survey", 3),
        StepPlan("DESIGN", "方案答复", "Supply plan", 5),
        StepPlan("CONNECTION", "装表接电", "Connection", 5),
    ),
)
SERVICES = {
    "NEW": Service("NEW", "业扩报装", "New connection", "A"),
    "PAY": Service("PAY", "电费缴纳", "Bill payment", "B"),
}
COUNTERS = {1: Counter(1, "1号窗口", "Counter 1", ("NEW",)), 2: Counter(2, "2号窗口", "Counter 2", ("PAY",))}
LI = Actor("li", "10.0.0.5")
WANG = Actor("wang", "10.0.0.6")


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Hall_:
    core: QueueCore
    book: CaseBook
    now: list[datetime]
    engine: Any
    changes: list[dict[str, Any]] = field(default_factory=list)

    def at(self, moment: datetime) -> datetime:
        self.now[0] = moment
        return moment

    def served_ticket(self, clerk: str = "li", counter: int = 1, service: str = "NEW") -> str:
        """A ticket issued, called and started at ``counter`` by ``clerk`` (who becomes its owner)."""
        ticket = self.core.issue(service).ticket
        self.core.call_ticket(counter, ticket.id, clerk)
        self.core.start(counter, clerk)
        return ticket.id

    def open_case(self, clerk: Actor = LI, served_by: str | None = None, **contact: str) -> Case:
        ticket_id = self.served_ticket(served_by or clerk.name)
        return self.book.open("NEW_CONNECTION", ticket_id, 1, clerk, **contact)


@pytest.fixture
def hall(database_url: str) -> Iterator[Hall_]:
    store = open_store(database_url)
    store.ensure_counters(COUNTERS)
    now = [local(date(2026, 9, 30), 9, 0)]
    core = QueueCore(
        Hall("测试营业厅", "Test Hall", SERVICES, COUNTERS, CALENDAR), store, clock=lambda: now[0]
    )
    accounts = Accounts(store.engine)
    for name in ("li", "wang"):
        accounts.add_user(name, "staff", "clerk-password-1", now[0])
    accounts.add_user("nurse", "triage", "clerk-password-1", now[0])
    made = Hall_(core, None, now, store.engine)  # type: ignore[arg-type]
    made.book = CaseBook(
        SqlCases(store.engine),
        CALENDAR,
        {"NEW_CONNECTION": NEW_CONNECTION},
        lambda: now[0],
        made.changes.append,
    )
    yield made
    store.engine.dispose()


# -- pure rules ----------------------------------------------------------------------------


def test_deadlines_count_working_days_across_holidays_and_make_up_days() -> None:
    # Wednesday 30 September + 3 working days: 8, 9 and Saturday 10 October (make-up); National Day skipped.
    due_on, due_at = deadline(CALENDAR, local(date(2026, 9, 30), 15, 0), 3)
    assert due_on == date(2026, 10, 10)
    assert due_at == local(date(2026, 10, 11), 0, 0)  # the end of that working day, hall time
    # Started late at night hall time (still 30 September there, 1 October in no zone that matters).
    assert deadline(CALENDAR, local(date(2026, 9, 30), 23, 59), 1)[0] == date(2026, 10, 8)
    # Friday 13 February + 3: Saturday 14 (make-up), then 24 and 25 after the Spring Festival.
    assert deadline(CALENDAR, local(date(2026, 2, 13), 10, 0), 3)[0] == date(2026, 2, 25)
    # A step started on a holiday counts from the next working day.
    assert deadline(CALENDAR, local(date(2026, 10, 3), 10, 0), 1)[0] == date(2026, 10, 8)


def test_codes_are_long_enough_and_a_typo_is_never_another_code() -> None:
    codes = {case_codes.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        assert len(code) == 10 and set(code) <= set(case_codes.ALPHABET)
        assert case_codes.normalize(code) == code
        assert case_codes.normalize(case_codes.shown(code).lower()) == code
        assert case_codes.normalize(f"http://hall/case/?code={code}") == code
        # Every single wrong character, and every swap of two different neighbours, is caught.
        for i in range(10):
            for ch in case_codes.ALPHABET:
                if ch != code[i]:
                    assert case_codes.normalize(code[:i] + ch + code[i + 1 :]) is None
            if i < 9 and code[i] != code[i + 1]:
                assert case_codes.normalize(code[:i] + code[i + 1] + code[i] + code[i + 2 :]) is None
    for bad in ("", "ABC", "0" * 10, "I" * 10, "K7M2QX9HD4Z"):
        assert case_codes.normalize(bad) is None


# -- the acceptance walk ---------------------------------------------------------------------


def test_a_case_crosses_national_day_and_its_overdue_step_is_shown_to_staff_on_time(hall: Hall_) -> None:
    # Wednesday 30 September 2026, 10:00: the visitor's ticket is served by clerk li (its owner).
    hall.at(local(date(2026, 9, 30), 10, 0))
    case = hall.open_case(
        WANG, served_by="li"
    )  # wang opens it, but li served the ticket first: li owns the case
    assert case.owner == "li" and case.status is CaseStatus.OPEN
    first = case.steps[0]
    assert (first.status, first.due_on, first.owner) == (StepStatus.ACTIVE, date(2026, 10, 8), "li")
    assert [s.status for s in case.steps[1:]] == [StepStatus.PENDING] * 3

    # The application is accepted the same afternoon: the site survey starts, 3 working days.
    hall.at(local(date(2026, 9, 30), 15, 0))
    case = hall.book.complete_step(case.code, 1, LI, counter=1)
    survey = case.steps[1]
    assert survey.status is StepStatus.ACTIVE and survey.due_on == date(2026, 10, 10)  # the make-up Saturday
    assert survey.due_at == local(date(2026, 10, 11), 0, 0)

    owner = CaseScope(owner="li")
    new_counter = CaseScope(owner="zhao", services=frozenset({"NEW"}))
    pay_counter = CaseScope(owner="zhao", services=frozenset({"PAY"}))

    # In the middle of the holiday nothing is late; the consoles know when to look again.
    hall.at(local(date(2026, 10, 5), 12, 0))
    assert hall.book.overdue(owner) == ([], survey.due_at)
    # The last second of the make-up Saturday: still on time.
    hall.at(local(date(2026, 10, 10), 23, 59, 59))
    assert hall.book.overdue(owner)[0] == []
    assert hall.book.came_due(local(date(2026, 10, 10), 23, 0), hall.now[0]) == []
    # Midnight: overdue, for its owner, for staff of a counter that serves NEW and for admins.
    hall.at(local(date(2026, 10, 11), 0, 0))
    for scope in (owner, new_counter, ALL_CASES):
        late, _ = hall.book.overdue(scope)
        assert [c.code for c in late] == [case.code]
        assert late[0].active is not None and late[0].active.overdue(hall.now[0])
    # Not for a clerk whose counter serves other things and who has nothing to do with it.
    assert hall.book.overdue(pay_counter) == ([], None)
    assert hall.book.came_due(local(date(2026, 10, 10), 23, 59, 59), hall.now[0]) == [
        ("NEW_CONNECTION", "NEW")
    ]

    # Monday 12 October the survey is done (late); the plan's 5 working days run to Monday 19.
    hall.at(local(date(2026, 10, 12), 9, 30))
    case = hall.book.complete_step(case.code, 2, WANG, counter=1, note="现场已勘查")
    assert case.steps[1].done_by == "wang" and case.steps[1].owner == "wang"
    assert case.steps[2].due_on == date(2026, 10, 19) and case.steps[2].owner == "li"
    assert hall.book.overdue(ALL_CASES)[0] == []
    assert case.owner == "li"  # 首问负责: whoever does the steps, the first owner stays

    # The whole payload a visitor sees: dates and names of steps, nothing personal.
    assert case.progress(CALENDAR, NEW_CONNECTION) == {
        "code": case.code,
        "code_shown": case_codes.shown(case.code),
        "kind": "NEW_CONNECTION",
        "name_zh": "业扩报装",
        "name_en": "New connection",
        "status": "open",
        "opened_on": "2026-09-30",
        "closed_on": None,
        "steps": [
            {
                "step": 1,
                "code": "APPLICATION",
                "name_zh": "受理申请",
                "name_en": "Application",
                "status": "done",
                "due_on": "2026-10-08",
                "done_on": "2026-09-30",
            },
            {
                "step": 2,
                "code": "SURVEY",
                "name_zh": "现场勘查",
                "name_en": "Site survey",
                "status": "done",
                "due_on": "2026-10-10",
                "done_on": "2026-10-12",
            },
            {
                "step": 3,
                "code": "DESIGN",
                "name_zh": "方案答复",
                "name_en": "Supply plan",
                "status": "active",
                "due_on": "2026-10-19",
                "done_on": None,
            },
            {
                "step": 4,
                "code": "CONNECTION",
                "name_zh": "装表接电",
                "name_en": "Connection",
                "status": "pending",
                "due_on": None,
                "done_on": None,
            },
        ],
    }

    # Every change is in the case's log, who and when, and in the audit log.
    events, linked = hall.book.record(case)
    assert [(e.kind, e.actor, e.step) for e in events] == [
        (CaseEventKind.OPENED, "wang", 1),
        (CaseEventKind.STEP_DONE, "li", 1),
        (CaseEventKind.STEP_DONE, "wang", 2),
    ]
    assert events[2].detail == {"counter": 1, "note": "现场已勘查", "next": 3, "due_on": "2026-10-19"}
    assert [t.step for t in linked] == [1]
    with hall.engine.connect() as conn:
        query = select(audit_log.c.action, audit_log.c.actor, audit_log.c.address)
        actions = conn.execute(query.where(audit_log.c.action.like("case.%")).order_by(audit_log.c.id)).all()
    assert [tuple(a) for a in actions] == [
        ("case.open", "wang", "10.0.0.6"),
        ("case.step_done", "li", "10.0.0.5"),
        ("case.step_done", "wang", "10.0.0.6"),
    ]
    # Staff pages were told of each change, with nothing that names the case or the visitor.
    assert [c["action"] for c in hall.changes] == ["opened", "step_done", "step_done"]
    assert all(set(c) == {"action", "kind", "service", "status"} for c in hall.changes)


def test_the_last_step_closes_the_case_and_nothing_more_happens_to_it(hall: Hall_) -> None:
    hall.at(local(date(2026, 11, 2), 10, 0))
    case = hall.open_case()
    for step in (1, 2, 3, 4):
        hall.at(hall.now[0] + timedelta(days=1))
        case = hall.book.complete_step(case.code, step, LI)
    assert case.status is CaseStatus.DONE and case.closed_at == hall.now[0]
    assert all(s.status is StepStatus.DONE for s in case.steps)
    assert hall.book.find(case.code).status is CaseStatus.DONE
    with pytest.raises(CaseClosed, match="finished"):
        hall.book.complete_step(case.code, 4, LI)
    with pytest.raises(CaseClosed):
        hall.book.cancel(case.code, LI, "too late")
    with pytest.raises(CaseClosed):
        hall.book.claim(case)
    assert hall.book.open_cases(ALL_CASES) == []


def test_steps_in_order_and_exactly_once(hall: Hall_) -> None:
    case = hall.open_case()
    with pytest.raises(StepNotActive, match="step 2"):
        hall.book.complete_step(case.code, 2, LI)  # not reached yet
    hall.book.complete_step(case.code, 1, LI)
    with pytest.raises(StepNotActive, match="step 1"):
        hall.book.complete_step(case.code, 1, WANG)  # done already: the second click is refused
    with pytest.raises(UnknownCase):
        hall.book.complete_step("K7M2QX9HD4", 1, LI)


def test_two_clerks_completing_the_same_step_at_once_one_wins(hall: Hall_) -> None:
    case = hall.open_case()
    gate = threading.Barrier(2)
    outcomes: list[str] = []

    def complete(actor: Actor) -> None:
        gate.wait()
        try:
            hall.book.complete_step(case.code, 1, actor)
            outcomes.append("done")
        except StepNotActive:
            outcomes.append("refused")

    racers = [threading.Thread(target=complete, args=(a,)) for a in (LI, WANG)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)
    assert sorted(outcomes) == ["done", "refused"]
    now = hall.book.find(case.code)
    assert [s.status for s in now.steps] == [
        StepStatus.DONE,
        StepStatus.ACTIVE,
        StepStatus.PENDING,
        StepStatus.PENDING,
    ]
    events, _ = hall.book.record(now)
    assert [e.kind for e in events].count(CaseEventKind.STEP_DONE) == 1


def test_a_case_is_opened_only_from_the_ticket_at_the_counter_and_once(hall: Hall_) -> None:
    waiting = hall.core.issue("NEW").ticket
    with pytest.raises(CaseRefused, match="not at counter 1"):
        hall.book.open("NEW_CONNECTION", waiting.id, 1, LI)
    served = hall.served_ticket()
    with pytest.raises(CaseRefused, match="not at counter 2"):
        hall.book.open("NEW_CONNECTION", served, 2, LI)
    with pytest.raises(CaseRefused, match="no case kind 'SOLAR'"):
        hall.book.open("SOLAR", served, 1, LI)
    with pytest.raises(CaseRefused, match="not a phone number"):
        hall.book.open("NEW_CONNECTION", served, 1, LI, contact_phone="call me")
    case = hall.book.open(
        "NEW_CONNECTION", served, 1, LI, contact_name="张三明", contact_phone="138 0013 8000"
    )
    assert case.contact_phone == "13800138000" and case.ticket_id == served
    with pytest.raises(CaseRefused, match="already belongs to case"):
        hall.book.open("NEW_CONNECTION", served, 1, LI)
    assert hall.book.of_ticket(served) == case
    # A called (not yet started) ticket has no owner yet: the clerk who opens the case owns it.
    called = hall.core.issue("NEW").ticket
    hall.core.finish(1, "li")
    hall.core.call_ticket(1, called.id, "wang")
    assert hall.book.open("NEW_CONNECTION", called.id, 1, WANG).owner == "wang"


def test_a_visitor_coming_back_gets_a_ticket_linked_to_the_case(hall: Hall_) -> None:
    case = hall.open_case()
    hall.book.complete_step(case.code, 1, LI)
    claim = hall.book.claim(hall.book.find(case.code))
    assert (claim.case_id, claim.step) == (case.id, 2)
    plain = IssueRequest("PAY", issued_by="kiosk-1")
    linked = IssueRequest("NEW", issued_by="kiosk-1", case=claim)
    outcomes = hall.core.issue_many([plain, linked])
    assert all(isinstance(o, Issued) for o in outcomes)
    ticket = outcomes[1].ticket  # type: ignore[union-attr]
    assert hall.book.of_ticket(ticket.id) == hall.book.find(case.code)
    assert hall.book.of_ticket(outcomes[0].ticket.id) is None  # type: ignore[union-attr]
    events, tickets_of_case = hall.book.record(case)
    assert [(t.number, t.step) for t in tickets_of_case][-1] == (ticket.number, 2)
    assert (events[-1].kind, events[-1].actor, events[-1].detail) == (
        CaseEventKind.TICKET,
        "kiosk-1",
        {"ticket": ticket.number},
    )

    # Cancelled meanwhile: the ticket is refused, no number is used, nothing is linked.
    hall.book.cancel(case.code, LI, "客户撤回申请")
    with hall.engine.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(tickets))
    (refused,) = hall.core.issue_many([IssueRequest("NEW", case=claim)])
    assert isinstance(refused, CaseClosed) and refused.message_en.startswith("this case is closed")
    with hall.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(tickets)) == before
        assert conn.scalar(select(func.count()).select_from(case_tickets)) == 2
    assert hall.core.issue("NEW").ticket.number == "A003"  # A001 opened it, A002 came back


def test_hand_off_and_cancel(hall: Hall_) -> None:
    case = hall.open_case()
    with pytest.raises(CaseRefused, match="not an active staff user"):
        hall.book.hand_off(case.code, 1, "nurse", LI)  # triage may not work on cases
    with pytest.raises(CaseRefused, match="not an active staff user"):
        hall.book.hand_off(case.code, 1, "nobody", LI)
    with pytest.raises(CaseRefused, match="li's already"):
        hall.book.hand_off(case.code, 1, "li", LI)
    moved = hall.book.hand_off(case.code, 1, "wang", LI, "外勤")
    assert moved.steps[0].owner == "wang" and moved.owner == "li"
    assert CaseScope(owner="wang") != ALL_CASES
    assert [c.code for c in hall.book.open_cases(CaseScope(owner="wang"))] == [case.code]
    with pytest.raises(CaseRefused, match="reason is required"):
        hall.book.cancel(case.code, LI, "  ")
    with pytest.raises(CaseRefused, match="longer than 200"):
        hall.book.cancel(case.code, LI, "x" * 201)
    gone = hall.book.cancel(case.code, LI, "客户撤回申请")
    assert gone.status is CaseStatus.CANCELLED and gone.reason == "客户撤回申请"
    assert [s.status for s in gone.steps] == [StepStatus.CANCELLED] * 4
    assert hall.book.find(case.code) == gone
    # A cancelled case is never overdue, and no longer listed.
    hall.at(hall.now[0] + timedelta(days=30))
    assert hall.book.overdue(ALL_CASES) == ([], None)
    assert hall.book.open_cases(ALL_CASES) == []
    events, _ = hall.book.record(gone)
    assert [e.kind for e in events] == [
        CaseEventKind.OPENED,
        CaseEventKind.HANDED_OFF,
        CaseEventKind.CANCELLED,
    ]
    assert events[1].detail == {"from": "li", "to": "wang", "reason": "外勤"}
    # The progress a visitor sees says cancelled, never why.
    progress = gone.progress(CALENDAR, NEW_CONNECTION)
    assert progress["status"] == "cancelled" and "外勤" not in str(progress) and "撤回" not in str(progress)


def test_contacts_are_masked_for_other_staff_and_erased_after_retention(hall: Hall_) -> None:
    case = hall.open_case(contact_name="张三明", contact_phone="13800138000")
    now = hall.now[0]
    mine = case.staff_view(CALENDAR, NEW_CONNECTION, now, contact=True)
    theirs = case.staff_view(CALENDAR, NEW_CONNECTION, now, contact=False)
    assert (mine["contact_name"], mine["contact_phone"]) == ("张三明", "13800138000")
    assert (theirs["contact_name"], theirs["contact_phone"], theirs["contact_masked"]) == (
        "张*明",
        "138****8000",
        True,
    )
    assert "张三明" not in str(case.progress(CALENDAR, NEW_CONNECTION))
    hall.book.cancel(case.code, LI, "客户撤回申请")
    hall.at(now + timedelta(days=364))
    assert hall.book.erase_contacts(365) == 0
    hall.at(now + timedelta(days=366))
    assert hall.book.erase_contacts(365) == 1
    kept = hall.book.find(case.code)
    assert (kept.contact_name, kept.contact_phone) == (None, None)
    assert hall.book.erase_contacts(365) == 0


def test_lookup_by_code_and_the_lists_in_deadline_order(hall: Hall_) -> None:
    with pytest.raises(UnknownCase, match="not a case code"):
        hall.book.find("12345")
    body = "K7M2QX9HD"
    with pytest.raises(UnknownCase, match="no case with this code"):
        hall.book.find(body + case_codes.check_character(body))
    first = hall.open_case()
    hall.at(hall.now[0] + timedelta(hours=1))
    hall.book.complete_step(first.code, 1, LI)  # its survey ends 10 October
    second = hall.open_case()  # its application ends 8 October
    assert hall.book.find(case_codes.shown(first.code).lower()).id == first.id
    assert [c.code for c in hall.book.open_cases(ALL_CASES)] == [second.code, first.code]
    assert hall.book.open_cases(CaseScope(owner="zhao", services=frozenset({"PAY"}))) == []
