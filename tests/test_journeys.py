"""Journeys, no-shows, recalls, re-queue and cancel, driven through the real core on SQLite and PostgreSQL.

A ticket is carried through stations (挂号 → 内科 → 收费 → 取药); each leg
keeps its own times and calls, and the legs the store keeps must be what the
event log says (:func:`server.core.journey.replay`). The clock is moved by
hand: the no-show timer is checked at chosen moments, never by sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.core import events as ev
from server.core.calendar import HallCalendar
from server.core.errors import (
    DailyLimitReached,
    InvalidTransition,
    NotCancellable,
    RecallLimitReached,
    UnknownTicket,
    VisitorNotStarted,
)
from server.core.events import HallEvent
from server.core.journey import replay
from server.core.model import Counter, LegOutcome, Service, Ticket, TicketStatus
from server.core.queue import Hall, QueueCore
from server.core.rules import CallRules, ServiceRules
from server.store import open_store

#: Tuesday 10 March 2026, 09:00 in Shanghai.
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)

SERVICES = {
    "REG": Service("REG", "挂号", "Registration", "A", width=4),
    "MED": Service("MED", "内科", "Internal Medicine", "B", daily_limit=2),
    "CASH": Service("CASH", "收费", "Cashier", "G", width=4),
    "PHARM": Service("PHARM", "取药", "Pharmacy", "H", width=4),
}
COUNTERS = {
    1: Counter(1, "1号挂号窗口", "Registration 1", ("REG",)),
    2: Counter(2, "2号挂号窗口", "Registration 2", ("REG",)),
    201: Counter(201, "内科1诊室", "Medicine Room 1", ("MED",), kind="room"),
    11: Counter(11, "1号收费窗口", "Cashier 1", ("CASH",)),
    21: Counter(21, "1号取药窗口", "Pharmacy 1", ("PHARM",), kind="pharmacy"),
}


@dataclass
class Bench:
    core: QueueCore
    now: list[datetime]
    events: list[HallEvent] = field(default_factory=list)

    def tick(self, seconds: float = 60) -> datetime:
        self.now[0] += timedelta(seconds=seconds)
        return self.now[0]

    def issue(self, service: str = "REG", priority: int = 0) -> Ticket:
        self.tick()
        return self.core.issue(service, priority=priority).ticket

    def get(self, ticket_id: str) -> Ticket:
        return self.core.ticket(ticket_id)[0]

    def waiting(self, counter: int) -> list[str]:
        return [t["number"] for t in self.core.waiting_list(counter)]

    def lobby_waiting(self, service: str) -> int:
        """The waiting count the lobby shows (queue_counts, kept by the store's triggers)."""
        return next(s["waiting"] for s in self.core.snapshot()["services"] if s["code"] == service)


def make_bench(url: str, rules: CallRules | None = None) -> Bench:
    hall = Hall("测试医院", "Test Hospital", SERVICES, COUNTERS, HallCalendar(timezone="Asia/Shanghai"))
    if rules is not None:
        hall = Hall(hall.name_zh, hall.name_en, hall.services, hall.counters, hall.calendar, rules=rules)
    now = [T0]
    core = QueueCore(hall, open_store(url), clock=lambda: now[0])
    bench = Bench(core, now)
    core.bus.subscribe(bench.events.append)
    return bench


def stored_legs_match_the_log(bench: Bench, ticket_id: str) -> None:
    ticket, legs = bench.core.journey(ticket_id)
    assert legs == replay(ticket, bench.get(ticket_id).history)


# -- journeys ----------------------------------------------------------------------


def test_a_ticket_carried_through_three_transfers_keeps_each_stations_times(database_url: str) -> None:
    bench = make_bench(database_url)
    core = bench.core
    ticket = bench.issue("REG", priority=1)
    issued_at = bench.now[0]

    called1 = bench.tick()
    core.call_next(1, staff="reg-clerk")
    started1 = bench.tick(30)
    core.start(1, staff="reg-clerk")
    moved1 = bench.tick(120)
    first = core.transfer(1, to_service="MED", staff="reg-clerk")
    assert (first.status, first.service, first.leg, first.call_count) == (
        TicketStatus.TRANSFERRED,
        "MED",
        2,
        0,
    )
    assert (first.called_at, first.started_at) == (None, None)  # the row keeps the current leg only
    assert (first.owner, first.priority) == ("reg-clerk", 1)
    assert bench.events[-1].payload["event"] == "transferred"

    called2 = bench.tick(600)
    core.call_next(201, staff="dr-wang")
    recalled2 = bench.tick(20)
    core.recall(201, staff="dr-wang")
    started2 = bench.tick(40)
    core.start(201, staff="dr-wang")
    moved2 = bench.tick(300)
    core.transfer(201, to_service="CASH", staff="dr-wang")

    called3 = bench.tick(200)
    core.call_next(11, staff="cashier")
    started3 = bench.tick(10)
    core.start(11, staff="cashier")
    moved3 = bench.tick(60)
    core.transfer(11, to_service="PHARM", staff="cashier")

    called4 = bench.tick(100)
    core.call_next(21, staff="pharmacist")
    started4 = bench.tick(15)
    core.start(21, staff="pharmacist")
    finished4 = bench.tick(90)
    done = core.finish(21, staff="pharmacist")

    assert (done.status, done.leg, done.call_count, done.service) == (TicketStatus.DONE, 4, 1, "PHARM")
    assert (done.called_at, done.started_at, done.finished_at) == (called4, started4, finished4)
    # 首问负责 and priority travel with the ticket; nobody later takes the case over.
    assert (done.owner, done.priority, done.number) == ("reg-clerk", 1, ticket.number)

    _, legs = core.journey(ticket.id)
    rows = [
        (
            leg.leg,
            leg.service,
            leg.counter,
            leg.staff,
            leg.queued_at,
            leg.called_at,
            leg.started_at,
            leg.finished_at,
            leg.calls,
            leg.outcome,
            leg.transfer,
        )
        for leg in legs
    ]
    assert rows == [
        (1, "REG", 1, "reg-clerk", issued_at, called1, started1, moved1, 1, LegOutcome.TRANSFERRED, False),
        (2, "MED", 201, "dr-wang", moved1, called2, started2, moved2, 2, LegOutcome.TRANSFERRED, True),
        (3, "CASH", 11, "cashier", moved2, called3, started3, moved3, 1, LegOutcome.TRANSFERRED, True),
        (4, "PHARM", 21, "pharmacist", moved3, called4, started4, finished4, 1, LegOutcome.DONE, True),
    ]
    assert recalled2 < started2  # the recall counted in leg 2's calls, not its called_at
    transfers = [e.detail for e in bench.get(ticket.id).history if e.kind.value == "transferred"]
    assert [(d["from_service"], d["to_service"]) for d in transfers] == [
        ("REG", "MED"),
        ("MED", "CASH"),
        ("CASH", "PHARM"),
    ]
    stored_legs_match_the_log(bench, ticket.id)
    # Legs name staff: the public ticket does not carry the owner.
    assert "owner" not in done.public()


def test_a_waiting_ticket_has_its_first_leg_before_any_row(database_url: str) -> None:
    bench = make_bench(database_url)
    ticket = bench.issue("REG")
    _, legs = bench.core.journey(ticket.id)
    assert [(leg.leg, leg.service, leg.queued_at, leg.outcome) for leg in legs] == [
        (1, "REG", ticket.issued_at, None)
    ]
    with pytest.raises(UnknownTicket):
        bench.core.journey("nope")


@pytest.mark.parametrize("mode", ["allow", "refuse"])
def test_transfer_into_a_capped_service_follows_its_rule(database_url: str, mode: str) -> None:
    rules = CallRules(services={"MED": ServiceRules(transfer_into_capped=mode)})  # type: ignore[arg-type]
    bench = make_bench(database_url, rules)
    core = bench.core
    bench.issue("MED")
    bench.issue("MED")  # MED has issued its 2 numbers for today
    with pytest.raises(DailyLimitReached):
        core.issue("MED")  # caps apply to new visitors, whatever the mode
    patient = bench.issue("REG")
    core.call_next(1)
    core.start(1)
    if mode == "refuse":
        with pytest.raises(DailyLimitReached) as full:
            core.transfer(1, to_service="MED")
        assert full.value.code == "daily_limit_reached"
        stored = bench.get(patient.id)
        assert (stored.status, stored.service, stored.leg) == (TicketStatus.SERVING, "REG", 1)
        core.transfer(1, to_service="CASH")  # a service without a cap takes it
        assert bench.get(patient.id).service == "CASH"
    else:
        moved = core.transfer(1, to_service="MED")
        assert (moved.service, moved.status) == ("MED", TicketStatus.TRANSFERRED)
        assert bench.waiting(201) == ["B001", "B002", patient.number]


# -- call-next while the visitor has not come ----------------------------------------


def test_call_next_makes_an_unstarted_visitor_a_no_show_not_done(database_url: str) -> None:
    bench = make_bench(database_url)
    absent = bench.issue()
    present = bench.issue()
    bench.core.call_next(1, staff="clerk")
    bench.events.clear()
    at = bench.tick()
    assert bench.core.call_next(1, staff="clerk").id == present.id
    gone = bench.get(absent.id)
    assert (gone.status, gone.finished_at) == (TicketStatus.NO_SHOW, at)
    assert gone.history[-1].detail == {"by": "call_next"}
    assert bench.events[0].payload["finished"]["status"] == "no_show"
    _, legs = bench.core.journey(absent.id)
    assert legs[-1].outcome is LegOutcome.NO_SHOW
    stored_legs_match_the_log(bench, absent.id)


def test_call_next_can_be_refused_while_the_visitor_is_called(database_url: str) -> None:
    bench = make_bench(database_url, CallRules(on_call_next_while_called="refuse"))
    called = bench.issue()
    waiting = bench.issue()
    bench.core.call_next(1)
    with pytest.raises(VisitorNotStarted) as refused:
        bench.core.call_next(1)
    assert refused.value.code == "visitor_not_started"
    assert bench.get(called.id).status is TicketStatus.CALLED  # nothing changed
    assert bench.get(waiting.id).status is TicketStatus.WAITING
    bench.core.start(1)
    assert bench.core.call_next(1).id == waiting.id  # a started visitor is finished as before
    assert bench.get(called.id).status is TicketStatus.DONE


# -- recalls and the no-show timer ------------------------------------------------------


def test_a_recall_beyond_the_limit_is_refused(database_url: str) -> None:
    bench = make_bench(database_url, CallRules(max_recalls=2))
    ticket = bench.issue()
    bench.core.call_next(1)
    bench.core.recall(1)
    bench.core.recall(1)
    with pytest.raises(RecallLimitReached) as limit:
        bench.core.recall(1)
    assert limit.value.code == "recall_limit"
    assert (
        limit.value.message
        == f"ticket {ticket.number} was recalled twice already: mark it a no-show or re-queue it"
    )
    assert limit.value.message_zh == f"{ticket.number} 号已重呼 2 次，达到上限：请过号或过号重排"
    assert bench.get(ticket.id).call_count == 3
    assert bench.core.no_show(1).status is TicketStatus.NO_SHOW  # the clerk decides


def test_a_recall_beyond_a_limit_of_one_says_once(database_url: str) -> None:
    bench = make_bench(database_url, CallRules(max_recalls=1))
    ticket = bench.issue()
    bench.core.call_next(1)
    bench.core.recall(1)
    with pytest.raises(RecallLimitReached) as limit:
        bench.core.recall(1)
    assert "recalled once already" in limit.value.message and "times" not in limit.value.message
    assert limit.value.message_zh == f"{ticket.number} 号已重呼 1 次，达到上限：请过号或过号重排"


def test_a_recall_beyond_the_limit_can_be_a_no_show(database_url: str) -> None:
    bench = make_bench(database_url, CallRules(max_recalls=1, on_recall_beyond_max="no_show"))
    ticket = bench.issue()
    bench.core.call_next(1)
    bench.core.recall(1)
    ended = bench.core.recall(1)
    assert (ended.id, ended.status) == (ticket.id, TicketStatus.NO_SHOW)
    assert bench.get(ticket.id).history[-1].detail == {"by": "recall_limit"}
    assert bench.core.counter_view(1)["current"] is None
    assert bench.events[-1].payload["event"] == "no_show"


def test_a_call_nobody_answers_becomes_a_no_show_by_itself(database_url: str) -> None:
    rules = CallRules(services={"REG": ServiceRules(no_show_after_seconds=60, max_recalls=1)})
    bench = make_bench(database_url, rules)
    core = bench.core
    ticket = bench.issue()
    other = bench.issue("CASH")  # no timer for the cashier
    called_at = bench.tick()
    core.call_next(1)
    core.call_next(11)

    assert core.expire_calls(called_at + timedelta(seconds=3600)) == []  # one recall is owed first
    recalled_at = called_at + timedelta(seconds=90)
    bench.now[0] = recalled_at
    core.recall(1)
    assert core.expire_calls(recalled_at + timedelta(seconds=59)) == []
    bench.events.clear()
    expired = core.expire_calls(recalled_at + timedelta(seconds=60))
    assert [t.id for t in expired] == [ticket.id]
    stored = bench.get(ticket.id)
    assert (stored.status, stored.finished_at) == (TicketStatus.NO_SHOW, recalled_at + timedelta(seconds=60))
    assert stored.history[-1].detail == {"by": "timer"}
    assert core.counter_view(1)["current"] is None
    assert [(e.name, e.payload["event"]) for e in bench.events] == [(ev.TICKET_CHANGED, "no_show")]
    assert bench.get(other.id).status is TicketStatus.CALLED
    assert core.expire_calls(recalled_at + timedelta(seconds=999)) == []  # once
    stored_legs_match_the_log(bench, ticket.id)


def test_a_started_visitor_is_never_expired(database_url: str) -> None:
    bench = make_bench(database_url, CallRules(no_show_after_seconds=30, max_recalls=0))
    ticket = bench.issue()
    bench.core.call_next(1)
    bench.core.start(1)
    assert bench.core.expire_calls(bench.now[0] + timedelta(hours=1)) == []
    assert bench.get(ticket.id).status is TicketStatus.SERVING


# -- re-queue (过号重排) ----------------------------------------------------------------


def test_a_late_visitor_is_re_queued_after_the_configured_position(database_url: str) -> None:
    bench = make_bench(database_url, CallRules(requeue_position=3))
    core = bench.core
    late = bench.issue()
    for _ in range(5):
        bench.issue()
    core.call_next(1)
    bench.events.clear()
    back = core.requeue(1, staff="clerk")
    assert (back.status, back.number, back.call_count, back.counter) == (
        TicketStatus.WAITING,
        "A0001",
        0,
        None,
    )
    assert bench.waiting(1) == ["A0002", "A0003", "A0004", "A0001", "A0005", "A0006"]
    assert core.counter_view(1)["current"] is None
    assert bench.events[-1].payload["event"] == "requeued"
    assert bench.lobby_waiting("REG") == 6

    # Called again, then a no-show; the visitor comes back with the paper: found by number.
    for _ in range(3):
        core.call_next(2)
        core.start(2)
    assert core.call_next(1).id == late.id
    core.call_next(1)  # the late visitor did not come again: a no-show
    assert bench.get(late.id).status is TicketStatus.NO_SHOW
    core.requeue(1, number="A0001")
    assert bench.waiting(1) == ["A0006", "A0001"]  # fewer than 3 wait: the end
    _, legs = core.journey(late.id)
    assert [(leg.leg, leg.calls, leg.outcome) for leg in legs] == [(1, 2, None)]
    stored_legs_match_the_log(bench, late.id)

    with pytest.raises(InvalidTransition):
        core.requeue(11, number="A0001")  # waiting, and not a cashier's service anyway
    with pytest.raises(UnknownTicket):
        core.requeue(1, number="A9999")


def test_re_queue_to_the_end(database_url: str) -> None:
    bench = make_bench(database_url, CallRules(requeue_position=None))
    bench.issue()
    bench.issue()
    bench.issue()
    bench.core.call_next(1)
    bench.tick()
    bench.core.requeue(1)
    assert bench.waiting(1) == ["A0002", "A0003", "A0001"]


# -- cancel ------------------------------------------------------------------------


def test_a_visitor_cancels_from_the_phone_and_the_lobby_count_drops(database_url: str) -> None:
    bench = make_bench(database_url)
    core = bench.core
    first = bench.issue()
    second = bench.issue()
    assert bench.lobby_waiting("REG") == 2
    bench.events.clear()
    gone = core.cancel(second.id)
    assert (gone.status, gone.finished_at) == (TicketStatus.CANCELLED, bench.now[0])
    assert bench.lobby_waiting("REG") == 1
    assert bench.get(second.id).history[-1].detail == {"by": "visitor"}
    assert [(e.name, e.payload["event"]) for e in bench.events] == [(ev.TICKET_CHANGED, "cancelled")]
    _, legs = core.journey(second.id)
    assert legs[-1].outcome is LegOutcome.CANCELLED

    # Called: the counter is freed.
    core.call_next(1)
    core.cancel(first.id)
    assert core.counter_view(1)["current"] is None
    with pytest.raises(NotCancellable) as ended:
        core.cancel(first.id)
    assert "不能取消" in ended.value.message and "cannot be cancelled" in ended.value.message
    with pytest.raises(UnknownTicket):
        core.cancel("nope")


def test_staff_cancel_at_their_counter_only(database_url: str) -> None:
    bench = make_bench(database_url)
    core = bench.core
    served = bench.issue()
    queued = bench.issue()
    core.call_next(1)
    core.start(1)
    with pytest.raises(NotCancellable):
        core.cancel(served.id)  # a visitor cannot cancel while being served
    with pytest.raises(InvalidTransition):
        core.cancel(served.id, counter_number=2, staff="other")  # not at counter 2
    with pytest.raises(InvalidTransition):
        core.cancel(queued.id, counter_number=11, staff="cashier")  # not a cashier's service
    assert core.cancel(served.id, counter_number=1, staff="clerk").status is TicketStatus.CANCELLED
    assert core.counter_view(1)["current"] is None
    assert core.cancel(queued.id, counter_number=2, staff="clerk2").status is TicketStatus.CANCELLED
    assert bench.get(queued.id).history[-1].detail == {"by": "staff"}
    assert bench.lobby_waiting("REG") == 0


# -- the site file -------------------------------------------------------------------


def test_the_hospital_sample_says_qu_yao_at_the_pharmacy_and_jiu_zhen_in_a_room() -> None:
    from server.config import load_config
    from tests.support import ROOT

    hall = load_config(ROOT / "config" / "samples" / "hospital_outpatient.toml").hall()
    pharmacy = hall.rules.call_templates("PHARM", hall.counters[21].kind)
    room = hall.rules.call_templates("MED", hall.counters[201].kind)
    assert pharmacy["zh"] == "请{number}号到{counter}取药" and "就诊" not in pharmacy["zh"]
    assert room["zh"] == "请{name}，{number}号到{counter}就诊"
    assert hall.rules.service("MED").transfer_into_capped == "refuse"
    assert hall.rules.service("PHARM").no_show_after_seconds == 300
    assert hall.rules.service("REG").no_show_after_seconds == 120


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[calls]\nrequeue_position = "middle"\n', "calls.requeue_position"),
        ('[calls.templates.room]\nzh = "请{patient}到{counter}"\n', "unknown placeholder {patient}"),
        ('[calls]\non_call_next_while_called = "done"\n', "calls.on_call_next_while_called"),
    ],
)
def test_a_wrong_calls_key_is_named_in_one_line(tmp_path: Path, extra: str, expected: str) -> None:
    from server.config import ConfigError, load_config
    from tests.support import write_site

    path = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'q.db'}")
    path.write_text(path.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as wrong:
        load_config(path)
    message = str(wrong.value)
    assert "\n" not in message and str(path) in message and expected in message, message


def test_a_counter_kind_needs_its_templates(tmp_path: Path) -> None:
    from server.config import ConfigError, load_config
    from tests.support import write_site

    path = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'q.db'}")
    text = path.read_text(encoding="utf-8").replace(
        'name_en = "Counter 1"\n', 'name_en = "Counter 1"\nkind = "room"\n', 1
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"counters\[0\]\.kind: no \[calls\.templates\.room\]"):
        load_config(path)


# -- phrasing per service and counter kind -------------------------------------------


def test_a_call_says_the_words_of_its_service_and_counter_kind(database_url: str) -> None:
    from drivers.voice.phrasing import Announcement, phrases
    from server.devices.listeners import TicketCalled, typed

    rules = CallRules(
        templates={
            "room": {"zh": "请{number}号到{counter}就诊", "en": "Number {number}, please go to {counter}"},
            "pharmacy": {
                "zh": "请{number}号到{counter}取药",
                "en": "Number {number}, please collect at {counter}",
            },
        },
        services={"CASH": ServiceRules(templates={"zh": "请{number}号到{counter}缴费"})},
    )
    bench = make_bench(database_url, rules)
    for service in ("PHARM", "MED", "CASH", "REG"):
        bench.issue(service)
    said = {}
    for counter in (21, 201, 11, 1):
        bench.core.call_next(counter)
        called = typed(bench.events[-1])
        assert isinstance(called, TicketCalled)
        announcement = Announcement(
            called.ticket_id,
            called.number,
            called.counter_name_zh,
            called.counter_name_en,
            templates=dict(called.templates) or None,
        )
        site = {"zh": "请{number}号到{counter}", "en": "Number {number}, please go to {counter}"}
        said[counter] = dict(phrases(announcement, site, {"zh": "请{number}号再次到{counter}"}))
    assert said[21]["zh"] == "请H 零 零 零 一号到1号取药窗口取药"
    assert said[21]["en"] == "Number H zero zero zero one, please collect at Pharmacy 1"
    assert said[201]["zh"] == "请B 零 零 一号到内科1诊室就诊"
    assert said[11]["zh"] == "请G 零 零 零 一号到1号收费窗口缴费"  # the service's own, over the kind's
    assert (
        said[11]["en"] == "Number G zero zero zero one, please go to Cashier 1"
    )  # no en of its own: the site's
    assert said[1]["zh"] == "请A 零 零 零 一号到1号挂号窗口"  # a window with no phrasing: the voice's own
    assert "templates" not in bench.events[-1].payload
