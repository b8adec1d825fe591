"""The supervisor's view as plain Python (server/core/supervision.py), on hand-made hall states.

What the API tests do not reach cheaply: the cap on watched waiting tickets per
service, a device that never reported (listed, not raised), an idle counter
whose moment the pace model does not know (from now on), and a closed counter
that is never idle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.core.model import Counter, CounterState, CounterStatus, Service
from server.core.queue import Hall
from server.core.supervision import (
    IDLE_AFTER,
    WATCHED_PER_SERVICE,
    DeviceState,
    HallNow,
    WaitingTicket,
    view,
)
from server.core.targets import TargetRules, Targets

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
HALL = Hall(
    "测试营业厅",
    "Test Hall",
    {"PAY": Service("PAY", "缴费", "Payment", "A")},
    {1: Counter(1, "1号窗口", "Counter 1", ("PAY",)), 2: Counter(2, "2号窗口", "Counter 2", ("PAY",))},
    targets=TargetRules(Targets(wait=timedelta(minutes=10)), {}, timedelta(minutes=3)),
    posts_required=True,
)


def hall_now(waiting: list[WaitingTicket], devices: list[DeviceState]) -> HallNow:
    return HallNow(
        now=NOW,
        queues={"PAY": {"waiting": len(waiting), "estimate_minutes": 7}},
        waiting=waiting,
        states=[CounterState(1, CounterStatus.OPEN, post="ann", post_since=None)],
        staffing=[],
        current={},
        free_since={1: None, 2: None},
        devices=devices,
    )


def test_alerts_watch_the_soonest_due_tickets_and_real_faults_only() -> None:
    waiting = [
        WaitingTicket(f"A{n:03d}", "PAY", NOW - timedelta(minutes=n), NOW + timedelta(minutes=10 - n))
        for n in range(1, 31)
    ]
    devices = [
        DeviceState("voice", "speaker", "unknown", NOW, False),
        DeviceState("front", "printer", "cover_open", NOW - timedelta(minutes=5), False),
        DeviceState("back", "printer", "online", NOW, True),
    ]
    seen = view(HALL, hall_now(waiting, devices))
    watched = [a for a in seen["alerts"] if a["kind"] == "wait_due"]
    assert len(watched) == WATCHED_PER_SERVICE
    assert {a["number"] for a in watched} == {f"A{n:03d}" for n in range(11, 31)}  # the oldest, soonest due
    assert all(a["active"] for a in watched)  # due within 3 minutes, or past
    later = WaitingTicket("A031", "PAY", NOW, NOW + timedelta(minutes=5))
    (ahead,) = [a for a in view(HALL, hall_now([later], []))["alerts"] if a["kind"] == "wait_due"]
    assert (ahead["from"], ahead["active"]) == ((NOW + timedelta(minutes=2)).isoformat(), False)
    devices_raised = [a["device"] for a in seen["alerts"] if a["kind"] == "device"]
    assert devices_raised == ["front"]
    assert len(seen["devices"]) == 3
    pay = seen["services"][0]
    assert (pay["waiting"], pay["estimate_minutes"], pay["longest_seconds"]) == (30, 7, 30 * 60)
    # Counter 1: open, nobody at it, moment unknown: idle from now, an alert from IDLE_AFTER on.
    # Counter 2: nobody on post (closed): never idle.
    idle = [a for a in seen["alerts"] if a["kind"] == "idle"]
    assert [(a["counter"], a["from"], a["active"]) for a in idle] == [
        (1, (NOW + IDLE_AFTER).isoformat(), False)
    ]
    counters = {c["number"]: c for c in seen["counters"]}
    assert counters[2]["status"] == "closed" and counters[2]["idle_since"] is None
