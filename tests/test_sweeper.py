"""The hub's own appointment sweep (server/sweeper.py): no-shows and name erasure without cron.

The hub is the composition root's (``bootstrap(..., devices=True)``, as ``run``
builds it) on a real store, SQLite and PostgreSQL, with a fake clock the test
moves by hand; only the sweep's interval is shortened. What the test reads,
it reads from the store directly: the day's list sweeps on its own when read,
so reading through it would hide a sweeper that never ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server import sweeper
from server.bootstrap import bootstrap
from server.config import load_config
from server.core.appointments import Actor, Appointment, AppointmentStatus, BookingDraft
from server.hub import Hub
from server.store.schema import audit_log
from tests.support import appointment_site, write_site
from tests.waiting import wait_until

#: 2026-03-10 09:00 in Shanghai: a Tuesday morning.
START = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


class FakeClock:
    """The hub's clock; only the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fast_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweeper, "SWEEP_SECONDS", 0.05)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def hub(tmp_path: Path, database_url: str, clock: FakeClock, fast_sweep: None) -> Iterator[Hub]:
    config = load_config(appointment_site(tmp_path / "site.toml", database_url))
    built = bootstrap(config, clock, devices=True)
    try:
        yield built
    finally:
        built.close()


def stored(hub: Hub, appointment_id: str) -> Appointment:
    with hub.appointments.store.read() as tx:
        found = tx.get(appointment_id)
    assert found is not None
    return found


def book(hub: Hub, hour: int, minute: int = 0, name: str | None = None) -> Appointment:
    draft = BookingDraft(
        "PAY",
        START.date(),
        datetime(2026, 3, 10, hour, minute).time(),
        "phone",
        phone="13812345678",
        name=name,
    )
    return hub.appointments.book([draft], Actor("clerk1", "127.0.0.1"))[0]


def erasures(hub: Hub) -> list[dict[str, Any]]:
    with hub.store.engine.connect() as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.target, audit_log.c.detail).where(
                audit_log.c.action == "appointment.erase_names"
            )
        ).mappings()
        return [dict(row) for row in rows]


def test_a_booking_past_its_late_window_becomes_no_show_by_the_hub_clock(hub: Hub, clock: FakeClock) -> None:
    due = book(hub, 9, 30)  # late window: until 09:45 local
    later = book(hub, 11, 0)
    assert hub.sweeper.task is not None, "a serving hub whose site takes appointments sweeps"

    clock.now = START + timedelta(minutes=44)  # 09:44: still within the window
    hub.sweeper.sweep_once()  # what the task does each round; the task itself runs meanwhile too
    assert stored(hub, due.id).status is AppointmentStatus.BOOKED

    clock.now = START + timedelta(minutes=46)  # 09:46: past it
    wait_until(lambda: stored(hub, due.id).status is AppointmentStatus.NO_SHOW, "the sweep marks it no_show")
    assert stored(hub, later.id).status is AppointmentStatus.BOOKED


def test_names_past_retention_are_erased_and_the_erasure_audited(hub: Hub, clock: FakeClock) -> None:
    kept = book(hub, 10, 0, name="张小明")
    assert stored(hub, kept.id).name == "张小明"
    clock.now = START + timedelta(days=30)  # the retention is 30 days after the day: not yet
    hub.sweeper.sweep_once()
    assert stored(hub, kept.id).name == "张小明"
    assert erasures(hub) == []

    clock.now = START + timedelta(days=31)
    wait_until(lambda: stored(hub, kept.id).name is None, "the sweep erases the name")
    assert stored(hub, kept.id).status is AppointmentStatus.NO_SHOW  # and it was marked on the way
    [entry] = wait_until(lambda: erasures(hub), "the erasure is in the audit log")
    assert entry["actor"] == "hub" and entry["target"] == "before:2026-03-11"
    assert entry["detail"] == {"count": 1}


def test_close_ends_the_task(hub: Hub) -> None:
    task = hub.sweeper.task
    assert task is not None and task.is_alive()
    hub.sweeper.close()
    assert not task.is_alive()


def test_no_sweep_without_appointments_or_devices(
    tmp_path: Path, sqlite_url: str, clock: FakeClock, fast_sweep: None
) -> None:
    plain = bootstrap(load_config(write_site(tmp_path / "plain.toml", sqlite_url)), clock, devices=True)
    cli = bootstrap(load_config(appointment_site(tmp_path / "appt.toml", sqlite_url)), clock)
    try:
        assert plain.sweeper.task is None  # the site takes no appointments
        assert cli.sweeper.task is None  # a CLI command's hub beside a running one
    finally:
        plain.close()
        cli.close()
