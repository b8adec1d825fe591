"""Socket.IO against a real hub process: the snapshot on connect, the live events, who gets what.

Clients are python-socketio's ``socketio.Client`` over the websocket transport,
as a lobby screen's browser would use it. Every wait is on a queue or an event
with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import socketio

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import HubProcess, bearer, issue, login
from tests.waiting import SocketListener

pytestmark = pytest.mark.slow

#: Generous: a loaded two-core machine may take a while to deliver an event.
WAIT = 20
HTTP_TIMEOUT = 20


class Listener(SocketListener):
    """A Socket.IO client on ``hub`` that records every event it receives, in order."""

    def __init__(self, hub: HubProcess, auth: dict[str, Any] | None) -> None:
        super().__init__(hub.url, auth, timeout=WAIT)
        self.hub = hub


@contextmanager
def listening(hub: HubProcess, auth: dict[str, Any] | None) -> Iterator[Listener]:
    listener = Listener(hub, auth)
    listener.connect()
    try:
        yield listener
    finally:
        listener.disconnect()


def act(hub: HubProcess, token: str, counter: int, action: str, **body: Any) -> dict[str, Any]:
    answer = requests.post(
        f"{hub.url}/api/v1/counters/{counter}/{action}",
        json=body or None,
        headers=bearer(token),
        timeout=HTTP_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def connections(hub: HubProcess) -> int:
    return requests.get(f"{hub.url}/api/v1/health", timeout=HTTP_TIMEOUT).json()["connections"]


def wait_connections(hub: HubProcess, expected: int, deadline_s: float = 30) -> None:
    """Poll /health until the hub counts ``expected`` sockets, or fail at the deadline."""
    deadline = time.monotonic() + deadline_s
    count = connections(hub)
    while count != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"/health shows {count} connections, expected {expected}")
        time.sleep(0.1)  # a poll interval, not a wait for something to happen
        count = connections(hub)


def assert_snapshot(data: Any) -> None:
    assert isinstance(data, dict), data
    assert set(data) >= {"site", "business_day", "services", "counters", "recent_calls"}, data.keys()
    assert {s["code"] for s in data["services"]} == {"PAY", "ASK"}


# -- displays ------------------------------------------------------------------


def test_display_gets_snapshot_then_live_events(hub: HubProcess, site: Any) -> None:
    clerk = login(hub.url, "clerk1", 1)
    issue(hub, site.creds.kiosk, "ASK")  # something in the hall before the screen connects
    with listening(hub, {"token": site.creds.display}) as screen:
        name, snapshot = screen.next()
        assert name == "snapshot", f"the first event was {name!r}, not the snapshot"
        assert_snapshot(snapshot)
        assert {s["code"]: s["waiting"] for s in snapshot["services"]} == {"PAY": 0, "ASK": 1}
        assert snapshot["site"]["name_zh"] == "测试营业厅" and snapshot["site"]["timezone"] == "Asia/Shanghai"
        version = snapshot["v"]
        assert version >= 1  # the ticket issued before

        # ticket_issued: the ticket, the next version, and the service it changed. (An event the
        # snapshot already reflects may still come after it: its version is not newer.)
        ticket = issue(hub, site.creds.kiosk, "PAY")
        issued = screen.wait_for("ticket_issued", newer(version))
        assert issued["ticket"]["id"] == ticket["id"] and issued["ticket"]["number"] == "A001"
        assert issued["waiting_ahead"] == 0
        assert "queue" not in issued
        assert (issued["v"], issued["day"]) == (version + 1, snapshot["business_day"])
        assert issued["services"] == [
            {
                "code": "PAY",
                "waiting": 1,
                "next_numbers": ["A001"],
                "next_tickets": [{"number": "A001", "priority": False, "appointment": False}],
                # clerk1's login put them on post: counter 1 is open and free, A001 will go to it,
                # and a newcomer waits one 5-minute service after it (its median, 3).
                "estimate_minutes": 3,
            }
        ]

        # ticket_called: the number, the counter, its new view, the call, and the service.
        act(hub, clerk, 1, "call-next")
        called = screen.wait_for("ticket_called", newer(version))
        assert called["v"] == version + 2
        assert called["ticket"]["id"] == ticket["id"] and called["ticket"]["number"] == "A001"
        assert called["ticket"]["status"] == "called"
        assert called["counter"] == {"number": 1, "name_zh": "1号窗口", "name_en": "Counter 1"}
        assert called["service"] == {"code": "PAY", "name_zh": "电费缴纳", "name_en": "Bill payment"}
        assert called["recall"] is False
        call = called["call"]
        assert (call["ticket_id"], call["number"], call["counter"], call["recall"]) == (
            ticket["id"],
            "A001",
            1,
            False,
        )
        assert [(c["number"], c["current"]["id"]) for c in called["counters"]] == [(1, ticket["id"])]
        # Counter 1 is the one open, now busy: a newcomer waits one 5-minute service (its median, 3).
        # Its other service, ASK, comes too: its estimate moved with counter 1 busy now
        # (one waiting: the service at the counter, then most of another, 8 minutes).
        assert called["services"] == [
            {
                "code": "ASK",
                "waiting": 1,
                "next_numbers": ["B0001"],
                "next_tickets": [{"number": "B0001", "priority": False, "appointment": False}],
                "estimate_minutes": 8,
            },
            {"code": "PAY", "waiting": 0, "next_numbers": [], "next_tickets": [], "estimate_minutes": 3},
        ]
        assert "finished" not in called

        # ticket_recalled: the same, with recall true; no queue changed.
        act(hub, clerk, 1, "recall")
        recalled = screen.wait_for("ticket_recalled")
        assert recalled["ticket"]["id"] == ticket["id"] and recalled["recall"] is True
        assert recalled["ticket"]["call_count"] == 2
        assert recalled["counter"]["number"] == 1
        assert (recalled["call"]["ticket_id"], recalled["call"]["recall"]) == (ticket["id"], True)
        assert "services" not in recalled

        # One ticket_changed per action for the rest of the ticket's life, with the counter's view.
        act(hub, clerk, 1, "start")
        started = screen.wait_for("ticket_changed")
        assert (started["ticket"]["id"], started["event"]) == (ticket["id"], "started")
        assert started["counters"][0]["current"]["status"] == "serving"
        act(hub, clerk, 1, "finish")
        finished = screen.wait_for("ticket_changed", lambda d: d["event"] == "finished")
        assert finished["ticket"]["status"] == "done"
        assert [(c["number"], c["current"]) for c in finished["counters"]] == [(1, None)]

        act(hub, clerk, 1, "pause")
        paused = screen.wait_for("counter_changed")
        assert paused["counter"] == 1 and paused["counters"][0]["status"] == "paused"
        assert paused["v"] == version + 6, "one event per action: issue, call, recall, start, finish, pause"

    # The hub kept its log clean.
    assert "Traceback" not in hub.log(), hub.log()[-4000:]


def test_call_next_is_one_event_carrying_the_finished_ticket(hub: HubProcess, site: Any) -> None:
    clerk = login(hub.url, "clerk1", 1)
    first, second = issue(hub, site.creds.kiosk, "PAY"), issue(hub, site.creds.kiosk, "PAY")
    act(hub, clerk, 1, "call-next")
    act(hub, clerk, 1, "start")  # served, so call-next finishes it (a visitor never started: a no-show)
    with (
        listening(hub, {"token": site.creds.display}) as screen,
        listening(hub, {"ticket": first["id"]}) as phone,
        listening(hub, {"ticket": second["id"]}) as second_phone,
    ):
        version = screen.wait_for("snapshot")["v"]
        act(hub, clerk, 1, "call-next")
        called = screen.wait_for("ticket_called", newer(version))
        assert called["v"] == version + 1
        assert (called["ticket"]["id"], called["finished"]["id"]) == (second["id"], first["id"])
        assert called["finished"]["status"] == "done"
        # The phone of the finished ticket hears its own finish, as before.
        # (Its "started" may still be on its way: the phone joined just after the start.)
        done = phone.wait_for("ticket_changed", lambda data: data["event"] != "started")
        assert done == {"ticket": called["finished"], "event": "finished"}
        # Nobody left: the finish comes with counter_changed (and the answer is 404 nobody_waiting).
        nobody = requests.post(
            f"{hub.url}/api/v1/counters/1/call-next", headers=bearer(clerk), timeout=HTTP_TIMEOUT
        )
        assert nobody.json()["code"] == "nobody_waiting"
        freed = screen.wait_for("counter_changed", newer(version))
        assert freed["v"] == version + 2 and freed["finished"]["id"] == second["id"]
        # The second was called and never started: a no-show, and its phone hears it so.
        assert freed["finished"]["status"] == "no_show"
        news = second_phone.wait_for("ticket_changed", lambda data: data["event"] != "started")
        assert news == {"ticket": freed["finished"], "event": "no_show"}
        assert freed["counters"][0]["current"] is None
        screen.drain()
        # None after the snapshot (the clerk's "start" may arrive late, but the snapshot had it).
        changed = [d for name, d in screen.seen if name == "ticket_changed" and d["v"] > version]
        assert changed == [], screen.names()


def newer(version: int) -> Any:
    """A match for wait_for: a hall event after ``version`` (one the snapshot had may come after it)."""
    return lambda data: data["v"] > version


def apply_delta(snapshot: dict[str, Any], delta: dict[str, Any]) -> None:
    """What qcall.js's applyDelta does, in Python: the test's own reading of the contract."""
    by_code = {s["code"]: s for s in snapshot["services"]}
    for service in delta.get("services", []):
        by_code[service["code"]].update(service)
    for view in delta.get("counters", []):
        snapshot["counters"] = [view if c["number"] == view["number"] else c for c in snapshot["counters"]]
    if "call" in delta:
        snapshot["recent_calls"] = (
            [delta["call"]] + [c for c in snapshot["recent_calls"] if c != delta["call"]]
        )[:10]
    snapshot["v"] = delta["v"]


def test_a_screen_that_misses_a_version_asks_for_the_snapshot(hub: HubProcess, site: Any) -> None:
    """Deltas applied in order give the hub's snapshot; a gap is mended by asking for it again."""
    clerk = login(hub.url, "clerk1", 1)
    for _ in range(3):
        issue(hub, site.creds.kiosk, "PAY")
    with listening(hub, {"token": site.creds.display}) as screen:
        mine = screen.wait_for("snapshot")
        act(hub, clerk, 1, "call-next")
        issue(hub, site.creds.kiosk, "ASK")
        act(hub, clerk, 1, "call-next")
        act(hub, clerk, 1, "pause")
        names = ("ticket_called", "ticket_issued", "ticket_called", "counter_changed")
        deltas = [screen.wait_for(name, newer(mine["v"])) for name in names]
        assert [d["v"] for d in deltas] == [mine["v"] + k for k in range(1, 5)]
        # A screen that missed the second one sees from its version that it must ask.
        assert deltas[2]["v"] != deltas[0]["v"] + 1
        for delta in deltas:
            apply_delta(mine, delta)
        screen.client.emit("snapshot")
        fresh = screen.wait_for("snapshot")
        assert fresh["v"] == deltas[-1]["v"]
        assert mine == fresh
        assert (
            fresh
            == requests.get(
                f"{hub.url}/api/v1/queue", headers=bearer(site.creds.display), timeout=HTTP_TIMEOUT
            ).json()
        )


def test_a_burst_of_tickets_reaches_the_screens_whole(hub: HubProcess, site: Any) -> None:
    """Tickets issued faster than they are sent may be merged (from..v); the versions still add up."""
    with listening(hub, {"token": site.creds.display}) as screen:
        version = screen.wait_for("snapshot")["v"]
        errors: list[str] = []

        def kiosk(service: str) -> None:
            try:
                for _ in range(40):
                    issue(hub, site.creds.kiosk, service)
            except Exception as exc:  # noqa: BLE001  reported by the asserting thread
                errors.append(repr(exc))

        kiosks = [threading.Thread(target=kiosk, args=(s,)) for s in ("PAY", "ASK", "PAY", "ASK")]
        for thread in kiosks:
            thread.start()
        for thread in kiosks:
            thread.join(120)
        assert not errors, errors
        last = version
        while last < version + 160:
            issued = screen.wait_for("ticket_issued")
            assert issued.get("from", issued["v"]) == last + 1, (last, issued)
            assert issued.get("issued", 1) == issued["v"] - issued.get("from", issued["v"]) + 1
            last = issued["v"]
        waiting = {s["code"]: s["waiting"] for s in issued["services"]}
        assert waiting == {"PAY": 80, "ASK": 80} or set(waiting) < {"PAY", "ASK"}, waiting


def test_phones_and_agents_may_not_ask_for_the_snapshot(hub: HubProcess, site: Any) -> None:
    ticket = issue(hub, site.creds.kiosk, "PAY")
    with (
        listening(hub, {"ticket": ticket["id"]}) as phone,
        listening(hub, {"token": site.creds.display}) as screen,
    ):
        screen.wait_for("snapshot")
        phone.client.emit("snapshot")
        screen.client.emit("snapshot")
        screen.wait_for("snapshot")
        # The hub answers in order: had it answered the phone, the phone would have it by now.
        issue(hub, site.creds.kiosk, "PAY")
        screen.wait_for("ticket_issued")
        # No snapshot: only which services moved (the ticket issued), as every phone hears.
        assert [name for name, _ in phone.all()] in ([], ["queue_moved"]), phone.all()


def test_events_arrive_in_order(hub: HubProcess, site: Any) -> None:
    """Twenty tickets issued one after another reach the screen in order, every version accounted for.

    Tickets that come within the broadcaster's batch gap of each other may arrive
    merged (``from``..``v``, the newest ticket as ``ticket``).
    """
    with listening(hub, {"token": site.creds.display}) as screen:
        version = start = screen.wait_for("snapshot")["v"]
        numbers = [issue(hub, site.creds.kiosk, "PAY")["number"] for _ in range(20)]
        received = []
        while version < start + 20:
            issued = screen.wait_for("ticket_issued")
            assert issued.get("from", issued["v"]) == version + 1, issued
            version = issued["v"]
            received.append(issued["ticket"]["number"])
        assert received == sorted(received) and received[-1] == numbers[-1]
        assert set(received) <= set(numbers)


def test_staff_and_kiosk_get_events_too(hub: HubProcess, site: Any) -> None:
    clerk = login(hub.url, "clerk2", 2)
    with listening(hub, {"token": clerk}) as console, listening(hub, {"token": site.creds.kiosk}) as kiosk:
        for listener in (console, kiosk):
            name, snapshot = listener.next()
            assert name == "snapshot"
            assert_snapshot(snapshot)
        ticket = issue(hub, site.creds.kiosk, "ASK")
        for listener in (console, kiosk):
            issued = listener.wait_for("ticket_issued")
            assert issued["ticket"]["id"] == ticket["id"] and issued["services"][0]["waiting"] == 1
        act(hub, clerk, 2, "call-next")
        for listener in (console, kiosk):
            called = listener.wait_for("ticket_called")
            assert called["ticket"]["id"] == ticket["id"] and called["counter"]["number"] == 2


# -- refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(None, id="no auth"),
        pytest.param({}, id="empty auth"),
        pytest.param({"token": ""}, id="empty token"),
        pytest.param({"token": "qd_display_wrong"}, id="wrong device token"),
        pytest.param({"token": "qs_wrong"}, id="wrong staff token"),
        pytest.param({"token": 42}, id="token not a string"),
    ],
)
def test_connection_without_valid_token_is_refused(hub: HubProcess, auth: dict[str, Any] | None) -> None:
    baseline = connections(hub)
    listener = Listener(hub, auth)
    with pytest.raises(socketio.exceptions.ConnectionError):
        listener.connect()
    try:
        assert refusal_message(listener) == "unauthorized"
    finally:
        listener.disconnect()
    assert not listener.all(), "a refused connection received events"
    wait_connections(hub, baseline)


def test_logged_out_staff_token_is_refused(hub: HubProcess) -> None:
    clerk = login(hub.url, "clerk1", 1)
    answer = requests.post(f"{hub.url}/api/v1/auth/logout", headers=bearer(clerk), timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200
    listener = Listener(hub, {"token": clerk})
    with pytest.raises(socketio.exceptions.ConnectionError):
        listener.connect()
    listener.disconnect()


def refusal_message(listener: Listener) -> Any:
    refusal = listener.refusals.get(timeout=WAIT)
    return refusal.get("message") if isinstance(refusal, dict) else refusal


def test_unknown_ticket_is_refused(hub: HubProcess) -> None:
    listener = Listener(hub, {"ticket": "no-such-ticket"})
    with pytest.raises(socketio.exceptions.ConnectionError):
        listener.connect()
    try:
        assert refusal_message(listener) == "unknown_ticket"
    finally:
        listener.disconnect()


def test_agent_token_is_kept_out_of_the_hall(hub: HubProcess, site: Any) -> None:
    """An agent connects for its print jobs, but hears nothing of the queue."""
    made = bootstrap(load_config(site.config_path))
    agent = made.accounts.create_device_token("agent", "test-agent", utc_now())
    made.store.engine.dispose()
    with (
        listening(hub, {"token": agent}) as listener,
        listening(hub, {"token": site.creds.display}) as screen,
    ):
        screen.wait_for("snapshot")
        issue(hub, site.creds.kiosk, "PAY")
        screen.wait_for("ticket_issued")  # the broadcast has gone out to every room by now
        assert not listener.all(), f"an agent heard the hall: {listener.all()}"


# -- a visitor's phone -----------------------------------------------------------


def test_visitor_gets_only_its_own_ticket(hub: HubProcess, site: Any) -> None:
    clerk = login(hub.url, "clerk1", 1)
    first = issue(hub, site.creds.kiosk, "PAY")
    mine = issue(hub, site.creds.kiosk, "PAY")
    with (
        listening(hub, {"ticket": mine["id"]}) as phone,
        listening(hub, {"token": site.creds.display}) as screen,
    ):
        assert screen.next()[0] == "snapshot"
        # Others' tickets: issued, called, finished. The phone must hear none of it.
        issue(hub, site.creds.kiosk, "ASK")
        act(hub, clerk, 1, "call-next")  # calls `first`
        assert screen.wait_for("ticket_called")["ticket"]["id"] == first["id"]
        # Now mine: call-next finishes `first` and calls `mine`.
        act(hub, clerk, 1, "call-next")
        called = phone.wait_for("ticket_called")
        assert called["ticket"]["id"] == mine["id"] and called["ticket"]["number"] == "A002"
        assert called["counter"]["number"] == 1 and called["recall"] is False
        act(hub, clerk, 1, "recall")
        recalled = phone.wait_for("ticket_recalled")
        assert recalled["ticket"]["id"] == mine["id"] and recalled["recall"] is True
        act(hub, clerk, 1, "start")
        started = phone.wait_for("ticket_changed")
        assert (started["ticket"]["id"], started["event"]) == (mine["id"], "started")
        # The screen saw everything up to here, so the phone has had every event it will get.
        screen.wait_for("ticket_changed", lambda d: d["event"] == "started")

    # Events leave the hub in order, so anything about other tickets would have come before these.
    phone.drain()
    names = [name for name in phone.names() if name != "queue_moved"]
    assert names == ["ticket_called", "ticket_recalled", "ticket_changed"], names
    for name, data in phone.seen:
        if name == "queue_moved":  # which services moved, and nothing else of the hall
            assert set(data) == {"services", "day"} and set(data["services"]) <= {"PAY", "ASK"}, data
            continue
        assert data["ticket"]["id"] == mine["id"], (name, data)
        assert not set(data) & {"queue", "counters", "call", "services", "v"}, (
            f"the phone got the hall's {name}"
        )


def test_visitor_of_another_ticket_hears_nothing(hub: HubProcess, site: Any) -> None:
    clerk = login(hub.url, "clerk1", 1)
    called = issue(hub, site.creds.kiosk, "PAY")
    bystander = issue(hub, site.creds.kiosk, "ASK")
    with (
        listening(hub, {"ticket": bystander["id"]}) as phone,
        listening(hub, {"ticket": called["id"]}) as theirs,
    ):
        act(hub, clerk, 1, "call-next")
        assert theirs.wait_for("ticket_called")["ticket"]["id"] == called["id"]
        act(hub, clerk, 1, "no-show")
        assert theirs.wait_for("ticket_changed")["event"] == "no_show"
        # ...and a final event to the bystander, which the hub sends after everything above.
        act(hub, clerk, 1, "call-next")
        assert phone.wait_for("ticket_called")["ticket"]["id"] == bystander["id"]
    phone.drain()
    assert [name for name in phone.names() if name != "queue_moved"] == ["ticket_called"], phone.names()
    assert all(set(data) == {"services", "day"} for name, data in phone.seen if name == "queue_moved")


# -- reconnects ------------------------------------------------------------------


def test_fifty_reconnects_leave_no_connection_behind(hub: HubProcess, site: Any) -> None:
    """Screens and phones that flap: 50 connects and disconnects, five clients at a time.

    (Five at a time because each disconnect may wait up to 3 s for the hub's
    answer to the WebSocket close frame; see the report on this test file.)
    """
    baseline = connections(hub)
    ticket = issue(hub, site.creds.kiosk)
    problems: list[str] = []

    def flap(worker: int) -> None:
        for i in range(10):
            auth = {"ticket": ticket["id"]} if i % 5 == 4 else {"token": site.creds.display}
            listener = Listener(hub, auth)
            try:
                listener.connect()
                if "token" in auth:
                    # A screen that reconnects draws itself again from a fresh snapshot.
                    name, data = listener.next()
                    assert name == "snapshot", name
                    assert_snapshot(data)
            except Exception as exc:  # noqa: BLE001  reported below, with the worker and round
                problems.append(f"worker {worker}, round {i}: {type(exc).__name__}: {exc}")
            finally:
                listener.disconnect()

    workers = [threading.Thread(target=flap, args=(w,), daemon=True) for w in range(5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(240)
        assert not worker.is_alive(), "a reconnecting client is stuck"
    assert not problems, problems
    wait_connections(hub, baseline)
    # The hub still serves live events after all that.
    with listening(hub, {"token": site.creds.display}) as screen:
        assert screen.next()[0] == "snapshot"
        wait_connections(hub, baseline + 1)
        issue(hub, site.creds.kiosk)
        assert screen.wait_for("ticket_issued")["ticket"]["number"] == "A002"
    wait_connections(hub, baseline)
