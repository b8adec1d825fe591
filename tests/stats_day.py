"""A known day of a hall, built by hand through the queue core, and every figure it must give.

Tuesday 10 March 2026 in Shanghai: ten tickets at three counters served by four
clerks (bob moves from counter 2 to counter 3 after lunch, dave takes counter 2),
with two hand-offs (PAY → NEW, INFO → PAY), a no-show after a recall, a cancel
from the phone while waiting and one by the clerk while serving, ratings from
the pads and from phones, and one ticket still waiting at the end. One ticket
of the day before checks the period's edge. The expected figures below were
worked out by hand from the times in :func:`build_day` (docs in the test).

Waiting and service follow server/core/targets.py (the legs' ``wait_seconds``
and ``service_seconds``): T4, cancelled from the phone while waiting, waited
600 s (to its end: it counts as a wait, at no counter and with no clerk); every
service here was started, so each is start → end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from server.core.calendar import HallCalendar
from server.core.model import Counter, Service, Ticket
from server.core.queue import Hall, QueueCore
from server.core.satisfaction import Satisfaction
from server.store import SqlStore, open_store

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)
YESTERDAY = date(2026, 3, 9)

SERVICES = {
    "NEW": Service("NEW", "新装", "New connection", "A"),
    "PAY": Service("PAY", "缴费", "Payment", "B"),
    "INFO": Service("INFO", "咨询", "Enquiries", "C"),
}
COUNTERS = {
    1: Counter(1, "1号窗口", "Counter 1", ("NEW",)),
    2: Counter(2, "2号窗口", "Counter 2", ("PAY",)),
    3: Counter(3, "3号窗口", "Counter 3", ("PAY", "INFO")),
}


@dataclass
class Day:
    """The core on a clock moved by hand to local times of the day."""

    core: QueueCore
    store: SqlStore
    now: list[datetime]
    tickets: dict[str, Ticket] = field(default_factory=dict)

    def at(self, hhmmss: str, day: date = DAY) -> None:
        hour, minute, second = (int(part) for part in hhmmss.split(":"))
        moment = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=ZONE)
        assert moment >= self.now[0], f"the clock only moves forward: {moment} < {self.now[0]}"
        self.now[0] = moment

    def issue(self, name: str, service: str) -> None:
        self.tickets[name] = self.core.issue(service).ticket

    def call(self, counter: int, name: str, staff: str) -> None:
        self.core.call_ticket(counter, self.tickets[name].id, staff)

    def id(self, name: str) -> str:
        return self.tickets[name].id


def make_day(url: str, satisfaction: Satisfaction | None = None) -> Day:
    hall = Hall(
        "测试营业厅",
        "Test Hall",
        SERVICES,
        COUNTERS,
        HallCalendar(timezone="Asia/Shanghai"),
        satisfaction=satisfaction or Satisfaction(),
    )
    now = [datetime(2026, 3, 9, 0, 0, tzinfo=ZONE)]
    store = open_store(url)
    return Day(QueueCore(hall, store, clock=lambda: now[0]), store, now)


def build_day(url: str) -> Day:
    """The day, action by action, in the order of the clock."""
    d = make_day(url)
    core = d.core
    steps: list[tuple[str, Callable[[], object]]] = [
        # The day before: one ticket, served (outside a period of 10 March only).
        ("16:00:00/9", lambda: d.issue("Y", "NEW")),
        ("16:01:00/9", lambda: d.call(1, "Y", "alice")),
        ("16:01:00/9", lambda: core.start(1, "alice")),
        ("16:05:00/9", lambda: core.finish(1, "alice")),
        # 10 March, 9 o'clock.
        ("09:00:00", lambda: d.issue("T1", "NEW")),
        ("09:02:00", lambda: d.call(1, "T1", "alice")),
        ("09:02:30", lambda: core.start(1, "alice")),
        ("09:05:00", lambda: d.issue("T2", "PAY")),
        ("09:06:00", lambda: d.call(2, "T2", "bob")),
        ("09:06:10", lambda: core.start(2, "bob")),
        ("09:09:10", lambda: core.transfer(2, to_service="NEW", staff="bob")),
        ("09:10:30", lambda: core.finish(1, "alice")),
        ("09:11:00", lambda: core.evaluate(1, "very_satisfied", source="pad-1")),  # T1 leg 1
        ("09:12:10", lambda: d.call(1, "T2", "alice")),
        ("09:12:20", lambda: core.start(1, "alice")),
        ("09:20:00", lambda: d.issue("T3", "PAY")),
        ("09:20:20", lambda: core.finish(1, "alice")),
        ("09:21:00", lambda: core.evaluate(1, "satisfied", source="pad-1")),  # T2 leg 2
        ("09:25:00", lambda: d.call(2, "T3", "bob")),
        # The phone rates the one leg of T2 left: bob's, with a reason.
        ("09:25:30", lambda: core.evaluate_ticket(d.id("T2"), "dissatisfied", "waited_too_long")),
        ("09:26:00", lambda: core.recall(2, "bob")),
        ("09:28:00", lambda: core.no_show(2, "bob")),
        ("09:30:00", lambda: d.issue("T4", "INFO")),
        ("09:40:00", lambda: core.cancel(d.id("T4"))),  # from the phone, while waiting
        # 10 o'clock.
        ("10:00:00", lambda: d.issue("T5", "INFO")),
        ("10:05:00", lambda: d.issue("T6", "PAY")),
        ("10:10:00", lambda: d.call(3, "T5", "carol")),
        ("10:10:30", lambda: core.start(3, "carol")),
        ("10:15:30", lambda: core.finish(3, "carol")),
        ("10:16:00", lambda: d.call(3, "T6", "carol")),
        ("10:16:05", lambda: core.evaluate_ticket(d.id("T5"), "satisfied")),
        ("10:16:20", lambda: core.start(3, "carol")),
        ("10:20:20", lambda: core.finish(3, "carol")),
        ("10:21:00", lambda: core.evaluate(3, "dissatisfied", source="pad-3", reason="attitude")),  # T6
        ("10:30:00", lambda: d.issue("T7", "NEW")),
        ("10:31:00", lambda: d.call(1, "T7", "alice")),
        ("10:31:05", lambda: core.start(1, "alice")),
        ("10:35:05", lambda: core.cancel(d.id("T7"), counter_number=1, staff="alice")),
        # 14 o'clock: bob at counter 3, dave at counter 2.
        ("14:00:00", lambda: d.issue("T8", "INFO")),
        ("14:01:40", lambda: d.call(3, "T8", "bob")),
        ("14:02:00", lambda: core.start(3, "bob")),
        ("14:05:00", lambda: core.transfer(3, to_service="PAY", staff="bob")),
        ("14:05:30", lambda: core.evaluate(3, "satisfied", source="pad-3")),  # T8 leg 1, served then sent on
        ("14:06:00", lambda: d.call(2, "T8", "dave")),
        ("14:06:30", lambda: core.start(2, "dave")),
        ("14:09:30", lambda: core.finish(2, "dave")),
        ("14:10:00", lambda: d.issue("T9", "PAY")),  # still waiting when the figures are read
        ("14:15:00", lambda: core.evaluate_ticket(d.id("T8"), "very_satisfied")),  # T8 leg 2
        ("14:20:00", lambda: d.issue("T10", "NEW")),
        ("14:30:00", lambda: d.call(1, "T10", "alice")),
        ("14:30:20", lambda: core.start(1, "alice")),
        ("14:50:20", lambda: core.finish(1, "alice")),
    ]
    for when, action in steps:
        clock, _, day = when.partition("/")
        d.at(clock, YESTERDAY if day == "9" else DAY)
        action()
    return d


def tickets(
    issued: int | None, served: int, no_show: int, cancelled: int, transferred: int, moved_in: int
) -> dict:
    return {
        "issued": issued,
        "served": served,
        "no_show": no_show,
        "cancelled": cancelled,
        "transferred": transferred,
        "transferred_in": moved_in,
    }


def times(count: int, mean: float | None, p50: int | None, p90: int | None) -> dict:
    return {"count": count, "mean": mean, "p50": p50, "p90": p90}


def rated(
    ratings: int,
    satisfied: int,
    share: float | None,
    index: float | None,
    met: bool | None,
    vs: int,
    s: int,
    d: int,
) -> dict:
    return {
        "ratings": ratings,
        "satisfied": satisfied,
        "share": share,
        "index": index,
        "target_met": met,
        "levels": {"very_satisfied": vs, "satisfied": s, "dissatisfied": d},
    }


NONE_TIMES = times(0, None, None, None)
NONE_RATED = rated(0, 0, None, None, None, 0, 0, 0)


def figures(t: dict, waiting: dict, service: dict, satisfaction: dict) -> dict:
    return {"tickets": t, "waiting": waiting, "service_time": service, "satisfaction": satisfaction}


#: 10 March, the whole day (also its one group by day).
TOTAL = figures(
    tickets(10, 6, 1, 2, 2, 2),
    times(11, 303.6, 180, 600),  # 60 60 60 100 120 180 | 300 600 600 600(T4) 660: 3340 / 11
    times(9, 386.7, 240, 1200),  # 180 180 180 240 240 300 480 480 1200
    rated(7, 5, 0.7143, 62.9, False, 2, 3, 2),  # 440 / 7
)

BY_SERVICE = {
    "NEW": figures(
        tickets(3, 3, 0, 1, 0, 1),
        times(4, 240.0, 120, 600),
        times(4, 600.0, 480, 1200),
        rated(2, 2, 1.0, 90.0, True, 1, 1, 0),
    ),
    "PAY": figures(
        tickets(4, 2, 1, 0, 1, 1),
        times(4, 270.0, 60, 660),
        times(3, 200.0, 180, 240),
        rated(3, 1, 0.3333, 33.3, False, 1, 0, 2),
    ),
    "INFO": figures(
        tickets(3, 1, 0, 1, 1, 0),
        times(3, 433.3, 600, 600),  # 100 600 600(T4)
        times(2, 240.0, 180, 300),
        rated(2, 2, 1.0, 80.0, True, 0, 2, 0),
    ),
}

BY_COUNTER = {
    1: figures(
        tickets(None, 3, 0, 1, 0, 1),
        times(4, 240.0, 120, 600),
        times(4, 600.0, 480, 1200),
        rated(2, 2, 1.0, 90.0, True, 1, 1, 0),
    ),
    2: figures(
        tickets(None, 1, 1, 0, 1, 1),
        times(3, 140.0, 60, 300),
        times(2, 180.0, 180, 180),
        rated(2, 1, 0.5, 50.0, False, 1, 0, 1),
    ),
    3: figures(
        tickets(None, 2, 0, 0, 1, 0),
        times(3, 453.3, 600, 660),
        times(3, 240.0, 240, 300),
        rated(3, 2, 0.6667, 53.3, False, 0, 2, 1),
    ),
    # T4, cancelled from the phone while waiting: never at a counter; it waited 600 s.
    None: figures(tickets(None, 0, 0, 1, 0, 0), times(1, 600.0, 600, 600), NONE_TIMES, NONE_RATED),
}

BY_CLERK = {
    "alice": BY_COUNTER[1],
    "bob": figures(
        tickets(None, 0, 1, 0, 2, 0),
        times(3, 153.3, 100, 300),
        times(2, 180.0, 180, 180),
        rated(2, 1, 0.5, 40.0, False, 0, 1, 1),
    ),
    "carol": figures(
        tickets(None, 2, 0, 0, 0, 0),
        times(2, 630.0, 600, 660),
        times(2, 270.0, 240, 300),
        rated(2, 1, 0.5, 40.0, False, 0, 1, 1),
    ),
    "dave": figures(
        tickets(None, 1, 0, 0, 0, 1),
        times(1, 60.0, 60, 60),
        times(1, 180.0, 180, 180),
        rated(1, 1, 1.0, 100.0, True, 1, 0, 0),
    ),
    None: BY_COUNTER[None],
}

BY_HOUR = {
    9: figures(
        tickets(4, 2, 1, 1, 1, 1),
        times(5, 252.0, 180, 600),  # 60 120 180 300 600(T4)
        times(3, 380.0, 480, 480),
        rated(3, 2, 0.6667, 60.0, False, 1, 1, 1),
    ),
    10: figures(
        tickets(3, 2, 0, 1, 0, 0),
        times(3, 440.0, 600, 660),
        times(3, 260.0, 240, 300),
        rated(2, 1, 0.5, 40.0, False, 0, 1, 1),
    ),
    14: figures(
        tickets(3, 2, 0, 0, 1, 1),
        times(3, 253.3, 100, 600),
        times(3, 520.0, 180, 1200),
        rated(2, 2, 1.0, 90.0, True, 1, 1, 0),
    ),
}

#: The day before: one ticket of NEW at counter 1, waited 60 s, served 240 s.
YESTERDAY_FIGURES = figures(
    tickets(1, 1, 0, 0, 0, 0), times(1, 60.0, 60, 60), times(1, 240.0, 240, 240), NONE_RATED
)

HANDOFFS = [("INFO", "PAY", 1), ("PAY", "NEW", 1)]
