"""Property tests of the fair calling policy (hypothesis, fixed seed): its guarantees on generated halls.

Guarantees, for any hall and any day of arrivals, calls and transfers:

- every ticket is eventually called while the counters keep calling;
- the priority cap holds: no counter makes more than ``priority_cap`` priority
  calls in a row while a normal ticket waits for it;
- no ticket is called twice for one wait, and none is lost, transfers included.

Two levels: the pure policy in a thin model of the hall (1,200 halls, fast),
and the real :class:`QueueCore` on a real SQLite store (each hall on a copy of
one migrated database), whose event log is checked afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
from collections import Counter as Tally
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core.calendar import HallCalendar
from server.core.errors import InvalidTransition, NobodyWaiting
from server.core.model import (
    CALLABLE,
    Counter,
    EventKind,
    PriorityCategory,
    PriorityGrant,
    Service,
    Ticket,
    TicketStatus,
)
from server.core.policy import CallContext, FairPolicy, FairRules, next_run
from server.core.queue import Hall, IssueRequest, QueueCore
from server.store import open_store

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
CODES = ("S0", "S1", "S2")
WEIGHTS = {"p1": 5, "p2": 10, "p3": 50}


@dataclass(frozen=True)
class HallPlan:
    """A generated hall: services, counters (each serving some), the policy's rules, and a day's script."""

    services: tuple[str, ...]
    counters: tuple[tuple[str, ...], ...]
    rules: FairRules
    #: ("arrive", service, category or None) | ("call", counter index)
    #: | ("transfer", counter index, target pick) | ("wait", minutes)
    script: tuple[tuple[object, ...], ...]


@st.composite
def halls(draw: st.DrawFn, max_steps: int = 40) -> HallPlan:
    services = CODES[: draw(st.integers(1, 3))]
    n_counters = draw(st.integers(1, 3))
    counters = [
        tuple(draw(st.lists(st.sampled_from(services), min_size=1, max_size=len(services), unique=True)))
        for _ in range(n_counters)
    ]
    # Every service is served somewhere, or its tickets could never be called (a config mistake).
    for code in services:
        if not any(code in c for c in counters):
            counters[0] = (*counters[0], code)
    rules = FairRules(
        priority_cap=draw(st.integers(1, 3)),
        age_bonus=draw(st.sampled_from([None, timedelta(minutes=5), timedelta(minutes=20)])),
        age_bonus_weight=draw(st.sampled_from([1, 7, 60])),
    )
    arrive = st.tuples(
        st.just("arrive"), st.sampled_from(services), st.sampled_from([None, None, "p1", "p2", "p3"])
    )
    call = st.tuples(st.just("call"), st.integers(0, n_counters - 1))
    transfer = st.tuples(st.just("transfer"), st.integers(0, n_counters - 1), st.integers(0, n_counters + 2))
    wait = st.tuples(st.just("wait"), st.integers(1, 15))
    script = draw(
        st.lists(st.one_of(arrive, arrive, call, call, transfer, wait), min_size=1, max_size=max_steps)
    )
    return HallPlan(services, tuple(counters), rules, tuple(script))


def hall_of(plan: HallPlan) -> Hall:
    return Hall(
        "测试",
        "Test",
        {code: Service(code, code, code, chr(ord("A") + i)) for i, code in enumerate(plan.services)},
        {
            i + 1: Counter(i + 1, f"{i + 1}号", f"No {i + 1}", served)
            for i, served in enumerate(plan.counters)
        },
        HallCalendar(timezone="Asia/Shanghai"),
        categories={
            code: PriorityCategory(code, code, code, weight, PriorityGrant.KIOSK)
            for code, weight in WEIGHTS.items()
        },
        priority_cap=plan.rules.priority_cap,
    )


def transfer_target(plan: HallPlan, pick: int) -> tuple[str | None, int | None]:
    """A transfer's destination: another counter (pick < counters), else a service."""
    if pick < len(plan.counters):
        return None, pick + 1
    return plan.services[pick % len(plan.services)], None


# -- the pure policy in a thin model --------------------------------------------------------------


@dataclass
class Model:
    """The hall as the policy sees it: callable tickets, each counter's current ticket and run."""

    plan: HallPlan
    hall: Hall
    policy: FairPolicy
    now: datetime = T0
    tickets: dict[str, Ticket] = field(default_factory=dict)
    current: dict[int, str | None] = field(default_factory=dict)
    run: dict[int, int] = field(default_factory=dict)
    calls: Tally[str] = field(default_factory=Tally)
    legs: Tally[str] = field(default_factory=Tally)

    def candidates(self, number: int) -> list[Ticket]:
        counter = self.hall.counters[number]
        return [
            t
            for t in self.tickets.values()
            if t.status in CALLABLE
            and (t.target_counter == number or (t.target_counter is None and t.service in counter.services))
        ]

    def arrive(self, service: str, category: str | None) -> None:
        seq = len(self.tickets) + 1
        self.tickets[str(seq)] = Ticket(
            id=str(seq),
            number=f"N{seq}",
            service=service,
            seq=seq,
            business_day=self.now.date(),
            status=TicketStatus.WAITING,
            issued_at=self.now,
            queue_at=self.now,
            priority=WEIGHTS[category] if category else 0,
            category=category,
        )
        self.legs[str(seq)] += 1

    def call(self, number: int) -> Ticket | None:
        self.finish(number)
        waiting = self.candidates(number)
        run = self.run.get(number, 0)
        chosen = self.policy(self.hall.counters[number], waiting, CallContext(self.now, run))
        if chosen is None:
            assert not waiting, "the policy called nobody while tickets waited"
            return None
        assert chosen in waiting, "the policy chose a ticket that was not offered"
        cap = self.plan.rules.priority_cap
        if cap is not None and run >= cap and any(t.priority == 0 for t in waiting):
            assert chosen.priority == 0, f"{run} priority calls in a row and a normal ticket waits"
        self.run[number] = next_run(run, chosen)
        self.tickets[chosen.id] = replace(
            chosen, status=TicketStatus.CALLED, counter=number, target_counter=None
        )
        self.current[number] = chosen.id
        self.calls[chosen.id] += 1
        return chosen

    def finish(self, number: int) -> None:
        current = self.current.get(number)
        if current is not None:
            self.tickets[current] = replace(self.tickets[current], status=TicketStatus.DONE)
            self.current[number] = None

    def transfer(self, number: int, pick: int) -> None:
        current = self.current.get(number)
        service, to_counter = transfer_target(self.plan, pick)
        if current is None or to_counter == number:
            return
        ticket = self.tickets[current]
        self.tickets[current] = replace(
            ticket,
            status=TicketStatus.TRANSFERRED,
            service=service or ticket.service,
            target_counter=to_counter,
            counter=None,
        )
        self.current[number] = None
        self.legs[current] += 1


def drive(model: Model, script: tuple[tuple[object, ...], ...]) -> None:
    for step in script:
        model.now += timedelta(minutes=1)
        kind = step[0]
        if kind == "arrive":
            model.arrive(str(step[1]), step[2] if isinstance(step[2], str) else None)
        elif kind == "call":
            model.call(int(str(step[1])) + 1)
        elif kind == "transfer":
            model.transfer(int(str(step[1])) + 1, int(str(step[2])))
        else:
            model.now += timedelta(minutes=int(str(step[1])))


def drain(model: Model) -> None:
    """The counters keep calling, in turn, until nobody waits: everyone must be called by then."""
    numbers = sorted(model.hall.counters)
    limit = 4 * (len(model.tickets) + 1) * len(numbers)
    for turn in range(limit):
        model.now += timedelta(minutes=1)
        model.call(numbers[turn % len(numbers)])
        if not any(t.status in CALLABLE for t in model.tickets.values()):
            break
    for number in numbers:
        model.finish(number)


@settings(max_examples=1200, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(halls())
def test_the_fair_policy_calls_everyone_once_per_wait_and_keeps_the_cap(plan: HallPlan) -> None:
    model = Model(plan, hall_of(plan), FairPolicy(plan.rules))
    drive(model, plan.script)
    drain(model)
    waiting = [t.number for t in model.tickets.values() if t.status in CALLABLE]
    assert not waiting, f"never called although the counters kept calling: {waiting}"
    assert all(t.status is TicketStatus.DONE for t in model.tickets.values())
    # One call per wait: a ticket transferred twice waited three times and was called three times.
    assert model.calls == model.legs


# -- the real core on a real store -----------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite database; each generated hall runs on a copy of it."""
    path = tmp_path_factory.mktemp("template") / "qcall.db"
    open_store(f"sqlite:///{path}").engine.dispose()
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("halls")


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(plan=halls(max_steps=30))
def test_the_real_core_loses_nothing_calls_nothing_twice_and_keeps_the_cap(
    plan: HallPlan, template: Path, workdir: Path
) -> None:
    path = workdir / "hall.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, path)
    store = open_store(f"sqlite:///{path}")
    now = [T0]
    core = QueueCore(hall_of(plan), store, clock=lambda: now[0], policy=FairPolicy(plan.rules))
    issued: list[str] = []
    try:
        for step in plan.script:
            now[0] += timedelta(minutes=1)
            run_step(core, plan, step, issued, now)
        numbers = sorted(core.hall.counters)
        for turn in range(4 * (len(issued) + 1) * len(numbers)):
            now[0] += timedelta(minutes=1)
            if checked_call(core, plan, numbers[turn % len(numbers)]) is None and all(
                core.ticket(t)[0].status not in CALLABLE for t in issued
            ):
                break
        for number in numbers:
            with contextlib.suppress(InvalidTransition):  # a counter with nobody at it
                core.finish(number)
        check_log(core, plan, issued)
    finally:
        store.engine.dispose()


def checked_call(core: QueueCore, plan: HallPlan, number: int) -> Ticket | None:
    """Call next at ``number``, checking the cap against what waited for it just before."""
    counter = core.hall.counters[number]
    day = core.hall.calendar.business_day(core.clock())
    with core.store.read() as tx:
        state = tx.find_counter_state(number)
        waiting = tx.callable_heads(day, counter.services, number, 10_000)
    run = state.priority_run if state else 0
    try:
        called = core.call_next(number)
    except NobodyWaiting:
        assert not waiting, "nobody called although tickets waited"
        return None
    core.start(number)  # the visitor comes: the next call-next finishes them (an unstarted one is a no-show)
    cap = plan.rules.priority_cap
    if cap is not None and run >= cap and any(t.priority == 0 for t in waiting):
        assert called.priority == 0, f"{run} priority calls in a row at {number} and a normal ticket waits"
    return called


def run_step(
    core: QueueCore, plan: HallPlan, step: tuple[object, ...], issued: list[str], now: list[datetime]
) -> None:
    kind = step[0]
    if kind == "arrive":
        category = step[2] if isinstance(step[2], str) else None
        outcome = core.issue_many([IssueRequest(str(step[1]), category=category, role="kiosk")])[0]
        assert not isinstance(outcome, Exception)
        issued.append(outcome.ticket.id)
    elif kind == "call":
        checked_call(core, plan, int(str(step[1])) + 1)
    elif kind == "transfer":
        service, to_counter = transfer_target(plan, int(str(step[2])))
        # Nobody at that counter, or sent to itself: refused, nothing changes.
        with contextlib.suppress(InvalidTransition):
            core.transfer(int(str(step[1])) + 1, to_service=service, to_counter=to_counter)
    else:
        now[0] += timedelta(minutes=int(str(step[1])))


def check_log(core: QueueCore, plan: HallPlan, issued: list[str]) -> None:
    """From the store's event log: every ticket done, one call per wait, the cap at every counter."""
    calls_at: dict[int, list[tuple[str, int]]] = {}
    for ticket_id in issued:
        ticket, _ahead = core.ticket(ticket_id)
        assert ticket.status is TicketStatus.DONE, f"{ticket.number} ended {ticket.status.value}"
        kinds = [e.kind for e in ticket.history]
        waits = 1 + kinds.count(EventKind.TRANSFERRED)
        assert kinds.count(EventKind.CALLED) == waits, f"{ticket.number}: {kinds}"
        for event in ticket.history:
            if event.kind is EventKind.CALLED:
                assert event.counter is not None
                calls_at.setdefault(event.counter, []).append((event.at.isoformat(), ticket.priority))
    # Priorities never change in these halls, so each call's priority is the ticket's.
    cap = plan.rules.priority_cap
    assert cap is not None
    for number, calls in calls_at.items():
        with core.store.read() as tx:
            state = tx.find_counter_state(number)
        assert state is not None
        run = 0
        for _at, priority in sorted(calls):
            run = run + 1 if priority > 0 else 0
        assert state.priority_run == run, "the kept run of priority calls matches the event log"
