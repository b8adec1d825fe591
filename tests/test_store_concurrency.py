"""The acceptance test of the store: a call goes to exactly one counter.

Ten counters call concurrently over a thousand tickets, in separate OS
processes (each with its own engine and connections, as ten hub workers or a
hub restarted under load would have) and in threads sharing one core. Every
ticket must be called exactly once, on SQLite and on PostgreSQL. Numbers
issued concurrently must never repeat within a day.

The counters meet at a barrier every ``PER_ROUND`` calls, never on a sleep:
each round opens with ten counters racing for the same head of the queue,
and a counter that SQLite's busy wait (which is not fair) keeps off the
database cannot be starved for the whole run; every counter must do its share.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time
import traceback
from collections import Counter as Tally
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from server.core.calendar import HallCalendar
from server.core.errors import NobodyWaiting
from server.core.model import Counter, EventKind, Service, TicketStatus
from server.core.queue import Hall, QueueCore
from server.store import open_store
from server.store.schema import ticket_events, tickets

SERVICES = ("PAY", "ASK", "NEW", "BIZ")
PREFIXES = {"PAY": "A", "ASK": "B", "NEW": "C", "BIZ": "D"}
COUNTERS = 10
TICKETS = 1000
#: Calls each counter makes between two meetings at the start barrier.
PER_ROUND = 10
#: The threaded variant is the same test at half the size, to keep the file quick.
THREAD_TICKETS = 500
#: 10:00 in Shanghai on a Tuesday: one business day for every process.
MOMENT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
#: How long the parent waits for its children before calling the test failed.
DEADLINE = 120.0


def make_hall() -> Hall:
    """Four services; ten counters serving all of them, each with its own order of preference."""
    services = {
        code: Service(code, f"业务{code}", f"Service {code}", PREFIXES[code], width=3) for code in SERVICES
    }
    counters = {
        n: Counter(n, f"{n}号窗口", f"Counter {n}", SERVICES[n % 4 :] + SERVICES[: n % 4])
        for n in range(1, COUNTERS + 1)
    }
    return Hall("并发测试厅", "Concurrency hall", services, counters, HallCalendar(timezone="Asia/Shanghai"))


def fixed_clock() -> datetime:
    return MOMENT


def open_core(url: str) -> QueueCore:
    return QueueCore(make_hall(), open_store(url), clock=fixed_clock)


# -- work done in child processes (module level, so 'spawn' can import it) ---


def call_or_none(core: QueueCore, number: int) -> str | None:
    """Call next and return the ticket's id; ``None`` when nobody waits for this counter.

    The core may answer ``NobodyWaiting`` after losing many races in a row
    (it says "try again"); that is retried here, so a lost race is never
    taken for an empty queue.
    """
    for _ in range(100):
        try:
            return core.call_next(number).id
        except NobodyWaiting:
            if not core.waiting_list(number):
                return None
    raise AssertionError(f"counter {number} lost 100 calls in a row while tickets were waiting")


def serve(core: QueueCore, number: int, start: Any, rounds: int) -> list[str]:
    """Serve ``rounds`` rounds of ``PER_ROUND`` calls (call next, finish), then whatever is left.

    All counters start each round together on ``start``, so every round opens
    with ten counters racing for the same head of the queue, and a counter
    kept off the database for a while (SQLite's busy wait is not fair) still
    gets its turn before the others run ahead.
    """
    called: list[str] = []
    try:
        for _ in range(rounds):
            start.wait(DEADLINE)
            for _ in range(PER_ROUND):
                ticket_id = call_or_none(core, number)
                if ticket_id is None:
                    break
                called.append(ticket_id)
                core.finish(number)
        start.wait(DEADLINE)  # every counter is done with its rounds
        while (ticket_id := call_or_none(core, number)) is not None:
            called.append(ticket_id)  # only a ticket skipped by every counter gets here
            core.finish(number)
        return called
    except BaseException:
        start.abort()  # the others fail now instead of waiting for this one
        raise


def counter_worker(url: str, number: int, rounds: int, start: Any, results: Any) -> None:
    try:
        core = open_core(url)
        called = serve(core, number, start, rounds)
        core.store.engine.dispose()
        results.put(("ok", number, called))
    except BaseException:  # noqa: BLE001  the traceback goes to the parent, which fails the test
        start.abort()
        results.put(("error", number, traceback.format_exc()))


def issue_worker(url: str, worker: int, count: int, start: Any, results: Any) -> None:
    try:
        core = open_core(url)
        start.wait(DEADLINE)
        numbers = [core.issue("PAY").ticket.number for _ in range(count)]
        core.store.engine.dispose()
        results.put(("ok", worker, numbers))
    except BaseException:  # noqa: BLE001  the traceback goes to the parent, which fails the test
        start.abort()
        results.put(("error", worker, traceback.format_exc()))


def run_processes(target: Any, args_for: dict[int, tuple[Any, ...]]) -> dict[int, Any]:
    """Run ``target(*args, start, results)`` in one spawned process per key; return their answers."""
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(len(args_for))
    results = ctx.Queue()
    procs = {
        key: ctx.Process(target=target, args=(*args, start, results), daemon=True)
        for key, args in args_for.items()
    }
    for proc in procs.values():
        proc.start()
    out: dict[int, Any] = {}
    errors: list[str] = []
    deadline = time.monotonic() + DEADLINE
    try:
        while len(out) + len(errors) < len(procs):
            try:
                status, key, value = results.get(timeout=1)
            except queue.Empty:
                dead = [k for k, p in procs.items() if p.exitcode is not None and k not in out]
                if dead and results.empty():
                    errors.append(f"workers {dead} died without an answer")
                    break
                if time.monotonic() > deadline:
                    errors.append(f"no answer from every worker within {DEADLINE} s")
                    break
                continue
            if status == "ok":
                out[key] = value
            else:
                errors.append(f"worker {key}:\n{value}")
    finally:
        for proc in procs.values():
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    assert not errors, "\n".join(errors)
    return out


# -- checks ------------------------------------------------------------------


def issue_tickets(core: QueueCore, count: int) -> list[str]:
    core.store.ensure_counters(core.hall.counters)
    return [core.issue(SERVICES[i % len(SERVICES)]).ticket.id for i in range(count)]


def check_each_called_once(core: QueueCore, issued: list[str], by_counter: dict[int, list[str]]) -> None:
    everyone = [tid for called in by_counter.values() for tid in called]
    twice = {tid: n for tid, n in Tally(everyone).items() if n > 1}
    assert not twice, f"{len(twice)} tickets were called more than once, e.g. {list(twice.items())[:5]}"
    missing = set(issued) - set(everyone)
    assert not missing, f"{len(missing)} tickets were never called"
    assert len(everyone) == len(issued)
    assert set(everyone) == set(issued)

    work = {n: len(by_counter.get(n, [])) for n in range(1, COUNTERS + 1)}
    assert all(work.values()), f"some counters called nobody: {work}"
    # PER_ROUND calls a round each, and just enough tickets for every round.
    assert work == dict.fromkeys(work, len(issued) // COUNTERS)

    caller = {tid: n for n, called in by_counter.items() for tid in called}
    with core.store.engine.connect() as conn:
        calls_per_ticket = dict(
            conn.execute(
                select(ticket_events.c.ticket_id, func.count())
                .where(ticket_events.c.kind == EventKind.CALLED.value)
                .group_by(ticket_events.c.ticket_id)
            ).all()
        )
        history: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
        for tid, kind, counter in conn.execute(
            select(ticket_events.c.ticket_id, ticket_events.c.kind, ticket_events.c.counter).order_by(
                ticket_events.c.id
            )
        ):
            history[tid].append((kind, counter))
        rows = {r.id: r for r in conn.execute(select(tickets.c.id, tickets.c.status, tickets.c.counter))}

    assert calls_per_ticket == dict.fromkeys(issued, 1)
    for tid in issued:
        n = caller[tid]
        assert history[tid] == [("issued", None), ("called", n), ("finished", n)], tid
        assert rows[tid].status == TicketStatus.DONE.value
        assert rows[tid].counter == n

    # Each counter takes every service's tickets in number order: the policy
    # only ever skips a ticket that another counter has taken.
    seq_of = {}
    with core.store.transaction() as tx:
        for t in tx.tickets_by_id(issued):
            seq_of[t.id] = (t.service, t.seq)
    for n, called in by_counter.items():
        for service in SERVICES:
            seqs = [seq for s, seq in (seq_of[tid] for tid in called) if s == service]
            assert seqs == sorted(seqs), f"counter {n} called {service} out of order: {seqs}"


# -- tests -------------------------------------------------------------------


def test_ten_counter_processes_call_each_ticket_exactly_once(database_url: str) -> None:
    core = open_core(database_url)
    issued = issue_tickets(core, TICKETS)
    rounds = TICKETS // (COUNTERS * PER_ROUND)

    by_counter = run_processes(counter_worker, {n: (database_url, n, rounds) for n in range(1, COUNTERS + 1)})

    check_each_called_once(core, issued, by_counter)
    core.store.engine.dispose()


def test_ten_counter_threads_on_one_core_call_each_ticket_exactly_once(database_url: str) -> None:
    core = open_core(database_url)
    issued = issue_tickets(core, THREAD_TICKETS)
    rounds = THREAD_TICKETS // (COUNTERS * PER_ROUND)
    start = threading.Barrier(COUNTERS)
    by_counter: dict[int, list[str]] = {}
    errors: list[str] = []

    def counter_thread(number: int) -> None:
        try:
            by_counter[number] = serve(core, number, start, rounds)
        except BaseException:  # noqa: BLE001  the traceback goes to the parent, which fails the test
            errors.append(f"counter {number}:\n{traceback.format_exc()}")

    threads = [threading.Thread(target=counter_thread, args=(n,)) for n in range(1, COUNTERS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(t.is_alive() for t in threads), "a counter thread did not finish in time"
    assert not errors, "\n".join(errors)

    check_each_called_once(core, issued, by_counter)
    core.store.engine.dispose()


def test_concurrent_issuing_never_repeats_a_number(database_url: str) -> None:
    workers, each = 4, 100
    core = open_core(database_url)  # migrate once, before the workers start

    results = run_processes(issue_worker, {w: (database_url, w, each) for w in range(workers)})

    everyone = [number for numbers in results.values() for number in numbers]
    assert sorted(everyone) == [f"A{seq:03d}" for seq in range(1, workers * each + 1)]
    for numbers in results.values():
        assert len(numbers) == each
        assert numbers == sorted(numbers), "one kiosk's numbers went backwards"
    with core.store.engine.connect() as conn:
        stored = conn.execute(select(tickets.c.number, tickets.c.seq, tickets.c.business_day)).all()
    assert len(stored) == workers * each
    assert {r.number for r in stored} == set(everyone)
    assert all(r.number == f"A{r.seq:03d}" for r in stored)
    assert {r.business_day for r in stored} == {make_hall().calendar.business_day(MOMENT)}
    core.store.engine.dispose()
