"""The visitor's phone: "I'm on my way" in the core, the phone's limits, and phone tickets through a real hub.

The core's no-show timer is checked at chosen moments of a hand-moved clock
(never by sleeping); the limits' windows with a fake clock; the REST side
against a hub process whose ``[phone]`` limits are small enough to reach.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from server.config import ConfigError, load_config
from server.core import events as ev
from server.core.errors import AlreadyOnTheWay, NotCalled
from server.core.model import EventKind, TicketStatus
from server.core.rules import CallRules, ServiceRules
from server.phone import HALL_KEY, PhoneCaps, PhoneLimits, PhonePass, PhoneRefusal, read_pass, write_pass
from server.store import make_engine
from server.store.limits import SqlLimits
from tests.support import (
    ADMIN_PASSWORD,
    HubProcess,
    bearer,
    login,
    provision,
    running_hub,
    write_site,
)
from tests.test_journeys import make_bench, stored_legs_match_the_log

TIMEOUT = 20

# -- the core: on my way --------------------------------------------------------------


def test_on_my_way_extends_the_no_show_wait_once_a_call(database_url: str) -> None:
    rules = CallRules(
        services={"REG": ServiceRules(no_show_after_seconds=60, max_recalls=0)}, on_my_way_seconds=180
    )
    bench = make_bench(database_url, rules)
    core = bench.core
    ticket = bench.issue()
    with pytest.raises(NotCalled):
        core.on_my_way(ticket.id)  # waiting: nobody is calling it yet
    called_at = bench.tick()
    core.call_next(1)
    assert core.counter_view(1)["current"]["on_my_way"] is False

    bench.now[0] = called_at + timedelta(seconds=30)
    bench.events.clear()
    said = core.on_my_way(ticket.id)
    assert said.on_my_way and said.public()["on_my_way"] is True
    # The console's view says so, live too: the event carries the counter's view.
    assert core.counter_view(1)["current"]["on_my_way"] is True
    [event] = bench.events
    assert (event.name, event.payload["event"]) == (ev.TICKET_CHANGED, "on_my_way")
    assert event.payload["counters"][0]["current"]["on_my_way"] is True
    with pytest.raises(AlreadyOnTheWay):
        core.on_my_way(ticket.id)  # once a call

    # Without it the call would have ended at 60 s; now it waits 60 + 180.
    assert core.expire_calls(called_at + timedelta(seconds=61)) == []
    assert core.expire_calls(called_at + timedelta(seconds=239)) == []
    assert [t.id for t in core.expire_calls(called_at + timedelta(seconds=240))] == [ticket.id]
    stored = bench.get(ticket.id)
    assert stored.status is TicketStatus.NO_SHOW
    kinds = [e.kind for e in stored.history]
    assert kinds == [EventKind.ISSUED, EventKind.CALLED, EventKind.ON_MY_WAY, EventKind.NO_SHOW]
    assert stored.history[2].detail == {"call": 1, "extra_seconds": 180}
    # Nobody's service: the legs are what the log says, one leg ended as a no-show.
    stored_legs_match_the_log(bench, ticket.id)


def test_a_recall_is_a_new_call_with_its_own_on_my_way(database_url: str) -> None:
    rules = CallRules(
        services={"REG": ServiceRules(no_show_after_seconds=60, max_recalls=1)}, on_my_way_seconds=120
    )
    bench = make_bench(database_url, rules)
    core = bench.core
    ticket = bench.issue()
    bench.tick()
    core.call_next(1)
    bench.tick(10)
    core.on_my_way(ticket.id)
    recalled_at = bench.tick(200)
    core.recall(1)
    # The recall asks again: the first call's "on my way" does not stretch this one.
    assert core.counter_view(1)["current"]["on_my_way"] is False
    assert [t.id for t in core.expire_calls(recalled_at + timedelta(seconds=60))] == [ticket.id]

    other = bench.issue()
    bench.tick()
    core.call_next(1)
    recalled_at = bench.tick(30)
    core.recall(1)
    bench.tick(5)
    core.on_my_way(other.id)  # after the recall: this call waits 60 + 120
    assert core.expire_calls(recalled_at + timedelta(seconds=179)) == []
    assert [t.id for t in core.expire_calls(recalled_at + timedelta(seconds=180))] == [other.id]


def test_on_my_way_then_served_counts_as_one_service(database_url: str) -> None:
    bench = make_bench(database_url, CallRules(no_show_after_seconds=60, max_recalls=0))
    core = bench.core
    ticket = bench.issue()
    bench.tick()
    core.call_next(1)
    bench.tick(20)
    core.on_my_way(ticket.id)
    bench.tick(60)
    core.start(1)
    assert core.counter_view(1)["current"]["on_my_way"] is False  # served: the mark has done its job
    with pytest.raises(NotCalled):
        core.on_my_way(ticket.id)
    bench.tick(60)
    core.finish(1)
    assert bench.get(ticket.id).status is TicketStatus.DONE
    stored_legs_match_the_log(bench, ticket.id)


# -- the limits (plain Python, a fake clock) -------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


DAY = date(2026, 3, 10)


def limits_on(url: str, per_day: int, per_hour: int, per_address: int, window: float) -> PhoneLimits:
    """Phone limits counted in the database at ``url`` (migrated), with a hand-moved clock."""
    caps = PhoneCaps(per_day, per_hour, per_address, window)
    return PhoneLimits(SqlLimits(make_engine(url)), lambda: caps, clock=Clock())


def _take(limits: PhoneLimits, phone: PhonePass, address: str, ticket: str) -> PhonePass | PhoneRefusal:
    reserved = limits.reserve(phone, address, DAY)
    if isinstance(reserved, PhoneRefusal):
        return reserved
    return limits.issued(reserved[0], reserved[1], ticket)


def test_limits_per_address_and_per_hour_hold_without_cookies(database_url: str) -> None:
    limits = limits_on(database_url, 5, 4, 2, 600.0)
    clock = limits.clock
    assert isinstance(clock, Clock)
    # Every request a new phone (cookies cleared): the address's window still holds.
    assert isinstance(_take(limits, PhonePass.new(), "a", "t1"), PhonePass)
    assert isinstance(_take(limits, PhonePass.new(), "a", "t2"), PhonePass)
    refusal = _take(limits, PhonePass.new(), "a", "t3")
    assert isinstance(refusal, PhoneRefusal) and refusal.code == "address_limit"
    assert refusal.retry_after == pytest.approx(600.0)
    assert " / " in refusal.message
    # Other addresses: the hall's hour holds.
    assert isinstance(_take(limits, PhonePass.new(), "b", "t4"), PhonePass)
    assert isinstance(_take(limits, PhonePass.new(), "c", "t5"), PhonePass)
    refusal = _take(limits, PhonePass.new(), "d", "t6")
    assert isinstance(refusal, PhoneRefusal) and refusal.code == "hall_hour_limit"
    assert refusal.retry_after == pytest.approx(3600.0)
    clock.now += 601
    refusal = _take(limits, PhonePass.new(), "a", "t7")  # the address's window moved on, the hour not
    assert isinstance(refusal, PhoneRefusal) and refusal.code == "hall_hour_limit"
    assert refusal.retry_after == pytest.approx(3600.0 - 601)
    clock.now += 3000
    assert isinstance(_take(limits, PhonePass.new(), "a", "t8"), PhonePass)
    # An hour on, the sweep deletes the closed windows (addresses a, b, c, the hall's second hour);
    # the phones' rows of the day stay. A closed window already counted as empty.
    clock.now += 3600
    store = limits.store
    assert store.sweep(clock.now) == 4
    assert store.window(HALL_KEY, clock.now) is None
    assert store.sweep(clock.now) == 0
    assert isinstance(_take(limits, PhonePass.new(), "a", "t9"), PhonePass)


def test_a_refused_issue_counts_against_nobody_and_an_old_cookie_resets_nothing(database_url: str) -> None:
    limits = limits_on(database_url, 2, 3, 100, 600.0)
    phone = PhonePass.new()
    reserved = limits.reserve(phone, "a", DAY)
    assert not isinstance(reserved, PhoneRefusal)
    again = limits.reserve(phone, "a", DAY)
    assert isinstance(again, PhoneRefusal) and again.code == "ticket_active"  # a second tap meanwhile
    assert again.ticket is None and again.retry_after == 2.0
    limits.release(reserved[1])  # the service was closed: the phone, the address and the hall get it back
    first = _take(limits, phone, "a", "t1")
    second = _take(limits, phone, "a", "t2")
    assert isinstance(first, PhonePass) and isinstance(second, PhonePass) and second.count == 2
    assert limits.remembered(PhonePass(phone.phone), DAY).count == 2  # a cookie lost: the hall remembers
    # The phone sends its first cookie again (count 1): the hall remembers 2.
    refusal = _take(limits, first, "a", "t3")
    assert isinstance(refusal, PhoneRefusal) and refusal.code == "phone_day_limit"
    assert "2" in refusal.message
    # The hall's hour (3) had the released reservation back: one more passes, then no more.
    assert isinstance(_take(limits, PhonePass.new(), "b", "t4"), PhonePass)
    refusal = _take(limits, PhonePass.new(), "c", "t5")
    assert isinstance(refusal, PhoneRefusal) and refusal.code == "hall_hour_limit"
    # The next business day starts the phone's count afresh (the hour still binds the hall).
    assert limits.remembered(first, DAY + timedelta(days=1)).count == 0
    # A cookie that says more than the hall knows (another hall's database, a swept row) is believed.
    limits.clock.now += 3601  # type: ignore[attr-defined]
    told = PhonePass(PhonePass.new().phone, DAY.isoformat(), 2)
    refusal = _take(limits, told, "d", "t6")
    assert isinstance(refusal, PhoneRefusal) and refusal.code == "phone_day_limit"
    assert isinstance(_take(limits, PhonePass.new(), "d", "t7"), PhonePass)  # nothing kept of it


def test_a_phone_with_a_ticket_in_the_queue_waits_for_it_whatever_its_cookie_says(database_url: str) -> None:
    bench = make_bench(database_url)
    limits = limits_on(database_url, 5, 100, 100, 600.0)
    ticket = bench.issue()
    phone = PhonePass.new()
    taken = _take(limits, phone, "a", ticket.id)
    assert isinstance(taken, PhonePass) and taken.last_ticket == ticket.id
    # The cookie lost (or an old copy without the ticket): the hall still knows the phone's ticket.
    refusal = _take(limits, phone, "a", "t2")
    assert isinstance(refusal, PhoneRefusal) and refusal.code == "ticket_active"
    assert refusal.ticket == ticket.id
    bench.tick()
    bench.core.call_next(1)  # at the counter: still the phone's active ticket
    refusal = _take(limits, phone, "a", "t2")
    assert isinstance(refusal, PhoneRefusal) and refusal.ticket == ticket.id
    bench.core.start(1)
    bench.core.finish(1)
    assert isinstance(_take(limits, phone, "a", "t2"), PhonePass)
    # A new business day: the cookie's ticket (carried over, still waiting) binds the phone.
    carried = bench.issue()
    tomorrow = limits.reserve(PhonePass(phone.phone, DAY.isoformat(), 1, carried.id), "a", DAY + timedelta(1))
    assert isinstance(tomorrow, PhoneRefusal) and tomorrow.ticket == carried.id


def test_the_cookie_is_signed() -> None:
    phone = PhonePass("abc", "2026-03-10", 2, "t1")
    cookie = write_pass("secret", phone)
    assert read_pass("secret", cookie) == phone
    assert read_pass("another secret", cookie).phone != "abc"  # forged or foreign: a new phone
    assert read_pass("secret", cookie[:-2] + "xx").phone != "abc"
    assert read_pass("secret", None).count == 0


def test_phone_config_is_checked(tmp_path: Path, sqlite_url: str) -> None:
    path = write_site(tmp_path / "site.toml", sqlite_url, 1)
    path.write_text(path.read_text() + "\n[phone]\nenabled = true\ntickets_per_day = 0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and "phone.tickets_per_day" in message and "site.toml" in message
    path.write_text(path.read_text().replace("tickets_per_day = 0", "on_my_way_minutes = 5"))
    config = load_config(path)
    assert config.phone.enabled and config.call_rules().on_my_way_seconds == 300


# -- through a real hub ----------------------------------------------------------------

PHONE_TOML = """
[phone]
enabled = true
on_my_way_minutes = 3
tickets_per_day = 2
tickets_per_hour = 6
tickets_per_address = 4
address_window_minutes = 30
"""


@pytest.fixture(scope="module")
def phone_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Any]]:
    tmp = tmp_path_factory.mktemp("phone")
    path = write_site(tmp / "site.toml", f"sqlite:///{tmp / 'qcall.db'}", 2)
    # trusted_proxies: the test stands for several client addresses (loopback ones) via X-Forwarded-For.
    text = path.read_text().replace("[hub]\n", "[hub]\ntrusted_proxies = 1\n", 1)
    path.write_text(text + PHONE_TOML)
    creds = provision(path, 2)
    with running_hub(path, tmp) as process:
        yield process, creds


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def take(phone: requests.Session, hub: HubProcess, address: str, service: str = "PAY") -> requests.Response:
    return phone.post(
        f"{hub.url}/api/v1/phone/tickets", json={"service": service}, headers=_from(address), timeout=TIMEOUT
    )


def refused(answer: requests.Response, code: str, status: int = 429) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code and " / " in body["error"], body  # a visitor reads it: both languages
    return body


def test_phone_tickets_within_their_limits_are_kiosk_tickets_at_the_counter(phone_hub: Any) -> None:
    hub, creds = phone_hub
    page = requests.get(f"{hub.url}/api/v1/phone", timeout=TIMEOUT).json()
    assert page["enabled"] is True and page["ticket"] is None
    assert [s["code"] for s in page["services"]] == ["PAY", "ASK"]
    assert page["services"][0]["waiting"] == 0

    phone = requests.Session()
    first = take(phone, hub, "127.0.0.1")
    assert first.status_code == 201, first.text
    ticket = first.json()
    assert ticket["status_url"].endswith(f"/t/{ticket['id']}") and ticket["print"]["state"] == "none"
    cookie = next(c for c in phone.cookies if c.name == "qcall_phone")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.expires is not None
    assert cookie.value.count(".") == 1  # itsdangerous: payload.signature (HttpOnly: no script reads it)
    # One active ticket at a time: the refusal names it, so the page can go back to it.
    body = refused(take(phone, hub, "127.0.0.1"), "ticket_active")
    assert body["ticket"]["id"] == ticket["id"]
    mine = phone.get(f"{hub.url}/api/v1/phone", timeout=TIMEOUT).json()
    assert mine["ticket"]["id"] == ticket["id"] and mine["services"][0]["waiting"] == 1
    # Cancelled, it may take another; two a day.
    assert requests.post(f"{hub.url}/api/v1/tickets/{ticket['id']}/cancel", json={}, timeout=TIMEOUT).ok
    second = take(phone, hub, "127.0.0.1")
    assert second.status_code == 201, second.text
    requests.post(f"{hub.url}/api/v1/tickets/{second.json()['id']}/cancel", json={}, timeout=TIMEOUT)
    refused(take(phone, hub, "127.0.0.1"), "phone_day_limit")

    # A flooder clearing cookies: each request a new phone; the address's cap holds.
    kept = [take(requests.Session(), hub, "127.0.0.1") for _ in range(2)]
    assert [a.status_code for a in kept] == [201, 201]
    answer = take(requests.Session(), hub, "127.0.0.1")
    refused(answer, "address_limit")
    assert int(answer.headers["Retry-After"]) > 0
    # Other addresses: the hall's hour holds (6: two cancelled, two kept, two more).
    assert take(requests.Session(), hub, "127.0.0.2").status_code == 201
    assert take(requests.Session(), hub, "127.0.0.3", "ASK").status_code == 201
    refused(take(requests.Session(), hub, "127.0.0.4"), "hall_hour_limit")
    # Unknown services and bad bodies are 400s, not a ticket and not a 500.
    assert take(requests.Session(), hub, "127.0.0.5", "NOPE").status_code == 400
    assert (
        requests.post(f"{hub.url}/api/v1/phone/tickets", json={"service": 5}, timeout=TIMEOUT).status_code
        == 400
    )

    # At the counter: called, "on my way", served and finished like a kiosk ticket.
    token = login(hub.url, creds.clerks[1], 1)
    called = requests.post(f"{hub.url}/api/v1/counters/1/call-next", headers=bearer(token), timeout=TIMEOUT)
    current = called.json()["ticket"]
    assert current["id"] == kept[0].json()["id"], "the first phone ticket still waiting is called first"
    way = requests.post(f"{hub.url}/api/v1/tickets/{current['id']}/on-my-way", json={}, timeout=TIMEOUT)
    assert way.status_code == 200 and way.json()["on_my_way"] is True, way.text
    view = requests.get(f"{hub.url}/api/v1/counters/1", headers=bearer(token), timeout=TIMEOUT).json()
    assert view["counter"]["current"]["on_my_way"] is True
    again = requests.post(f"{hub.url}/api/v1/tickets/{current['id']}/on-my-way", json={}, timeout=TIMEOUT)
    refused(again, "already_on_the_way", 409)
    waiting = requests.post(f"{hub.url}/api/v1/tickets/{kept[1].json()['id']}/on-my-way", timeout=TIMEOUT)
    refused(waiting, "not_called", 409)
    for action in ("start", "finish"):
        done = requests.post(f"{hub.url}/api/v1/counters/1/{action}", headers=bearer(token), timeout=TIMEOUT)
        assert done.ok, done.text
    served = requests.get(f"{hub.url}/api/v1/tickets/{current['id']}", timeout=TIMEOUT).json()
    assert served["status"] == "done"
    assert "issued_by" not in served["history"][0]["detail"]  # the issuer stays off public pages
    with sqlite3.connect(hub.workdir / "qcall.db") as db:
        (detail,) = db.execute(
            "SELECT detail FROM ticket_events WHERE ticket_id = ? AND kind = 'issued'", (current["id"],)
        ).fetchone()
    assert json.loads(detail)["issued_by"] == "phone"  # the channel, nothing about the visitor
    assert [h["kind"] for h in served["history"]] == ["issued", "called", "on_my_way", "started", "finished"]

    # The statistics count it as one issued and one served, like a kiosk's.
    admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    stats = requests.get(
        f"{hub.url}/api/v1/stats",
        params={"from": today, "by": "service"},
        headers=bearer(admin),
        timeout=TIMEOUT,
    ).json()
    total = stats["total"]
    assert total["tickets"] == {
        "issued": 6,
        "served": 1,
        "cancelled": 2,
        "no_show": 0,
        "transferred": 0,
        "transferred_in": 0,
    }, total
    assert total["service_time"]["count"] == 1  # "on my way" is nobody's service: one leg served
    assert "Traceback" not in hub.log()


def test_phone_tickets_are_off_unless_the_hall_says_so(hub: HubProcess) -> None:
    page = requests.get(f"{hub.url}/api/v1/phone", timeout=TIMEOUT).json()
    assert page["enabled"] is False
    answer = requests.post(f"{hub.url}/api/v1/phone/tickets", json={"service": "PAY"}, timeout=TIMEOUT)
    refused(answer, "phone_off", 404)
