"""Tickets issued in batches (group commit): the same tickets as one at a time, kept counts that never drift.

The hub's dispenser hands the core every ticket request that arrived together
(:meth:`QueueCore.issue_many`, one transaction). These tests hold it to what a
visitor would get from issuing one after another, and hold the store's kept
queue counts (triggers on ``tickets``) to a plain count of the tickets after
any mix of the hall's actions, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.core.errors import DailyLimitReached, NobodyWaiting, QueueError, UnknownService
from server.core.model import TicketStatus
from server.core.queue import Issued, IssueRequest
from server.group_commit import GroupCommit
from server.store.schema import queue_counts, tickets
from tests.test_core import make_bench


def test_a_batch_gives_each_request_its_own_outcome_in_order(sqlite_url: str) -> None:
    bench = make_bench(sqlite_url)
    bench.core.issue("NEW")  # NEW allows 2 a day: one left
    outcomes = bench.core.issue_many(
        [
            IssueRequest("PAY"),
            IssueRequest("NEW", issued_by="kiosk-1"),
            IssueRequest("NOPE"),
            IssueRequest("NEW"),
            IssueRequest("PAY", priority=1),
            IssueRequest("ASK"),
        ]
    )
    assert isinstance(outcomes[2], UnknownService) and isinstance(outcomes[3], DailyLimitReached)
    issued = [o for o in outcomes if isinstance(o, Issued)]
    assert [i.ticket.number for i in issued] == ["A001", "C002", "A002", "B0001"]
    # people ahead as if issued one after another: the urgent PAY ticket passes the first
    assert [i.waiting_ahead for i in issued] == [0, 1, 0, 0]
    assert bench.count_tickets() == 5
    # the refused NEW request did not use up a number: tomorrow's count is untouched, today's stays at 2
    with pytest.raises(DailyLimitReached):
        bench.core.issue("NEW")
    published = [e.payload["ticket"]["number"] for e in bench.events if e.name == "ticket_issued"]
    assert published[-4:] == ["A001", "C002", "A002", "B0001"]


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["PAY", "ASK", "NEW", "BAD"]), st.integers(0, 2)), min_size=1, max_size=12
    ),
    st.integers(1, 5),
)
def test_batches_give_the_same_tickets_as_one_at_a_time(
    tmp_path_factory: pytest.TempPathFactory, requests: list[tuple[str, int]], size: int
) -> None:
    one = make_bench(f"sqlite:///{tmp_path_factory.mktemp('one')}/q.db")
    many = make_bench(f"sqlite:///{tmp_path_factory.mktemp('many')}/q.db")
    serial: list[tuple[str, int] | str] = []
    for service, priority in requests:
        try:
            issued = one.core.issue(service, priority=priority)
            serial.append((issued.ticket.number, issued.waiting_ahead))
        except QueueError as error:
            serial.append(error.code)
    batched: list[tuple[str, int] | str] = []
    for first in range(0, len(requests), size):
        chunk = [IssueRequest(s, p) for s, p in requests[first : first + size]]
        for outcome in many.core.issue_many(chunk):
            batched.append(
                outcome.code
                if isinstance(outcome, QueueError)
                else (outcome.ticket.number, outcome.waiting_ahead)
            )
    assert batched == serial


def stored_counts(bench_url: str) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """(kept counts, counted from the tickets) for every service and priority with anyone waiting."""
    from sqlalchemy import create_engine

    engine = create_engine(bench_url)
    try:
        with engine.connect() as conn:
            kept = {
                (s, p): w
                for s, p, w in conn.execute(
                    select(queue_counts.c.service, queue_counts.c.priority, queue_counts.c.waiting)
                )
                if w
            }
            counted = {
                (s, p): n
                for s, p, n in conn.execute(
                    select(tickets.c.service, tickets.c.priority, func.count())
                    .where(tickets.c.status.in_([TicketStatus.WAITING.value, TicketStatus.TRANSFERRED.value]))
                    .group_by(tickets.c.service, tickets.c.priority)
                )
            }
    finally:
        engine.dispose()
    return kept, counted


def test_kept_queue_counts_match_the_tickets_after_every_kind_of_action(database_url: str) -> None:
    bench = make_bench(database_url)
    rng = random.Random(20261130)
    for step in range(150):
        counter = rng.randint(1, 4)
        action = rng.choice(["issue", "issue", "batch", "call", "finish", "no_show", "transfer", "recall"])
        try:
            if action == "issue":
                bench.issue(rng.choice(["PAY", "ASK"]), priority=rng.randint(0, 1))
            elif action == "batch":
                bench.core.issue_many([IssueRequest(rng.choice(["PAY", "ASK", "NEW"])) for _ in range(3)])
            elif action == "call":
                bench.core.call_next(counter)
            elif action == "transfer":
                bench.core.transfer(counter, to_service=rng.choice(["PAY", "ASK"]))
            else:
                getattr(bench.core, action)(counter)
        except QueueError:
            pass  # nobody waiting, no current ticket: the hall says no, the counts must still hold
        if step % 10 == 0:
            kept, counted = stored_counts(database_url)
            assert kept == counted, f"after step {step} ({action})"
    kept, counted = stored_counts(database_url)
    assert kept == counted and sum(counted.values()) > 0
    # and the lobby's numbers come from them
    snapshot = bench.core.snapshot()
    assert sum(s["waiting"] for s in snapshot["services"]) == sum(counted.values())


def test_people_ahead_costs_the_same_with_a_long_queue(sqlite_url: str) -> None:
    """10,000 waiting: people-ahead of a new ticket is the kept count, exact."""
    bench = make_bench(sqlite_url)
    for _ in range(20):
        bench.core.issue_many([IssueRequest("PAY") for _ in range(500)])
    bench.tick()
    issued = bench.core.issue("PAY")
    assert issued.ticket.number == "A10001" and issued.waiting_ahead == 10_000
    bench.core.call_next(1)
    assert bench.core.issue("PAY").waiting_ahead == 10_000  # one called, one more issued
    urgent = bench.core.issue("PAY", priority=1)
    assert urgent.waiting_ahead == 0


# -- the group commit itself -----------------------------------------------------------------


def test_concurrent_requests_share_commits_and_each_gets_its_own_answer() -> None:
    seen: list[int] = []
    release = threading.Event()

    def run(batch: Sequence[int]) -> list[int | Exception]:
        release.wait(5)  # the first batch is held until everyone has asked
        seen.append(len(batch))
        return [ValueError(n) if n % 7 == 0 else n * 10 for n in batch]

    group: GroupCommit[int, int] = GroupCommit(run)
    answers: dict[int, object] = {}

    def ask(n: int) -> None:
        try:
            answers[n] = group.submit(n)
        except ValueError as error:
            answers[n] = error

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(1, 41)]
    for thread in threads:
        thread.start()
    while group.stats.batches == 0 and group.pending < 40:
        threading.Event().wait(0.001)
    release.set()
    for thread in threads:
        thread.join(10)
    assert sorted(answers) == list(range(1, 41))
    for n, answer in answers.items():
        assert (isinstance(answer, ValueError) and n % 7 == 0) or answer == n * 10
    assert sum(seen) == 40 and len(seen) < 40  # batched: fewer commits than requests


def test_a_failed_batch_fails_every_request_in_it_and_the_next_batch_runs() -> None:
    calls: list[Sequence[str]] = []

    def run(batch: Sequence[str]) -> list[str | Exception]:
        calls.append(batch)
        if "boom" in batch:
            raise OSError("disk full")
        return [b.upper() for b in batch]

    group: GroupCommit[str, str] = GroupCommit(run)
    with pytest.raises(OSError, match="disk full"):
        group.submit("boom")
    assert group.submit("ok") == "OK"
    assert [list(c) for c in calls] == [["boom"], ["ok"]]


def test_nobody_waiting_is_still_a_refusal_after_a_batch(sqlite_url: str) -> None:
    bench = make_bench(sqlite_url)
    bench.core.issue_many([IssueRequest("PAY"), IssueRequest("PAY")])
    bench.core.call_next(1)
    bench.core.call_next(1)
    bench.now[0] += timedelta(minutes=1)
    with pytest.raises(NobodyWaiting):
        bench.core.call_next(1)


def test_the_callable_predicate_written_out_in_sql_names_exactly_the_cores_callable_statuses() -> None:
    """``CALLABLE_SQL`` is spelled out for SQLite's partial index; it must not drift from the core."""
    from server.core.model import CALLABLE
    from server.store.schema import CALLABLE_SQL

    listed = CALLABLE_SQL.removeprefix("status IN (").removesuffix(")")
    assert {name.strip(" '") for name in listed.split(",")} == {status.value for status in CALLABLE}
