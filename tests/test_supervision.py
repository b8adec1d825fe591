"""The supervisor's view as plain Python (server/core/supervision.py), on hand-made hall states.

What the API tests do not reach cheaply: the cap on watched waiting tickets per
service, a device that never reported (listed, not raised), an idle counter
whose moment the pace model does not know (from now on), and a closed counter
that is never idle.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

from server.core.model import Counter, CounterState, CounterStatus, Service
from server.core.queue import Hall
from server.core.supervision import (
    IDLE_AFTER,
    WATCHED_PER_SERVICE,
    CaseDue,
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


def test_the_case_alerts_count_every_overdue_case_and_name_the_next_to_fall_due_without_a_count() -> None:
    """1,200 overdue (beyond any list's 500): the overdue alert says so and names the oldest; the next
    case to fall due is its own alert, listed ahead, naming that case with no count to contradict it."""
    oldest = CaseDue(
        "K7M2Q-X9HD4",
        "业扩报装",
        "New connection",
        "现场勘查",
        "Site survey",
        "li",
        date(2026, 3, 1),
        datetime(2026, 3, 1, 16, 0, tzinfo=UTC),
    )
    following = dataclasses.replace(
        oldest, code="P3R8T-W2KD6", owner=None, due_on=date(2026, 3, 10), due_at=NOW + timedelta(hours=14)
    )
    now = dataclasses.replace(
        hall_now([], []), cases_overdue_count=1200, case_oldest=oldest, case_next=following
    )
    alerts = [a for a in view(HALL, now)["alerts"] if a["kind"] == "case_overdue"]
    late, ahead = sorted(alerts, key=lambda a: a["key"], reverse=True)
    assert (late["key"], late["count"], late["code"], late["active"]) == (
        "cases_overdue",
        1200,
        oldest.code,
        True,
    )
    assert late["zh"].startswith("1200 件事项逾期，最早：业扩报装 K7M2Q-X9HD4「现场勘查」")
    assert late["en"].startswith("1200 case(s) overdue; the oldest: New connection K7M2Q-X9HD4")
    assert (ahead["key"], ahead["active"], ahead["from"]) == (
        "case_due:P3R8T-W2KD6",
        False,
        following.due_at.isoformat(),
    )
    assert "count" not in ahead and "逾期" not in ahead["zh"] and "overdue" not in ahead["en"]
    assert (
        ahead["zh"].startswith("下一件到期：业扩报装 P3R8T-W2KD6「现场勘查」")
        and "2026-03-10 到期" in ahead["zh"]
    )
    assert ahead["en"].startswith("Next case falls due at the end of 2026-03-10: New connection P3R8T-W2KD6")

    # Nothing overdue: only the one listed ahead; nothing open: no case alert.
    calm = dataclasses.replace(now, cases_overdue_count=0, case_oldest=None)
    assert [a["key"] for a in view(HALL, calm)["alerts"] if a["kind"] == "case_overdue"] == [
        "case_due:P3R8T-W2KD6"
    ]
    empty = dataclasses.replace(calm, case_next=None)
    assert [a for a in view(HALL, empty)["alerts"] if a["kind"] == "case_overdue"] == []
