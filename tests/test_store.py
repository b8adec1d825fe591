"""The SQL store on both backends: its schema, its times, and the two writes that
must refuse (a stale claim, a number given twice in a day)."""

from __future__ import annotations

import threading
import time as clock
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from server.core.model import EventKind, Ticket, TicketEvent, TicketStatus
from server.store import alembic_config, open_store
from server.store.schema import metadata, tickets

DAY = date(2026, 3, 10)
#: 09:30:15.123456 in Shanghai, given in the hall's own zone on purpose.
ISSUED = datetime(2026, 3, 10, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
TABLES = {
    "tickets",
    "settings_sections",
    "queue_counts",
    "priority_ledger",
    "ticket_events",
    "ticket_legs",
    "ticket_sequences",
    "counter_states",
    "users",
    "device_tokens",
    "staff_sessions",
    "audit_log",
    "print_jobs",
    "store_probe",
    "appointments",
    "appointment_quota",
    "half_day_counts",
    "cases",
    "case_steps",
    "case_events",
    "case_tickets",
    "complaints",
    "complaint_events",
    "post_events",
    "rota",
    "alembic_version",
    "notices",
    "outbox_marks",
    "device_leases",
    "limit_windows",
    "pairing_codes",
}


def ticket(number: str = "A001", day: date = DAY, ticket_id: str | None = None, seq: int = 1) -> Ticket:
    return Ticket(
        id=ticket_id or f"id-{day.isoformat()}-{number}",
        number=number,
        service="PAY",
        seq=seq,
        business_day=day,
        status=TicketStatus.WAITING,
        issued_at=ISSUED,
        queue_at=ISSUED,
    )


def test_migrations_build_the_schema_from_empty_and_run_again_harmlessly(empty_database_url: str) -> None:
    bare = create_engine(empty_database_url)
    assert inspect(bare).get_table_names() == []

    store = open_store(empty_database_url)
    with store.transaction() as tx:
        tx.add_ticket(ticket())
    open_store(empty_database_url).engine.dispose()  # a second start: nothing to do, nothing lost

    assert set(inspect(bare).get_table_names()) == TABLES
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with bare.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
        assert conn.scalar(select(func.count()).select_from(tickets)) == 1
        # The migrations build exactly what schema.py describes.
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    unique = {tuple(u["column_names"]) for u in inspect(bare).get_unique_constraints("tickets")}
    assert ("business_day", "number") in unique
    store.engine.dispose()
    bare.dispose()


def test_datetimes_come_back_utc_aware(database_url: str) -> None:
    store = open_store(database_url)
    with store.transaction() as tx:
        tx.add_ticket(ticket())
        tx.add_event(TicketEvent("id-2026-03-10-A001", EventKind.ISSUED, ISSUED, detail={"priority": 0}))

    with store.transaction() as tx:
        stored = tx.get_ticket("id-2026-03-10-A001")
        (event,) = tx.history("id-2026-03-10-A001")

    for moment in (stored.issued_at, stored.queue_at, event.at):
        assert moment.tzinfo is not None and moment.utcoffset() == timedelta(0)
        assert moment == ISSUED  # the same instant, to the microsecond
        assert (moment.hour, moment.minute) == (1, 30)
    assert stored.called_at is None
    assert stored.business_day == DAY and not isinstance(stored.business_day, datetime)
    assert event.detail == {"priority": 0}

    naive = ticket("A002", seq=2)
    naive.issued_at = datetime(2026, 3, 10, 9, 30)
    with pytest.raises(StatementError, match="naive datetime"), store.transaction() as tx:
        tx.add_ticket(naive)
    # Any fixed offset is turned to UTC, not kept as wall-clock time.
    offset = ticket("A003", seq=3)
    offset.issued_at = offset.queue_at = datetime(2026, 3, 10, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    with store.transaction() as tx:
        tx.add_ticket(offset)
    with store.transaction() as tx:
        assert tx.get_ticket(offset.id).issued_at == datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
        assert tx.get_ticket(naive.id) is None
    store.engine.dispose()


def test_claim_is_refused_once_the_status_has_changed(database_url: str) -> None:
    store = open_store(database_url)
    with store.transaction() as tx:
        tx.add_ticket(ticket())
    with store.transaction() as tx:
        mine = tx.get_ticket("id-2026-03-10-A001")
        theirs = tx.get_ticket("id-2026-03-10-A001")

    mine.status, mine.counter = TicketStatus.CALLED, 1
    with store.transaction() as tx:
        assert tx.claim(mine, {TicketStatus.WAITING}) is True
    theirs.status, theirs.counter = TicketStatus.CALLED, 2
    with store.transaction() as tx:
        assert tx.claim(theirs, {TicketStatus.WAITING}) is False  # a stale look at the ticket
        assert tx.claim(ticket("A404"), {TicketStatus.WAITING}) is False  # no such ticket
    with store.transaction() as tx:
        stored = tx.get_ticket("id-2026-03-10-A001")
    assert (stored.status, stored.counter) == (TicketStatus.CALLED, 1)

    mine.status = TicketStatus.DONE
    with store.transaction() as tx:
        assert tx.claim(mine, {TicketStatus.CALLED, TicketStatus.SERVING}) is True
        assert tx.get_ticket(mine.id).status is TicketStatus.DONE
    store.engine.dispose()


def test_claim_racing_an_uncommitted_claim_loses(database_url: str) -> None:
    """Counter 2 claims while counter 1's claim of the same ticket is not yet committed."""
    store = open_store(database_url)
    with store.transaction() as tx:
        tx.add_ticket(ticket())
        first = tx.get_ticket("id-2026-03-10-A001")
        second = tx.get_ticket("id-2026-03-10-A001")
    first.status, first.counter = TicketStatus.CALLED, 1
    second.status, second.counter = TicketStatus.CALLED, 2
    answer: list[bool | BaseException] = []
    started = threading.Event()

    def other_counter() -> None:
        started.set()
        try:
            with store.transaction() as tx:  # SQLite: waits here for the write lock
                answer.append(tx.claim(second, {TicketStatus.WAITING}))  # PostgreSQL: waits here
        except BaseException as exc:  # noqa: BLE001  carried to the test's thread and asserted there
            answer.append(exc)

    with store.transaction() as tx:
        assert tx.claim(first, {TicketStatus.WAITING}) is True
        racer = threading.Thread(target=other_counter)
        racer.start()
        assert started.wait(10)
        if database_url.startswith("postgresql"):
            _wait_until_blocked_on_a_lock(database_url)
    racer.join(30)

    assert answer == [False]
    with store.transaction() as tx:
        assert tx.get_ticket(first.id).counter == 1
    store.engine.dispose()


@pytest.mark.postgres
def test_a_call_passes_over_a_ticket_another_counter_is_taking(pg_url: str) -> None:
    """PostgreSQL: a call's claim of a ticket whose row another transaction holds is refused at once.

    Ten counters on several hub processes all want the head of the queue: had the second waited for
    the first's commit, they would take their turns one whole call at a time. The queue's count is
    kept at commit (migration 0023), once, by the claim that won.
    """
    store = open_store(pg_url)
    with store.transaction() as tx:
        tx.add_ticket(ticket())
        first = tx.get_ticket("id-2026-03-10-A001")
        second = tx.get_ticket("id-2026-03-10-A001")
    with store.read() as tx:
        assert tx.waiting_by_priority(DAY, "PAY") == {0: 1}
    first.status, first.counter = TicketStatus.CALLED, 1
    second.status, second.counter = TicketStatus.CALLED, 2

    with store.transaction() as tx:
        assert tx.claim(first, {TicketStatus.WAITING}, calling=True) is True
        with store.transaction() as other:  # a second connection, as another counter's
            # Were the claim to wait for the first one's commit, this thread would wait for itself:
            # fail in two seconds instead.
            other.conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            assert other.claim(second, {TicketStatus.WAITING}, calling=True) is False

    with store.transaction() as tx:
        assert tx.get_ticket(first.id).counter == 1
        assert tx.waiting_by_priority(DAY, "PAY") == {}
        assert tx.claim(second, {TicketStatus.WAITING}, calling=True) is False  # taken, not held
    store.engine.dispose()


def _wait_until_blocked_on_a_lock(url: str) -> None:
    """Return once some session of this database waits for a row lock (the racer's UPDATE)."""
    watcher = create_engine(url)
    deadline = clock.monotonic() + 10
    try:
        with watcher.connect() as conn:
            while clock.monotonic() < deadline:
                waiting = conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
                conn.rollback()  # a fresh snapshot of pg_stat_activity on each look
                if waiting:
                    return
                clock.sleep(0.01)
        raise AssertionError("the racing claim never waited for the first one's lock")
    finally:
        watcher.dispose()


def test_a_number_is_unique_within_a_business_day(database_url: str) -> None:
    store = open_store(database_url)
    with store.transaction() as tx:
        tx.add_ticket(ticket("A001"))

    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.add_event(TicketEvent("id-2026-03-10-A001", EventKind.CALLED, ISSUED, 1))
        tx.add_ticket(ticket("A001", ticket_id="another-id"))

    with store.transaction() as tx:
        tx.add_ticket(ticket("A001", day=DAY + timedelta(days=1)))  # the next day starts again
        tx.add_ticket(ticket("A002", seq=2))
        assert tx.get_ticket("another-id") is None
        assert tx.history("id-2026-03-10-A001") == []  # the failed transaction left nothing
        assert tx.find_ticket(DAY, "A001").id == "id-2026-03-10-A001"
        assert tx.find_ticket(DAY + timedelta(days=1), "A001").id == "id-2026-03-11-A001"
    store.engine.dispose()


def test_sequences_count_per_service_and_per_day(database_url: str) -> None:
    store = open_store(database_url)
    with store.transaction() as tx:
        got = [tx.allocate_seq("PAY", DAY) for _ in range(3)]
        got += [tx.allocate_seq("ASK", DAY), tx.allocate_seq("PAY", DAY + timedelta(days=1))]
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.allocate_seq("PAY", DAY)
        raise RuntimeError("the ticket was never printed")
    with store.transaction() as tx:
        got.append(tx.allocate_seq("PAY", DAY))
    assert got == [1, 2, 3, 1, 1, 4]  # a rolled-back number is given again, so no gap
    store.engine.dispose()
