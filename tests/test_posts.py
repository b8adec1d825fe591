"""Staff on post in the queue core and the store, on SQLite and PostgreSQL.

A counter is open only while a clerk is on post at it and not on a break; one
clerk, one counter; a post that ends hands its visitor back; breaks and posts
go to the post log, and a day's attendance is computed from it with exact
figures. The rota: its CSV, its overlaps, and how it compares with who is on
post now.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.core import events as ev
from server.core.calendar import HallCalendar
from server.core.errors import (
    CounterClosed,
    CounterPaused,
    CounterStaffed,
    OnPostElsewhere,
    TicketAtCounter,
    UnknownBreakReason,
)
from server.core.events import HallEvent
from server.core.model import Counter, CounterStatus, EventKind, Service, TicketStatus
from server.core.posts import LOOKBACK, PostEnd, PostKind, attendance, breaks, day_bounds
from server.core.queue import Hall, QueueCore
from server.core.rota import (
    BadRotaEntry,
    RotaEntry,
    RotaImportRefused,
    Staffing,
    compare,
    parse_csv,
)
from server.live import paced_services
from server.store import open_store
from server.store.audit import AuditLog
from server.store.rota import SqlRota, UnknownRotaEntry

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)
SERVICES = {"PAY": Service("PAY", "电费缴纳", "Bill payment", "A")}
COUNTERS = {n: Counter(n, f"{n}号窗口", f"Counter {n}", ("PAY",)) for n in (1, 2, 3, 4)}


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A wall-clock moment in the hall (Shanghai), as the UTC moment a server clock gives."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Floor:
    """A core whose hall staffs counters by login, its hand-moved clock and what it published."""

    core: QueueCore
    url: str
    now: list[datetime]
    events: list[HallEvent] = field(default_factory=list)

    def at(self, hour: int, minute: int = 0, day: date = DAY) -> datetime:
        self.now[0] = local(hour, minute, day)
        return self.now[0]

    def shown(self) -> dict[int, str]:
        return {c["number"]: c["status"] for c in self.core.snapshot()["counters"]}

    def log(self) -> list[tuple[str, str, int, str]]:
        start, end = day_bounds(self.core.hall.calendar, DAY)
        return [(e.kind.value, e.username, e.counter, e.reason) for e in self.core.post_log(start, end)]


@pytest.fixture
def floor(database_url: str) -> Iterator[Floor]:
    hall = Hall(
        "测试营业厅",
        "Test Hall",
        SERVICES,
        COUNTERS,
        HallCalendar(timezone="Asia/Shanghai"),
        posts_required=True,
    )
    now = [local(8, 30)]
    store = open_store(database_url)
    made = Floor(QueueCore(hall, store, clock=lambda: now[0]), database_url, now)
    made.core.bus.subscribe(made.events.append)
    yield made
    store.engine.dispose()


# -- open only while a clerk is on post ---------------------------------------------------------


def test_a_counter_is_closed_until_a_clerk_is_on_post_and_calls_nobody(floor: Floor) -> None:
    core = floor.core
    ticket = core.issue("PAY").ticket
    assert floor.shown() == {1: "closed", 2: "closed", 3: "closed", 4: "closed"}
    with pytest.raises(CounterClosed) as closed:
        core.call_next(1, "keypad:pad-1")  # a keypad at a counter nobody is logged in at
    assert closed.value.code == "counter_closed"
    with pytest.raises(CounterClosed):
        core.call_ticket(1, ticket.id)
    with pytest.raises(CounterClosed):
        core.pause(1, "ann", "lunch")
    assert core.ticket(ticket.id)[0].status is TicketStatus.WAITING

    floor.events.clear()
    taken = core.take_post(1, "ann", "session-1")
    assert taken.started and taken.moved == []
    assert floor.shown() == {1: "open", 2: "closed", 3: "closed", 4: "closed"}
    [opened] = floor.events
    assert opened.name == ev.COUNTER_CHANGED and opened.payload["post"] == "post_start"
    assert opened.payload["counters"][0]["status"] == "open"
    assert "ann" not in json.dumps(opened.payload)  # a public event: never who
    assert core.call_next(1, "ann").id == ticket.id
    state = next(s for s in core.counter_states() if s.number == 1)
    assert (state.post, state.post_session, state.post_since) == ("ann", "session-1", floor.now[0])
    assert state.takes_calls(True)
    core.pause(1, "ann", "lunch")
    assert not next(s for s in core.counter_states() if s.number == 1).takes_calls(True)


def test_one_clerk_one_counter_and_one_counter_one_clerk(floor: Floor) -> None:
    core = floor.core
    core.take_post(1, "ann", "s1")
    with pytest.raises(OnPostElsewhere) as elsewhere:
        core.check_post(2, "ann")
    assert elsewhere.value.counter == 1
    with pytest.raises(OnPostElsewhere):
        core.take_post(2, "ann", "s2")
    with pytest.raises(CounterStaffed) as staffed:
        core.take_post(1, "bob", "s3")
    assert "ann" in staffed.value.message
    assert floor.shown()[2] == "closed"  # nothing changed by the refusals
    core.check_post(2, "ann", move=True)  # asked to move: no refusal


def test_a_move_ends_the_other_post_and_hands_its_visitor_back(floor: Floor) -> None:
    core = floor.core
    first = core.issue("PAY").ticket
    second = core.issue("PAY").ticket
    core.take_post(1, "ann", "s1")
    core.take_post(3, "cat", "s3")
    assert core.call_next(1, "ann").id == first.id
    assert core.call_next(3, "cat").id == second.id
    core.start(3, "cat")
    floor.events.clear()

    floor.at(9, 5)
    moved = core.take_post(2, "ann", "s2", move=True)
    assert moved.moved == [{"counter": 1, "session": "s1", "reason": "moved"}]
    assert floor.shown() == {1: "closed", 2: "open", 3: "open", 4: "closed"}
    back = core.ticket(first.id)[0]
    # Called and never came to the desk: back in the queue at the place it had, its number kept.
    assert (back.status, back.counter, back.call_count, back.queue_at) == (
        TicketStatus.WAITING,
        None,
        0,
        first.queue_at,
    )
    requeued = back.history[-1]
    assert (requeued.kind, requeued.staff, requeued.detail) == (
        EventKind.REQUEUED,
        "ann",
        {"by": "post_end", "reason": "moved", "position": "kept", "was": "called"},
    )
    names = [(e.name, e.payload.get("post"), e.payload.get("event")) for e in floor.events]
    assert names == [
        (ev.TICKET_CHANGED, "post_end", "requeued"),
        (ev.COUNTER_CHANGED, "post_start", None),
    ]
    assert floor.events[0].payload["counters"][0] == {
        **floor.events[0].payload["counters"][0],
        "status": "closed",
    }
    assert core.call_next(2, "ann").id == first.id  # first in the queue again

    # cat logs out with a visitor being served: refused, then forced (the visitor is finished).
    with pytest.raises(TicketAtCounter) as refused:
        core.end_post(3, "s3", PostEnd.LOGOUT)
    assert refused.value.code == "ticket_at_counter" and floor.shown()[3] == "open"
    assert core.end_post(3, "s3", PostEnd.LOGOUT, force=True)
    done = core.ticket(second.id)[0]
    assert done.status is TicketStatus.DONE and done.history[-1].detail["by"] == "post_end"
    assert floor.shown()[3] == "closed"
    assert not core.end_post(3, "s3", PostEnd.LOGOUT)  # over already: nothing to end
    assert floor.log() == [
        ("post_start", "ann", 1, ""),
        ("post_start", "cat", 3, ""),
        ("post_end", "ann", 1, "moved"),
        ("post_start", "ann", 2, ""),
        ("post_end", "cat", 3, "logout"),
    ]


def test_the_estimated_wait_follows_who_is_on_post(floor: Floor) -> None:
    """The estimate's pace model counts a counter as staffed exactly while a clerk is on post there:
    nobody on post, no estimate; the post's end with a visitor handed back closes it again."""
    core = floor.core
    ticket = core.issue("PAY").ticket
    assert core.newcomer_estimate("PAY", 1) is None and core.estimate(ticket, 0) is None
    core.take_post(1, "ann", "s1")
    assert core.estimate(ticket, 0) == 0  # a free counter, nobody ahead
    core.take_post(2, "bob", "s2")
    assert core.call_next(1, "ann").id == ticket.id
    assert core.newcomer_estimate("PAY", 0) == 0  # counter 2 is free
    floor.events.clear()
    assert core.end_post(2, "s2", PostEnd.LOGOUT)
    assert core.newcomer_estimate("PAY", 0) is not None  # counter 1, busy, is still on post
    assert core.end_post(1, "s1", PostEnd.SESSION_ENDED)  # the called visitor goes back to the queue
    assert core.estimate(core.ticket(ticket.id)[0], 0) is None
    assert core.newcomer_estimate("PAY", 1) is None
    # The lobby hears that the closed counters' services' estimates moved with each post that ended,
    # the one that handed its visitor back (a re-queue: no leg ended) included.
    assert [(e.payload.get("event"), paced_services(e)) for e in floor.events] == [
        (None, {"PAY"}),
        ("requeued", {"PAY"}),
    ]


def test_only_the_login_holding_a_post_ends_it_and_a_newer_login_keeps_it(floor: Floor) -> None:
    core = floor.core
    ticket = core.issue("PAY").ticket
    core.take_post(1, "ann", "old")
    core.call_next(1, "ann")
    again = core.take_post(1, "ann", "new")  # the console logged in again at the same counter
    assert not again.started
    assert not core.end_post(1, "old", PostEnd.SESSION_ENDED)  # the old login no longer holds it
    assert core.hand_post(1, "new", "newer") and not core.hand_post(1, "new", "x")
    assert core.ticket(ticket.id)[0].status is TicketStatus.CALLED  # the visitor stayed
    assert floor.shown()[1] == "open"
    assert [k for k, *_ in floor.log()] == ["post_start"]


def test_a_break_has_a_reason_and_a_length_and_shows_paused_without_a_name(floor: Floor) -> None:
    core = floor.core
    floor.at(9, 0)
    core.take_post(1, "ann", "s1")
    with pytest.raises(UnknownBreakReason):
        core.pause(1, "ann", "nap")
    floor.at(12, 0)
    floor.events.clear()
    state = core.pause(1, "ann", "lunch")
    assert (state.status, state.break_reason, state.break_since) == (CounterStatus.PAUSED, "lunch", local(12))
    assert floor.shown()[1] == "paused"
    [paused] = floor.events
    assert paused.payload["post"] == "break_start" and "lunch" not in json.dumps(paused.payload)
    core.issue("PAY")
    with pytest.raises(CounterPaused):
        core.call_next(1, "ann")
    floor.at(12, 10)
    core.pause(1, "ann", "meeting")  # a second tap: the lunch goes on
    floor.at(12, 47)
    core.resume(1, "ann")
    floor.at(13, 0)
    core.pause(1, "ann")  # no reason: the site's default
    floor.at(13, 2)
    core.resume(1, "ann")
    start, end = day_bounds(core.hall.calendar, DAY)
    logged = core.post_log(start, end)
    assert [(e.kind.value, e.reason, e.detail.get("seconds")) for e in logged] == [
        ("post_start", "", None),
        ("break_start", "lunch", None),
        ("break_end", "lunch", 47 * 60),
        ("break_start", "other", None),
        ("break_end", "other", 120),
    ]
    assert logged[2].detail == {"started_at": local(12).isoformat(), "seconds": 2820, "by": "resume"}
    assert [(b.reason, b.seconds) for b in breaks(logged, floor.now[0])] == [("lunch", 2820), ("other", 120)]
    assert floor.shown()[1] == "open"


def test_who_is_on_post_survives_a_restart(floor: Floor) -> None:
    floor.core.take_post(2, "ann", "s1")
    floor.core.pause(2, "ann", "training")
    again = QueueCore(floor.core.hall, open_store(floor.url), clock=lambda: floor.now[0])
    try:
        state = next(s for s in again.counter_states() if s.number == 2)
        assert (state.post, state.post_session, state.break_reason) == ("ann", "s1", "training")
        assert {c["number"]: c["status"] for c in again.snapshot()["counters"]}[2] == "paused"
    finally:
        again.store.engine.dispose()


def test_attendance_of_a_hand_built_day(floor: Floor) -> None:
    """Four clerks' day, every figure worked out by hand (Shanghai time)."""
    core = floor.core
    # dan: on post at counter 4 from 23:00 the night before until 01:00: one hour of this day.
    floor.at(23, 0, DAY - timedelta(days=1))
    core.take_post(4, "dan", "d")
    floor.at(1, 0)
    core.end_post(4, "d", PostEnd.LOGOUT)
    # ann: 08:55-17:05 at counter 1, a 15-minute meeting, an hour's lunch, 10 minutes personal.
    floor.at(8, 55)
    core.take_post(1, "ann", "a")
    # bob: 09:00 at counter 2, moves to 3 at 11:00, lunch from 12:30; his login expires at 14:00
    # (noticed at 14:20: the post and the break end at the expiry, not when noticed).
    floor.at(9, 0)
    core.take_post(2, "bob", "b1")
    for hour, minute, action, reason in (
        (10, 30, "pause", "meeting"),
        (10, 45, "resume", None),
        (12, 0, "pause", "lunch"),
        (13, 0, "resume", None),
        (15, 0, "pause", "personal"),
        (15, 10, "resume", None),
    ):
        floor.at(hour, minute)
        if action == "pause":
            core.pause(1, "ann", reason)
        else:
            core.resume(1, "ann")
    floor.at(11, 0)
    core.take_post(3, "bob", "b2", move=True)
    floor.at(12, 30)
    core.pause(3, "bob", "lunch")
    floor.at(14, 20)
    assert core.end_post(3, "b2", PostEnd.EXPIRED, at=local(14, 0))
    # cat: on post at counter 2 from 16:00, still there at 18:00.
    floor.at(16, 0)
    core.take_post(2, "cat", "c")
    floor.at(17, 5)
    core.end_post(1, "a", PostEnd.LOGOUT)
    now = floor.at(18, 0)

    start, end = day_bounds(core.hall.calendar, DAY)
    assert (start, end) == (local(0), local(0, day=DAY + timedelta(days=1)))
    days = {a.username: a for a in attendance(core.post_log(start - LOOKBACK, end), start, end, now)}
    assert sorted(days) == ["ann", "bob", "cat", "dan"]
    ann, bob, cat, dan = days["ann"], days["bob"], days["cat"], days["dan"]
    assert (ann.first_login, ann.last_logout, ann.on_post_now) == (local(8, 55), local(17, 5), False)
    assert ann.on_post_seconds == 8 * 3600 + 10 * 60
    assert ann.break_seconds == {"meeting": 900, "lunch": 3600, "personal": 600}
    assert (ann.breaks, ann.working_seconds, ann.counters) == (3, 29400 - 5100, [1])
    assert (bob.first_login, bob.last_logout) == (local(9), local(14))
    assert (bob.on_post_seconds, bob.break_seconds, bob.working_seconds) == (5 * 3600, {"lunch": 5400}, 12600)
    assert bob.counters == [2, 3]
    assert (cat.first_login, cat.last_logout, cat.on_post_now, cat.on_post_seconds) == (
        local(16),
        None,
        True,
        7200,
    )
    assert (dan.first_login, dan.last_logout, dan.on_post_seconds, dan.counters) == (
        local(0),
        local(1),
        3600,
        [4],
    )
    assert ann.as_dict()["break_seconds"] == {"lunch": 3600, "meeting": 900, "personal": 600}

    # The day's breaks: each with its clerk, counter, reason and length.
    found = [b for b in breaks(core.post_log(start - LOOKBACK, end), now) if start <= b.started_at < end]
    assert [(b.username, b.counter, b.reason, b.seconds) for b in found] == [
        ("ann", 1, "meeting", 900),
        ("ann", 1, "lunch", 3600),
        ("bob", 3, "lunch", 5400),
        ("ann", 1, "personal", 600),
    ]
    # The expired post's end says so, at the expiry.
    [bob_end] = [
        e
        for e in core.post_log(start, end)
        if e.kind is PostKind.POST_END and e.username == "bob" and e.counter == 3
    ]
    assert (bob_end.at, bob_end.reason, bob_end.detail["seconds"]) == (local(14), "expired", 3 * 3600)


# -- the rota ------------------------------------------------------------------------------------

USERS = {"ann": "staff", "bob": "staff", "boss": "admin", "nurse": "triage"}


def test_a_rota_csv_is_refused_whole_with_every_bad_line_named() -> None:
    text = (
        "\ufeffdate,username,counter,start,end\n"
        "2026-03-10,ann,1,09:00,12:00\n"
        "2026-03-10,nobody,1,13:00,17:00\n"
        "2026-13-10,bob,2,09:00,12:00\n"
        "2026-03-10,bob,9,09:00,12:00\n"
        "2026-03-10,bob,2,12:00,09:00\n"
        "2026-03-10,nurse,2,09:00,12:00\n"
        "2026-03-10,bob,1,11:00,13:00\n"
        "2026-03-10,ann,2,11:30,12:30\n"
    )
    with pytest.raises(RotaImportRefused) as refused:
        parse_csv(text, USERS, COUNTERS)
    assert refused.value.code == "bad_import"
    assert refused.value.lines == [
        "line 3: there is no user 'nobody'",
        "line 4: date '2026-13-10' is not a date like 2026-12-01",
        "line 5: there is no counter '9'",
        "line 6: start 12:00 is not before end 09:00",
        "line 7: user 'nurse' is triage: only staff and admins are put on post at a counter",
        "line 8: counter 1 already has ann from 09:00 to 12:00 on 2026-03-10",
        "line 9: ann is already at counter 1 from 09:00 to 12:00 on 2026-03-10",
    ]
    assert "7 error(s)" in refused.value.message_en and "没有保存任何排班" in refused.value.message_zh
    # Each line's problem on its line and field, whole in each language (the English is the line's).
    assert [(p.line, p.field, p.zh) for p in refused.value.problems] == [
        (3, "username", "没有用户“nobody”"),
        (4, "date", "日期“2026-13-10”无效，应形如 2026-12-01"),
        (5, "counter", "没有窗口“9”"),
        (6, "end", "开始时间 12:00 须早于结束时间 09:00"),
        (7, "username", "用户“nurse”是预检分诊：只有工作人员和管理员可排到窗口"),
        (8, "counter", "1 号窗口在 2026-03-10 09:00–12:00 已排了 ann"),
        (9, "username", "ann 在 2026-03-10 09:00–12:00 已排在 1 号窗口"),
    ]
    assert [f"line {p.line}: {p.en}" for p in refused.value.problems] == refused.value.lines
    # A line wrong in every field reports each, in the columns' order, not only the first.
    with pytest.raises(RotaImportRefused) as every:
        parse_csv("date,username,counter,start,end\n2026-02-30,ghost,9,25:00,08:00\n", USERS, COUNTERS)
    assert [(p.line, p.field) for p in every.value.problems] == [
        (2, "date"),
        (2, "username"),
        (2, "counter"),
        (2, "start"),
        (2, "end"),
    ]
    assert every.value.lines == [
        "line 2: date '2026-02-30' is not a date like 2026-12-01",
        "line 2: there is no user 'ghost'",
        "line 2: there is no counter '9'",
        "line 2: start '25:00' is not a time like 09:00 (24:00 ends a day)",
        "line 2: start 25:00 is not before end 08:00",
    ]
    assert "5 error(s)" in every.value.message_en
    with pytest.raises(RotaImportRefused) as header:
        parse_csv("date,username,counter,start\n", USERS, COUNTERS)
    assert header.value.lines == ["line 1: missing column 'end'"]
    assert [(p.line, p.field, p.zh) for p in header.value.problems] == [(1, "end", "缺少“结束时间”列（end）")]
    for text, zh in (
        ("", "没有列名行（date, username, counter, start, end）"),
        ("日期,工号,窗口,开始,结束\n\n", "列名行之后没有排班"),
        (
            "date,username,counter,start,end\n" + "x" * 140_000 + "\n",
            "无法按 CSV 读取此行（例如字段过长、引号没有配对）",
        ),
    ):
        with pytest.raises(RotaImportRefused) as bad:
            parse_csv(text, USERS, COUNTERS)
        [problem] = bad.value.problems
        assert (problem.field, problem.zh) == ("", zh), problem
        assert re.search(r"[\u4e00-\u9fff]", problem.zh) and problem.en

    good = parse_csv(
        "日期,工号,窗口,开始,结束\n2026-03-10,ann,1,09:00,12:00\n\n2026-03-10,ann,2,12:00,24:00\n",
        USERS,
        COUNTERS,
    )
    assert [(e.username, e.counter, e.start, e.end) for e in good] == [
        ("ann", 1, "09:00", "12:00"),
        ("ann", 2, "12:00", "24:00"),
    ]


def test_the_rota_against_who_is_on_post(floor: Floor) -> None:
    core = floor.core
    entries = [
        RotaEntry(DAY, "ann", 1, "09:00", "12:00"),
        RotaEntry(DAY, "bob", 2, "09:00", "12:00"),
        RotaEntry(DAY, "cat", 3, "09:00", "12:00"),
        RotaEntry(DAY, "dan", 4, "09:00", "12:00"),
        RotaEntry(DAY, "eve", 4, "12:00", "17:00"),
    ]
    core.take_post(1, "ann", "a")  # as planned
    core.take_post(2, "bob", "b")
    core.pause(2, "bob", "meeting")  # planned, on a break
    core.take_post(3, "dan", "d")  # dan is at 3, planned at 4: 3 has someone else, 4 misses him
    by_counter = {s.counter: s for s in compare(COUNTERS, entries, core.counter_states(), "10:30")}
    assert {n: s.state for n, s in by_counter.items()} == {
        1: Staffing.OK,
        2: Staffing.ON_BREAK,
        3: Staffing.SOMEONE_ELSE,
        4: Staffing.MISSING,
    }
    assert by_counter[4].planned_at == (("dan", 3),) and by_counter[2].break_reason == "meeting"
    later = {s.counter: s.state for s in compare(COUNTERS, entries, core.counter_states(), "12:00")}
    assert later == {1: Staffing.UNPLANNED, 2: Staffing.UNPLANNED, 3: Staffing.UNPLANNED, 4: Staffing.MISSING}
    core.end_post(1, "a", PostEnd.LOGOUT)
    assert compare(COUNTERS, entries, core.counter_states(), "18:00")[0].state is Staffing.CLOSED


def test_the_rota_store_checks_overlaps_and_audits_each_change(database_url: str) -> None:
    store = open_store(database_url)
    audit = AuditLog(store.engine)
    kept = SqlRota(store.engine, audit)
    at = local(8)
    try:
        first = kept.add(RotaEntry(DAY, "ann", 1, "09:00", "12:00"), at, "boss", "10.0.0.9")
        assert first.id is not None
        with pytest.raises(BadRotaEntry) as clash:  # a clerk in two places at once
            kept.add(RotaEntry(DAY, "ann", 2, "11:00", "13:00"), at, "boss")
        assert clash.value.code == "bad_rota" and "already at counter 1" in clash.value.message_en
        kept.add(RotaEntry(DAY, "ann", 2, "12:00", "13:00"), at, "boss")
        assert [(e.counter, e.start) for e in kept.day(DAY)] == [(1, "09:00"), (2, "12:00")]
        removed = kept.remove(first.id, at, "boss")
        assert removed.username == "ann" and [e.counter for e in kept.day(DAY)] == [2]
        with pytest.raises(UnknownRotaEntry):
            kept.remove(first.id, at, "boss")
        other_day = DAY + timedelta(days=1)
        kept.add(RotaEntry(other_day, "bob", 3, "09:00", "17:00"), at, "boss")
        imported = kept.replace_days(
            [RotaEntry(DAY, "bob", 1, "09:00", "17:00"), RotaEntry(DAY, "ann", 2, "09:00", "17:00")],
            at,
            "boss",
        )
        assert len(imported) == 2 and all(e.id for e in imported)
        assert [(e.username, e.counter) for e in kept.day(DAY)] == [("bob", 1), ("ann", 2)]
        assert [e.username for e in kept.day(other_day)] == ["bob"]  # a day the file does not name stays
        entries = audit.recent(10)
        assert [e.action for e in entries] == [
            "rota.import",
            "rota.add",
            "rota.remove",
            "rota.add",
            "rota.add",
        ]
        assert entries[0].detail == {"days": ["2026-03-10"], "entries": 2, "replaced": 1}
        assert (entries[-1].actor, entries[-1].address, entries[-1].target) == (
            "boss",
            "10.0.0.9",
            "2026-03-10 ann@1 09:00-12:00",
        )
    finally:
        store.engine.dispose()
