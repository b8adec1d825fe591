"""Complaints: the core's rules in plain Python, and the complaint book on SQLite and PostgreSQL.

The book runs on the real store (``SqlComplaints``) beside a real queue core
that issues and serves the tickets complained about; the clock is a list the
test sets. The figures are read from the complaints' own log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.config import ConfigError, load_config
from server.core.appointments import Actor
from server.core.calendar import HallCalendar
from server.core.complaint_book import ComplaintBook
from server.core.complaints import (
    Channel,
    Closure,
    ComplaintClosed,
    ComplaintRefused,
    ComplaintRules,
    ComplaintScope,
    ComplaintStatus,
    Intake,
    ReturnCallRequired,
    UnknownComplaintCategory,
    figures,
)
from server.core.due import deadline, overdue, working_days_taken
from server.core.errors import UnknownTicket
from server.core.model import Counter, Service
from server.core.queue import Hall, QueueCore
from server.core.workdays import WorkCalendar
from server.store import open_store
from server.store.accounts import Accounts
from server.store.complaints import SqlComplaints
from server.store.schema import audit_log, complaint_events, staff_sessions
from tests.support import write_site

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = HallCalendar(timezone="Asia/Shanghai", workdays=WorkCalendar("CN"))
SERVICES = {"PAY": Service("PAY", "电费缴纳", "Bill payment", "B")}
COUNTERS = {1: Counter(1, "1号窗口", "Counter 1", ("PAY",))}
SUN = Actor("sun", "10.0.0.9")
LI = Actor("li", "10.0.0.5")


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI).astimezone(UTC)


# -- plain Python ------------------------------------------------------------------------


def test_the_deadline_is_the_cases_rule_across_national_day_and_a_sunday() -> None:
    recorded = local(date(2026, 9, 30), 16, 0)  # Wednesday, the eve of National Day (1–7 October)
    # 8, 9 October, Saturday 10 (a make-up working day, 调休), then Monday 12: Sunday 11 is off.
    due_on, due_at = deadline(CALENDAR, recorded, 4)
    assert due_on == date(2026, 10, 12)
    assert due_at == local(date(2026, 10, 13), 0, 0)  # overdue from the next local midnight
    assert not overdue(due_at, local(date(2026, 10, 12), 23, 59, 59))
    assert overdue(due_at, due_at)
    assert working_days_taken(CALENDAR, recorded, local(date(2026, 10, 8), 9)) == 1
    assert working_days_taken(CALENDAR, recorded, local(date(2026, 9, 30), 17)) == 0


def test_categories_and_figures() -> None:
    rules = ComplaintRules()
    assert rules.category("fees").name_zh == "收费问题"
    with pytest.raises(UnknownComplaintCategory) as refused:
        rules.category("bribes")
    assert "attitude" in refused.value.message_en and refused.value.message_zh
    start = local(date(2026, 9, 30), 9)
    closures = [
        Closure("attitude", start, start, True),
        Closure("attitude", start, start, False),
        Closure("fees", start, start, True),
    ]
    taken = iter([0, 3, 1])
    recorded = [("attitude", True), ("waiting", False), ("waiting", True)]
    got = figures(recorded, closures, lambda _c: next(taken), 2)
    # 查处率: of the three recorded in the period, two handled so far; the closures are the period's own.
    assert (got.recorded, got.closed, got.handled, got.rate, got.open_overdue) == (3, 3, 2, 66.7, 2)
    assert got.closure_days == {"p50": 1, "p90": 3}
    assert got.by_category["attitude"] == {"recorded": 1, "closed": 2, "handled": 1}
    assert got.by_category["waiting"] == {"recorded": 2, "closed": 0, "handled": 1}
    assert got.by_category["fees"] == {"recorded": 0, "closed": 1, "handled": 0}
    empty = figures([], [], lambda _c: 0, 0)
    assert empty.rate is None and empty.closure_days == {"p50": None, "p90": None}


# -- on the store ------------------------------------------------------------------------


@dataclass
class Desk:
    core: QueueCore
    book: ComplaintBook
    accounts: Accounts
    now: list[datetime]
    engine: Any
    changes: list[dict[str, Any]] = field(default_factory=list)

    def at(self, moment: datetime) -> None:
        self.now[0] = moment

    def served(self, clerk: str = "li") -> str:
        ticket = self.core.issue("PAY").ticket
        self.core.call_ticket(1, ticket.id, clerk)
        self.core.start(1, clerk)
        self.core.finish(1, clerk)
        return ticket.id


def make_desk(url: str, rules: ComplaintRules) -> Desk:
    store = open_store(url)
    store.ensure_counters(COUNTERS)
    now = [local(date(2026, 9, 30), 10, 0)]
    core = QueueCore(
        Hall("测试营业厅", "Test Hall", SERVICES, COUNTERS, CALENDAR), store, clock=lambda: now[0]
    )
    accounts = Accounts(store.engine)
    accounts.add_user("li", "staff", "clerk-password-1", now[0])
    accounts.add_user("sun", "supervisor", "clerk-password-1", now[0])
    accounts.add_user("nurse", "triage", "clerk-password-1", now[0])
    changes: list[dict[str, Any]] = []
    book = ComplaintBook(SqlComplaints(store.engine), CALENDAR, rules, lambda: now[0], changes.append)
    return Desk(core, book, accounts, now, store.engine, changes)


@pytest.fixture
def desk(database_url: str) -> Iterator[Desk]:
    made = make_desk(database_url, ComplaintRules(working_days=2))
    yield made
    made.engine.dispose()


def test_a_complaint_lives_through_the_store(desk: Desk) -> None:
    ticket = desk.served()
    intake = Intake("attitude", " 态度差 ", Channel.PHONE, "visitor", ticket, contact_phone="138-0013-8000")
    made = desk.book.record(intake, Actor("visitor"))
    # No supervisor on duty, none configured: nobody owns it yet; the clerk comes from the ticket's leg.
    assert (made.owner, made.clerk, made.counter, made.text) == (None, "li", 1, "态度差")
    assert made.due_on == date(2026, 10, 9) and made.contact_phone == "13800138000"
    desk.book.assign(made.id, "sun", SUN)
    with pytest.raises(ComplaintRefused):
        desk.book.assign(made.id, "sun", SUN)  # sun's already
    with pytest.raises(ComplaintRefused):
        desk.book.assign(made.id, "nurse", SUN)  # triage owns no complaint
    desk.book.note(made.id, "调取录像", SUN)
    with pytest.raises(ReturnCallRequired):
        desk.book.close(made.id, "已处理", SUN)
    desk.at(local(date(2026, 10, 9), 11))
    desk.book.return_call(made.id, "basically_satisfied", None, SUN)
    closed = desk.book.close(made.id, "已处理，当事人已道歉", SUN)
    assert closed.status is ComplaintStatus.CLOSED and closed.handled
    with pytest.raises(ComplaintClosed):
        desk.book.note(made.id, "late", SUN)
    assert desk.book.find(made.id).result == "已处理，当事人已道歉"
    kinds = [e.kind.value for e in desk.book.timeline(made.id)]
    assert kinds == ["recorded", "owner", "note", "return_call", "closed"]
    assert [c["action"] for c in desk.changes] == ["recorded", "owner", "note", "return_call", "closed"]
    got = desk.book.figures(local(date(2026, 9, 30), 0), local(date(2026, 10, 10), 0))
    assert (got.recorded, got.closed, got.handled, got.rate) == (1, 1, 1, 100.0)
    assert got.closure_days == {"p50": 2, "p90": 2}  # 30 Sep → 9 Oct: 8 and 9 October
    with desk.engine.connect() as conn:
        logged = json.dumps(
            [dict(r.detail) for r in conn.execute(select(complaint_events))], ensure_ascii=False
        )
        audited = json.dumps([dict(r.detail) for r in conn.execute(select(audit_log))], ensure_ascii=False)
    assert "13800138000" not in logged + audited and "态度差" not in logged + audited


def test_the_supervisor_on_duty_owns_new_ones_and_the_overdue_list(desk: Desk) -> None:
    desk.accounts.login("sun", "clerk-password-1", None, desk.now[0], 12)
    assert (
        desk.book.record(Intake("waiting", "太久", Channel.KIOSK, "kiosk-1"), Actor("kiosk-1")).owner == "sun"
    )
    with desk.engine.begin() as conn:  # sun logged out: nobody on duty
        conn.execute(staff_sessions.update().values(ended_at=desk.now[0]))
    late = desk.book.record(Intake("fees", "贵", Channel.KIOSK, "kiosk-1"), Actor("kiosk-1"))
    assert late.owner is None
    with pytest.raises(UnknownTicket):
        desk.book.record(Intake("fees", "x", Channel.PHONE, "visitor", "nope"), Actor("visitor"))
    # Due Friday 9 October (2 working days after 30 September): overdue from Saturday's first instant.
    overdue_scope = ComplaintScope(everything=True, overdue_only=True)
    desk.at(local(date(2026, 10, 9), 23, 59, 59))
    assert desk.book.listed(overdue_scope) == []
    assert desk.book.came_due(local(date(2026, 9, 30), 10), desk.now[0]) == []
    desk.at(local(date(2026, 10, 10), 0, 0, 1))
    assert len(desk.book.listed(overdue_scope)) == 2
    assert sorted(desk.book.came_due(local(date(2026, 10, 9), 23, 59, 59), desk.now[0])) == [
        "fees",
        "waiting",
    ]
    assert desk.book.listed(ComplaintScope(owner="sun"))[0].overdue(desk.now[0])


def test_a_closed_complaint_s_phone_is_erased_after_retention(database_url: str) -> None:
    desk = make_desk(database_url, ComplaintRules(return_call_required=False, contact_retention_days=30))
    try:
        made = desk.book.record(
            Intake("fees", "多收费", Channel.KIOSK, "kiosk-1", contact_phone="13800138000"), Actor("kiosk-1")
        )
        still_open = desk.book.record(
            Intake("fees", "贵", Channel.KIOSK, "kiosk-1", contact_phone="13900139000"), Actor("kiosk-1")
        )
        desk.book.close(made.id, "已退费", SUN)
        desk.at(local(date(2026, 10, 30), 9))  # 30 days after the closure: kept that long
        assert desk.book.erase_contacts() == 0
        desk.at(local(date(2026, 10, 30), 11))
        assert desk.book.erase_contacts() == 1 and desk.book.erase_contacts() == 0
        assert desk.book.find(made.id).contact_phone is None
        assert desk.book.find(still_open.id).contact_phone == "13900139000"  # open: still needed
        with desk.engine.connect() as conn:
            actions = [r.action for r in conn.execute(select(audit_log))]
        assert actions.count("complaint.erase_contacts") == 1
    finally:
        desk.engine.dispose()


def test_a_configured_owner_and_no_return_call_rule(database_url: str) -> None:
    desk = make_desk(database_url, ComplaintRules(owner="li", return_call_required=False))
    try:
        made = desk.book.record(Intake("suggestion", "多设座椅", Channel.COUNTER, "li"), LI)
        assert made.owner == "li"
        closed = desk.book.close(made.id, "已采纳", LI)
        assert closed.status is ComplaintStatus.CLOSED and not closed.handled  # closed, not called back
        got = desk.book.figures(local(date(2026, 9, 30), 0), local(date(2026, 10, 1), 0))
        assert (got.closed, got.handled, got.rate) == (1, 0, 0.0)
    finally:
        desk.engine.dispose()


# -- the site file -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name", ["default.toml", "samples/utility_hall.toml", "samples/hospital_outpatient.toml"]
)
def test_the_shipped_files_list_categories_in_both_languages(name: str) -> None:
    text = (ROOT / "config" / name).read_text(encoding="utf-8")
    assert "[complaints]" in text and "[[complaints.categories]]" in text
    if name.startswith("samples/"):
        rules = load_config(ROOT / "config" / name).complaints.rules()
        assert rules.return_call_required and rules.category("suggestion").name_en == "Suggestion"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("[complaints]\nworking_days = 99\n", "complaints.working_days"),
        (
            '[[complaints.categories]]\ncode = "a"\nname_zh = "甲"\nname_en = "A"\n'
            '[[complaints.categories]]\ncode = "a"\nname_zh = "乙"\nname_en = "B"\n',
            "complaints.categories[1].code: 'a' is used twice",
        ),
    ],
)
def test_mistakes_in_complaints_are_one_line(tmp_path: Path, extra: str, expected: str) -> None:
    path = write_site(tmp_path / "site.toml", "sqlite:///x.db")
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and expected in message, message
