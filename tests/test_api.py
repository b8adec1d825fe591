"""The REST API against a real hub process: every counter action, every kind of bad input, the CLI.

Bad input must always come back as a 4xx with a JSON body ``{"error", "code"}``:
never a 500, never an HTML page, and never a traceback in the hub's log.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import (
    ADMIN_PASSWORD,
    CLERK_PASSWORD,
    ROOT,
    SITE_TOML,
    Credentials,
    HubProcess,
    assert_bilingual,
    bearer,
    login,
    provision,
    write_site,
)

pytestmark = pytest.mark.slow

TIMEOUT = 20


# -- helpers -------------------------------------------------------------------


def api(hub: HubProcess, path: str) -> str:
    return f"{hub.url}/api/v1{path}"


def post(hub: HubProcess, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {**bearer(token)} if token else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.post(api(hub, path), headers=headers, timeout=TIMEOUT, **kwargs)


def get(hub: HubProcess, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = {**bearer(token)} if token else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.get(api(hub, path), headers=headers, timeout=TIMEOUT, **kwargs)


def ok(answer: requests.Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, f"{answer.status_code} {answer.text[:500]}"
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers["Content-Type"]
    return answer.json()


def refused(answer: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A refusal as the contract says: the given 4xx, JSON, with ``error`` and ``code``."""
    assert 400 <= status < 500
    assert answer.status_code == status, f"expected {status}, got {answer.status_code}: {answer.text[:500]}"
    content_type = answer.headers.get("Content-Type", "")
    assert content_type.startswith("application/json"), f"not JSON ({content_type}): {answer.text[:300]}"
    body = answer.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("code"), str) and body["code"], body
    if code is not None:
        assert body["code"] == code, body
    assert_bilingual(body)  # every refusal, in Chinese and in English
    return body


def issue(hub: HubProcess, token: str, service: str = "PAY") -> dict[str, Any]:
    return ok(post(hub, "/tickets", token, json={"service": service}), 201)


def assert_no_traceback(hub: HubProcess) -> None:
    log = hub.log()
    assert "Traceback" not in log, f"the hub logged a traceback:\n{log[-4000:]}"


# -- the whole counter action set ----------------------------------------------


def test_counter_actions_end_to_end(hub: HubProcess, site: Any) -> None:
    kiosk, display = site.creds.kiosk, site.creds.display
    clerk1 = login(hub.url, "clerk1", 1)
    clerk2 = login(hub.url, "clerk2", 2)
    admin = login(hub.url, "admin", None, ADMIN_PASSWORD)

    me = ok(get(hub, "/auth/me", admin))
    zone = "Asia/Shanghai"  # the site's (config/default.toml)
    assert me == {"username": "admin", "role": "admin", "counter": None, "timezone": zone}
    assert ok(get(hub, "/auth/me", clerk1)) == {
        "username": "clerk1",
        "role": "staff",
        "counter": 1,
        "timezone": zone,
    }

    # Three tickets: two PAY, one ASK.
    a1 = issue(hub, kiosk, "PAY")
    a2 = issue(hub, kiosk, "PAY")
    b1 = issue(hub, kiosk, "ASK")
    assert (a1["number"], a2["number"], b1["number"]) == ("A001", "A002", "B0001")
    assert (a1["waiting_ahead"], a2["waiting_ahead"], b1["waiting_ahead"]) == (0, 1, 0)
    assert a1["status"] == "waiting" and a1["counter"] is None and a1["call_count"] == 0
    assert a1["service_name_zh"] == "电费缴纳" and a1["service_name_en"] == "Bill payment"
    assert a1["status_url"].endswith(f"/t/{a1['id']}")
    assert a1["qr_url"] == f"/api/v1/tickets/{a1['id']}/qr.svg"
    assert len({a1["id"], a2["id"], b1["id"]}) == 3

    # The snapshot, for a display.
    snapshot = ok(get(hub, "/queue", display))
    assert set(snapshot) >= {"site", "business_day", "services", "counters", "recent_calls"}
    assert snapshot["site"]["name_en"] == "Test Hall" and snapshot["site"]["notice_en"] == "Test notice"
    services = {s["code"]: s for s in snapshot["services"]}
    assert services["PAY"]["waiting"] == 2 and services["PAY"]["next_numbers"] == ["A001", "A002"]
    assert services["ASK"]["waiting"] == 1 and services["ASK"]["next_numbers"] == ["B0001"]
    assert [c["number"] for c in snapshot["counters"]] == [1, 2, 3]
    # Open only where a clerk is logged in (on post): counter 3 has nobody.
    assert [(c["status"], c["current"]) for c in snapshot["counters"]] == [
        ("open", None),
        ("open", None),
        ("closed", None),
    ]
    assert snapshot["recent_calls"] == []

    # The console's view of counter 1: PAY first (its preference), then ASK.
    view = ok(get(hub, "/counters/1", clerk1))
    assert view["counter"]["number"] == 1 and view["counter"]["status"] == "open"
    assert view["counter"]["current"] is None
    assert [t["number"] for t in view["waiting"]] == ["A001", "A002", "B0001"]
    # Counter 2 prefers ASK.
    assert [t["number"] for t in ok(get(hub, "/counters/2", clerk2))["waiting"]] == ["B0001", "A001", "A002"]

    # call-next → recall → start → finish on A001.
    called = ok(post(hub, "/counters/1/call-next", clerk1))
    assert called["ticket"]["id"] == a1["id"] and called["ticket"]["status"] == "called"
    assert called["ticket"]["counter"] == 1 and called["ticket"]["call_count"] == 1
    assert called["counter"]["number"] == 1 and called["counter"]["current"]["id"] == a1["id"]

    recalled = ok(post(hub, "/counters/1/recall", clerk1))
    assert recalled["ticket"]["id"] == a1["id"] and recalled["ticket"]["call_count"] == 2
    assert recalled["ticket"]["status"] == "called"

    started = ok(post(hub, "/counters/1/start", clerk1))
    assert started["ticket"]["status"] == "serving" and started["ticket"]["started_at"]
    assert started["counter"]["current"]["status"] == "serving"

    finished = ok(post(hub, "/counters/1/finish", clerk1))
    assert finished["ticket"]["status"] == "done" and finished["ticket"]["finished_at"]
    assert finished["counter"]["current"] is None

    # An action with no current ticket is an invalid transition.
    refused(post(hub, "/counters/1/finish", clerk1), 409, "invalid_transition")
    refused(post(hub, "/counters/1/recall", clerk1), 409, "invalid_transition")

    # call {ticket_id}: B0001 out of order, then no-show.
    out_of_order = ok(post(hub, "/counters/1/call", clerk1, json={"ticket_id": b1["id"]}))
    assert out_of_order["ticket"]["id"] == b1["id"] and out_of_order["ticket"]["counter"] == 1
    refused(post(hub, "/counters/2/call", clerk2, json={"ticket_id": b1["id"]}), 409, "invalid_transition")
    no_show = ok(post(hub, "/counters/1/no-show", clerk1))
    assert no_show["ticket"]["id"] == b1["id"] and no_show["ticket"]["status"] == "no_show"
    assert no_show["counter"]["current"] is None

    # transfer {service}: A002 goes to ASK and keeps its number.
    assert ok(post(hub, "/counters/1/call-next", clerk1))["ticket"]["id"] == a2["id"]
    moved = ok(post(hub, "/counters/1/transfer", clerk1, json={"service": "ASK"}))
    assert moved["ticket"]["id"] == a2["id"] and moved["ticket"]["number"] == "A002"
    assert moved["ticket"]["status"] == "transferred" and moved["ticket"]["service"] == "ASK"
    assert moved["ticket"]["counter"] is None and moved["counter"]["current"] is None
    queued = {s["code"]: s for s in ok(get(hub, "/queue", kiosk))["services"]}
    assert queued["ASK"]["waiting"] == 1 and queued["ASK"]["next_numbers"] == ["A002"]
    assert queued["PAY"]["waiting"] == 0

    # transfer {counter}: counter 2 calls A002 and sends it on to counter 3, once a clerk is on post there.
    assert ok(post(hub, "/counters/2/call-next", clerk2))["ticket"]["id"] == a2["id"]
    # Nobody is on post at counter 3: it takes no transfer, and nobody is called there, not even by an admin.
    closed = refused(post(hub, "/counters/2/transfer", clerk2, json={"counter": 3}), 409, "counter_closed")
    assert closed["error_zh"] == "3号窗口无人值守，不能转入"
    refused(post(hub, "/counters/3/call-next", admin), 409, "counter_closed")
    login(hub.url, "clerk3", 3)
    sent = ok(post(hub, "/counters/2/transfer", clerk2, json={"counter": 3}))
    assert sent["ticket"]["status"] == "transferred" and sent["ticket"]["target_counter"] == 3
    # Only counter 3 may call it now.
    refused(post(hub, "/counters/2/call-next", clerk2), 404, "nobody_waiting")
    assert [t["id"] for t in ok(get(hub, "/counters/3", admin))["waiting"]] == [a2["id"]]
    # The admin acts at any counter a clerk is on post at.
    at_three = ok(post(hub, "/counters/3/call-next", admin))
    assert at_three["ticket"]["id"] == a2["id"] and at_three["ticket"]["counter"] == 3
    assert ok(post(hub, "/counters/3/finish", admin))["ticket"]["status"] == "done"

    # pause / resume.
    paused = ok(post(hub, "/counters/1/pause", clerk1))
    assert set(paused) == {"counter", "post"}
    assert paused["counter"] == {**paused["counter"], "number": 1, "status": "paused"}
    # A break without a reason has the site's default one; the console (not a screen) sees whose.
    assert (paused["post"]["username"], paused["post"]["break"]["reason"]) == ("clerk1", "other")
    refused(post(hub, "/counters/1/call-next", clerk1), 409, "counter_paused")
    assert ok(get(hub, "/counters/1", clerk1))["counter"]["status"] == "paused"
    assert {c["number"]: c["status"] for c in ok(get(hub, "/queue", display))["counters"]}[1] == "paused"
    resumed = ok(post(hub, "/counters/1/resume", clerk1))
    assert resumed["counter"]["status"] == "open"

    # Nobody is waiting any more.
    refused(post(hub, "/counters/1/call-next", clerk1), 404, "nobody_waiting")

    # The snapshot's recent calls, newest first.
    calls = ok(get(hub, "/queue", display))["recent_calls"]
    assert [(c["number"], c["counter"], c["recall"]) for c in calls] == [
        ("A002", 3, False),
        ("A002", 2, False),
        ("A002", 1, False),
        ("B0001", 1, False),
        ("A001", 1, True),
        ("A001", 1, False),
    ]

    # A ticket with its history, for anyone holding the id (no token).
    a1_now = ok(get(hub, f"/tickets/{a1['id']}"))
    assert a1_now["status"] == "done" and a1_now["number"] == "A001" and a1_now["waiting_ahead"] == 0
    assert [e["kind"] for e in a1_now["history"]] == ["issued", "called", "recalled", "started", "finished"]
    assert [e["counter"] for e in a1_now["history"]] == [None, 1, 1, 1, 1]
    assert all(e["at"] for e in a1_now["history"])
    assert "staff" not in a1_now["history"][1]

    a2_now = ok(get(hub, f"/tickets/{a2['id']}"))
    assert [e["kind"] for e in a2_now["history"]] == [
        "issued",
        "called",
        "transferred",
        "called",
        "transferred",
        "called",
        "finished",
    ]
    assert [e["counter"] for e in a2_now["history"]] == [None, 1, 1, 2, 2, 3, 3]
    assert a2_now["history"][2]["detail"]["to_service"] == "ASK"
    assert a2_now["history"][4]["detail"]["to_counter"] == 3
    assert [e["kind"] for e in ok(get(hub, f"/tickets/{b1['id']}"))["history"]] == [
        "issued",
        "called",
        "no_show",
    ]

    # A waiting ticket says how many stand before it.
    a3 = issue(hub, kiosk, "PAY")
    a4 = issue(hub, kiosk, "PAY")
    assert ok(get(hub, f"/tickets/{a4['id']}"))["waiting_ahead"] == 1
    assert ok(get(hub, f"/tickets/{a3['id']}"))["history"][0]["kind"] == "issued"

    # A paused counter refuses call-next and call, but lets the clerk finish the current visitor.
    at_one = ok(post(hub, "/counters/1/call-next", clerk1))
    assert at_one["ticket"]["id"] == a3["id"]
    assert (
        at_one["ticket"]["counter_name_en"] == "Counter 1"
        and at_one["ticket"]["counter_name_zh"] == "1号窗口"
    )
    ok(post(hub, "/counters/1/pause", clerk1))
    refused(post(hub, "/counters/1/call-next", clerk1), 409, "counter_paused")
    refused(post(hub, "/counters/1/call", clerk1, json={"ticket_id": a4["id"]}), 409, "counter_paused")
    assert ok(post(hub, "/counters/1/recall", clerk1))["ticket"]["call_count"] == 2
    assert ok(post(hub, "/counters/1/start", clerk1))["ticket"]["status"] == "serving"
    assert ok(post(hub, "/counters/1/finish", clerk1))["ticket"]["status"] == "done"
    assert ok(get(hub, f"/tickets/{a4['id']}"))["status"] == "waiting"
    ok(post(hub, "/counters/1/resume", clerk1))

    # Call next finishes the current ticket first, even when it then finds nobody waiting.
    assert ok(post(hub, "/counters/1/call-next", clerk1))["ticket"]["id"] == a4["id"]
    ok(post(hub, "/counters/1/start", clerk1))  # called but never started would be a no-show
    refused(post(hub, "/counters/1/call-next", clerk1), 404, "nobody_waiting")
    a4_now = ok(get(hub, f"/tickets/{a4['id']}"))
    assert a4_now["status"] == "done" and a4_now["finished_at"]
    assert [e["kind"] for e in a4_now["history"]] == ["issued", "called", "started", "finished"]
    assert ok(get(hub, "/counters/1", clerk1))["counter"]["current"] is None

    # The QR code is an SVG.
    qr = requests.get(f"{hub.url}{a1['qr_url']}", timeout=TIMEOUT)
    assert qr.status_code == 200
    assert qr.headers["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(qr.content)
    assert root.tag in ("svg", "{http://www.w3.org/2000/svg}svg"), root.tag
    refused(get(hub, "/tickets/no-such-ticket/qr.svg"), 404, "unknown_ticket")

    # Logout ends the session.
    assert ok(post(hub, "/auth/logout", clerk2)) == {"ok": True}
    refused(get(hub, "/auth/me", clerk2), 401, "unauthorized")

    assert_no_traceback(hub)


# -- bad input -----------------------------------------------------------------


@dataclass
class Hall:
    """One hub shared by the bad-input tests; they do not change the queue's shape."""

    hub: HubProcess
    creds: Credentials
    config_path: Path
    clerk1: str
    admin: str


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    workdir = tmp_path_factory.mktemp("api-hall")
    config_path = write_site(workdir / "site.toml", f"sqlite:///{workdir / 'qcall.db'}", 3)
    creds = provision(config_path, 3)
    process = HubProcess(config_path, workdir)
    process.start()
    try:
        yield Hall(
            process,
            creds,
            config_path,
            login(process.url, "clerk1", 1),
            login(process.url, "admin", None, ADMIN_PASSWORD),
        )
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def _clean_log(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test on the shared hub leaves no traceback in its log (checked on what the test added)."""
    if "hall" not in request.fixturenames:
        yield
        return
    process = request.getfixturevalue("hall").hub
    start = len(process.log())
    yield
    added = process.log()[start:]
    assert "Traceback" not in added, f"the hub logged a traceback during this test:\n{added[-4000:]}"


def _with_current_ticket(hall: Hall) -> None:
    """Make sure counter 1 holds a called ticket (for the transfer cases)."""
    view = ok(get(hall.hub, "/counters/1", hall.clerk1))
    if view["counter"]["current"] is None:
        issue(hall.hub, hall.creds.kiosk)
        ok(post(hall.hub, "/counters/1/call-next", hall.clerk1))


KIOSK = "kiosk"
DISPLAY = "display"
CLERK1 = "clerk1"
ADMIN = "admin"

# (name, method, path, who, request kwargs, status, code or None)
BAD_REQUESTS: list[tuple[str, str, str, str | None, dict[str, Any], int, str | None]] = [
    ("unknown service", "POST", "/tickets", KIOSK, {"json": {"service": "NOPE"}}, 400, "unknown_service"),
    ("missing service", "POST", "/tickets", KIOSK, {"json": {}}, 400, "bad_request"),
    ("no body at all", "POST", "/tickets", KIOSK, {}, 400, "bad_request"),
    ("service is a number", "POST", "/tickets", KIOSK, {"json": {"service": 5}}, 400, "bad_request"),
    ("service is null", "POST", "/tickets", KIOSK, {"json": {"service": None}}, 400, "bad_request"),
    ("service is empty", "POST", "/tickets", KIOSK, {"json": {"service": ""}}, 400, "bad_request"),
    ("service too long", "POST", "/tickets", KIOSK, {"json": {"service": "P" * 500}}, 400, "bad_request"),
    (
        "extra unknown field",
        "POST",
        "/tickets",
        KIOSK,
        {"json": {"service": "PAY", "priority": 9}},
        400,
        "bad_request",
    ),
    (
        "body not JSON",
        "POST",
        "/tickets",
        KIOSK,
        {"data": b"service=PAY", "headers": {"Content-Type": "application/json"}},
        400,
        "bad_request",
    ),
    (
        "body not JSON, form content type",
        "POST",
        "/tickets",
        KIOSK,
        {"data": {"service": "PAY"}},
        415,
        "unsupported_media_type",
    ),
    (
        "body not UTF-8",
        "POST",
        "/tickets",
        KIOSK,
        {"data": b'{"service": "\xff\xfe"}', "headers": {"Content-Type": "application/json"}},
        400,
        "bad_request",
    ),
    ("body a JSON list", "POST", "/tickets", KIOSK, {"json": [{"service": "PAY"}]}, 400, "bad_request"),
    ("body a JSON string", "POST", "/tickets", KIOSK, {"json": "PAY"}, 400, "bad_request"),
    (
        "oversized body",
        "POST",
        "/tickets",
        KIOSK,
        {
            "data": b'{"service": "PAY", "x": "' + b"x" * (17 * 1024) + b'"}',
            "headers": {"Content-Type": "application/json"},
        },
        413,
        "too_large",
    ),
    ("no token", "POST", "/tickets", None, {"json": {"service": "PAY"}}, 401, "unauthorized"),
    (
        "wrong token",
        "POST",
        "/tickets",
        None,
        {"json": {"service": "PAY"}, "headers": {"Authorization": "Bearer qd_kiosk_not-a-real-token"}},
        401,
        "unauthorized",
    ),
    (
        "token of no known kind",
        "POST",
        "/tickets",
        None,
        {"json": {"service": "PAY"}, "headers": {"Authorization": "Bearer x"}},
        401,
        "unauthorized",
    ),
    (
        "Authorization without a token",
        "POST",
        "/tickets",
        None,
        {"json": {"service": "PAY"}, "headers": {"Authorization": "Bearer"}},
        401,
        "unauthorized",
    ),
    (
        "Authorization with another scheme",
        "POST",
        "/tickets",
        None,
        {"json": {"service": "PAY"}, "headers": {"Authorization": "Basic YWRtaW46YWRtaW4="}},
        401,
        "unauthorized",
    ),
    ("no token for the queue", "GET", "/queue", None, {}, 401, "unauthorized"),
    ("no token for a counter action", "POST", "/counters/1/call-next", None, {}, 401, "unauthorized"),
    ("kiosk calls next", "POST", "/counters/1/call-next", KIOSK, {}, 403, "forbidden"),
    ("kiosk reads a counter", "GET", "/counters/1", KIOSK, {}, 403, "forbidden"),
    ("display calls next", "POST", "/counters/1/call-next", DISPLAY, {}, 403, "forbidden"),
    ("kiosk pauses a counter", "POST", "/counters/1/pause", KIOSK, {}, 403, "forbidden"),
    ("display issues a ticket", "POST", "/tickets", DISPLAY, {"json": {"service": "PAY"}}, 403, "forbidden"),
    ("staff of 1 calls at 2", "POST", "/counters/2/call-next", CLERK1, {}, 403, "forbidden"),
    ("staff of 1 reads counter 2", "GET", "/counters/2", CLERK1, {}, 403, "forbidden"),
    ("staff of 1 pauses counter 2", "POST", "/counters/2/pause", CLERK1, {}, 403, "forbidden"),
    (
        "staff of 1 transfers at 2",
        "POST",
        "/counters/2/transfer",
        CLERK1,
        {"json": {"service": "ASK"}},
        403,
        "forbidden",
    ),
    ("unknown counter action", "POST", "/counters/99/call-next", CLERK1, {}, 404, "unknown_counter"),
    ("unknown counter, no token", "POST", "/counters/99/call-next", None, {}, 401, "unauthorized"),
    ("unknown counter view, kiosk", "GET", "/counters/99", KIOSK, {}, 404, "unknown_counter"),
    ("unknown counter, admin", "POST", "/counters/99/call-next", ADMIN, {}, 404, "unknown_counter"),
    ("unknown counter view", "GET", "/counters/99", ADMIN, {}, 404, "unknown_counter"),
    ("counter not a number", "POST", "/counters/one/call-next", ADMIN, {}, 404, "unknown_counter"),
    ("unknown ticket", "GET", "/tickets/no-such-ticket", None, {}, 404, "unknown_ticket"),
    (
        "call an unknown ticket",
        "POST",
        "/counters/1/call",
        CLERK1,
        {"json": {"ticket_id": "no-such-ticket"}},
        404,
        "unknown_ticket",
    ),
    ("call without ticket_id", "POST", "/counters/1/call", CLERK1, {"json": {}}, 400, "bad_request"),
    (
        "wrong password",
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "clerk1", "password": "wrong-password", "counter": 1}},
        401,
        "unauthorized",
    ),
    (
        "unknown user",
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "nobody", "password": CLERK_PASSWORD, "counter": 1}},
        401,
        "unauthorized",
    ),
    (
        "login at a counter that does not exist",
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "clerk1", "password": CLERK_PASSWORD, "counter": 99}},
        400,
        "unknown_counter",
    ),
    (
        "staff login without a counter",
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "clerk1", "password": CLERK_PASSWORD}},
        400,
        "bad_request",
    ),
    (
        "login counter is a string",
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "clerk1", "password": CLERK_PASSWORD, "counter": "1"}},
        400,
        "bad_request",
    ),
    ("login with no body", "POST", "/auth/login", None, {}, 400, "bad_request"),
    (
        "login with a form body",
        "POST",
        "/auth/login",
        None,
        {"data": {"username": "x"}},
        415,
        "unsupported_media_type",
    ),
    ("me without a token", "GET", "/auth/me", None, {}, 401, "unauthorized"),
    ("me with a device token", "GET", "/auth/me", KIOSK, {}, 403, "forbidden"),
    ("method not allowed: GET tickets", "GET", "/tickets", KIOSK, {}, 405, None),
    ("method not allowed: DELETE queue", "DELETE", "/queue", KIOSK, {}, 405, None),
    ("method not allowed: GET call-next", "GET", "/counters/1/call-next", CLERK1, {}, 405, None),
    ("unknown /api/v1 path", "GET", "/no/such/path", None, {}, 404, "not_found"),
    ("unknown /api/v1 path, POST", "POST", "/nothing-here", KIOSK, {"json": {}}, 404, "not_found"),
]


@pytest.mark.parametrize(
    ("method", "path", "who", "kwargs", "status", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_bad_request_is_a_json_4xx(
    hall: Hall, method: str, path: str, who: str | None, kwargs: dict[str, Any], status: int, code: str | None
) -> None:
    token = {
        None: None,
        KIOSK: hall.creds.kiosk,
        DISPLAY: hall.creds.display,
        CLERK1: hall.clerk1,
        ADMIN: hall.admin,
    }[who]
    kwargs = dict(kwargs)
    headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
    answer = requests.request(method, api(hall.hub, path), headers=headers, timeout=TIMEOUT, **kwargs)
    refused(answer, status, code)
    if status == 405:
        assert method not in answer.headers["Allow"] and "OPTIONS" in answer.headers["Allow"]


# (name, method, path, who, request kwargs, status, the start of error_zh)
IN_CHINESE: list[tuple[str, str, str, str | None, dict[str, Any], int, str]] = [
    ("missing field", "POST", "/auth/login", None, {"json": {"password": "x"}}, 400, "缺少必填项 username"),
    ("missing service", "POST", "/tickets", KIOSK, {"json": {}}, 400, "缺少必填项 service"),
    (
        "unknown field",
        "POST",
        "/tickets",
        KIOSK,
        {"json": {"service": "PAY", "priority": 9}},
        400,
        "没有 priority 这一项，请检查拼写",
    ),
    ("wrong type", "POST", "/tickets", KIOSK, {"json": {"service": 5}}, 400, "service：须为文字"),
    (
        "a password too long is not quoted back",
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "clerk1", "password": "hunter2-secret-" + "x" * 300, "counter": 1}},
        400,
        "password：最多 256 个字符",
    ),
    (
        "wrong type at login",
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "clerk1", "password": CLERK_PASSWORD, "counter": "1"}},
        400,
        "counter：须为整数",
    ),
    ("no token", "POST", "/tickets", None, {"json": {"service": "PAY"}}, 401, "此操作需要令牌"),
    ("wrong role", "GET", "/auth/me", KIOSK, {}, 403, "取号机无权"),
    ("unknown URL", "GET", "/no/such/path", None, {}, 404, "没有这个地址"),
    ("wrong method", "DELETE", "/queue", KIOSK, {}, 405, "该地址不接受这种请求方式"),
    (
        "body too large",
        "POST",
        "/tickets",
        KIOSK,
        {
            "data": b'{"service": "PAY", "x": "' + b"x" * (17 * 1024) + b'"}',
            "headers": {"Content-Type": "application/json"},
        },
        413,
        "请求内容超过 ",
    ),
    ("not JSON", "POST", "/tickets", KIOSK, {"data": {"service": "PAY"}}, 415, "接口只接受 JSON"),
    ("unknown service", "POST", "/tickets", KIOSK, {"json": {"service": "NOPE"}}, 400, "没有"),
    ("no current ticket", "POST", "/counters/1/finish", CLERK1, {"json": {}}, 409, "1 号窗口当前没有号票"),
    ("unknown ticket", "GET", "/tickets/nope", None, {}, 404, "没有这张号票"),
    (
        "unknown counter at login",
        "POST",
        "/auth/login",
        None,
        {"json": {"username": "clerk1", "password": CLERK_PASSWORD, "counter": 99}},
        400,
        "99 号窗口不存在",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "who", "kwargs", "status", "zh"),
    [pytest.param(*case[1:], id=case[0]) for case in IN_CHINESE],
)
def test_every_kind_of_refusal_says_it_in_chinese_too(
    hall: Hall, method: str, path: str, who: str | None, kwargs: dict[str, Any], status: int, zh: str
) -> None:
    """Body shape (parse's missing, unknown, wrong-typed field, named), auth, werkzeug's HTTP errors: each
    refusal whole in Chinese (``error_zh``) and in English (``error_en``), ``error`` as it always was."""
    token = {None: None, KIOSK: hall.creds.kiosk, CLERK1: hall.clerk1}[who]
    kwargs = dict(kwargs)
    headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
    answer = requests.request(method, api(hall.hub, path), headers=headers, timeout=TIMEOUT, **kwargs)
    body = refused(answer, status)
    assert body["error_zh"].startswith(zh), body
    assert (
        "hunter2" not in answer.text and "收到 5" not in body["error_zh"]
    )  # a value sent is never said back
    assert body["error_en"] == body["error"] or body["error_en"] in body["error"], body


def test_account_refusals_and_slashed_sentences_are_split_into_both_languages() -> None:
    """The account store's English (login, password, tokens) gets its Chinese; "中文 / English" is split."""
    from server.api.refusals import both_languages
    from server.api.routes import account_zh

    assert account_zh("wrong user name or password") == "用户名或密码错误"
    assert account_zh("a password needs at least 10 characters") == "密码太短，请至少使用 10 个字符"
    assert account_zh("no token has the id 'abc'") == "没有编号为 'abc' 的令牌"
    assert account_zh("something new") == "账号操作未被受理，请检查填写的内容后重试"
    assert account_zh("user 'li' exists already") == "用户 'li' 已存在"
    assert account_zh("user 'li' is disabled already") == "用户 'li' 已被停用"
    assert account_zh("no user 'li'") == "没有用户 'li'"
    assert account_zh("a user name is 1 to 64 ASCII letters, digits, '.', '_' or '-'").startswith(
        "用户名须为"
    )
    assert account_zh("a live device token named 'k1' exists already") == "已有名为 'k1' 的有效设备令牌"
    assert both_languages("没有这张号票 / no such ticket", "unknown_ticket", 404) == (
        "没有这张号票",
        "no such ticket",
    )
    assert both_languages("a / b", "nobody_waiting", 404) == ("当前没有人在等候", "a / b")
    assert both_languages("odd", "brand_new", 418) == ("请求未被受理，请检查后重试", "odd")
    assert both_languages("x", "conflict", 409, zh="冲突") == ("冲突", "x")
    # English that quotes what a user typed is never cut at its slash, given Chinese or not.
    quoted = "there is no service '挂号 / Registration'"
    assert both_languages(quoted, "unknown_service", 400) == ("没有这项业务，请检查业务代码", quoted)
    assert both_languages(quoted, "unknown_service", 400, zh="没有这项业务") == ("没有这项业务", quoted)
    assert both_languages("没有这张号票 / no such ticket", "unknown_ticket", 404, zh="没有这张号票") == (
        "没有这张号票",
        "no such ticket",
    )
    assert both_languages("A012 号已取消 / A012 was cancelled", "conflict", 409) == (
        "A012 号已取消",
        "A012 was cancelled",
    )
    # A long refusal (a 16 KiB body's unknown key) is left whole, not cut.
    long = "'" + "中" * 16_000 + "' is not a known field"
    assert both_languages(long, "bad_request", 400) == ("请求有误，请检查后重试", long)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({}, 400, "bad_request", id="neither service nor counter"),
        pytest.param({"service": None, "counter": None}, 400, "bad_request", id="both null"),
        pytest.param({"service": "NOPE"}, 400, "unknown_service", id="unknown service"),
        pytest.param({"counter": 99}, 404, "unknown_counter", id="unknown counter"),
        pytest.param({"counter": 1}, 409, "invalid_transition", id="to its own counter"),
        pytest.param({"counter": "3"}, 400, "bad_request", id="counter is a string"),
        pytest.param({"service": 7}, 400, "bad_request", id="service is a number"),
        pytest.param({"service": "ASK", "extra": 1}, 400, "bad_request", id="extra field"),
    ],
)
def test_bad_transfer(hall: Hall, body: dict[str, Any], status: int, code: str) -> None:
    _with_current_ticket(hall)
    before = ok(get(hall.hub, "/counters/1", hall.clerk1))["counter"]["current"]
    refused(post(hall.hub, "/counters/1/transfer", hall.clerk1, json=body), status, code)
    # The refused transfer left the ticket where it was.
    after = ok(get(hall.hub, "/counters/1", hall.clerk1))["counter"]["current"]
    assert after is not None and (after["id"], after["status"], after["service"]) == (
        before["id"],
        before["status"],
        before["service"],
    )


def test_staff_may_not_call_another_counters_ticket(hall: Hall) -> None:
    """Staff at counter 1 cannot take a ticket by id at counter 2 either."""
    ticket = issue(hall.hub, hall.creds.kiosk)
    refused(
        post(hall.hub, "/counters/2/call", hall.clerk1, json={"ticket_id": ticket["id"]}), 403, "forbidden"
    )
    assert ok(get(hall.hub, f"/tickets/{ticket['id']}"))["status"] == "waiting"


def test_very_long_ticket_id_is_a_404(hall: Hall) -> None:
    answer = requests.get(f"{hall.hub.url}/api/v1/tickets/{'x' * 2000}", timeout=TIMEOUT)
    refused(answer, 404, "unknown_ticket")


def test_session_cookie_works_like_the_token(hall: Hall) -> None:
    with requests.Session() as browser:
        answer = browser.post(
            api(hall.hub, "/auth/login"),
            json={"username": "clerk3", "password": CLERK_PASSWORD, "counter": 3},
            timeout=TIMEOUT,
        )
        ok(answer)
        assert browser.get(api(hall.hub, "/auth/me"), timeout=TIMEOUT).json()["counter"] == 3
        # A page sends JSON ({} for an action without a body): a cookie-borne bodyless POST is 415.
        refused(browser.post(api(hall.hub, "/counters/1/pause"), json={}, timeout=TIMEOUT), 403, "forbidden")
        refused(
            browser.post(api(hall.hub, "/counters/1/pause"), timeout=TIMEOUT), 415, "unsupported_media_type"
        )


# -- the command line ----------------------------------------------------------


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def broken_site(tmp_path: Path, *, replace: tuple[str, str]) -> Path:
    text = SITE_TOML.format(
        database_url=f"sqlite:///{tmp_path / 'broken.db'}",
        counters='[[counters]]\nnumber = 1\nname_zh = "1号窗口"\nname_en = "Counter 1"\nservices = ["PAY"]\n',
    )
    old, new = replace
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("replace", "key"),
    [
        pytest.param(('prefix = "A"', 'prefix = "aa"'), "services[0].prefix", id="lowercase prefix"),
        pytest.param(('prefix = "B"', 'prefix = "A"'), "services[1].prefix", id="prefix used twice"),
        pytest.param(("width = 4", "width = 9"), "services[1].width", id="width too large"),
        pytest.param(
            ('timezone = "Asia/Shanghai"', 'timezone = "Mars/Base"'), "site.timezone", id="timezone"
        ),
        pytest.param(
            ('name_en = "Test Hall"', 'name_en = "Test Hall"\ncolour = "red"'), "site.colour", id="key"
        ),
        pytest.param(
            ('services = ["PAY"]', 'services = ["NOPE"]'), "counters[0].services", id="unknown code"
        ),
        pytest.param(('prefix = "A"', 'prefix = "A'), "not valid TOML", id="not TOML"),
    ],
)
def test_cli_broken_config_is_one_line(tmp_path: Path, replace: tuple[str, str], key: str) -> None:
    path = broken_site(tmp_path, replace=replace)
    done = run_cli("--config", str(path), "run", "--port", "1")
    assert done.returncode != 0, done
    lines = done.stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{done.stderr}"
    assert key in lines[0], lines[0]
    assert str(path) in lines[0], lines[0]
    assert "Traceback" not in done.stderr + done.stdout


def test_cli_missing_config_is_one_line(tmp_path: Path) -> None:
    done = run_cli("--config", str(tmp_path / "absent.toml"), "run")
    assert done.returncode != 0
    lines = done.stderr.strip("\n").splitlines()
    assert len(lines) == 1 and "absent.toml" in lines[0], done.stderr


def test_cli_token_create_prints_a_working_token(hall: Hall) -> None:
    done = run_cli(
        "--config", str(hall.config_path), "token", "create", "--role", "kiosk", "--name", "cli-kiosk"
    )
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1].strip()
    assert token.startswith("qd_kiosk_"), done.stdout
    ticket = issue(hall.hub, token, "ASK")
    assert ticket["service"] == "ASK"
    # A display token made the same way may read but not issue.
    done = run_cli(
        "--config", str(hall.config_path), "token", "create", "--role", "display", "--name", "cli-screen"
    )
    assert done.returncode == 0, done.stderr
    display = done.stdout.strip().splitlines()[-1].strip()
    ok(get(hall.hub, "/queue", display))
    refused(post(hall.hub, "/tickets", display, json={"service": "PAY"}), 403, "forbidden")


def test_cli_user_add_reads_the_password_from_stdin(hall: Hall) -> None:
    done = run_cli(
        "--config", str(hall.config_path), "user", "add", "newclerk", "--role", "staff", stdin="s3cret-pass\n"
    )
    assert done.returncode == 0, done.stderr
    assert "newclerk" in done.stdout
    answer = post(
        hall.hub, "/auth/login", json={"username": "newclerk", "password": "s3cret-pass", "counter": 2}
    )
    body = ok(answer)
    assert body["role"] == "staff" and body["counter"] == 2
    ok(get(hall.hub, "/counters/2", body["token"]))
    # The trailing newline is not part of the password.
    refused(
        post(
            hall.hub, "/auth/login", json={"username": "newclerk", "password": "s3cret-pass\n", "counter": 2}
        ),
        401,
        "unauthorized",
    )
    # The same name twice, or a short password, is refused with an "error:" line and a non-zero exit.
    again = run_cli(
        "--config",
        str(hall.config_path),
        "user",
        "add",
        "newclerk",
        "--role",
        "staff",
        stdin="another-pass\n",
    )
    assert again.returncode != 0, again
    assert again.stderr.strip().splitlines()[-1] == "error: user 'newclerk' exists already", again.stderr
    short = run_cli(
        "--config", str(hall.config_path), "user", "add", "shorty", "--role", "staff", stdin="abc\n"
    )
    assert short.returncode != 0, short
    assert short.stderr.strip().splitlines()[-1].startswith("error: a password needs"), short.stderr
    assert "Traceback" not in again.stderr + short.stderr
    refused(
        post(hall.hub, "/auth/login", json={"username": "shorty", "password": "abc", "counter": 1}),
        401,
        "unauthorized",
    )
