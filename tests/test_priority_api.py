"""Priority over the real hub's REST API: who may give which category, who may read the ledger, triage.

A real ``python -m server run`` process: the kiosk token, a display token,
clerks at counters 1 and 2, an admin and a triage nurse. The ledger is for
admins and the clerk of the ticket's counter only; every refusal is a 4xx JSON
answer; the public ticket view never names the category.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import (
    ADMIN_PASSWORD,
    CLERK_PASSWORD,
    PRIORITY_TOML,
    Credentials,
    HubProcess,
    bearer,
    login,
    provision,
    running_hub,
    write_site,
)
from tests.waiting import SocketListener

pytestmark = pytest.mark.slow
TIMEOUT = 20


@dataclass
class Hall:
    hub: HubProcess
    creds: Credentials
    admin: str
    clerk1: str
    clerk2: str
    nurse: str
    paper: Path


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    tmp = tmp_path_factory.mktemp("priority-hall")
    paper = tmp / "desk-printer.bin"
    config = write_site(tmp / "site.toml", f"sqlite:///{tmp / 'qcall.db'}", counters=2)
    config.write_text(
        config.read_text(encoding="utf-8") + PRIORITY_TOML.format(paper=paper), encoding="utf-8"
    )
    creds = provision(config, 2)
    setup = bootstrap(load_config(config))
    setup.accounts.add_user("nurse1", "triage", CLERK_PASSWORD, utc_now())
    setup.store.engine.dispose()
    with running_hub(config, tmp) as hub:
        yield Hall(
            hub,
            creds,
            admin=login(hub.url, "admin", None, ADMIN_PASSWORD),
            clerk1=login(hub.url, "clerk1", 1),
            clerk2=login(hub.url, "clerk2", 2),
            nurse=login(hub.url, "nurse1", None),
            paper=paper,
        )


def call(hall: Hall, method: str, path: str, token: str | None, body: Any = None) -> requests.Response:
    headers = bearer(token) if token else {}
    return requests.request(
        method, f"{hall.hub.url}/api/v1{path}", headers=headers, json=body, timeout=TIMEOUT
    )


def answer(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code} {response.text[:400]}"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    if status >= 400:
        assert isinstance(body.get("error"), str) and isinstance(body.get("code"), str), body
    return body


def issue(hall: Hall, token: str, **body: Any) -> dict[str, Any]:
    return answer(call(hall, "POST", "/tickets", token, {"service": "PAY", **body}), 201)


def test_a_kiosk_gives_its_categories_asks_for_confirm_ones_and_is_refused_the_rest(hall: Hall) -> None:
    kiosk = hall.creds.kiosk
    elderly = issue(hall, kiosk, category="elderly")
    assert elderly["priority"] is True and "category" not in elderly
    asked = issue(hall, kiosk, category="pregnant")
    assert asked["priority"] is False

    refused = answer(call(hall, "POST", "/tickets", kiosk, {"service": "PAY", "category": "emergency"}), 403)
    assert refused["code"] == "priority_not_allowed" and "工作人员" in refused["error"]
    unknown = answer(call(hall, "POST", "/tickets", kiosk, {"service": "PAY", "category": "nope"}), 400)
    assert unknown["code"] == "unknown_category"
    assert "未知" in unknown["error"] and "unknown" in unknown["error"]
    answer(call(hall, "POST", "/tickets", kiosk, {"service": "PAY", "priority": 1}), 400)  # no raw numbers

    # The clerk of counter 1 (which serves PAY) sees the request and confirms it, with a reason.
    plan = answer(call(hall, "GET", "/counters/1/next", hall.clerk1), 200)
    mine = next(p for p in plan["next"] if p["ticket_id"] == asked["id"])
    assert mine["requested"] == "pregnant" and mine["reason"] == "first come"
    body = {"category": "pregnant", "reason": "已核实 / checked"}
    confirmed = answer(call(hall, "POST", f"/tickets/{asked['id']}/priority", hall.clerk1, body), 200)
    assert confirmed["category"] == "pregnant"
    ledger = answer(call(hall, "GET", f"/tickets/{asked['id']}/priority", hall.admin), 200)
    assert [(e["action"], e["actor"], e["role"]) for e in ledger["ledger"]] == [
        ("request", "test-kiosk", "kiosk"),
        ("confirm", "clerk1", "staff"),
    ]
    assert ledger["requested"] is None


def test_the_ledger_is_for_admins_and_the_ticket_s_own_counter_only(hall: Hall) -> None:
    ticket = issue(hall, hall.creds.kiosk, category="elderly", service="PAY")
    path = f"/tickets/{ticket['id']}/priority"
    change = {"category": None, "reason": "误选 / by mistake"}
    # Counter 1 serves PAY (its queue): its clerk may read. The admin may read anything.
    answer(call(hall, "GET", path, hall.clerk1), 200)
    answer(call(hall, "GET", path, hall.admin), 200)
    answer(call(hall, "GET", "/admin/priority-ledger?limit=5", hall.admin), 200)
    for token in (hall.creds.kiosk, hall.creds.display, hall.nurse):
        answer(call(hall, "GET", path, token), 403)
        answer(call(hall, "POST", path, token, change), 403)
        answer(call(hall, "GET", "/admin/priority-ledger", token), 403)
    answer(call(hall, "GET", "/admin/priority-ledger", hall.clerk1), 403)
    answer(call(hall, "GET", path, None), 401)
    answer(call(hall, "GET", "/counters/1/next", hall.clerk2), 403)
    answer(call(hall, "GET", "/counters/1/next", hall.creds.kiosk), 403)
    answer(call(hall, "GET", "/counters/1/next?limit=99", hall.clerk1), 400)
    answer(call(hall, "POST", path, hall.clerk1, {"category": "nope", "reason": "x"}), 400)
    answer(call(hall, "POST", path, hall.clerk1, {"category": None}), 400)  # a reason is required
    answer(call(hall, "GET", "/tickets/nope/priority", hall.admin), 404)


def test_staff_of_another_counter_may_not_read_a_ticket_outside_its_queue(hall: Hall, tmp_path: Path) -> None:
    # Counter 2 serves ASK and PAY in this site, so make the ticket sit at counter 1 instead:
    ticket = issue(hall, hall.clerk1, category="elderly")
    answer(call(hall, "POST", "/counters/1/call", hall.clerk1, {"ticket_id": ticket["id"]}), 200)
    path = f"/tickets/{ticket['id']}/priority"
    answer(call(hall, "GET", path, hall.clerk1), 200)
    refused = answer(call(hall, "GET", path, hall.clerk2), 403)
    assert refused["code"] == "forbidden"
    answer(call(hall, "POST", "/counters/1/finish", hall.clerk1), 200)


def test_a_triage_nurse_issues_with_a_category_prints_at_the_desk_and_cannot_call(hall: Hall) -> None:
    issued = issue(hall, hall.nurse, category="emergency", desk="triage-1")
    assert issued["print"]["printer"] == "desk-printer"
    assert issued["priority"] is True
    ledger = answer(call(hall, "GET", f"/tickets/{issued['id']}/priority", hall.admin), 200)
    assert [(e["action"], e["actor"], e["role"], e["to_category"]) for e in ledger["ledger"]] == [
        ("grant", "nurse1", "triage", "emergency")
    ]
    # The visitor's page: no nurse, no category in the ticket or its history.
    public = answer(call(hall, "GET", f"/tickets/{issued['id']}", None), 200)
    text = json.dumps(public, ensure_ascii=False)
    for word in ("nurse1", "emergency", "急诊", "Emergency", "category"):
        assert word not in text
    answer(call(hall, "POST", "/tickets", hall.nurse, {"service": "PAY", "desk": "nope"}), 400)
    answer(call(hall, "POST", "/tickets", hall.creds.kiosk, {"service": "PAY", "desk": "triage-1"}), 403)
    # Least rights: no calling, no administering.
    answer(call(hall, "POST", "/counters/1/call-next", hall.nurse), 403)
    answer(call(hall, "GET", "/admin/users", hall.nurse), 403)
    # And a triage login names no counter.
    refused = requests.post(
        f"{hall.hub.url}/api/v1/auth/login",
        json={"username": "nurse1", "password": CLERK_PASSWORD, "counter": 1},
        timeout=TIMEOUT,
    )
    answer(refused, 400)


def test_the_snapshot_names_no_category(hall: Hall) -> None:
    issue(hall, hall.creds.kiosk, category="elderly")
    snapshot = answer(call(hall, "GET", "/queue", hall.creds.display), 200)
    text = json.dumps(snapshot, ensure_ascii=False)
    for word in ("elderly", "pregnant", "emergency", "老年人", "孕妇", "急诊", "nurse1", "reason"):
        assert word not in text


def test_the_triage_desks_are_listed_for_users_and_refused_to_devices(hall: Hall) -> None:
    for token in (hall.nurse, hall.clerk1, hall.admin):
        desks = answer(call(hall, "GET", "/triage-desks", token), 200)
        assert desks == {"desks": [{"name": "triage-1", "printer": "desk-printer"}]}
    for token in (hall.creds.kiosk, hall.creds.display):
        assert answer(call(hall, "GET", "/triage-desks", token), 403)["code"] == "forbidden"
    answer(call(hall, "GET", "/triage-desks", None), 401)


def test_a_triage_ticket_is_reprinted_on_its_desk_s_printer_by_itself(hall: Hall) -> None:
    issued = issue(hall, hall.nurse, category="emergency", desk="triage-1")
    assert issued["print"]["printer"] == "desk-printer"
    # No printer named: the hub finds the desk from the ticket's issued event, not from the nurse.
    again = answer(call(hall, "POST", f"/tickets/{issued['id']}/reprint", hall.clerk1, {}), 201)
    assert again["number"] == issued["number"]
    assert again["print"]["printer"] == "desk-printer"
    assert again["print"]["state"] in ("queued", "waiting")
    assert again["print"]["job_id"] != issued["print"].get("job_id")
    # The desk stays off the visitor's page, like the nurse.
    public = json.dumps(answer(call(hall, "GET", f"/tickets/{issued['id']}", None), 200), ensure_ascii=False)
    assert "triage-1" not in public and "nurse1" not in public
    # A ticket a clerk issued without a desk has no printer of its own: 409, as before.
    plain = issue(hall, hall.clerk1)
    refused = answer(call(hall, "POST", f"/tickets/{plain['id']}/reprint", hall.clerk1, {}), 409)
    assert refused["code"] == "no_printer"
    audit = answer(call(hall, "GET", "/admin/audit?action=ticket.reprint", hall.admin), 200)
    assert any(
        e["target"] == f"ticket:{issued['id']}" and e["detail"]["printer"] == "desk-printer"
        for e in audit["entries"]
    )


def test_the_lobby_s_and_phone_s_live_events_name_no_category_reason_or_issuer(hall: Hall) -> None:
    """What a lobby screen and a visitor's phone receive over Socket.IO while a green-channel
    ticket is issued by triage, requested at the kiosk, confirmed and called: the number and a
    priority mark, never the category, the reason or the nurse's name."""
    with SocketListener(hall.hub.url, {"token": hall.creds.display}) as lobby:
        lobby.wait_for("snapshot")
        urgent = issue(hall, hall.nurse, category="emergency", desk="triage-1")
        asked = issue(hall, hall.creds.kiosk, category="pregnant")
        with SocketListener(hall.hub.url, {"ticket": asked["id"]}) as phone:  # in its room once connected
            body = {"category": "pregnant", "reason": "孕检单已核 / maternity card seen"}
            answer(call(hall, "POST", f"/tickets/{asked['id']}/priority", hall.admin, body), 200)
            phone.wait_for("ticket_changed", lambda data: data.get("event") == "priority")
            lobby.wait_for("ticket_changed", lambda data: data.get("event") == "priority")
            answer(call(hall, "POST", "/counters/1/call", hall.clerk1, {"ticket_id": urgent["id"]}), 200)
            lobby.wait_for("ticket_called", lambda data: data["ticket"]["id"] == urgent["id"])
            lobby.drain()
            phone.drain()
            streams = json.dumps([lobby.seen, phone.seen], ensure_ascii=False)
    assert urgent["number"] in streams and asked["number"] in streams
    for word in ("emergency", "pregnant", "急诊", "孕妇", "孕检", "maternity", "nurse1", "triage-1"):
        assert word not in streams, word
