"""The queue core driven directly: a real store on SQLite and a clock moved by hand.

Each test states one rule of the hall and checks it on what the core returns,
what the store keeps (the ticket and its history) and what the event bus was
told.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, func, select

from server.core import events as ev
from server.core.calendar import HallCalendar
from server.core.errors import (
    CounterPaused,
    DailyLimitReached,
    HallClosed,
    InvalidTransition,
    NobodyWaiting,
    QueueError,
    UnknownCounter,
    UnknownService,
    UnknownTicket,
)
from server.core.events import HallEvent
from server.core.model import Counter, CounterStatus, EventKind, Service, Ticket, TicketStatus
from server.core.policy import CallContext, CallingPolicy, preference_policy
from server.core.queue import Hall, QueueCore
from server.store import open_store
from server.store.schema import counter_states, tickets

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: Tuesday 10 March 2026, 09:00 in Shanghai.
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)

SERVICES = {
    "PAY": Service("PAY", "电费缴纳", "Bill payment", "A"),
    "ASK": Service("ASK", "咨询查询", "Enquiries", "B", width=4),
    "NEW": Service("NEW", "新装", "New connection", "C", daily_limit=2),
}
COUNTERS = {
    1: Counter(1, "1号窗口", "Counter 1", ("PAY",)),
    2: Counter(2, "2号窗口", "Counter 2", ("ASK",)),
    3: Counter(3, "3号窗口", "Counter 3", ("PAY", "ASK")),
    4: Counter(4, "4号窗口", "Counter 4", ("ASK", "PAY")),
}


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock moment in the hall, as the UTC moment a server clock gives."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Bench:
    """A core on a fresh SQLite store, its hand-moved clock and everything it published."""

    core: QueueCore
    url: str
    now: list[datetime]
    events: list[HallEvent] = field(default_factory=list)

    def tick(self, minutes: float = 1) -> datetime:
        self.now[0] += timedelta(minutes=minutes)
        return self.now[0]

    def issue(self, service: str, priority: int = 0) -> Ticket:
        """One minute later, a visitor takes a ticket."""
        self.tick()
        return self.core.issue(service, priority=priority).ticket

    def get(self, ticket_id: str) -> Ticket:
        return self.core.ticket(ticket_id)[0]

    def kinds(self, ticket_id: str) -> list[str]:
        return [e.kind.value for e in self.get(ticket_id).history]

    def names(self) -> list[str]:
        return [e.name for e in self.events]

    def count_tickets(self) -> int:
        """The rows in ``tickets``, read with SQL on a connection of its own (what is committed)."""
        reader = create_engine(self.url)
        try:
            with reader.connect() as conn:
                return int(conn.scalar(select(func.count()).select_from(tickets)))
        finally:
            reader.dispose()


def make_bench(
    url: str,
    calendar: HallCalendar | None = None,
    policy: CallingPolicy = preference_policy,
    start: datetime = T0,
    listen: bool = True,
) -> Bench:
    hall = Hall(
        "测试营业厅",
        "Test Hall",
        SERVICES,
        COUNTERS,
        calendar or HallCalendar(timezone="Asia/Shanghai"),
    )
    now = [start]
    core = QueueCore(hall, open_store(url), clock=lambda: now[0], policy=policy)
    bench = Bench(core, url, now)
    if listen:
        core.bus.subscribe(bench.events.append)
    return bench


@pytest.fixture
def bench(sqlite_url: str) -> Bench:
    return make_bench(sqlite_url)


def called_numbers(bench: Bench, counter: int, times: int) -> list[str]:
    """Press "call next" ``times`` times at ``counter``; the numbers called."""
    out = []
    for _ in range(times):
        bench.tick()
        out.append(bench.core.call_next(counter).number)
    return out


# -- numbering -------------------------------------------------------------------


def test_numbers_count_up_per_service_with_the_service_width(bench: Bench) -> None:
    issued = [bench.issue(s) for s in ("PAY", "ASK", "PAY", "ASK", "PAY")]

    assert [t.number for t in issued] == ["A001", "B0001", "A002", "B0002", "A003"]
    assert [t.seq for t in issued] == [1, 1, 2, 2, 3]
    assert len({t.id for t in issued}) == 5
    for ticket in issued:
        stored = bench.get(ticket.id)
        assert stored.number == ticket.number
        assert stored.status is TicketStatus.WAITING
        assert stored.business_day == date(2026, 3, 10)
        assert stored.issued_at == stored.queue_at == ticket.issued_at
        assert [(e.kind, e.detail) for e in stored.history] == [(EventKind.ISSUED, {"priority": 0})]
    assert bench.names() == [ev.TICKET_ISSUED] * 5
    assert [e.payload["ticket"]["number"] for e in bench.events] == [t.number for t in issued]


def test_numbering_restarts_at_the_local_day_start_and_never_repeats_within_a_day(sqlite_url: str) -> None:
    calendar = HallCalendar(timezone="Asia/Shanghai", day_starts_at=time(3, 0))
    bench = make_bench(sqlite_url, calendar, start=local(2026, 3, 10, 2, 59))

    late = bench.core.issue("PAY").ticket  # 02:59: still the night of the 9th
    bench.now[0] = local(2026, 3, 10, 3, 1)
    first = bench.core.issue("PAY").ticket
    assert (late.number, late.business_day) == ("A001", date(2026, 3, 9))
    assert (first.number, first.business_day) == ("A001", date(2026, 3, 10))
    assert late.id != first.id

    # Neither midnight in UTC (08:00 here) nor local midnight starts a new day; 03:00 does.
    same_day = [first]
    for moment in [(3, 10, 7, 59), (3, 10, 8, 1), (3, 10, 23, 59), (3, 11, 0, 30), (3, 11, 2, 59)]:
        bench.now[0] = local(2026, *moment)
        same_day.append(bench.core.issue("PAY").ticket)
    bench.now[0] = local(2026, 3, 11, 3, 0)
    next_day = bench.core.issue("PAY").ticket

    assert [t.number for t in same_day] == ["A001", "A002", "A003", "A004", "A005", "A006"]
    assert {t.business_day for t in same_day} == {date(2026, 3, 10)}
    assert (next_day.number, next_day.business_day) == ("A001", date(2026, 3, 11))
    with bench.core.store.transaction() as tx:
        for ticket in same_day:
            assert tx.find_ticket(date(2026, 3, 10), ticket.number).id == ticket.id
        assert tx.find_ticket(date(2026, 3, 9), "A001").id == late.id
        assert tx.find_ticket(date(2026, 3, 11), "A001").id == next_day.id
    assert bench.count_tickets() == 8

    # Today's A001 is called, never yesterday's: each day has its own queue.
    assert bench.core.call_next(1).id == next_day.id
    with pytest.raises(NobodyWaiting):
        bench.core.call_next(1)


def test_daily_limit_refuses_the_next_ticket_and_stores_nothing(bench: Bench) -> None:
    assert [bench.issue("NEW").number for _ in range(2)] == ["C001", "C002"]
    bench.events.clear()

    with pytest.raises(DailyLimitReached) as refused:
        bench.issue("NEW")

    assert refused.value.code == "daily_limit_reached"
    assert bench.count_tickets() == 2
    assert bench.events == []
    queues = {s["code"]: s for s in bench.core.snapshot()["services"]}
    assert queues["NEW"]["waiting"] == 2
    assert bench.issue("PAY").number == "A001"  # other services go on
    bench.tick(24 * 60)
    assert bench.issue("NEW").number == "C001"  # and tomorrow is another day


def test_closed_hall_issues_nothing_outside_opening_hours(sqlite_url: str) -> None:
    hours = {1: [(time(8, 30), time(12, 0)), (time(13, 30), time(17, 30))]}  # Tuesdays only
    calendar = HallCalendar(timezone="Asia/Shanghai", hours=hours, enforce_hours=True)
    bench = make_bench(sqlite_url, calendar)
    outcomes = {}
    for moment in [
        (10, 8, 29),
        (10, 8, 30),
        (10, 11, 59),
        (10, 12, 0),
        (10, 13, 30),
        (10, 17, 30),
        (11, 9, 0),
    ]:
        bench.now[0] = local(2026, 3, *moment)
        try:
            outcomes[moment] = bench.core.issue("PAY").ticket.number
        except HallClosed as closed:
            assert closed.code == "hall_closed"
            outcomes[moment] = "closed"

    assert outcomes == {
        (10, 8, 29): "closed",
        (10, 8, 30): "A001",
        (10, 11, 59): "A002",
        (10, 12, 0): "closed",
        (10, 13, 30): "A003",
        (10, 17, 30): "closed",
        (11, 9, 0): "closed",  # Wednesday: not in the table, so closed
    }
    assert bench.count_tickets() == 3
    assert bench.names() == [ev.TICKET_ISSUED] * 3


def test_waiting_ahead_counts_the_same_service_in_calling_order(bench: Bench) -> None:
    aheads = []
    for service in ("PAY", "PAY", "ASK", "PAY"):
        bench.tick()
        aheads.append(bench.core.issue(service).waiting_ahead)
    assert aheads == [0, 1, 0, 2]
    assert [e.payload["waiting_ahead"] for e in bench.events] == aheads

    a1, a2, a3 = (t["id"] for t in bench.core.waiting_list(1))
    bench.core.call_next(1)
    assert bench.core.ticket(a3)[1] == 1
    assert bench.core.ticket(a1)[1] == 0  # at the counter: nobody ahead

    bench.tick()
    urgent = bench.core.issue("PAY", priority=1)
    assert urgent.waiting_ahead == 0
    assert bench.core.ticket(a2)[1] == 1
    assert bench.core.ticket(a3)[1] == 2


# -- calling ---------------------------------------------------------------------


def test_call_next_follows_the_counter_preference_then_first_come(bench: Bench) -> None:
    for service in ("ASK", "PAY", "ASK", "PAY", "ASK"):
        bench.issue(service)

    assert called_numbers(bench, 3, 1) == ["A001"]  # counter 3 prefers PAY
    assert called_numbers(bench, 4, 1) == ["B0001"]  # counter 4 prefers ASK
    assert called_numbers(bench, 3, 3) == ["A002", "B0002", "B0003"]
    with pytest.raises(NobodyWaiting):
        bench.core.call_next(4)

    late = bench.issue("ASK")
    with pytest.raises(NobodyWaiting):
        bench.core.call_next(1)  # counter 1 serves PAY only
    assert bench.get(late.id).status is TicketStatus.WAITING
    assert called_numbers(bench, 2, 1) == ["B0004"]


def test_priority_tickets_are_called_first(bench: Bench) -> None:
    bench.issue("PAY")
    bench.issue("PAY")
    urgent = bench.issue("PAY", priority=1)
    bench.issue("ASK", priority=1)

    assert urgent.number == "A003"
    assert bench.get(urgent.id).history[0].detail == {"priority": 1}
    assert [t["number"] for t in bench.core.waiting_list(3)] == ["A003", "B0001", "A001", "A002"]
    assert called_numbers(bench, 1, 3) == ["A003", "A001", "A002"]
    assert called_numbers(bench, 3, 1) == ["B0001"]  # priority outranks counter 3's preference


def test_call_next_finishes_the_current_ticket_first(bench: Bench) -> None:
    first = bench.issue("PAY")
    second = bench.issue("PAY")
    bench.tick()
    bench.core.call_next(1, staff="clerk1")
    bench.core.start(1, staff="clerk1")  # a visitor called but never started is a no-show (test_journeys)
    bench.events.clear()

    finished_at = bench.tick()
    assert bench.core.call_next(1, staff="clerk1").id == second.id

    done = bench.get(first.id)
    assert done.status is TicketStatus.DONE
    assert done.finished_at == finished_at
    last = done.history[-1]
    assert (last.kind, last.counter, last.staff, last.detail) == (
        EventKind.FINISHED,
        1,
        "clerk1",
        {"by": "call_next"},
    )
    # One event for the whole action: the call, carrying the ticket it finished and the counter's view.
    assert bench.names() == [ev.TICKET_CALLED]
    called = bench.events[0].payload
    assert called["finished"]["id"] == first.id and called["finished"]["status"] == "done"
    assert called["ticket"]["id"] == second.id
    assert [c["current"]["id"] for c in called["counters"]] == [second.id]
    assert called["call"] == {
        "ticket_id": second.id,
        "number": second.number,
        "service": "PAY",
        "counter": 1,
        "at": called["ticket"]["called_at"],
        "recall": False,
        "priority": False,
        "appointment": False,
    }

    # With nobody left, the current ticket is still finished, and the counter is free.
    bench.core.start(1)
    bench.events.clear()
    bench.tick()
    with pytest.raises(NobodyWaiting):
        bench.core.call_next(1)
    assert bench.get(second.id).status is TicketStatus.DONE
    assert bench.kinds(second.id) == ["issued", "called", "started", "finished"]
    assert bench.core.counter_view(1)["current"] is None
    assert bench.names() == [ev.COUNTER_CHANGED]
    freed = bench.events[0].payload
    assert freed["finished"]["id"] == second.id
    assert [(c["number"], c["current"]) for c in freed["counters"]] == [(1, None)]


def test_recall_calls_the_same_ticket_again(bench: Bench) -> None:
    ticket = bench.issue("PAY")
    bench.tick()
    bench.core.call_next(1)
    bench.events.clear()

    again_at = bench.tick(2)
    recalled = bench.core.recall(1, staff="clerk1")

    assert recalled.id == ticket.id
    stored = bench.get(ticket.id)
    assert (stored.status, stored.call_count, stored.called_at) == (TicketStatus.CALLED, 2, again_at)
    assert bench.kinds(ticket.id) == ["issued", "called", "recalled"]
    assert stored.history[-1].counter == 1
    assert bench.names() == [ev.TICKET_RECALLED]
    payload = bench.events[0].payload
    assert payload["recall"] is True
    assert payload["counter"]["number"] == 1
    assert payload["ticket"]["call_count"] == 2
    calls = bench.core.snapshot()["recent_calls"]
    assert [(c["number"], c["recall"]) for c in calls] == [("A001", True), ("A001", False)]

    with pytest.raises(InvalidTransition):
        bench.core.recall(2)  # counter 2 has nobody to recall


def test_start_finish_and_no_show_move_the_ticket_through_its_states(bench: Bench) -> None:
    served = bench.issue("PAY")
    absent = bench.issue("PAY")
    core = bench.core

    with pytest.raises(InvalidTransition):
        core.start(1)  # nobody called yet
    with pytest.raises(InvalidTransition):
        core.finish(1)

    bench.tick()
    core.call_next(1)
    started_at = bench.tick()
    assert core.start(1).status is TicketStatus.SERVING
    with pytest.raises(InvalidTransition):
        core.no_show(1)  # the visitor is here
    with pytest.raises(InvalidTransition):
        core.start(1)  # already started
    assert bench.get(served.id).status is TicketStatus.SERVING
    finished_at = bench.tick(5)
    assert core.finish(1).status is TicketStatus.DONE

    stored = bench.get(served.id)
    assert (stored.started_at, stored.finished_at) == (started_at, finished_at)
    assert bench.kinds(served.id) == ["issued", "called", "started", "finished"]
    assert core.counter_view(1)["current"] is None
    with pytest.raises(InvalidTransition):
        core.finish(1)  # the counter is free now

    bench.tick()
    core.call_next(1)
    bench.tick(3)
    assert core.no_show(1).status is TicketStatus.NO_SHOW
    assert bench.kinds(absent.id) == ["issued", "called", "no_show"]
    assert bench.get(absent.id).finished_at == bench.now[0]
    for action in (core.start, core.finish, core.recall, core.no_show):
        with pytest.raises(InvalidTransition):
            action(1)
    with pytest.raises(InvalidTransition):
        core.call_ticket(1, absent.id)  # a no-show is not called back by accident

    changes = [e.payload["event"] for e in bench.events if e.name == ev.TICKET_CHANGED]
    assert changes == ["started", "finished", "no_show"]


def test_a_paused_counter_calls_nobody_until_it_resumes(bench: Bench) -> None:
    first = bench.issue("PAY")
    second = bench.issue("PAY")
    bench.core.call_next(1)
    bench.events.clear()

    state = bench.core.pause(1, staff="clerk1")
    assert state.status is CounterStatus.PAUSED
    view = bench.core.counter_view(1)
    assert view["status"] == "paused"
    assert view["current"]["id"] == first.id  # a pause keeps the current ticket
    with pytest.raises(CounterPaused) as paused:
        bench.core.call_next(1)
    assert paused.value.code == "counter_paused"
    with pytest.raises(CounterPaused):
        bench.core.call_ticket(1, second.id)
    assert bench.get(first.id).status is TicketStatus.CALLED  # the refused call finished nothing
    assert bench.get(second.id).status is TicketStatus.WAITING

    assert bench.core.resume(1).status is CounterStatus.OPEN
    assert bench.core.call_next(1).id == second.id
    assert bench.names()[:2] == [ev.COUNTER_CHANGED, ev.COUNTER_CHANGED]
    views = [(e.payload["counter"], e.payload["counters"][0]) for e in bench.events[:2]]
    assert [(n, v["status"], v["current"]["id"]) for n, v in views] == [
        (1, "paused", first.id),
        (1, "open", first.id),
    ]


def test_transfer_to_a_service_keeps_the_number_and_the_place_in_time(bench: Bench) -> None:
    earlier = bench.issue("ASK")
    moved = bench.issue("PAY")
    later = bench.issue("ASK")
    bench.tick()
    bench.core.call_next(1)
    bench.core.start(1)
    bench.events.clear()

    bench.tick()
    out = bench.core.transfer(1, to_service="ASK", staff="clerk1")

    assert (out.number, out.service, out.status, out.counter) == (
        "A001",
        "ASK",
        TicketStatus.TRANSFERRED,
        None,
    )
    assert bench.core.counter_view(1)["current"] is None
    assert bench.get(moved.id).queue_at == moved.issued_at
    assert bench.core.ticket(moved.id)[1] == 1  # only B0001 came before it
    assert bench.names() == [ev.TICKET_CHANGED]
    assert bench.events[0].payload["event"] == "transferred"
    assert [(c["number"], c["current"]) for c in bench.events[0].payload["counters"]] == [(1, None)]

    assert [t.id for t in (bench.core.call_next(2), bench.core.call_next(2), bench.core.call_next(2))] == [
        earlier.id,
        moved.id,
        later.id,
    ]
    history = bench.get(moved.id).history
    assert [(e.kind.value, e.counter) for e in history] == [
        ("issued", None),
        ("called", 1),
        ("started", 1),
        ("transferred", 1),
        ("called", 2),
        ("no_show", 2),  # counter 2 called the next without starting it
    ]
    assert history[3].detail == {
        "from_counter": 1,
        "from_service": "PAY",
        "to_service": "ASK",
        "to_counter": None,
    }


def test_transfer_to_a_counter_means_only_that_counter_calls_it(bench: Bench) -> None:
    sent = bench.issue("PAY")
    bench.issue("PAY")
    bench.issue("PAY")
    bench.tick()
    bench.core.call_next(1)
    bench.core.transfer(1, to_counter=3)

    stored = bench.get(sent.id)
    assert (stored.status, stored.service, stored.target_counter) == (TicketStatus.TRANSFERRED, "PAY", 3)
    assert stored.history[-1].detail == {
        "from_counter": 1,
        "from_service": "PAY",
        "to_service": "PAY",
        "to_counter": 3,
    }
    assert [t["number"] for t in bench.core.waiting_list(1)] == ["A002", "A003"]
    assert [t["number"] for t in bench.core.waiting_list(3)] == ["A001", "A002", "A003"]  # sent here first
    # Counter 1 serves PAY too, yet never calls the ticket sent to counter 3.
    assert called_numbers(bench, 1, 2) == ["A002", "A003"]
    with pytest.raises(NobodyWaiting):
        bench.core.call_next(1)
    called = bench.core.call_next(3)
    assert (called.id, called.counter, called.target_counter) == (sent.id, 3, None)

    # A counter can be sent a ticket of a service it does not serve.
    bench.core.transfer(3, to_counter=2)
    assert bench.core.call_next(2).id == sent.id


def test_transfer_refuses_what_makes_no_sense(bench: Bench) -> None:
    bench.issue("PAY")
    with pytest.raises(InvalidTransition):
        bench.core.transfer(1, to_service="ASK")  # nobody at the counter
    bench.core.call_next(1)
    with pytest.raises(InvalidTransition):
        bench.core.transfer(1)
    with pytest.raises(InvalidTransition):
        bench.core.transfer(1, to_counter=1)
    with pytest.raises(UnknownService):
        bench.core.transfer(1, to_service="NOPE")
    with pytest.raises(UnknownCounter):
        bench.core.transfer(1, to_counter=99)
    assert bench.core.counter_view(1)["current"]["number"] == "A001"


def test_call_ticket_calls_out_of_order(bench: Bench) -> None:
    first = bench.issue("PAY")
    bench.issue("PAY")
    third = bench.issue("PAY")
    ask = bench.issue("ASK")

    bench.tick()
    assert bench.core.call_ticket(1, third.id).id == third.id
    assert bench.get(third.id).status is TicketStatus.CALLED
    assert bench.names()[-1] == ev.TICKET_CALLED
    bench.tick()
    assert bench.core.call_next(1).id == first.id
    assert bench.kinds(third.id) == ["issued", "called", "no_show"]  # called, never started

    with pytest.raises(InvalidTransition):
        bench.core.call_ticket(2, first.id)  # not waiting any more
    with pytest.raises(InvalidTransition):
        bench.core.call_ticket(1, ask.id)  # counter 1 does not serve ASK
    with pytest.raises(UnknownTicket):
        bench.core.call_ticket(1, "no-such-ticket")
    assert bench.get(ask.id).status is TicketStatus.WAITING


def test_unknown_names_are_refused_with_their_own_errors(bench: Bench) -> None:
    cases: list[tuple[type[QueueError], str, Any]] = [
        (UnknownService, "unknown_service", lambda: bench.core.issue("NOPE")),
        (UnknownCounter, "unknown_counter", lambda: bench.core.call_next(99)),
        (UnknownCounter, "unknown_counter", lambda: bench.core.pause(99)),
        (UnknownCounter, "unknown_counter", lambda: bench.core.waiting_list(0)),
        (UnknownTicket, "unknown_ticket", lambda: bench.core.ticket("nope")),
        (UnknownTicket, "unknown_ticket", lambda: bench.core.call_ticket(1, "nope")),
    ]
    for error, code, action in cases:
        with pytest.raises(error) as refused:
            action()
        assert refused.value.code == code
    assert bench.count_tickets() == 0
    assert bench.events == []


# -- events ----------------------------------------------------------------------


def test_events_are_published_only_after_commit(bench: Bench) -> None:
    """A listener reading the database on its own connection already sees each change."""
    reader = create_engine(bench.url)  # a plain connection: no write lock, sees only commits
    seen: list[tuple[str, Any]] = []

    def look(event: HallEvent) -> None:
        with reader.connect() as conn:
            if "ticket" in event.payload:
                row = conn.execute(
                    select(tickets.c.status, tickets.c.call_count).where(
                        tickets.c.id == event.payload["ticket"]["id"]
                    )
                ).first()
                seen.append((event.name, tuple(row) if row else None))
            else:
                row = conn.execute(
                    select(counter_states.c.status, counter_states.c.current_ticket_id).where(
                        counter_states.c.number == event.payload["counter"]
                    )
                ).first()
                seen.append((event.name, tuple(row) if row else None))

    bench.core.bus.subscribe(look)
    bench.issue("PAY")
    bench.core.call_next(1)
    bench.core.recall(1)
    bench.core.start(1)
    bench.core.finish(1)
    bench.core.pause(1)
    reader.dispose()

    assert seen == [
        (ev.TICKET_ISSUED, ("waiting", 0)),
        (ev.TICKET_CALLED, ("called", 1)),
        (ev.TICKET_RECALLED, ("called", 2)),
        (ev.TICKET_CHANGED, ("serving", 2)),
        (ev.TICKET_CHANGED, ("done", 2)),
        (ev.COUNTER_CHANGED, ("paused", None)),
    ]


def test_a_failing_listener_breaks_neither_the_action_nor_the_other_listeners(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bench = make_bench(sqlite_url, listen=False)

    def broken(event: HallEvent) -> None:
        raise RuntimeError("the printer is on fire")

    bench.core.bus.subscribe(broken)
    bench.core.bus.subscribe(bench.events.append)
    with caplog.at_level(logging.ERROR, logger="server.core.events"):
        ticket = bench.issue("PAY")
        called = bench.core.call_next(1)

    assert called.id == ticket.id
    assert bench.get(ticket.id).status is TicketStatus.CALLED
    assert bench.names() == [ev.TICKET_ISSUED, ev.TICKET_CALLED]
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 2
    assert all(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in failures)


def test_the_full_history_of_a_ticket_is_kept_in_order(bench: Bench) -> None:
    ticket = bench.issue("PAY")
    moments = [ticket.issued_at]
    steps = [
        lambda: bench.core.call_next(1, staff="clerk1"),
        lambda: bench.core.recall(1, staff="clerk1"),
        lambda: bench.core.start(1, staff="clerk1"),
        lambda: bench.core.transfer(1, to_service="ASK", staff="clerk1"),
        lambda: bench.core.call_next(2, staff="clerk2"),
        lambda: bench.core.start(2, staff="clerk2"),
        lambda: bench.core.finish(2, staff="clerk2"),
    ]
    for step in steps:
        moments.append(bench.tick(3))
        step()

    history = bench.get(ticket.id).history
    assert [(e.kind.value, e.counter, e.staff) for e in history] == [
        ("issued", None, None),
        ("called", 1, "clerk1"),
        ("recalled", 1, "clerk1"),
        ("started", 1, "clerk1"),
        ("transferred", 1, "clerk1"),
        ("called", 2, "clerk2"),
        ("started", 2, "clerk2"),
        ("finished", 2, "clerk2"),
    ]
    assert [e.at for e in history] == moments
    assert all(e.at.tzinfo is not None and e.at.utcoffset() == timedelta(0) for e in history)
    assert all(e.ticket_id == ticket.id for e in history)
    assert "staff" not in history[1].public()  # staff names stay off the public history
    final = bench.get(ticket.id)
    # call_count is the current leg's: one call at counter 2 (the two at counter 1 are leg 1's).
    assert (final.status, final.call_count, final.number) == (TicketStatus.DONE, 1, "A001")


# -- policy ----------------------------------------------------------------------


def newest_first(counter: Counter, waiting: Sequence[Ticket], context: CallContext) -> Ticket | None:
    return max(waiting, key=lambda t: (t.queue_at, t.seq), default=None)


def test_the_calling_policy_is_replaceable(sqlite_url: str) -> None:
    bench = make_bench(sqlite_url, policy=newest_first)
    for _ in range(3):
        bench.issue("PAY")

    assert [t["number"] for t in bench.core.waiting_list(1)] == ["A003", "A002", "A001"]
    assert called_numbers(bench, 1, 3) == ["A003", "A002", "A001"]
    with pytest.raises(NobodyWaiting):
        bench.core.call_next(1)


def test_the_issuing_kiosk_is_in_the_history_and_the_event(sqlite_url: str) -> None:
    """Print jobs and per-kiosk reports need to know which kiosk gave the ticket."""
    bench = make_bench(sqlite_url)
    ticket = bench.core.issue("PAY", issued_by="kiosk-1").ticket
    assert bench.get(ticket.id).history[0].detail == {"priority": 0, "issued_by": "kiosk-1"}
    assert bench.events[-1].payload["issued_by"] == "kiosk-1"


def test_a_print_request_is_committed_with_its_ticket_or_not_at_all(bench: Bench) -> None:
    from server.core.printjobs import PrintRequest
    from server.store.print_queue import PrintJobs

    jobs = PrintJobs(bench.core.store.engine)
    request = PrintRequest(printer="printer-1", kiosk="kiosk-1", url_base="http://hall.example")
    bench.tick()
    issued = bench.core.issue("PAY", issued_by="kiosk-1", print_request=request)
    job = issued.print_job
    assert job is not None and job.id != issued.ticket.id
    assert (job.ticket_id, job.printer, job.kiosk, job.state) == (
        issued.ticket.id,
        "printer-1",
        "kiosk-1",
        "queued",
    )
    assert job.status_url == f"http://hall.example/t/{issued.ticket.id}"
    assert job.waiting_ahead == issued.waiting_ahead == 0
    assert [(j.id, t.id) for j, t in jobs.pending()] == [(job.id, issued.ticket.id)]

    # A refused ticket leaves no job behind: one transaction.
    for _ in range(2):
        bench.tick()
        bench.core.issue("NEW", print_request=request)
    with pytest.raises(DailyLimitReached):
        bench.core.issue("NEW", print_request=request)
    assert len(jobs.pending()) == 3

    assert jobs.finish(job.id, "printed", "", bench.tick())
    assert not jobs.finish(job.id, "failed", "late", bench.tick())  # finished once
    assert jobs.get(job.id).state == "printed"
    no_url = PrintRequest(printer="printer-1", kiosk=None, url_base="")
    assert bench.core.issue("PAY", print_request=no_url).print_job.status_url == ""
    assert bench.core.issue("PAY").print_job is None
