"""The estimated wait: the pace model (server/core/estimate.py), the core storing the estimate at
issue and learning from the store at start, and the report of its error (server/store/estimates.py)
on a hand-built day with exact figures, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from server.core.calendar import HallCalendar
from server.core.estimate import JOIN_PRIOR, PaceModel, PaceRules, minutes
from server.core.events import HallEvent
from server.core.journey import TicketLeg
from server.core.model import Counter, LegOutcome, Service, Ticket, TicketStatus
from server.core.queue import Hall, QueueCore
from server.store import open_store
from server.store.estimates import estimate_accuracy

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
COUNTERS = {
    1: Counter(1, "1号窗口", "Counter 1", ("PAY",)),
    2: Counter(2, "2号窗口", "Counter 2", ("ASK", "PAY")),
}
SERVICES = {
    "PAY": Service("PAY", "电费缴纳", "Bill payment", "A"),
    "ASK": Service("ASK", "咨询查询", "Enquiries", "B"),
}
W = 2 / 21  # the weight of the newest leg with recent_legs = 20


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def model(**rules: object) -> PaceModel:
    return PaceModel(COUNTERS, PaceRules(**{"recent_legs": 20, **rules}))  # type: ignore[arg-type]


def median(need: int) -> float:
    return need - 1 / 3 + 8 / (405 * need)


def joins(joined: int, calls: int) -> float:
    """How many joined out of line per call, as the model counts it: ``joined`` over ``calls`` (a
    plain average so far) weighed against JOIN_PRIOR calls at none."""
    return joined / calls * calls / (calls + JOIN_PRIOR)


def test_nobody_can_say_while_no_counter_is_open_and_staffed() -> None:
    pace = model()
    assert pace.wait_seconds("PAY", 3, T0) is None  # fresh: nobody called, paused or resumed
    pace.counter_set(1, open_=False, staffed=True, at=T0)
    assert pace.wait_seconds("PAY", 3, T0) is None  # paused, and no break measured yet
    pace.counter_set(1, open_=True, staffed=True, at=T0)
    assert pace.wait_seconds("PAY", 3, T0) is not None


def test_every_counter_busy_the_wait_is_the_median_of_the_services_ahead() -> None:
    pace = model()
    for number in (1, 2):
        pace.counter_set(number, True, True, T0)
        pace.called(number, "PAY", T0, stood=True)
    # Two counters at the default 300 s, nothing measured: 2/300 calls a second.
    assert pace.wait_seconds("PAY", 3, T0) == pytest.approx(median(4) * 150)
    # A free counter takes the next one at once; with one ahead, one more call of the two (one
    # sample is not enough to trust: still 300 s each).
    pace.leg_ended(1, "PAY", at(60))
    assert pace.wait_seconds("PAY", 0, at(60)) == 0.0
    assert pace.wait_seconds("PAY", 1, at(60)) == pytest.approx(median(1) * 150)


def test_each_counter_learns_its_own_pace_once_it_has_enough_samples() -> None:
    pace = model(min_samples=3)
    pace.counter_set(1, True, True, T0)
    moment = 0.0
    for length in (100, 100, 130):
        pace.called(1, "PAY", at(moment), stood=True)
        moment += length
        pace.leg_ended(1, "PAY", at(moment))
    # A plain average while it has fewer samples than the weighted mean remembers.
    assert pace.service_seconds(1, "PAY") == pytest.approx(110)
    # Counter 2 has no samples of its own: the service's mean across counters stands in.
    assert pace.service_seconds(2, "PAY") == pytest.approx(110)
    assert pace.service_seconds(2, "ASK") == 300.0  # nothing measured: the configured default
    # A leg longer than longest_leg (a ticket left open over lunch) is no sample.
    pace.called(1, "PAY", at(moment), stood=True)
    pace.leg_ended(1, "PAY", at(moment + 3 * 3600))
    assert pace.service_seconds(1, "PAY") == pytest.approx(110)


def test_a_shared_counter_gives_a_service_what_its_preferred_services_leave() -> None:
    pace = model()
    pace.counter_set(2, True, True, T0)
    pace.called(2, "ASK", T0, stood=True)
    pace.leg_ended(2, "ASK", at(100))
    pace.called(2, "PAY", at(200), stood=True)  # 100 s idle before it
    pace.leg_ended(2, "PAY", at(300))
    counter = pace.counter(2)
    assert counter is not None
    # Decayed seconds: ASK (1−w)·w·100, PAY w·100, idle w·100.
    ask_share = (1 - W) / (3 - W)
    assert counter.share("ASK") == pytest.approx(ask_share)
    servers, idle = pace.servers("PAY", at(300))
    assert idle == 1
    assert servers == [(0.0, pytest.approx((1 - ask_share) / 300))]  # default time: < 5 samples
    # For ASK, counter 2's first service, the whole counter.
    assert pace.servers("ASK", at(300))[0] == [(0.0, pytest.approx(1 / 300))]


def test_tickets_that_go_first_slow_a_walk_ins_queue_not_a_priority_ticket() -> None:
    pace = model()
    pace.counter_set(1, True, True, T0)
    for n in range(4):
        if n == 0:
            pace.joined("PAY")  # a priority ticket joined the queue before one of four calls
        pace.called(1, "PAY", at(n), stood=True)
        pace.leg_ended(1, "PAY", at(n + 0.5))
    pace.called(1, "PAY", at(10), stood=True)
    jumps = joins(1, 5)  # one joined out of line in five calls
    walk_in = pace.wait_seconds("PAY", 2, at(10))
    priority = pace.wait_seconds("PAY", 2, at(10), priority=5)
    assert priority == pytest.approx(median(3) * 300)
    assert walk_in == pytest.approx(median(3) * 300 / (1 - jumps))


def test_a_paused_counter_counts_from_the_end_of_a_usual_break() -> None:
    pace = model()
    for number in (1, 2):
        pace.counter_set(number, True, True, T0)
        pace.called(number, "PAY", T0, stood=True)
    pace.counter_set(2, False, True, T0)
    pace.counter_set(2, True, True, at(600))  # a 10-minute break, measured
    pace.counter_set(2, False, True, at(1000))
    # Counter 2 is back 600 s after its pause: counter 1 alone until then, both after.
    wait = pace.wait_seconds("PAY", 5, at(1000))
    need = median(6)
    assert need > 600 / 300
    assert wait == pytest.approx(600 + (need - 2) * 150)
    # Away more than twice the usual break: gone for the day.
    assert pace.wait_seconds("PAY", 5, at(2300)) == pytest.approx(need * 300)


def test_an_appointment_waits_for_its_window_then_goes_first() -> None:
    pace = model(appointment_window=timedelta(minutes=15))
    pace.counter_set(1, True, True, T0)
    pace.called(1, "PAY", T0, stood=True)
    due = T0 + timedelta(minutes=40)
    assert pace.wait_seconds("PAY", 9, T0, due_at=due) == pytest.approx(25 * 60 + 300)
    pace.leg_ended(1, "PAY", at(30))
    assert pace.wait_seconds("PAY", 9, T0 + timedelta(minutes=30), due_at=due) == 0.0


def test_an_appointment_goes_after_the_tickets_past_the_age_bonus() -> None:
    pace = model(appointment_window=timedelta(minutes=15), age_bonus=timedelta(minutes=10))
    pace.counter_set(1, True, True, T0)
    pace.called(1, "PAY", T0, stood=True)
    due = T0 + timedelta(minutes=15)  # its window is open
    # Nobody waited past the bonus: it is next, when the counter is done with its visitor.
    assert pace.wait_seconds("PAY", 1, T0, due_at=due, waiting={"PAY": 1}) == pytest.approx(300)
    # Four walk-ins at one every five minutes: two have waited more than ten minutes and rank as a
    # priority above it; they are called first.
    assert pace.wait_seconds("PAY", 4, T0, due_at=due, waiting={"PAY": 4}) == pytest.approx(600 + 300)
    # Its window opens in five minutes: one of them is left by then.
    later = T0 + timedelta(minutes=20)
    assert pace.wait_seconds("PAY", 4, T0, due_at=later, waiting={"PAY": 4}) == pytest.approx(300 + 300 + 300)
    # Where the ticket has a priority of its own above the bonus's, nothing goes before it.
    assert pace.wait_seconds("PAY", 0, T0, priority=10, waiting={"PAY": 4}) == pytest.approx(median(1) * 300)


def test_minutes_are_rounded_to_the_nearest() -> None:
    assert [minutes(s) for s in (None, 0, 29, 30, 89, 91)] == [None, 0, 0, 1, 1, 2]


# -- the core ----------------------------------------------------------------------------


def make_core(url: str) -> tuple[QueueCore, list[datetime]]:
    now = [T0]
    hall = Hall("测试营业厅", "Test Hall", SERVICES, COUNTERS, HallCalendar(timezone="Asia/Shanghai"))
    return QueueCore(hall, open_store(url), clock=lambda: now[0]), now


def test_the_estimate_given_at_issue_is_stored_and_the_store_teaches_a_new_hub(sqlite_url: str) -> None:
    core, now = make_core(sqlite_url)
    first = core.issue("PAY")
    assert first.ticket.estimate_seconds is None  # no counter opened yet
    for n in range(6):
        now[0] += timedelta(seconds=10)
        core.call_next(1, staff="clerk1")
        now[0] += timedelta(seconds=120)
        core.finish(1, staff="clerk1")
        if n < 5:
            core.issue("PAY")
    issued = core.issue("PAY")
    # Counter 1 is free and measured at 120 s a visitor; counter 2 never opened.
    with core.store.read() as tx:
        stored = tx.get_ticket(issued.ticket.id)
    assert stored is not None and stored.estimate_seconds == issued.ticket.estimate_seconds
    assert issued.waiting_ahead == 0 and stored.estimate_seconds == 0
    core.call_next(1, staff="clerk1")
    ahead = core.issue("PAY")
    assert ahead.ticket.estimate_seconds == round(median(1) * 120)
    assert core.estimate(ahead.ticket, 0) == minutes(median(1) * 120)
    # A hub started on the same store learns the legs and who is open.
    fresh, _ = make_core(sqlite_url)
    fresh.clock = core.clock
    assert fresh.warm_pace() == 6
    assert fresh.pace.service_seconds(1, "PAY") == pytest.approx(120)
    assert fresh.pace.wait_seconds("PAY", 0, now[0]) == pytest.approx(median(1) * 120)


# -- the report -----------------------------------------------------------------------


def _called_ticket(
    number: str, day: date, issued: datetime, estimate: int | None, wait: float | None
) -> tuple:
    ticket = Ticket(
        id=f"id-{day}-{number}",
        number=number,
        service="PAY" if number.startswith("A") else "ASK",
        seq=int(number[1:]),
        business_day=day,
        status=TicketStatus.DONE if wait is not None else TicketStatus.CANCELLED,
        issued_at=issued,
        queue_at=issued,
        estimate_seconds=estimate,
    )
    called = issued + timedelta(seconds=wait) if wait is not None else None
    leg = TicketLeg(
        ticket.id,
        1,
        day,
        ticket.service,
        issued,
        counter=1 if called else None,
        called_at=called,
        finished_at=(called or issued) + timedelta(minutes=3),
        calls=1 if called else 0,
        outcome=LegOutcome.DONE if called else LegOutcome.CANCELLED,
    )
    return ticket, leg


def test_the_report_measures_the_estimate_against_the_real_wait(database_url: str) -> None:
    store = open_store(database_url)
    day, other = date(2026, 3, 10), date(2026, 3, 11)
    rows = [
        # estimate 10 min, real 4 min: off by 6 (outside ±5)
        _called_ticket("A001", day, T0, 600, 240),
        # estimate 5 min, real 8 min: off by 3 (within)
        _called_ticket("A002", day, T0, 300, 480),
        # estimate 0, real 5 min exactly: off by 5 (within, the edge)
        _called_ticket("A003", day, T0, 0, 300),
        # no estimate (no counter open): left out
        _called_ticket("A004", day, T0, None, 60),
        # never called (cancelled): left out
        _called_ticket("A005", day, T0, 120, None),
        # another service: estimate 2 min, real 1 min
        _called_ticket("B001", day, T0, 120, 60),
        # the next day: outside a one-day report
        _called_ticket("A001", other, T0 + timedelta(days=1), 60, 3600),
    ]
    with store.transaction() as tx:
        tx.add_tickets([t for t, _ in rows])
        tx.save_legs([leg for _, leg in rows])
    hall, services = estimate_accuracy(store.engine, day, day)
    assert hall.as_dict() == {
        "service": None,
        "tickets": 4,
        "mean_abs_error_minutes": round((6 + 3 + 5 + 1) / 4, 2),
        "within_5_minutes": 0.75,
        "mean_error_minutes": round((6 - 3 - 5 + 1) / 4, 2),
    }
    assert [s.as_dict() for s in services] == [
        {"service": "ASK", "tickets": 1, "mean_abs_error_minutes": 1.0, "within_5_minutes": 1.0,
         "mean_error_minutes": 1.0},
        {"service": "PAY", "tickets": 3, "mean_abs_error_minutes": round(14 / 3, 2),
         "within_5_minutes": round(2 / 3, 4), "mean_error_minutes": round(-2 / 3, 2)},
    ]  # fmt: skip
    both, _ = estimate_accuracy(store.engine, day, other)
    assert both.tickets == 5 and both.mean_abs_error_seconds == pytest.approx((6 + 3 + 5 + 1 + 59) * 60 / 5)
    empty, none = estimate_accuracy(store.engine, date(2026, 1, 1), date(2026, 1, 2))
    assert (empty.tickets, empty.mean_abs_error_seconds, none) == (0, None, [])


# -- the API ------------------------------------------------------------------------------


@pytest.fixture
def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app in this process on its own clock (a test client: nothing listens on a port)."""
    from server.app import create_app
    from server.config import load_config
    from tests.support import write_site

    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path / "var"))
    config = load_config(write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'q.db'}", counters=1))
    now = [T0]
    app = create_app(config, clock=lambda: now[0], async_mode="threading")
    hub = app.extensions["qcall"]
    hub.accounts.add_user("clerk1", "staff", "clerk-password-1", T0)
    hub.accounts.add_user("boss", "admin", "admin-password-1", T0)
    client = app.test_client()

    def login(user: str, password: str, counter: int | None = None) -> str:
        body: dict[str, Any] = {"username": user, "password": password}
        if counter is not None:
            body["counter"] = counter
        answer = client.post("/api/v1/auth/login", json=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return str(answer.get_json()["token"])

    tokens = {
        "kiosk": hub.accounts.create_device_token("kiosk", "kiosk-1", T0),
        "clerk": login("clerk1", "clerk-password-1", 1),
        "admin": login("boss", "admin-password-1"),
    }
    try:
        yield client, tokens
    finally:
        hub.close()


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_api_gives_the_estimate_at_issue_live_after_and_reports_its_error(
    app_client: tuple[Any, dict[str, str]],
) -> None:
    client, tokens = app_client
    # The clerk's login put them on post at counter 1; logged out, no counter of PAY is open.
    assert client.post("/api/v1/auth/logout", json={}, headers=_as(tokens["clerk"])).status_code == 200
    first = client.post("/api/v1/tickets", json={"service": "PAY"}, headers=_as(tokens["kiosk"]))
    assert first.status_code == 201
    assert first.get_json()["estimated_wait_minutes"] is None  # nobody on post at a counter of PAY
    again = client.get(f"/api/v1/tickets/{first.get_json()['id']}").get_json()
    assert again["estimated_wait_minutes"] is None
    # On post again: counter 1 is open, staffed and free, so the ticket is next, at once.
    body = {"username": "clerk1", "password": "clerk-password-1", "counter": 1}
    tokens["clerk"] = client.post("/api/v1/auth/login", json=body).get_json()["token"]
    again = client.get(f"/api/v1/tickets/{first.get_json()['id']}").get_json()
    assert again["estimated_wait_minutes"] == 0
    called = client.post("/api/v1/counters/1/call-next", headers=_as(tokens["clerk"]))
    assert called.status_code == 200
    second = client.post("/api/v1/tickets", json={"service": "PAY"}, headers=_as(tokens["kiosk"])).get_json()
    # Counter 1 open and busy, nothing measured: the median of one 5-minute service.
    assert second["estimated_wait_minutes"] == minutes(median(1) * 300) == 3
    live = client.get(f"/api/v1/tickets/{second['id']}").get_json()
    assert (live["waiting_ahead"], live["estimated_wait_minutes"]) == (0, 3)
    # The snapshot's services carry a newcomer's estimate: one ahead now.
    snapshot = client.get("/api/v1/queue", headers=_as(tokens["kiosk"])).get_json()
    pay = next(s for s in snapshot["services"] if s["code"] == "PAY")
    assert pay["estimate_minutes"] == minutes(median(2) * 300)
    client.post("/api/v1/counters/1/call-next", headers=_as(tokens["clerk"]))
    assert client.get(f"/api/v1/tickets/{second['id']}").get_json()["estimated_wait_minutes"] is None

    day = "2026-03-10"
    report = client.get(f"/api/v1/reports/estimates?from={day}", headers=_as(tokens["admin"]))
    assert report.status_code == 200
    body = report.get_json()
    # One ticket had an estimate and was called (at once, as issued): 3 min estimated, 0 real.
    assert body["hall"] == {
        "service": None,
        "tickets": 1,
        "mean_abs_error_minutes": round(round(median(1) * 300) / 60, 2),
        "within_5_minutes": 1.0,
        "mean_error_minutes": round(round(median(1) * 300) / 60, 2),
    }
    assert [s["service"] for s in body["services"]] == ["PAY"] and body["within_minutes"] == 5


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("?from=2026-3-10", 400),
        ("?from=2026-02-30", 400),
        ("?from=2026-03-10&days=0", 400),
        ("?from=2026-03-10&days=368", 400),
        ("?from=2026-03-10&days=-1", 400),
        ("?from=2026-03-10&days=1.5", 400),
        ("?from=yesterday", 400),
        ("?from=9999-12-31&days=2", 400),  # past the calendar's last day: was an OverflowError, a 500
        ("?from=1999-12-31", 400),
    ],
)
def test_a_bad_report_range_is_a_clear_400(
    app_client: tuple[Any, dict[str, str]], query: str, status: int
) -> None:
    client, tokens = app_client
    answer = client.get(f"/api/v1/reports/estimates{query}", headers=_as(tokens["admin"]))
    assert answer.status_code == status
    body = answer.get_json()
    assert body["code"] == "bad_request" and body["error"]


def test_reports_are_for_admins_only(app_client: tuple[Any, dict[str, str]]) -> None:
    client, tokens = app_client
    for role in ("kiosk", "clerk"):
        answer = client.get("/api/v1/reports/estimates?from=2026-03-10", headers=_as(tokens[role]))
        assert answer.status_code == 403 and answer.get_json()["code"] == "forbidden"
    stranger = client.application.test_client()  # no token and no session cookie of the logins above
    assert stranger.get("/api/v1/reports/estimates?from=2026-03-10").status_code == 401


def test_a_counter_busy_with_another_service_frees_at_that_services_pace() -> None:
    pace = model()
    pace.counter_set(2, True, True, T0)
    moment = 0.0
    for _ in range(5):  # quick enquiries, a minute each, a minute apart
        pace.called(2, "ASK", at(moment), stood=True)
        pace.leg_ended(2, "ASK", at(moment + 60))
        moment += 120
    pace.called(2, "ASK", at(moment), stood=True)
    counter = pace.counter(2)
    assert counter is not None and 0 < counter.share("ASK") < 1
    left = 1 - counter.share("ASK")
    # The next PAY visitor waits for the enquiry at the counter (60 s), not for a PAY service (300 s),
    # and only for the share of the counter ASK leaves.
    assert pace.wait_seconds("PAY", 0, at(moment)) == pytest.approx(median(1) * 60 / left)
    # With one ahead: that call, then one at PAY's pace.
    expected = 60 / left + (median(2) - 1) * 300 / left
    assert pace.wait_seconds("PAY", 1, at(moment)) == pytest.approx(expected)


def test_a_counter_its_first_service_fills_still_serves_the_second_slowly() -> None:
    pace = model()
    pace.counter_set(2, True, True, T0)
    moment = 0.0
    for _ in range(5):  # back to back: ASK took all of counter 2's time
        pace.called(2, "ASK", at(moment), stood=True)
        moment += 60
        pace.leg_ended(2, "ASK", at(moment))
    pace.called(2, "ASK", at(moment), stood=True)
    assert pace.wait_seconds("PAY", 0, at(moment)) == pytest.approx(median(1) * 60 / 0.05)


def test_a_long_run_weighs_the_newest_legs_most() -> None:
    pace = model(recent_legs=3, min_samples=1)  # weight ½ once past the first two samples
    pace.counter_set(1, True, True, T0)
    moment = 0.0
    for length in (100, 100, 100, 200):
        pace.called(1, "PAY", at(moment), stood=True)
        moment += length
        pace.leg_ended(1, "PAY", at(moment))
    assert pace.service_seconds(1, "PAY") == pytest.approx(150)


def test_a_report_of_several_days(app_client: tuple[Any, dict[str, str]]) -> None:
    client, tokens = app_client
    answer = client.get("/api/v1/reports/estimates?from=2026-03-09&days=3", headers=_as(tokens["admin"]))
    assert answer.status_code == 200
    body = answer.get_json()
    assert (body["from"], body["to"], body["hall"]["tickets"]) == ("2026-03-09", "2026-03-11", 0)


# -- the paper -----------------------------------------------------------------------------


def test_the_paper_prints_the_stored_estimate_or_says_none_can_be_given() -> None:
    from dataclasses import replace as with_

    from drivers.printing.layout import LayoutOptions, TextBlock, ticket_blocks
    from drivers.printing.ticket import PrintTicket
    from tests.support import SAMPLE_TICKET

    def lines(ticket: PrintTicket) -> list[str]:
        return [b.text for b in ticket_blocks(ticket, LayoutOptions()) if isinstance(b, TextBlock)]

    known = lines(with_(SAMPLE_TICKET, estimated_wait_minutes=12, no_estimate=False))
    assert "预计等待 12 分钟" in known and "Estimated wait 12 min" in known
    unknown = lines(with_(SAMPLE_TICKET, estimated_wait_minutes=None, no_estimate=True))
    assert "暂无窗口办理，无法估计等待时间" in unknown and "No counter open: wait unknown" in unknown
    assert not any("预计等待" in line for line in unknown)
    # An agent older than no_estimate still reads every ticket that has an estimate.
    assert "no_estimate" not in with_(SAMPLE_TICKET, no_estimate=False).to_dict()
    assert PrintTicket.from_dict(with_(SAMPLE_TICKET, no_estimate=True).to_dict()).no_estimate


def busy_hall(pace: PaceModel, moment: datetime, service: str = "PAY") -> None:
    """Both counters open, staffed and busy with ``service`` at ``moment``."""
    for number in (1, 2):
        pace.counter_set(number, True, True, moment)
        pace.called(number, service, moment, stood=True)


def test_a_shared_counter_first_empties_the_queues_it_prefers() -> None:
    pace = model()
    busy_hall(pace, T0)
    # Nobody waits for ASK: counter 2 takes the next PAY visitor as counter 1 does (300 s each).
    assert pace.wait_seconds("PAY", 2, T0, waiting={"ASK": 0}) == pytest.approx(median(3) * 150)
    # Three wait for ASK, which only counter 2 serves with all its spare time (nothing measured:
    # 300 s each): it is back for PAY in 900 s. The next call comes when either counter is done with
    # the visitor it has (150 s); the rest from counter 1 alone, before counter 2 is back.
    blocked = pace.wait_seconds("PAY", 2, T0, waiting={"ASK": 3})
    assert blocked == pytest.approx(150 + (median(3) - 1) * 300)
    # Without the counts (a phone asking later) the model counts as before: the shares only.
    assert pace.wait_seconds("PAY", 2, T0) == pytest.approx(median(3) * 150)
    # A priority ticket goes before counter 2's preference: not kept waiting by the ASK queue.
    assert pace.wait_seconds("PAY", 2, T0, priority=5, waiting={"ASK": 3}) == pytest.approx(median(3) * 150)


def test_the_age_bonus_brings_a_shared_counter_back_by_its_time() -> None:
    pace = model(age_bonus=timedelta(minutes=10))
    busy_hall(pace, T0)
    # Thirty ASK visitors would keep counter 2 away for 9,000 s; after 600 s the PAY queue goes
    # before the younger ASK tickets. The next call comes at 150 s; counter 1 makes 1.5 more by the
    # time counter 2 is back (600 s); the rest come from both (150 s each).
    wait = pace.wait_seconds("PAY", 5, T0, waiting={"ASK": 30})
    assert wait == pytest.approx(150 + 450 + (median(6) - 2.5) * 150)
    without = model()
    busy_hall(without, T0)
    assert without.wait_seconds("PAY", 5, T0, waiting={"ASK": 30}) == pytest.approx(
        150 + (median(6) - 1) * 300
    )


def test_after_the_last_ticket_a_shared_counter_stays_with_the_service() -> None:
    pace = model()
    for number in (1, 2):
        pace.counter_set(number, True, True, T0)
    # Counter 2 spent all its recent time on ASK, its first service: PAY gets 5 % of it.
    pace.called(2, "ASK", T0, stood=True)
    pace.leg_ended(2, "ASK", at(300))
    busy_hall(pace, at(300))
    now = at(300)
    slow = 300 / 1.05  # the next call: counter 1, and counter 2 at 5 %
    assert pace.wait_seconds("PAY", 5, now, waiting={"ASK": 0}) == pytest.approx(
        slow + (median(6) - 1) * 300 / 1.05
    )
    # Nobody arrives any more: once the ASK queue is empty, counter 2 is all PAY's.
    assert pace.wait_seconds("PAY", 5, now, waiting={"ASK": 0}, arrivals_end=now) == pytest.approx(
        slow + (median(6) - 1) * 150
    )


def test_after_the_last_ticket_only_transfers_still_jump_the_line() -> None:
    pace = model()
    pace.counter_set(2, True, True, T0)
    pace.joined("ASK")  # an elderly visitor's priority
    pace.called(2, "ASK", T0, stood=True)
    pace.called(2, "ASK", at(10), stood=True)  # (a call over a running leg: the share only)
    # One joined out of line in two calls of ASK: its queue moves slower by that share.
    slower = 1 - joins(1, 2)
    assert pace.wait_seconds("ASK", 2, at(10)) == pytest.approx(median(3) * 300 / slower)
    # After the last ticket nobody new comes to jump it (the next call is counted as before).
    assert pace.wait_seconds("ASK", 2, at(10), arrivals_end=at(10)) == pytest.approx(
        300 / slower + (median(3) - 1) * 300
    )
    carried = model()
    carried.counter_set(2, True, True, T0)
    carried.joined("ASK")  # a visitor sent on from another counter
    carried.called(2, "ASK", T0, stood=True, carried=True)
    carried.called(2, "ASK", at(10), stood=True)
    # Visitors already in the hall are still sent on after it: the pace stays as slow.
    assert carried.wait_seconds("ASK", 2, at(10), arrivals_end=at(10)) == pytest.approx(
        median(3) * 300 / slower
    )


def test_a_counter_takes_its_usual_break_once_a_day() -> None:
    pace = model()
    for day in (0, 1):  # a half-hour break at 04:00 two days running
        noon = T0.replace(hour=4) + timedelta(days=day)
        pace.counter_set(2, True, True, noon - timedelta(hours=1))
        pace.counter_set(2, False, True, noon)
        pace.counter_set(2, True, True, noon + timedelta(minutes=30))
    morning = T0.replace(hour=3) + timedelta(days=2)
    pace.called(2, "ASK", morning, stood=True)
    plain = median(21) * 300  # ASK: counter 2 alone, 300 s a call
    # At 03:00 the break is an hour away (its start as usual, give or take the least spread: 15 min
    # at four spreads away adds well under a second): the 20 ahead wait half an hour longer.
    assert pace.wait_seconds("ASK", 20, morning) == pytest.approx(plain + 1800, abs=1.0)
    # Enough ahead to be called before it: no difference.
    assert pace.wait_seconds("ASK", 5, morning) == pytest.approx(median(6) * 300)
    # Once it had today's break, no other is expected.
    back = morning + timedelta(hours=1, minutes=30)
    pace.counter_set(2, False, True, morning + timedelta(hours=1))
    pace.counter_set(2, True, True, back)
    pace.called(2, "ASK", back, stood=True)
    assert pace.wait_seconds("ASK", 20, back) == pytest.approx(plain)


def test_a_counters_own_mean_is_weighed_by_its_legs_against_the_services() -> None:
    pace = model(min_samples=5)
    moment = 0.0
    for number, length in ((1, 100), (2, 300)):
        pace.counter_set(number, True, True, at(moment))
        for _ in range(5):
            pace.called(number, "PAY", at(moment), stood=True)
            moment += length
            pace.leg_ended(number, "PAY", at(moment))
    # The service's mean: 200 s. Five legs of its own weigh 5 against 25 (clerks differ by a fifth).
    assert pace.service_seconds(1, "PAY") == pytest.approx(100 / 6 + 200 * 5 / 6)
    assert pace.service_seconds(2, "PAY") == pytest.approx(300 / 6 + 200 * 5 / 6)


def test_once_the_visitor_is_at_the_counter_the_walk_is_over() -> None:
    pace = model(min_samples=2)
    pace.counter_set(1, True, True, T0)
    moment = 0.0
    for _ in range(3):  # legs of 300 s: a 60 s walk to the counter, then 240 s of service
        pace.called(1, "PAY", at(moment), stood=True)
        pace.started(1, at(moment + 60))
        pace.leg_ended(1, "PAY", at(moment + 300))
        moment += 300
    pace.called(1, "PAY", at(moment), stood=True)
    # The visitor called is still on the way: a whole leg is ahead of the counter.
    assert pace.wait_seconds("PAY", 0, at(moment)) == pytest.approx(median(1) * 300)
    # At the counter: the service alone is left of it; the next visitor's leg is a whole one again.
    pace.started(1, at(moment + 60))
    assert pace.wait_seconds("PAY", 0, at(moment + 60)) == pytest.approx(median(1) * 240)
    assert pace.wait_seconds("PAY", 1, at(moment + 60)) == pytest.approx(240 + (median(2) - 1) * 300)
    # A start the clerk pressed late never makes the counter free at once.
    late = model(min_samples=2)
    late.counter_set(1, True, True, T0)
    for n in range(3):
        late.called(1, "PAY", at(n * 300), stood=True)
        late.started(1, at(n * 300 + 299))
        late.leg_ended(1, "PAY", at(n * 300 + 300))
    late.called(1, "PAY", at(900), stood=True)
    late.started(1, at(1199))
    assert late.wait_seconds("PAY", 0, at(1199)) == pytest.approx(median(1) * 300 * 0.2)


def test_a_counter_without_breaks_of_its_own_is_expected_to_break_when_the_hall_does() -> None:
    def hall(breaks: bool) -> PaceModel:
        pace = model()
        for day in (0, 1):  # counter 2: a half-hour break at 04:00 two days running
            noon = T0.replace(hour=4) + timedelta(days=day)
            pace.counter_set(2, True, True, noon - timedelta(hours=1))
            if breaks:
                pace.counter_set(2, False, True, noon)
                pace.counter_set(2, True, True, noon + timedelta(minutes=30))
        return pace

    morning = T0.replace(hour=3) + timedelta(days=2)
    plain = hall(False)
    both = hall(True)
    for pace in (plain, both):
        for number in (1, 2):
            pace.counter_set(number, True, True, morning)
            pace.called(number, "PAY", morning, stood=True)
    need = median(31)  # 30 ahead, two counters at 300 s: 24 calls by 04:00
    assert plain.wait_seconds("PAY", 30, morning) == pytest.approx(need * 150)
    # Counter 1 never paused: it is expected to stop at 04:00 as counter 2 does (the hall's break), so
    # both are away for the usual half hour.
    assert both.wait_seconds("PAY", 30, morning) == pytest.approx(3600 + 1800 + (need - 24) * 150, abs=2.0)


def test_tickets_past_the_age_bonus_keep_a_counter_that_prefers_the_newcomers_until_called() -> None:
    pace = model(age_bonus=timedelta(minutes=10))
    pace.counter_set(2, True, True, T0)
    for n in range(4):  # counter 2 splits its time between ASK, its first service, and PAY
        pace.called(2, "ASK", at(600 * n), stood=True)
        pace.leg_ended(2, "ASK", at(600 * n + 300))
        pace.called(2, "PAY", at(600 * n + 300), stood=True)
        pace.leg_ended(2, "PAY", at(600 * n + 600))
    pace.called(2, "ASK", at(2400), stood=True)
    counter = pace.counter(2)
    assert counter is not None and 0 < counter.share("ASK") < 1
    now = at(2400)
    plain = pace.wait_seconds("ASK", 1, now, waiting={"ASK": 1, "PAY": 0})
    assert plain == pytest.approx(300 + (median(2) - 1) * 300)
    # Two PAY visitors at the pace counter 2 gives PAY (what ASK leaves it): the queue is longer than
    # ten minutes of that pace, so its oldest tickets waited past the bonus and rank above the young
    # ASK queue. Counter 2 calls them first, at its full pace, then ASK's.
    pay_pace = (1 - counter.share("ASK")) / 300
    past = 2 - pay_pace * 600
    assert 0 < past * 300 < 600
    aged = pace.wait_seconds("ASK", 1, now, waiting={"ASK": 1, "PAY": 2})
    assert aged == pytest.approx(past * 300 + median(2) * 300)
    # However many, the newcomer is past the bonus itself after ten minutes: then ASK goes first again.
    assert pace.wait_seconds("ASK", 1, now, waiting={"ASK": 1, "PAY": 20}) == pytest.approx(
        600 + median(2) * 300
    )
    # Where ASK's own queue has waited that long, its head ranks as theirs: the preference holds.
    assert pace.wait_seconds("ASK", 4, now, waiting={"ASK": 4, "PAY": 20}) == pytest.approx(
        300 + (median(5) - 1) * 300
    )


def test_a_ticket_that_joins_out_of_line_slows_a_newcomer_for_the_part_of_its_wait_it_goes_before() -> None:
    pace = model()
    pace.counter_set(1, True, True, T0)
    for n in range(4):  # four calls while walk-ins waited; one ticket joined before one of them
        if n == 0:
            pace.joined("PAY", lag=150.0)  # a transfer whose visitor came 150 s before it joined
        pace.called(1, "PAY", at(n), stood=True)
        pace.leg_ended(1, "PAY", at(n + 0.5))
    pace.called(1, "PAY", at(10), stood=True)
    alone = median(3) * 300  # two ahead, one counter, busy: three calls at the default 300 s
    # It went before the newcomer only while the newcomer had waited less than 150 s of its wait.
    share = 150 / alone
    assert pace.wait_seconds("PAY", 2, at(10)) == pytest.approx(alone / (1 - joins(1, 5) * share))
    # A priority (no lag) goes before a newcomer however long it has waited.
    everyone = model()
    everyone.counter_set(1, True, True, T0)
    everyone.joined("PAY")
    everyone.called(1, "PAY", T0, stood=True)
    everyone.called(1, "PAY", at(10), stood=True)
    assert everyone.wait_seconds("PAY", 2, at(10)) == pytest.approx(alone / (1 - joins(1, 2)))


def test_a_call_no_walk_in_waited_for_says_nothing_of_the_line_being_jumped() -> None:
    pace = model()
    pace.counter_set(1, True, True, T0)
    pace.joined("PAY")  # a priority ticket came while nobody waited, and was called at once
    pace.called(1, "PAY", T0, stood=False)
    pace.leg_ended(1, "PAY", at(300))
    pace.called(1, "PAY", at(300), stood=True)
    assert pace.wait_seconds("PAY", 2, at(300)) == pytest.approx(median(3) * 300)


def legs_of(pace: PaceModel, lengths: list[float]) -> float:
    """Counter 1 serves PAY visitors of these lengths one after another (the start at once); the end."""
    moment = 0.0
    for length in lengths:
        pace.called(1, "PAY", at(moment), stood=False)
        pace.leg_ended(1, "PAY", at(moment + length))
        moment += length
    return moment


def test_services_that_spread_little_are_done_sooner_the_longer_they_have_run() -> None:
    pace = model(recent_legs=50)
    pace.counter_set(1, True, True, T0)
    moment = legs_of(pace, [270.0, 330.0] * 20)  # 300 s give or take a tenth: an Erlang of ten phases
    assert pace.spread("PAY") == pytest.approx(0.1)
    pace.called(1, "PAY", at(moment), stood=False)
    fresh = pace.wait_seconds("PAY", 0, at(moment))
    late = pace.wait_seconds("PAY", 0, at(moment + 240))
    assert fresh is not None and late is not None
    # Just called: about a whole service (its median, a little under 300 s). Four minutes in: about
    # a minute left, not another whole service as for exponential lengths.
    assert 270 < fresh < 300
    assert 40 < late < 90
    # Two ahead: the first call from the time the visitor at the counter has had, then two services
    # whose sum is hardly skewed.
    two = pace.wait_seconds("PAY", 2, at(moment + 240))
    assert two is not None and two == pytest.approx(
        late_mean(pace, moment + 240) + (3 - 0.1 / 3 - 1) * 300, rel=0.05
    )


def late_mean(pace: PaceModel, now_seconds: float) -> float:
    """What is left, on average, of a counter 1 service 240 s in (an Erlang of ten phases of 30 s)."""
    wait = pace.wait_seconds("PAY", 1, at(now_seconds))
    assert wait is not None
    return wait - (2 - 0.1 / 3 + 8 * 0.01 / 810 - 1) * 300


def test_exponential_services_have_no_memory_and_few_legs_say_no_spread() -> None:
    spread = model(recent_legs=50)
    spread.counter_set(1, True, True, T0)
    # Lengths spread as exponential ones do (variance = mean²): the visitor's time so far says nothing.
    lengths = [300.0 * x for x in (0.1, 0.1, 0.2, 0.4, 1.2, 4.0)] * 6
    moment = legs_of(spread, lengths)
    assert spread.spread("PAY") == 1.0
    spread.called(1, "PAY", at(moment), stood=False)
    assert spread.wait_seconds("PAY", 0, at(moment)) == spread.wait_seconds("PAY", 0, at(moment + 240))
    few = model(recent_legs=50)
    few.counter_set(1, True, True, T0)
    legs_of(few, [300.0] * 29)  # no spread at all, but too few legs to say so
    assert few.spread("PAY") == 1.0


def test_the_core_tells_the_model_who_joins_out_of_line_and_how_far_back(sqlite_url: str) -> None:
    core, now = make_core(sqlite_url)
    pace = core.pace
    core.issue("ASK")
    now[0] += timedelta(seconds=30)
    core.issue("PAY")  # a walk-in waiting for PAY
    core.call_next(2, staff="clerk2")  # counter 2 prefers ASK
    now[0] += timedelta(seconds=90)
    core.transfer(2, to_service="PAY", staff="clerk2")  # keeps the time its visitor came: 120 s back
    assert pace.joining("PAY") == (0.0, 1, (120.0,))
    core.issue("PAY", priority=5)  # a priority goes before every walk-in
    assert pace.joining("PAY") == (0.0, 2, (120.0, None))
    # Counter 1 calls the priority ticket while the walk-in waits: two joined since PAY's last call.
    core.call_next(1, staff="clerk1")
    assert pace.joining("PAY") == (2.0, 0, (120.0, None))


def test_another_process_learns_the_same_lags_from_the_events_as_the_one_that_moved_the_tickets(
    sqlite_url: str,
) -> None:
    """A transferred appointment, a re-queue and a transfer of a re-queued walk-in: the process that
    did them (its own model) and another process of a cluster (RemotePace, hearing the events as the
    relay encodes them) count the same lags; an older process's events still count as they did."""
    from server.cluster import HallRelay, RemotePace, encode
    from server.core.appointments import claim_for
    from server.core.queue import IssueRequest
    from tests.test_appointments import CLERK, RULES, local, make_desk
    from tests.test_openapi import DOC_PATH, check_schema

    desk = make_desk(sqlite_url, RULES)
    acting = desk.core
    # Another process: the same store and clock, a model of its own, fed only by what it hears.
    other = QueueCore(acting.hall, acting.store, clock=acting.clock)
    relay = HallRelay("redis://127.0.0.1:6379/0", "qcall-test", "two")  # never connects: fed by hand
    relay.remote.append(RemotePace(other))
    sent: list[tuple[str, dict[str, Any]]] = []

    def relayed(event: Any) -> None:
        body = encode(event, "one")
        sent.append((event.name, json.loads(body)["payload"]))
        relay.hear(f"{event.version} {body}")

    acting.bus.subscribe(relayed)
    try:
        booked = desk.book.book([desk.draft(time(9, 0))], CLERK)[0]
        desk.at(local(8, 40))
        appointment, how = desk.book.for_code(booked.code)
        (checked_in,) = acting.issue_many([IssueRequest("REG", appointment=claim_for(appointment, how))])
        assert not isinstance(checked_in, Exception) and checked_in.ticket.appointment == booked.id
        for minute in range(41, 46):  # five walk-ins, 8:41 to 8:45
            desk.at(local(8, minute))
            acting.issue("REG")
        desk.at(local(8, 46))
        assert acting.call_next(1, staff="clerk1").id == checked_in.ticket.id
        desk.at(local(8, 50))
        # The appointment sent on to PAY still goes before every walk-in there (its due time goes
        # with it): not ten minutes back, as the other process once counted it from its issue.
        acting.transfer(1, to_service="PAY", staff="clerk1")
        desk.at(local(8, 51))
        late = acting.call_next(1, staff="clerk1")  # the 8:41 walk-in, who does not come
        desk.at(local(8, 52))
        # Back after the third of the four waiting (8:44 and 8:45): at 8:44:30, 450 s back.
        assert acting.requeue(1, staff="clerk1").queue_at == local(8, 44) + timedelta(seconds=30)
        for minute in (53, 54, 55):  # 8:42, 8:43, 8:44
            desk.at(local(8, minute))
            acting.call_next(1, staff="clerk1")
        desk.at(local(8, 56))
        assert acting.call_next(1, staff="clerk1").id == late.id
        desk.at(local(8, 57))
        acting.transfer(1, to_service="PAY", staff="clerk1")  # from 8:44:30 (its place), not 8:41
        for service, lags in (("REG", (None, 450.0)), ("PAY", (None, 750.0))):
            assert acting.pace.joining(service)[2] == lags, service
            assert other.pace.joining(service) == acting.pace.joining(service), service
        # What the screens get too: the schema admits the place the events now carry.
        doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
        moved = [p for name, p in sent if name == "ticket_changed" and "queue_at" in p]
        assert [p["event"] for p in moved] == ["transferred", "requeued", "transferred"]
        for payload in moved:
            check_schema(doc, "TicketChangedEvent", payload)
        # An older process's events (no queue_at): a transfer counts from its issue time, as before; a
        # re-queue is not counted.
        older = QueueCore(acting.hall, acting.store, clock=acting.clock)
        hear = RemotePace(older)
        for payload in moved:
            stripped = {key: value for key, value in payload.items() if key != "queue_at"}
            hear(HallEvent("ticket_changed", stripped))
        assert older.pace.joining("REG")[2] == ()
        assert older.pace.joining("PAY")[2] == (None, (local(8, 57) - local(8, 41)).total_seconds())
    finally:
        relay.close()
        desk.store.engine.dispose()


def test_the_first_call_from_legs_that_spread_little_is_their_first_end_as_drawn() -> None:
    """The median and mean of the first end among busy counters' legs (Erlangs known to have run for a
    while), against draws of the same legs: a short leg decides it long before the longest ends."""
    from server.core.estimate import _first_call, _Leg

    draws = random.Random(7)

    def rest(mean: float, shape: int, run: float) -> float:
        while True:
            length = sum(draws.expovariate(shape / mean) for _ in range(shape))
            if length > run:
                return length - run

    cases = [
        (
            [_Leg(at(-40), 60.0, 10, 1.0), _Leg(None, 20000.0, 1, 0.6)],
            [(60.0, 10, 40.0, 1.0), (20000.0, 1, 0.0, 0.6)],
        ),
        (
            [_Leg(at(-100), 300.0, 3, 1.0), _Leg(at(-10), 200.0, 3, 0.8)],
            [(300.0, 3, 100.0, 1.0), (200.0, 3, 10.0, 0.8)],
        ),
    ]
    for legs, drawn in cases:
        firsts = sorted(
            min(
                rest(mean, shape, run) if draws.random() < chance else math.inf
                for mean, shape, run, chance in drawn
            )
            for _ in range(20000)
        )
        median = _first_call(legs, T0, 1.0, True)
        mean = _first_call(legs, T0, 1.0, False)
        assert median == pytest.approx(firsts[10000], rel=0.03)
        assert mean == pytest.approx(statistics.fmean(firsts), rel=0.03)
    # A leg that has run far longer than any service (a clerk gone without pausing) says nothing of
    # its end: it counts as a whole exponential leg from now, not as about to end.
    stale = [_Leg(at(-3 * 3600), 300.0, 10, 1.0)]
    assert _first_call(stale, T0, 1.0, True, stale=7200.0) == pytest.approx(300 * math.log(2), rel=1e-3)


def test_a_call_of_a_walk_in_counts_with_the_calls_a_newcomer_waits_for(sqlite_url: str) -> None:
    core, now = make_core(sqlite_url)
    for n in range(8):  # one priority in every four calls, each called while walk-ins wait
        core.issue("PAY", priority=5 if n % 4 == 0 else 0)
        now[0] += timedelta(seconds=1)
    for _ in range(8):
        core.call_next(1, staff="clerk1")
        now[0] += timedelta(seconds=60)
    per_call, _, _ = core.pace.joining("PAY")
    assert per_call == pytest.approx(2 / 8)  # two joined over eight calls, not over the two priority calls


def test_another_process_counts_a_priority_given_once_not_at_every_change_of_category(
    sqlite_url: str,
) -> None:
    """Staff give a waiting walk-in a priority (it now jumps the line), change its category, remove it and
    give it again: the acting process counts the two that made it a priority; another process hearing
    the events (as the relay encodes them) counts the same, not one per event."""
    from server.cluster import HallRelay, RemotePace, encode
    from tests.test_openapi import DOC_PATH, check_schema
    from tests.test_priority import make_bench

    bench = make_bench(sqlite_url)
    acting = bench.core
    other = QueueCore(acting.hall, acting.store, clock=acting.clock)
    relay = HallRelay("redis://127.0.0.1:6379/0", "qcall-test", "two")  # never connects: fed by hand
    relay.remote.append(RemotePace(other))
    sent: list[dict[str, Any]] = []

    def relayed(event: Any) -> None:
        body = encode(event, "one")
        sent.append(json.loads(body)["payload"])
        relay.hear(f"{event.version} {body}")

    acting.bus.subscribe(relayed)
    try:
        ticket = bench.issue()
        bench.issue()
        steps = (("elderly", True), ("vip", False), (None, False), ("pregnant", True))
        for category, jumps in steps:
            bench.tick()
            acting.set_priority(ticket.id, category, "核实 / checked", "clerk", "staff")
            assert sent[-1]["event"] == "priority" and sent[-1]["joined_line"] is jumps
        assert acting.pace.joining("PAY")[1] == 2
        assert other.pace.joining("PAY") == acting.pace.joining("PAY")
        doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
        for payload in sent[-4:]:
            check_schema(doc, "TicketChangedEvent", payload)
    finally:
        relay.close()
        acting.store.engine.dispose()


@pytest.mark.timeout(20)
def test_the_first_calls_median_ends_for_a_leg_longer_than_floats_can_halve_to_a_tenth() -> None:
    """A leg of 10^15 seconds (far past any the config admits): the search ends, at about its median."""
    from server.core.estimate import _first_call, _Leg

    now = datetime(2026, 12, 1, 9, 0)
    found = _first_call([_Leg(None, 1e15, 3, 1.0)], now, 1.0, True)
    assert found is not None and 0.5e15 < found < 1e15
