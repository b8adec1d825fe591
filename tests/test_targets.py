"""Waiting-time and service-time targets (issue 12): the config, each leg's verdict, the due times,
the share within target, on SQLite and PostgreSQL.

A hand-built day drives the real core with a clock moved by hand (every time
below is minutes after 09:00 in Shanghai), so each wait, each service and each
figure of the share within target is known exactly beforehand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from server.config import ConfigError, TargetsSection, load_config
from server.core.calendar import HallCalendar
from server.core.journey import TicketLeg, replay
from server.core.model import Counter, LegOutcome, Service, Ticket
from server.core.queue import Hall, QueueCore
from server.core.targets import Share, Shares, TargetRules, Targets
from server.store import open_store

ROOT = Path(__file__).resolve().parents[1]

#: Tuesday 10 March 2026, 09:00 in Shanghai.
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
DAY = date(2026, 3, 10)

SERVICES = {
    "PAY": Service("PAY", "缴费", "Payment", "A"),
    "ASK": Service("ASK", "咨询", "Enquiries", "B"),
    "NOTE": Service("NOTE", "登记", "Registration", "C"),
}
COUNTERS = {
    **{n: Counter(n, f"{n}号窗口", f"Counter {n}", ("PAY", "ASK")) for n in (1, 2, 3, 4)},
    5: Counter(5, "5号窗口", "Counter 5", ("NOTE",)),
}
#: PAY promises a call within 15 minutes and a service within 20; ASK a call within 10 and no
#: service target; NOTE promises nothing.
RULES = TargetRules(
    services={
        "PAY": Targets(wait=timedelta(minutes=15), service=timedelta(minutes=20)),
        "ASK": Targets(wait=timedelta(minutes=10)),
        "NOTE": Targets(),
    },
    warn_before=timedelta(minutes=3),
)


@dataclass
class Day:
    core: QueueCore
    now: list[datetime]
    tickets: dict[str, Ticket] = field(default_factory=dict)

    def at(self, minutes: float, day: int = 0) -> None:
        moment = T0 + timedelta(days=day, minutes=minutes)
        assert moment >= self.now[0], "the clock only moves forward"
        self.now[0] = moment

    def issue(self, name: str, service: str = "PAY") -> Ticket:
        self.tickets[name] = self.core.issue(service).ticket
        return self.tickets[name]

    def id(self, name: str) -> str:
        return self.tickets[name].id

    def legs(self, name: str) -> list[TicketLeg]:
        return self.core.journey(self.id(name))[1]


def make_day(url: str, rules: TargetRules = RULES) -> Day:
    hall = Hall(
        "测试大厅", "Test Hall", SERVICES, COUNTERS, HallCalendar(timezone="Asia/Shanghai"), targets=rules
    )
    now = [T0]
    return Day(QueueCore(hall, open_store(url), clock=lambda: now[0]), now)


def verdicts(leg: TicketLeg) -> tuple[float | None, bool | None, float | None, bool | None]:
    return (leg.wait_seconds, leg.wait_met, leg.service_seconds, leg.service_met)


def the_hand_built_day(day: Day) -> None:
    """The day every figure below is worked out from (minutes after 09:00)."""
    core = day.core
    for minute, name in enumerate("ABCDEF"):
        day.at(minute)
        day.issue(name)
    core.call_ticket(4, day.id("D"), staff="dong")  # +5: D called after 2 minutes
    day.at(7)
    core.no_show(4, staff="dong")
    day.at(8)
    core.requeue(4, ticket_id=day.id("D"), staff="dong")  # back in the queue, number kept
    day.at(10)
    core.call_ticket(1, day.id("A"), staff="an")
    core.cancel(day.id("F"))  # F gives up after 5 minutes: before its promise fell due
    day.at(11)
    core.start(1, staff="an")
    day.at(12)
    core.call_ticket(3, day.id("C"), staff="chen")
    core.start(3, staff="chen")
    day.at(17)
    core.call_ticket(2, day.id("B"), staff="bai")  # B waited 16 minutes: one too many
    day.at(18)
    core.recall(2, staff="bai")
    day.at(20)
    day.issue("G", "NOTE")
    core.call_ticket(5, day.id("G"), staff="gu")
    day.at(21)
    core.start(5, staff="gu")
    day.at(23)
    core.finish(5, staff="gu")
    day.at(25)
    core.cancel(day.id("E"))  # E gives up after 21 minutes: the promise was already broken
    day.at(30)
    core.finish(2, staff="bai")  # never started: 12 minutes from the recall
    day.at(31)
    core.finish(1, staff="an")  # 20 minutes from the start: exactly the target
    day.at(40)
    core.transfer(3, to_service="ASK", staff="chen")  # 28 minutes of service, then on to ASK
    day.at(50)
    core.call_ticket(4, day.id("D"), staff="dong")  # the re-queued D: its wait was judged at +5
    day.at(52)
    core.finish(4, staff="dong")
    day.at(55)
    core.call_ticket(4, day.id("C"), staff="dong")  # 15 minutes after the transfer: ASK promised 10
    core.start(4, staff="dong")
    day.at(60)
    core.finish(4, staff="dong")


# -- each leg's verdict ------------------------------------------------------------------------


def test_each_leg_records_its_wait_and_service_against_its_services_targets(database_url: str) -> None:
    day = make_day(database_url)
    the_hand_built_day(day)

    (a,) = day.legs("A")
    assert verdicts(a) == (600.0, True, 1200.0, True)  # 10 minutes' wait; exactly 20 minutes is met
    assert (a.counter, a.outcome) == (1, LegOutcome.DONE)
    (b,) = day.legs("B")
    assert verdicts(b) == (960.0, False, 720.0, True)  # served from its last call (never started)
    assert (b.called_at, b.last_called_at) == (T0 + timedelta(minutes=17), T0 + timedelta(minutes=18))
    first, second = day.legs("C")
    assert verdicts(first) == (600.0, True, 1680.0, False)
    assert (first.outcome, first.counter) == (LegOutcome.TRANSFERRED, 3)
    # The second station waits from the transfer, by its own service's targets (ASK: no service target).
    assert (second.service, second.queued_at, second.transfer) == ("ASK", T0 + timedelta(minutes=40), True)
    assert verdicts(second) == (900.0, False, 300.0, None)
    (d,) = day.legs("D")
    assert verdicts(d) == (120.0, True, 120.0, True)  # the re-queue started no new wait
    assert (d.calls, d.outcome) == (2, LegOutcome.DONE)
    (e,) = day.legs("E")
    assert verdicts(e) == (1260.0, False, None, None)  # gave up past the promise: missed
    assert (e.counter, e.outcome) == (None, LegOutcome.CANCELLED)
    (f,) = day.legs("F")
    assert verdicts(f) == (300.0, None, None, None)  # gave up before the promise fell due: not judged
    (g,) = day.legs("G")
    assert verdicts(g) == (0.0, None, 120.0, None)  # NOTE promises nothing: measured, never judged

    # The kept legs are what the event log says, judged by the same targets.
    for name in "ABCDEFG":
        ticket, legs = day.core.journey(day.id(name))
        assert legs == replay(ticket, day.core.ticket(day.id(name))[0].history, RULES), name


def test_a_no_show_is_no_service_and_a_leg_in_progress_has_only_its_wait(database_url: str) -> None:
    day = make_day(database_url)
    day.issue("A")
    day.at(20)
    day.core.call_next(1, staff="an")
    (called,) = day.legs("A")
    assert verdicts(called) == (1200.0, False, None, None)  # the wait is judged at the first call
    day.at(21)
    day.core.recall(1, staff="an")
    day.at(22)
    day.core.no_show(1, staff="an")
    (gone,) = day.legs("A")
    assert verdicts(gone) == (1200.0, False, None, None)
    recalled = T0 + timedelta(minutes=21)
    assert (gone.outcome, gone.calls, gone.last_called_at) == (LegOutcome.NO_SHOW, 2, recalled)


def test_a_hall_without_targets_measures_every_leg_and_judges_none(database_url: str) -> None:
    day = make_day(database_url, TargetRules())
    day.issue("A")
    day.at(30)
    day.core.call_next(1)
    day.core.start(1)
    day.at(75)
    day.core.finish(1)
    (leg,) = day.legs("A")
    assert verdicts(leg) == (1800.0, None, 2700.0, None)
    assert day.core.target_report(DAY).hall == Shares()


# -- before a breach: the due times of the next-up list ----------------------------------------


def test_the_next_up_list_says_when_each_target_is_breached(database_url: str) -> None:
    day = make_day(database_url)
    core = day.core
    day.issue("P")
    day.at(1)
    day.issue("Q")
    day.issue("N", "NOTE")
    day.at(2)
    plan = core.next_up(1)
    assert plan["now"] == (T0 + timedelta(minutes=2)).isoformat()
    assert plan["warn_before_seconds"] == 180
    assert plan["current"] is None
    due = {p["number"]: p["wait_due_at"] for p in plan["next"]}
    assert due == {
        day.tickets["P"].number: (T0 + timedelta(minutes=15)).isoformat(),
        day.tickets["Q"].number: (T0 + timedelta(minutes=16)).isoformat(),
    }
    assert core.next_up(5)["next"][0]["wait_due_at"] is None  # NOTE promises nothing

    # At the counter: the service is due 20 minutes after the call until it starts, then after the start.
    day.at(3)
    core.call_next(1, staff="an")
    current = core.next_up(1)["current"]
    assert current == {
        "ticket_id": day.id("P"),
        "number": day.tickets["P"].number,
        "service": "PAY",
        "status": "called",
        "service_due_at": (T0 + timedelta(minutes=23)).isoformat(),
    }
    day.at(4)
    core.start(1, staff="an")
    assert core.next_up(1)["current"]["service_due_at"] == (T0 + timedelta(minutes=24)).isoformat()

    # Transferred: the next station's wait runs from the transfer, by that service's target (ASK: 10).
    day.at(6)
    core.transfer(1, to_service="ASK", staff="an")
    assert core.next_up(1)["current"] is None
    moved = next(p for p in core.next_up(2)["next"] if p["ticket_id"] == day.id("P"))
    assert moved["wait_due_at"] == (T0 + timedelta(minutes=16)).isoformat()

    # Re-queued: its wait was judged at its first call, so nothing more is due.
    day.at(7)
    core.call_ticket(2, day.id("Q"), staff="bai")
    day.at(8)
    core.requeue(2, staff="bai")
    back = next(p for p in core.next_up(2)["next"] if p["ticket_id"] == day.id("Q"))
    assert back["wait_due_at"] is None


def test_a_hall_without_targets_has_nothing_due(database_url: str) -> None:
    day = make_day(database_url, TargetRules(warn_before=timedelta(minutes=5)))
    day.issue("P")
    day.issue("Q")
    day.core.call_next(1)
    plan = day.core.next_up(1)
    assert plan["warn_before_seconds"] == 300
    assert plan["current"]["service_due_at"] is None
    assert [p["wait_due_at"] for p in plan["next"]] == [None]


# -- the share within target ---------------------------------------------------------------------


def test_the_share_within_target_per_service_and_counter_of_a_hand_built_day(database_url: str) -> None:
    day = make_day(database_url)
    the_hand_built_day(day)
    # The next day: one ticket called 20 minutes late; it must not count for the 10th.
    day.at(0, day=1)
    day.issue("H")
    day.at(20, day=1)
    day.core.call_next(1)

    report = day.core.target_report(DAY)
    assert (report.first_day, report.last_day) == (DAY, DAY)
    # Waits judged: A B C1 D E (PAY) and C2 (ASK); met: A C1 D. Services judged: A B C1 D; met: A B D.
    assert report.hall == Shares(wait=Share(6, 3), service=Share(4, 3))
    assert report.services == {
        "PAY": Shares(wait=Share(5, 3), service=Share(4, 3)),
        "ASK": Shares(wait=Share(1, 0), service=Share(0, 0)),
        "NOTE": Shares(),
    }
    # Per counter: the leg's counter (who called and served it); E and F were never called.
    assert report.counters == {
        1: Shares(wait=Share(1, 1), service=Share(1, 1)),
        2: Shares(wait=Share(1, 0), service=Share(1, 1)),
        3: Shares(wait=Share(1, 1), service=Share(1, 0)),
        4: Shares(wait=Share(2, 1), service=Share(1, 1)),
        5: Shares(),
    }
    assert report.services["PAY"].wait.share == pytest.approx(0.6)
    assert report.services["ASK"].service.share is None  # nothing had a target: no share, not 0 %
    assert report.hall.as_dict() == {
        "wait": {"with_target": 6, "met": 3, "share": 0.5},
        "service": {"with_target": 4, "met": 3, "share": 0.75},
    }

    both = day.core.target_report(DAY, DAY + timedelta(days=1))
    assert both.hall == Shares(wait=Share(7, 3), service=Share(4, 3))
    assert both.counters[1] == Shares(wait=Share(2, 1), service=Share(1, 1))
    assert day.core.target_report(DAY + timedelta(days=2)).hall == Shares()


# -- the config ------------------------------------------------------------------------------------

SITE = """
[site]
name_zh = "测试大厅"
name_en = "Test Hall"

[[services]]
code = "PAY"
name_zh = "缴费"
name_en = "Payment"
prefix = "A"
{service_keys}

[[services]]
code = "ASK"
name_zh = "咨询"
name_en = "Enquiries"
prefix = "B"

[[counters]]
number = 1
name_zh = "1号窗口"
name_en = "Counter 1"
services = ["PAY", "ASK"]
{tables}
"""


def site_file(tmp_path: Path, service_keys: str = "", tables: str = "") -> Path:
    path = tmp_path / "site.toml"
    path.write_text(SITE.format(service_keys=service_keys, tables=tables), encoding="utf-8")
    return path


def problem(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    return message


def test_site_targets_and_a_services_own_become_the_halls(tmp_path: Path) -> None:
    path = site_file(
        tmp_path,
        "service_target_minutes = 20\nwait_target_minutes = 30",
        "[targets]\nwait_minutes = 15\nservice_minutes = 25\nwarn_before_minutes = 5",
    )
    rules = load_config(path).hall().targets
    assert rules.of("PAY") == Targets(wait=timedelta(minutes=30), service=timedelta(minutes=20))
    assert rules.of("ASK") == Targets(wait=timedelta(minutes=15), service=timedelta(minutes=25))
    assert rules.warn_before == timedelta(minutes=5)
    # Without [targets]: no target, and the lead of the mark is 3 minutes.
    bare = load_config(site_file(tmp_path)).hall().targets
    assert (bare.any, bare.of("PAY"), bare.warn_before) == (False, Targets(), timedelta(minutes=3))


@pytest.mark.parametrize(
    ("service_keys", "tables", "needles"),
    [
        ("", "[targets]\nwait_minutes = 0", ["targets.wait_minutes", "from 1 to 1440", "got 0"]),
        ("", "[targets]\nservice_minutes = -5", ["targets.service_minutes", "got -5"]),
        ("", "[targets]\nwait_minutes = 1441", ["targets.wait_minutes", "got 1441"]),
        ("", "[targets]\nwait_minutes = 7.5", ["targets.wait_minutes", "whole number", "got 7.5"]),
        ("", '[targets]\nwait_minutes = "15"', ["targets.wait_minutes", "got '15'"]),
        ("", "[targets]\nwarn_before_minutes = -1", ["targets.warn_before_minutes"]),
        ("", "[targets]\nwait = 15", ["targets.wait", "unknown key"]),
        ("wait_target_minutes = 0", "", ["services[0].wait_target_minutes", "got 0"]),
        ("service_target_minutes = 0", "", ["services[0].service_target_minutes", "got 0"]),
        (
            "target_minutes = 20",
            "",
            ["services[0]", "target_minutes", "wait_target_minutes", "service_target_minutes", "[targets]"],
        ),
        ("target_minutes = { wait = 15, service = 20 }", "", ["services[0]", "wait_target_minutes"]),
    ],
    ids=[
        "zero-wait",
        "negative-service",
        "beyond-a-day",
        "fraction",
        "text",
        "negative-lead",
        "unknown-site-key",
        "zero-service-wait",
        "zero-service-service",
        "target-minutes-number",
        "target-minutes-table",
    ],
)
def test_a_target_that_cannot_be_kept_is_one_line_naming_the_key(
    tmp_path: Path, service_keys: str, tables: str, needles: list[str]
) -> None:
    message = problem(site_file(tmp_path, service_keys, tables))
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_default_config_documents_every_target_key() -> None:
    text = (ROOT / "config" / "default.toml").read_text(encoding="utf-8")
    assert re.search(r"^(# )?\[targets\]$", text, re.M), "no [targets] section"
    for key in TargetsSection.model_fields:
        assert re.search(rf"^(# )?{key} = ", text, re.M), f"targets.{key} is not documented"
    for key in ("wait_target_minutes", "service_target_minutes"):
        assert re.search(rf"^(# )?{key} = ", text, re.M), f"services[].{key} is not documented"
    load_config(ROOT / "config" / "default.toml")  # and what it shows loads


def test_the_utility_hall_promises_20_minutes_per_transaction() -> None:
    rules = load_config(ROOT / "config" / "samples" / "utility_hall.toml").hall().targets
    assert rules.any
    assert all(rules.of(code).service == timedelta(minutes=20) for code in rules.services)
