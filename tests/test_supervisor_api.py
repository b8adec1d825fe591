"""The supervisor's view (issue 13, part 5) over REST and Socket.IO, on a hand-moved clock.

Least rights (admins and supervisors read it, 403 for devices, clerks and
triage; the ``supervisors`` room refuses them too); the view of a known hall:
a ticket nearly at its wait target (listed ahead, active from ``warn_before``
before its due time), a counter idle while people wait, a paused counter with
its reason and how long, an unstaffed counter the rota wants staffed, a
device down, the ticket at a counter nearly at its service target; and the
room fed after hall events and device changes. SQLite only: the view reads
the store through reads both backends already answer alike.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_openapi import DOC_PATH, check_answer, schema_validator
from tests.test_staff_api import T0, Hall, build

TARGETS = "\n[targets]\nwait_minutes = 10\nservice_minutes = 15\nwarn_before_minutes = 3\n"


@pytest.fixture
def hall(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    yield from build(tmp_path, sqlite_url, monkeypatch, TARGETS)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


def view(hall: Hall, doc: dict[str, Any], who: str = "sue") -> dict[str, Any]:
    answer = hall.call("GET", "/supervisor", who)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    check_answer(doc, "get", "/supervisor", answer)
    return answer.get_json()


def alerts(seen: dict[str, Any], active: bool = True) -> dict[str, dict[str, Any]]:
    return {a["key"]: a for a in seen["alerts"] if a["active"] is active}


def test_only_admins_and_supervisors_read_the_view(hall: Hall, doc: dict[str, Any]) -> None:
    assert hall.log_in("ann", "ann", 1).status_code == 200
    for who in ("kiosk", "display", "pad", "ann", "nurse"):
        hall.refused("GET", "/supervisor", who, 403, "forbidden")
    hall.refused("GET", "/supervisor", None, 401, "unauthorized")
    view(hall, doc, "sue")
    view(hall, doc, "boss")
    # The room refuses them as the route does; a plain connection of theirs is not the room.
    socketio = hall.app.extensions["socketio"]
    for who in ("kiosk", "display", "ann", "nurse"):
        refused = socketio.test_client(hall.app, auth={"token": hall.tokens[who], "supervise": True})
        assert not refused.is_connected(), who
    for who in ("sue", "boss"):
        page = socketio.test_client(hall.app, auth={"token": hall.tokens[who], "supervise": True})
        assert page.is_connected(), who
        page.disconnect()


def test_the_view_of_a_known_hall(hall: Hall, doc: dict[str, Any]) -> None:
    day = hall.ok("GET", "/staff/rota", "boss")["date"]
    # The rota wants bob at counter 3 all morning; he is at counter 2 instead, on his lunch break.
    hall.ok(
        "POST",
        "/staff/rota",
        "boss",
        201,
        json={"date": day, "username": "bob", "counter": 3, "start": "08:00", "end": "12:00"},
    )
    assert hall.log_in("ann", "ann", 1).status_code == 200
    assert hall.log_in("bob", "bob", 2).status_code == 200
    hall.ok("POST", "/counters/2/pause", "bob", json={"reason": "lunch"})
    hall.hub.devices.register("front-printer", "printer")
    hall.hub.devices.report("front-printer", "paper_out")
    hall.tick(1)
    ticket = hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})

    hall.tick(3)  # 09:04: the ticket has waited 3 minutes of its 10; due at 09:11, nearly due from 09:08
    seen = view(hall, doc)
    pay = next(s for s in seen["services"] if s["code"] == "PAY")
    assert (pay["waiting"], pay["longest_seconds"], pay["wait_target_seconds"]) == (1, 180, 600)
    assert "estimate_minutes" in pay
    counters = {c["number"]: c for c in seen["counters"]}
    assert counters[1]["status"] == "open" and counters[1]["clerk"] == "ann"
    assert counters[1]["idle_since"] == T0.isoformat()  # free since ann came on post
    assert counters[2]["status"] == "paused" and counters[2]["clerk"] == "bob"
    assert counters[2]["break"] == {
        "reason": "lunch",
        "reason_zh": "午餐",
        "reason_en": "Lunch",
        "since": T0.isoformat(),
        "seconds": 240,
    }
    assert seen["breaks"] == [{"clerk": "bob", "counter": 2, **counters[2]["break"]}]
    assert counters[3]["status"] == "closed" and counters[3]["clerk"] is None
    assert (counters[3]["staffing"], counters[3]["planned"]) == ("missing", ["bob"])
    assert counters[2]["staffing"] == "unplanned"

    active = alerts(seen)
    waiting_alert = alerts(seen, active=False)[f"wait:{ticket['number']}"]
    assert waiting_alert["from"] == hall.now[0].replace(minute=8).isoformat()
    assert waiting_alert["due_at"] == hall.now[0].replace(minute=11).isoformat()
    assert ticket["number"] in waiting_alert["zh"] and "缴费" not in waiting_alert["en"]
    idle = active["idle:1"]  # free since 09:00 while one waits for PAY: an alert from 09:01
    assert idle["from"] == hall.now[0].replace(minute=1).isoformat()
    assert idle["zh"] == f"1号窗口空闲，{pay['name_zh']}有 1 人等候"
    assert idle["en"] == f"Counter 1 idle while 1 wait for {pay['name_en']}"
    assert "idle:2" not in active and "idle:3" not in active  # on a break, unstaffed: not idle
    assert active["unstaffed:3"]["en"] == "Counter 3: bob on the rota, nobody on post"
    assert active["device:front-printer"]["zh"] == "设备 front-printer 异常：缺纸"
    assert active["device:front-printer"]["en"] == "Device front-printer: paper out"

    hall.tick(4)  # 09:08: nearly due now
    assert f"wait:{ticket['number']}" in alerts(view(hall, doc))

    # Called and started at counter 1: no longer waiting, no longer idle; its service is due at 09:23.
    hall.ok("POST", "/counters/1/call-next", "ann")
    hall.ok("POST", "/counters/1/start", "ann")
    seen = view(hall, doc, "boss")
    assert not any(a["kind"] in ("wait_due", "idle") for a in seen["alerts"])
    serving = alerts(seen, active=False)["service:1"]
    assert serving["due_at"] == hall.now[0].replace(minute=23).isoformat()
    assert serving["zh"] == f"1号窗口：{ticket['number']} 号办理快到时限"
    hall.tick(12)
    assert "service:1" in alerts(view(hall, doc))
    # Nothing of a visitor beyond the number: no ticket id.
    assert ticket["id"] not in json.dumps(view(hall, doc), ensure_ascii=False)


def received(client: Any, name: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        seen = [m["args"][0] for m in client.get_received() if m["name"] == name]
        if seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.02)


def test_the_supervisors_room_hears_hall_events_and_devices(hall: Hall, doc: dict[str, Any]) -> None:
    socketio = hall.app.extensions["socketio"]
    page = socketio.test_client(hall.app, auth={"token": hall.tokens["sue"], "supervise": True})
    validator = schema_validator(doc, doc["x-socketio-events"]["supervisor"]["payload"])
    (first,) = received(page, "supervisor")
    validator.validate(first)
    assert all(s["waiting"] == 0 for s in first["services"])
    hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "ASK"})
    (after,) = received(page, "supervisor")  # no hall delta reaches this socket, only the view
    assert next(s for s in after["services"] if s["code"] == "ASK")["waiting"] == 1
    hall.hub.devices.register("lobby-led", "display")
    hall.hub.devices.report("lobby-led", "offline")
    (device,) = received(page, "supervisor")
    assert "device:lobby-led" in alerts(device)
    page.emit("supervisor")  # the page's minutely refresh
    assert len(received(page, "supervisor")) == 1
    # A plain admin socket is not in the room: it asks, nothing comes.
    console = socketio.test_client(hall.app, auth={"token": hall.tokens["boss"]})
    console.get_received()
    console.emit("supervisor")
    assert received(console, "supervisor", timeout=0.5) == []
    page.disconnect()
    console.disconnect()
