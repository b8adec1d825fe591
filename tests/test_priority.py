"""Priority categories (绿色通道), the priority ledger and the fair calling policy, on the real core.

Each test states one rule of the hall: who may give which category, that every
grant, request, confirmation and change is in the ledger with its ticket, that
the fair policy's cap, age bonus, appointments and transfers order the calls
as documented and say why, and that no public payload names a category.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.config import ConfigError, load_config
from server.core.calendar import HallCalendar
from server.core.errors import InvalidTransition, PriorityNotAllowed, UnknownCategory
from server.core.events import HallEvent
from server.core.model import (
    Counter,
    LedgerAction,
    PriorityCategory,
    PriorityGrant,
    Service,
    Ticket,
    TicketStatus,
)
from server.core.policy import CallContext, FairPolicy, FairRules, explain
from server.core.queue import Hall, IssueRequest, QueueCore
from server.store import open_store
from server.store.schema import priority_ledger, tickets

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
SERVICES = {
    "PAY": Service("PAY", "电费缴纳", "Bill payment", "A"),
    "ASK": Service("ASK", "咨询查询", "Enquiries", "B"),
}
COUNTERS = {
    1: Counter(1, "1号窗口", "Counter 1", ("PAY",)),
    2: Counter(2, "2号窗口", "Counter 2", ("PAY", "ASK")),
}
CATEGORIES = {
    "elderly": PriorityCategory("elderly", "老年人", "Elderly", 10, PriorityGrant.KIOSK),
    "pregnant": PriorityCategory("pregnant", "孕妇", "Pregnant", 10, PriorityGrant.CONFIRM),
    "vip": PriorityCategory("vip", "重点项目", "Key project", 20, PriorityGrant.STAFF),
}
RULES = FairRules(
    priority_cap=2,
    age_bonus=timedelta(minutes=30),
    age_bonus_weight=5,
    appointment_window=timedelta(minutes=10),
)


@dataclass
class Bench:
    core: QueueCore
    now: list[datetime]
    events: list[HallEvent] = field(default_factory=list)

    def tick(self, minutes: float = 1) -> None:
        self.now[0] += timedelta(minutes=minutes)

    def issue(self, service: str = "PAY", category: str | None = None, role: str | None = "kiosk") -> Ticket:
        self.tick()
        request = IssueRequest(service, issued_by=f"{role}-1", category=category, role=role)
        outcome = self.core.issue_many([request])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome.ticket

    def call(self, counter: int) -> str:
        self.tick()
        return self.core.call_next(counter).number


def make_bench(url: str, rules: FairRules = RULES) -> Bench:
    hall = Hall(
        "测试营业厅",
        "Test Hall",
        SERVICES,
        COUNTERS,
        HallCalendar(timezone="Asia/Shanghai"),
        categories=CATEGORIES,
        priority_cap=rules.priority_cap,
    )
    now = [T0]
    core = QueueCore(hall, open_store(url), clock=lambda: now[0], policy=FairPolicy(rules))
    bench = Bench(core, now)
    core.bus.subscribe(bench.events.append)
    return bench


@pytest.fixture
def bench(database_url: str) -> Bench:
    return make_bench(database_url)


def ledger_rows(bench: Bench) -> int:
    with bench.core.store.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(priority_ledger)) or 0)


# -- who may give what -------------------------------------------------------------


def test_a_kiosk_category_is_granted_at_the_kiosk_and_ledgered(bench: Bench) -> None:
    ticket = bench.issue(category="elderly")
    assert (ticket.category, ticket.priority) == ("elderly", 10)
    _stored, ledger = bench.core.priority_ledger(ticket.id)
    assert [(c.action, c.actor, c.role, c.to_category, c.to_priority) for c in ledger] == [
        (LedgerAction.GRANT, "kiosk-1", "kiosk", "elderly", 10)
    ]


def test_a_confirm_category_asked_at_the_kiosk_waits_as_normal_until_staff_confirm(bench: Bench) -> None:
    normal = bench.issue()
    asked = bench.issue(category="pregnant")
    assert (asked.category, asked.priority) == (None, 0)
    assert bench.core.next_up(1)["next"][1]["requested"] == "pregnant"

    bench.core.set_priority(asked.id, "pregnant", "已核实 / checked", "clerk", "staff")

    ticket, ledger = bench.core.priority_ledger(asked.id)
    assert (ticket.category, ticket.priority) == ("pregnant", 10)
    assert [c.action for c in ledger] == [LedgerAction.REQUEST, LedgerAction.CONFIRM]
    assert ledger[1].reason == "已核实 / checked" and ledger[1].actor == "clerk"
    assert bench.core.next_up(1)["next"][0]["requested"] is None
    assert [bench.call(1), bench.call(1)] == [asked.number, normal.number]


def test_a_kiosk_may_not_give_a_staff_category_and_nothing_is_written(bench: Bench) -> None:
    bench.issue()
    with pytest.raises(PriorityNotAllowed) as refused:
        bench.issue(category="vip")
    assert "工作人员" in refused.value.message and "staff" in refused.value.message
    with bench.core.store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(tickets)) == 1
    assert ledger_rows(bench) == 0


def test_an_unknown_category_is_refused_in_both_languages(bench: Bench) -> None:
    with pytest.raises(UnknownCategory) as refused:
        bench.issue(category="nope", role="staff")
    assert "未知的优先类别" in refused.value.message and "unknown priority category" in refused.value.message


def test_staff_and_triage_may_give_any_category(bench: Bench) -> None:
    assert bench.issue(category="vip", role="triage").priority == 20
    assert bench.issue(category="pregnant", role="staff").priority == 10


def test_staff_change_a_category_with_a_reason_and_the_ledger_keeps_from_and_to(bench: Bench) -> None:
    ticket = bench.issue(category="elderly")
    bench.core.set_priority(ticket.id, "vip", "重点项目 / key project", "boss", "admin")
    bench.core.set_priority(ticket.id, None, "误选 / chosen by mistake", "clerk", "staff")
    stored, ledger = bench.core.priority_ledger(ticket.id)
    assert (stored.category, stored.priority) == (None, 0)
    assert [(c.action, c.from_category, c.to_category, c.from_priority, c.to_priority) for c in ledger] == [
        (LedgerAction.GRANT, None, "elderly", 0, 10),
        (LedgerAction.CHANGE, "elderly", "vip", 10, 20),
        (LedgerAction.CHANGE, "vip", None, 20, 0),
    ]
    with pytest.raises(InvalidTransition):  # nothing to change: refused, no ledger entry
        bench.core.set_priority(ticket.id, None, "again", "clerk", "staff")
    assert ledger_rows(bench) == 3


def test_a_finished_ticket_keeps_its_priority(bench: Bench) -> None:
    ticket = bench.issue(category="elderly")
    bench.call(1)
    bench.core.finish(1)
    with pytest.raises(InvalidTransition):
        bench.core.set_priority(ticket.id, None, "late", "clerk", "staff")


# -- the fair policy on the real core ----------------------------------------------------


def test_the_priority_cap_lets_a_normal_ticket_through_and_survives_a_restart(database_url: str) -> None:
    bench = make_bench(database_url)
    normal = [bench.issue() for _ in range(2)]
    elderly = [bench.issue(category="elderly") for _ in range(4)]
    assert [bench.call(1), bench.call(1)] == [elderly[0].number, elderly[1].number]
    # A new hub on the same database: the run of two priority calls is still there.
    again = make_bench(database_url)
    again.now[0] = bench.now[0]
    plan = again.core.next_up(1)
    assert plan["priority_run"] == 2 and plan["priority_cap"] == 2
    assert [(p["number"], p["reason"]) for p in plan["next"]] == [
        (normal[0].number, "priority cap"),
        (elderly[2].number, "priority:elderly"),
        (elderly[3].number, "priority:elderly"),
        (normal[1].number, "first come"),
    ]
    assert [again.call(1) for _ in range(4)] == [p["number"] for p in plan["next"]]


def test_the_cap_sees_a_normal_ticket_behind_more_priority_tickets_than_the_policy_head(
    database_url: str,
) -> None:
    bench = make_bench(database_url)
    normal = bench.issue()
    for _ in range(25):  # more than POLICY_HEAD priority tickets stand before it
        bench.issue(category="elderly")
    called = [bench.call(1) for _ in range(3)]
    assert called[2] == normal.number


def test_age_bonus_appointments_and_transfers_order_the_calls_and_say_why(database_url: str) -> None:
    bench = make_bench(database_url)
    old = bench.issue()
    bench.tick(40)  # old has waited past the age bonus (30 min): ranks as priority 5
    walk_in = bench.issue()
    elderly = bench.issue(category="elderly")
    moved = bench.issue("ASK")
    bench.core.call_ticket(2, moved.id)  # served at counter 2, then sent to counter 1
    bench.core.transfer(2, to_counter=1)
    plan = bench.core.next_up(1)
    assert [(p["number"], p["reason"]) for p in plan["next"]] == [
        (moved.number, "transfer"),
        (elderly.number, "priority:elderly"),
        (old.number, "age bonus"),
        (walk_in.number, "first come"),
    ]


def test_an_appointment_due_now_goes_before_walk_ins_of_the_same_priority() -> None:
    policy = FairPolicy(RULES)
    counter = COUNTERS[1]
    walk_in = _ticket("A001", T0)
    appointment = replace(_ticket("A002", T0 + timedelta(minutes=5)), due_at=T0 + timedelta(minutes=12))
    later = replace(_ticket("A003", T0 + timedelta(minutes=6)), due_at=T0 + timedelta(hours=2))
    now = T0 + timedelta(minutes=8)
    placed = explain(policy, counter, [walk_in, later, appointment], CallContext(now), 5)
    assert [(p.ticket.number, p.reason) for p in placed] == [
        ("A002", "appointment due"),
        ("A001", "first come"),
        ("A003", "first come"),
    ]


def _ticket(number: str, at: datetime, priority: int = 0) -> Ticket:
    return Ticket(
        id=number,
        number=number,
        service="PAY",
        seq=int(number[1:]),
        business_day=at.date(),
        status=TicketStatus.WAITING,
        issued_at=at,
        queue_at=at,
        priority=priority,
    )


# -- nothing on a public payload ------------------------------------------------------------


def test_no_public_payload_names_a_category_or_a_reason(bench: Bench) -> None:
    """The snapshot, every hall event and the phone's ticket view carry a priority mark at most."""
    elderly = bench.issue(category="elderly")
    asked = bench.issue(category="pregnant")
    bench.issue(category="vip", role="triage")
    bench.core.set_priority(asked.id, "pregnant", "SECRET-REASON-孕检", "clerk", "staff")
    bench.call(1)
    bench.core.set_priority(elderly.id, "vip", "SECRET-REASON-重点", "clerk", "staff")
    ticket, _ahead = bench.core.ticket(elderly.id)

    public = [bench.core.snapshot(), *(e.payload for e in bench.events)]
    public.append({"ticket": ticket.public(), "history": [e.public() for e in ticket.history]})
    text = json.dumps(public, ensure_ascii=False)
    forbidden = ["SECRET-REASON", "triage-1", "category", "requested"]
    for category in CATEGORIES.values():
        forbidden += [category.code, category.name_zh, category.name_en]
    for word in forbidden:
        assert word not in text, f"{word!r} on a public payload"
    assert ticket.public()["priority"] is True
    assert any(e.name == "ticket_changed" and e.payload.get("event") == "priority" for e in bench.events)


# -- config -----------------------------------------------------------------------------------

SITE = """
[site]
name_zh = "营业厅"
name_en = "Hall"
[[services]]
code = "PAY"
name_zh = "缴费"
name_en = "Pay"
prefix = "A"
[[counters]]
number = 1
name_zh = "1号"
name_en = "One"
services = ["PAY"]
"""


def test_the_sample_sites_load_with_their_categories() -> None:
    root = Path(__file__).resolve().parents[1] / "config"
    halls = {p.stem: load_config(p).hall() for p in (root / "samples").glob("*.toml")}
    assert {"elderly", "disabled", "pregnant", "power_restoration", "vip"} <= set(
        halls["utility_hall"].categories
    )
    hospital = halls["hospital_outpatient"].categories
    assert max(hospital.values(), key=lambda c: c.weight).code == "emergency"
    assert {"elderly", "vip"} <= set(halls["bank_branch"].categories)
    default = load_config(root / "default.toml")
    assert default.calling.priority_cap >= 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            '[[priority]]\ncode = "old"\nname_zh = "老"\nname_en = "Old"\nweight = 5\ngrant = "anyone"\n',
            "priority[0].grant: Input should be 'kiosk', 'staff' or 'confirm'",
        ),
        (
            '[[priority]]\ncode = "old"\nname_zh = "老"\nname_en = "Old"\nweight = 0\n',
            "priority[0].weight: Input should be greater than or equal to 1",
        ),
        (
            '[[priority]]\ncode = "a"\nname_zh = "甲"\nname_en = "A"\nweight = 1\n'
            '[[priority]]\ncode = "a"\nname_zh = "乙"\nname_en = "B"\nweight = 2\n',
            "priority[1].code: 'a' is used twice",
        ),
        ("[calling]\npriority_cap = 0\n", "calling.priority_cap: Input should be greater than or equal to 1"),
        (
            '[[triage_desks]]\nname = "desk-1"\nprinter = "nope"\n',
            "triage_desks[0].printer: no printer device 'nope'",
        ),
    ],
)
def test_a_wrong_priority_setting_is_one_line_naming_file_and_key(
    tmp_path: Path, extra: str, message: str
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(SITE + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = str(error.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text, text
