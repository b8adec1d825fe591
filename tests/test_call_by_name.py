"""Calling by name (hospitals, ``[appointments] call_by_name``): only ever the masked name.

The core on a real store (SQLite and PostgreSQL), a booking with a name, the
visitor checked in and called. The call's event, its ``call`` entry, the
snapshot and the voice's words carry 张*明 where the site calls by name, and
no name at all where it does not; the booked name itself never leaves the
store (events, the ticket's history, the snapshot, the log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from drivers.voice.phrasing import Announcement, build_phrases, phrases, read_number
from server.core.appointments import (
    Actor,
    AppointmentBook,
    AppointmentRules,
    BookingDraft,
    claim_for,
)
from server.core.calendar import HallCalendar
from server.core.events import HallEvent
from server.core.model import Counter, Service
from server.core.queue import Hall, IssueRequest, QueueCore
from server.devices.listeners import TicketCalled, listener
from server.devices.voice import announcement_of
from server.store import open_store
from server.store.appointments import SqlAppointments

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)
NAME, MASKED = "张小明", "张*明"
ROOM = {"zh": "请{name}，{number}号到{counter}就诊", "en": "Number {number}, please go to {counter}"}


def local(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Clinic:
    core: QueueCore
    book: AppointmentBook
    store: SqlAppointments
    events: list[HallEvent]
    calls: list[TicketCalled]

    def checked_in(self, start: time, name: str | None) -> str:
        """A booking for ``start`` (with ``name``), checked in at the kiosk: the ticket's id."""
        draft = BookingDraft("REG", DAY, start, "phone", phone="13812345678", name=name)
        booked = self.book.book([draft], Actor("clerk1"))[0]
        appointment, how = self.book.for_code(booked.code)
        request = IssueRequest("REG", issued_by="kiosk-1", appointment=claim_for(appointment, how))
        outcome = self.core.issue_many([request])[0]
        assert not isinstance(outcome, Exception), outcome
        return outcome.ticket.id

    def walk_in(self) -> str:
        outcome = self.core.issue_many([IssueRequest("REG", issued_by="kiosk-1")])[0]
        assert not isinstance(outcome, Exception), outcome
        return outcome.ticket.id

    def called(self, name: str) -> list[dict[str, Any]]:
        return [e.payload for e in self.events if e.name == name]


def make_clinic(url: str, *, core_calls_by_name: bool, book_keeps_names: bool) -> Clinic:
    """A hospital room; ``book_keeps_names`` and ``core_calls_by_name`` are the one site setting,
    split so a test can check that the core never looks a name up when the site is off."""
    store = open_store(url)
    now = [local(8, 50)]
    calendar = HallCalendar(timezone="Asia/Shanghai")
    services = {"REG": Service("REG", "内科", "Internal medicine", "A")}
    hall = Hall(
        "医院",
        "Hospital",
        services,
        {1: Counter(1, "1诊室", "room 1", ("REG",), "room")},
        calendar,
        call_by_name=core_calls_by_name,
    )
    core = QueueCore(hall, store, clock=lambda: now[0])
    events: list[HallEvent] = []
    calls: list[TicketCalled] = []
    core.bus.subscribe(events.append)
    core.bus.subscribe(listener({TicketCalled: [calls.append]}))
    appointments = SqlAppointments(store.engine)
    rules = AppointmentRules(capacity={"REG": {"am": 9, "pm": 9}}, call_by_name=book_keeps_names)
    book = AppointmentBook(appointments, calendar, services, rules, clock=lambda: now[0])
    return Clinic(core, book, appointments, events, calls)


@pytest.fixture
def clinic(database_url: str) -> Iterator[Clinic]:
    made = make_clinic(database_url, core_calls_by_name=True, book_keeps_names=True)
    yield made
    made.store.engine.dispose()


def test_a_called_appointment_carries_the_masked_name_only(
    clinic: Clinic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    named = clinic.checked_in(time(9, 0), NAME)
    nameless = clinic.checked_in(time(9, 0), None)
    walk_in = clinic.walk_in()

    clinic.core.call_next(1, staff="dr1")  # the first booking, due now
    called = clinic.called("ticket_called")[-1]
    assert called["ticket"]["id"] == named
    assert called["name"] == MASKED and called["call"]["name"] == MASKED
    assert called["call"]["appointment"] is True and called["call"]["priority"] is False
    assert clinic.calls[-1].name == MASKED
    clinic.core.recall(1, staff="dr1")
    recalled = clinic.called("ticket_recalled")[-1]
    assert recalled["name"] == MASKED and recalled["call"]["name"] == MASKED

    # The snapshot's recent calls name it too, masked, for a screen that connects later.
    snapshot = clinic.core.snapshot()
    assert snapshot["recent_calls"][0]["ticket_id"] == named
    assert snapshot["recent_calls"][0]["name"] == MASKED

    # A booking without a name, and a walk-in: no name key at all.
    clinic.core.call_next(1, staff="dr1")
    clinic.core.call_next(1, staff="dr1")
    later = clinic.called("ticket_called")[-2:]
    assert [p["ticket"]["id"] for p in later] == [nameless, walk_in]
    assert all("name" not in p and "name" not in p["call"] for p in later)
    assert [p["call"]["appointment"] for p in later] == [True, False]

    # The booked name itself: in no event, history, snapshot or log line.
    everything = json.dumps([e.payload for e in clinic.events], ensure_ascii=False)
    everything += json.dumps(clinic.core.snapshot(), ensure_ascii=False)
    history = clinic.core.ticket(named)[0].history
    everything += json.dumps([e.public() for e in history] + [e.detail for e in history], ensure_ascii=False)
    assert MASKED in everything and NAME not in everything
    assert NAME not in caplog.text


def test_with_call_by_name_off_no_name_appears_anywhere(database_url: str) -> None:
    # The site off in full: the book keeps no name, the core looks none up.
    off = make_clinic(database_url, core_calls_by_name=False, book_keeps_names=False)
    # The core off while a name is in the store (kept before the site turned it off): still none.
    stale = make_clinic(database_url, core_calls_by_name=False, book_keeps_names=True)
    try:
        for clinic in (off, stale):
            clinic.checked_in(time(9, 0), NAME)
            clinic.core.call_next(1, staff="dr1")
            clinic.core.recall(1, staff="dr1")
            everything = json.dumps(
                [e.payload for e in clinic.events] + [clinic.core.snapshot()], ensure_ascii=False
            )
            assert NAME not in everything and MASKED not in everything
            assert '"name":' not in everything.replace('"name_zh"', "").replace('"name_en"', "")
            assert [c.name for c in clinic.calls] == [None, None]
            said = phrases(announcement_of(clinic.calls[-1]), ROOM)
            assert said[0] == ("zh", f"请{read_number(clinic.calls[-1].number, 'zh')}号到1诊室就诊")
    finally:
        off.store.engine.dispose()
        stale.store.engine.dispose()


def test_the_voice_says_the_masked_name_where_the_template_asks_and_leaves_it_out_cleanly() -> None:
    named = Announcement("t1", "A012", "1诊室", "room 1", name=MASKED)
    assert phrases(named, ROOM) == [
        ("zh", "请张某明，A 零 一 二号到1诊室就诊"),
        ("en", "Number A zero one two, please go to room 1"),
    ]
    # No name: the placeholder goes, and so does the comma after it.
    nameless = Announcement("t2", "A013", "1诊室", "room 1")
    assert phrases(nameless, ROOM)[0] == ("zh", "请A 零 一 三号到1诊室就诊")
    english = {"en": "{name}, number {number}, to {counter}", "zh": "请{number}号到{counter}"}
    assert phrases(Announcement("t3", "B1", "2号", "room 2", name="J*** S****"), english)[1] == (
        "en",
        "J S, number B one, to room 2",
    )
    assert phrases(Announcement("t4", "B2", "2号", "room 2"), english)[1] == ("en", "number B two, to room 2")
    # The name is a part of its own, so the clip engine can tell it from the template's words.
    kinds = [p.kind for p in build_phrases(named, ROOM)[0].parts]
    assert kinds == ["text", "name", "text", "number", "text", "counter", "text"]
    # A template may name the name; anything else is still refused.
    Announcement("t5", "A1", "x", "x", templates={"zh": "请{name}{number}号"})
    with pytest.raises(ValueError, match="unknown placeholder"):
        Announcement("t6", "A1", "x", "x", templates={"zh": "请{patient}{number}号"})
