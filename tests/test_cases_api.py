"""Cases over REST, in the app with a clock moved by hand: least rights, the visitor's lookup, bad input.

The app is the real one (``create_app``: blueprints, refusals, the Socket.IO
server) on SQLite, driven by Flask's test client and python-socketio's test
client; its clock is a list the test sets, so a deadline is crossed by
setting it, never by waiting. Every refusal is a 4xx JSON ``{"error",
"code"}``; those a visitor reads carry ``error_zh`` and ``error_en``.
"""

from __future__ import annotations

import dataclasses
import json
import time as clock_time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.app import create_app
from server.config import load_config
from server.core import case_codes
from server.core.cases import CaseStatus
from tests.support import CASE_KINDS_TOML, write_site
from tests.test_openapi import DOC_PATH as DOC
from tests.test_openapi import check_answer, schema_validator

PREFIX = "/api/v1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
PASSWORD = "clerk-password-1"

#: The test site plus a NEW service served only at counters 4 (li) and 5 (wang), China's working days,
#: and the utility hall's 业扩报装 with short steps. Counter 1 (zhao) serves PAY and ASK only.
CASE_TOML = (
    """
[hours]
enforce = false
holidays = "CN"

[cases]
lookup_failures = 3
lookup_window_minutes = 10

[[services]]
code = "NEW"
name_zh = "业扩报装"
name_en = "New connection"
prefix = "C"

[[counters]]
number = 4
name_zh = "4号窗口"
name_en = "Counter 4"
services = ["NEW"]

[[counters]]
number = 5
name_zh = "5号窗口"
name_en = "Counter 5"
services = ["NEW", "PAY"]
"""
    + CASE_KINDS_TOML
)


def case_site(path: Path, database_url: str) -> Path:
    write_site(path, database_url, counters=1)
    path.write_text(path.read_text(encoding="utf-8") + CASE_TOML, encoding="utf-8")
    return path


def local(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Hall:
    app: Flask
    client: FlaskClient
    now: list[datetime]
    kiosk: str
    display: str

    def at(self, moment: datetime) -> None:
        self.now[0] = moment

    def login(self, user: str, counter: int | None) -> dict[str, str]:
        password = "admin-password-1" if user == "admin" else PASSWORD
        body = {"username": user, "password": password, "counter": counter}
        # A client of its own: the session cookie stays there, so a request without a token has none.
        answer = self.app.test_client().post(f"{PREFIX}/auth/login", json=body)
        assert answer.status_code == 200, answer.get_json()
        return bearer(answer.get_json()["token"])

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.get(PREFIX + path, headers=headers or {})

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(PREFIX + path, json={} if body is None else body, headers=headers or {})

    def serve(self, counter: int, clerk: dict[str, str]) -> dict[str, Any]:
        """A NEW ticket from the kiosk, called and started at ``counter``."""
        ticket = self.post("/tickets", {"service": "NEW"}, bearer(self.kiosk)).get_json()
        assert self.post(f"/counters/{counter}/call", {"ticket_id": ticket["id"]}, clerk).status_code == 200
        assert self.post(f"/counters/{counter}/start", None, clerk).status_code == 200
        return ticket

    def open_case(self, clerk: dict[str, str], counter: int = 4, **extra: Any) -> dict[str, Any]:
        self.serve(counter, clerk)
        answer = self.post("/cases", {"counter": counter, "kind": "NEW_CONNECTION", **extra}, clerk)
        assert answer.status_code == 201, answer.get_json()
        return answer.get_json()["case"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(answer: Any, status: int, code: str, bilingual: bool = False) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.get_json()
    assert body["code"] == code and body["error"], body
    if bilingual:
        assert body["error_zh"] and body["error_en"] and body["error_zh"] != body["error_en"], body
        assert body["error"] == f"{body['error_zh']} / {body['error_en']}"
    return body


@pytest.fixture
def hall(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("QCALL_SECRET_KEY", raising=False)
    now = [local(date(2026, 9, 30), 10, 0)]
    app = create_app(load_config(case_site(tmp_path / "site.toml", sqlite_url)), lambda: now[0], "threading")
    hub = app.extensions["qcall"]
    for user in ("li", "wang", "zhao"):
        hub.accounts.add_user(user, "staff", PASSWORD, now[0])
    hub.accounts.add_user("admin", "admin", "admin-password-1", now[0])
    hub.accounts.add_user("nurse", "triage", PASSWORD, now[0])
    hub.accounts.add_user("duty", "supervisor", PASSWORD, now[0])
    made = Hall(
        app,
        app.test_client(),
        now,
        hub.accounts.create_device_token("kiosk", "kiosk-1", now[0]),
        hub.accounts.create_device_token("display", "lobby-1", now[0]),
    )
    yield made
    hub.close()


def test_least_rights_on_a_case(hall: Hall) -> None:
    li, wang, zhao, admin = (
        hall.login("li", 4),
        hall.login("wang", 5),
        hall.login("zhao", 1),
        hall.login("admin", None),
    )
    hall.serve(4, li)
    body = {
        "counter": 4,
        "kind": "NEW_CONNECTION",
        "contact_name": "张三明",
        "contact_phone": "138 0013 8000",
    }
    refused(hall.post("/cases", body), 401, "unauthorized")
    refused(hall.post("/cases", body, bearer(hall.kiosk)), 403, "forbidden")
    refused(hall.post("/cases", body, bearer(hall.display)), 403, "forbidden")
    refused(hall.post("/cases", body, hall.login("nurse", None)), 403, "forbidden")
    refused(hall.post("/cases", body, zhao), 403, "forbidden")  # not zhao's counter
    made = hall.post("/cases", body, li)
    assert made.status_code == 201, made.get_json()
    case = made.get_json()["case"]
    code = case["code"]
    assert case["owner"] == "li" and case["active_step"] == 1 and case["contact_phone"] == "13800138000"
    assert case_codes.normalize(code) == code and case["code_shown"] == case_codes.shown(code)

    # Who sees it: its owner, staff of a counter serving NEW (contact masked), admins; not zhao (PAY, ASK).
    assert [c["code"] for c in hall.get("/cases", li).get_json()["cases"]] == [code]
    (seen,) = hall.get("/cases", wang).get_json()["cases"]
    assert (seen["contact_name"], seen["contact_phone"], seen["contact_masked"]) == (
        "张*明",
        "138****8000",
        True,
    )
    assert hall.get("/cases", zhao).get_json()["cases"] == []
    assert hall.get("/cases", admin).get_json()["cases"][0]["contact_name"] == "张三明"
    refused(hall.get(f"/cases/{code}", zhao), 403, "forbidden")
    refused(hall.get(f"/cases/{code}", bearer(hall.kiosk)), 403, "forbidden")
    refused(hall.get("/cases/overdue", bearer(hall.display)), 403, "forbidden")
    detail = hall.get(f"/cases/{case_codes.shown(code).lower()}", wang).get_json()
    assert [e["kind"] for e in detail["events"]] == ["opened"] and detail["events"][0]["actor"] == "li"
    assert [t["step"] for t in detail["tickets"]] == [1]

    # Working on it: zhao may not; wang (his counter serves NEW) may; only li or an admin cancels.
    refused(hall.post(f"/cases/{code}/complete", {"step": 1}, zhao), 403, "forbidden")
    done = hall.post(f"/cases/{code}/complete", {"step": 1, "counter": 5, "note": "资料齐全"}, wang)
    assert done.status_code == 200 and done.get_json()["case"]["active_step"] == 2
    refused(hall.post(f"/cases/{code}/complete", {"step": 1, "counter": 4}, wang), 403, "forbidden")
    refused(hall.post(f"/cases/{code}/complete", {"step": 1}, wang), 409, "step_not_active", bilingual=True)
    refused(hall.post(f"/cases/{code}/cancel", {"reason": "撤回"}, wang), 403, "forbidden")
    handed = hall.post(f"/cases/{code}/hand-off", {"step": 2, "to": "zhao", "reason": "外勤"}, li)
    assert handed.get_json()["case"]["steps"][1]["owner"] == "zhao"
    # Now the step is zhao's: he sees the case, and its contact.
    assert hall.get(f"/cases/{code}", zhao).get_json()["case"]["contact_name"] == "张三明"
    gone = hall.post(f"/cases/{code}/cancel", {"reason": "客户撤回申请"}, li)
    assert gone.status_code == 200 and gone.get_json()["case"]["status"] == "cancelled"
    refused(
        hall.post(f"/cases/{code}/cancel", {"reason": "again"}, admin), 409, "case_closed", bilingual=True
    )


def test_a_supervisor_reads_every_open_case_masked_and_is_told_when_one_is_overdue(hall: Hall) -> None:
    """The hall manager (值班长) reads the cases list to run the floor: every open case, the contact
    masked as for a clerk whose case it is not; works on none; and the supervisor's view raises an
    alert when a step is overdue (how many, the oldest), listed ahead at its deadline."""
    li, zhao = hall.login("li", 4), hall.login("zhao", 1)
    case = hall.open_case(li, contact_name="张三明", contact_phone="13800138000")
    code = case["code"]
    duty = hall.login("duty", None)
    (seen,) = hall.get("/cases", duty).get_json()["cases"]
    assert seen["code"] == code and (seen["owner"], seen["active_step"]) == ("li", 1)
    assert (seen["contact_name"], seen["contact_phone"], seen["contact_masked"]) == (
        "张*明",
        "138****8000",
        True,
    )
    assert hall.get("/cases", zhao).get_json()["cases"] == []  # a clerk as before: not his counter's
    assert hall.get("/cases", li).get_json()["cases"][0]["contact_phone"] == "13800138000"
    for path in (f"/cases/{code}/complete", f"/cases/{code}/cancel", f"/cases/{code}/hand-off"):
        refused(hall.post(path, {"step": 1, "reason": "x", "to": "wang"}, duty), 403, "forbidden")
    refused(hall.get(f"/cases/{code}", duty), 403, "forbidden")

    view = hall.get("/supervisor", duty).get_json()
    (ahead,) = [a for a in view["alerts"] if a["kind"] == "case_overdue"]
    due = seen["steps"][0]["due_at"]
    assert (ahead["active"], ahead["from"], ahead["due_at"]) == (False, due, due)  # listed ahead
    assert ahead["code"] == case_codes.shown(code) and "count" not in ahead  # names it, counts nothing
    assert ahead["zh"].startswith("下一件到期：") and ahead["en"].startswith("Next case falls due")

    hall.at(datetime.fromisoformat(due) + timedelta(seconds=1))
    duty = hall.login("duty", None)
    assert [c["code"] for c in hall.get("/cases/overdue", duty).get_json()["cases"]] == [code]
    (alert,) = [a for a in hall.get("/supervisor", duty).get_json()["alerts"] if a["kind"] == "case_overdue"]
    assert alert["active"] is True and alert["key"] == "cases_overdue" and alert["count"] == 1
    assert case_codes.shown(code) in alert["zh"] and "1 件事项逾期" in alert["zh"] and "li" in alert["zh"]
    assert alert["en"].startswith("1 case(s) overdue") and case_codes.shown(code) in alert["en"]
    assert "张" not in alert["zh"] and "138" not in alert["zh"]  # no visitor named

    hall.post(f"/cases/{code}/cancel", {"reason": "客户撤回申请"}, hall.login("li", 4))
    after = hall.get("/supervisor", hall.login("duty", None)).get_json()["alerts"]
    assert [a for a in after if a["kind"] == "case_overdue"] == []


def _backlog(hall: Hall, base_code: str, overdue: int, upcoming: int) -> list[str]:
    """Copies of an open case put straight into the store (the API would take minutes): ``overdue`` of
    them an hour apart in the past, ``upcoming`` a day apart from an hour ahead; their codes, the
    oldest deadline first."""
    book = hall.app.extensions["qcall"].cases
    base = book.find(base_code)
    now = hall.now[0]
    made = []
    moments = [now - timedelta(hours=overdue - i) for i in range(overdue)]
    moments += [now + timedelta(hours=1, days=i) for i in range(upcoming)]
    with book.store.transaction() as tx:
        for n, due_at in enumerate(moments):
            case_id = f"backlog-{n:05d}"
            steps = tuple(
                dataclasses.replace(step, case_id=case_id, due_at=due_at if step.step == 1 else step.due_at)
                for step in base.steps
            )
            code = case_codes.new_code()
            tx.add_case(dataclasses.replace(base, id=case_id, code=code, ticket_id=None, steps=steps))
            made.append(code)
    return made


def test_the_supervisor_counts_every_overdue_case_and_sees_the_next_beyond_a_full_list(hall: Hall) -> None:
    """1,200 overdue cases, more than a list's 500: the alert counts them all and names the oldest, the
    next case to fall due is still listed ahead; GET /cases says how many there are and that it is cut,
    and ``?overdue=1`` lists the overdue ones, the oldest first."""
    li = hall.login("li", 4)
    own = hall.open_case(li)  # its application ends on 8 October
    codes = _backlog(hall, own["code"], overdue=1200, upcoming=3)
    duty = hall.login("duty", None)
    alerts = [a for a in hall.get("/supervisor", duty).get_json()["alerts"] if a["kind"] == "case_overdue"]
    late, ahead = sorted(alerts, key=lambda a: a["key"], reverse=True)
    assert (late["key"], late["count"], late["active"]) == ("cases_overdue", 1200, True)
    assert late["code"] == case_codes.shown(codes[0]) and "1200 件事项逾期" in late["zh"]
    assert late["en"].startswith("1200 case(s) overdue")
    assert (ahead["key"], ahead["code"], ahead["active"]) == (
        f"case_due:{case_codes.shown(codes[1200])}",
        case_codes.shown(codes[1200]),
        False,
    )
    assert ahead["from"] == (hall.now[0] + timedelta(hours=1)).isoformat()

    listed = hall.get("/cases", duty).get_json()
    assert (listed["total"], listed["overdue"], listed["truncated"]) == (1204, 1200, True)
    assert len(listed["cases"]) == 500 and listed["cases"][0]["code"] == codes[0]
    doc = json.loads(DOC.read_text(encoding="utf-8"))
    check_answer(doc, "get", "/cases", hall.get("/cases?overdue=1", duty))
    only = hall.get("/cases?overdue=1", duty).get_json()
    assert (only["total"], only["overdue"], only["truncated"], len(only["cases"])) == (1204, 1200, True, 500)
    assert all(c["overdue"] for c in only["cases"]) and only["cases"][0]["code"] == codes[0]
    body = refused(hall.get("/cases?overdue=AAA", duty), 400, "bad_request")
    assert body["error_zh"] == "overdue 须为 1、true、0 或 false" and "AAA" not in body["error"]
    # A list not cut says so, and the counts are still the true ones.
    with hall.app.extensions["qcall"].cases.store.transaction() as tx:
        for n in range(1000):  # the oldest thousand cancelled
            tx.close_case(f"backlog-{n:05d}", CaseStatus.CANCELLED, hall.now[0], "test")
    small = hall.get("/cases?overdue=1", duty).get_json()
    assert (small["total"], small["overdue"], small["truncated"], len(small["cases"])) == (
        204,
        200,
        False,
        200,
    )
    assert hall.get("/cases", duty).get_json()["truncated"] is False


def test_the_supervisors_page_is_told_when_the_watch_sees_a_step_fall_overdue(hall: Hall) -> None:
    """At midnight a step falls overdue with no event of the hall: the case watch's round makes the
    supervisor's view be read again and sent, not a minute later at the page's refresh."""
    hub = hall.app.extensions["qcall"]
    hub.case_watch.close()  # the test takes the watch's look itself, at the time it sets
    hall.open_case(hall.login("li", 4))  # the application ends with Thursday 8 October
    for other in (hub.post_watch, hub.closing, hub.no_show_watch, hub.sweeper, hub.complaint_watch):
        other.close()  # nothing else of the hub's own moves the hall when the clock jumps
    hall.at(local(date(2026, 10, 8), 23, 59, 50))
    socketio = hall.app.extensions["socketio"]
    duty = hall.login("duty", None)
    page = socketio.test_client(hall.app, auth={"token": duty["Authorization"].split()[1], "supervise": True})
    (joined,) = wait_for(page, "supervisor")  # the view on joining: the case listed ahead
    (ahead,) = [a for a in joined["alerts"] if a["kind"] == "case_overdue"]
    assert ahead["key"].startswith("case_due:") and ahead["active"] is False
    hub.case_watch.since = hall.now[0]
    hall.at(local(date(2026, 10, 9), 0, 0, 30))
    # The clock passed midnight with no event: nothing is sent until the watch looks.
    assert wait_for(page, "supervisor", timeout=0.6) == []
    assert hub.case_watch.watch_once() == (1, 0)
    (after,) = wait_for(page, "supervisor")
    (late,) = [a for a in after["alerts"] if a["kind"] == "case_overdue"]
    assert (late["key"], late["count"], late["active"]) == ("cases_overdue", 1, True)
    page.disconnect()


def wait_for(client: Any, name: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = clock_time.monotonic() + timeout
    while True:
        seen = [m["args"][0] for m in client.get_received() if m["name"] == name]
        if seen or clock_time.monotonic() > deadline:
            return seen
        clock_time.sleep(0.02)


def test_the_visitor_sees_progress_and_nothing_personal(hall: Hall) -> None:
    li = hall.login("li", 4)
    case = hall.open_case(li, contact_name="张三明", contact_phone="13800138000")
    hall.at(local(date(2026, 9, 30), 15, 0))
    assert (
        hall.post(
            f"/cases/{case['code']}/complete", {"step": 1, "note": "客户张三明资料齐全"}, li
        ).status_code
        == 200
    )

    answer = hall.get(f"/cases/{case_codes.shown(case['code'])}/progress")  # no token: the code is the key
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.get_json() == {
        "code": case["code"],
        "code_shown": case_codes.shown(case["code"]),
        "kind": "NEW_CONNECTION",
        "name_zh": "业扩报装",
        "name_en": "New connection",
        "status": "open",
        "opened_on": "2026-09-30",
        "closed_on": None,
        "steps": [
            {
                "step": 1,
                "code": "APPLICATION",
                "name_zh": "受理申请",
                "name_en": "Application",
                "status": "done",
                "due_on": "2026-10-08",
                "done_on": "2026-09-30",
            },
            {
                "step": 2,
                "code": "SURVEY",
                "name_zh": "现场勘查",
                "name_en": "Site survey",
                "status": "active",
                "due_on": "2026-10-10",
                "done_on": None,
            },
        ],
        "timezone": "Asia/Shanghai",  # the page's "updated" time is the hall's, wherever the phone is
    }
    text = answer.get_data(as_text=True)
    for private in ("张", "13800138000", '"li"', "owner", "资料", "counter", "contact"):
        assert private not in text, private


def test_unknown_codes_are_404_and_guessing_is_braked(hall: Hall) -> None:
    li = hall.login("li", 4)
    code = hall.open_case(li)["code"]
    typo = code[:3] + ("2" if code[3] != "2" else "3") + code[4:]
    # A typo is caught by the check character: 404 at once, never counted.
    for _ in range(5):
        refused(hall.get(f"/cases/{typo}/progress"), 404, "unknown_case", bilingual=True)
    refused(hall.get("/cases/x/progress"), 404, "unknown_case", bilingual=True)
    refused(hall.get(f"/cases/{'A' * 200}/progress"), 404, "unknown_case", bilingual=True)
    assert hall.get(f"/cases/{code}/progress").status_code == 200
    # Well-formed codes that name no case: three are allowed per address and window, then 429.
    guesses = [case_codes.new_code() for _ in range(4)]
    for guess in guesses[:3]:
        body = refused(hall.get(f"/cases/{guess}/progress"), 404, "unknown_case", bilingual=True)
        assert "请核对" in body["error_zh"] and "please check" in body["error_en"]
    braked = hall.get(f"/cases/{guesses[3]}/progress")
    refused(braked, 429, "too_many_attempts")
    assert int(braked.headers["Retry-After"]) >= 1
    refused(hall.get(f"/cases/{code}/progress"), 429, "too_many_attempts")  # even a right code, meanwhile
    # A ticket for a case is the same lookup: braked too.
    refused(hall.post("/tickets", {"case": code}, bearer(hall.kiosk)), 429, "too_many_attempts")


def test_a_visitor_takes_a_number_for_the_next_step(hall: Hall) -> None:
    li = hall.login("li", 4)
    code = hall.open_case(li)["code"]
    kiosk = bearer(hall.kiosk)
    answer = hall.post("/tickets", {"case": case_codes.shown(code)}, kiosk)
    assert answer.status_code == 201, answer.get_json()
    ticket = answer.get_json()
    assert ticket["service"] == "NEW" and ticket["number"] == "C002"
    # The console, calling it, finds the case on it.
    assert hall.post("/counters/4/call", {"ticket_id": ticket["id"]}, li).status_code == 200
    linked = hall.get(f"/cases/by-ticket/{ticket['id']}", li).get_json()
    assert linked["case"]["code"] == code and linked["case"]["active_step"] == 1
    detail = hall.get(f"/cases/{code}", li).get_json()
    assert [e["kind"] for e in detail["events"]] == ["opened", "ticket"]
    assert detail["events"][1]["actor"] == "kiosk-1" and detail["events"][1]["detail"] == {"ticket": "C002"}
    # A plain ticket has no case; zhao may not read another counter's ticket's case.
    plain = hall.post("/tickets", {"service": "PAY"}, kiosk).get_json()
    assert hall.get(f"/cases/by-ticket/{plain['id']}", li).get_json() == {
        "ticket_id": plain["id"],
        "case": None,
    }
    refused(hall.get(f"/cases/by-ticket/{ticket['id']}", hall.login("zhao", 1)), 403, "forbidden")
    refused(hall.get("/cases/by-ticket/nosuchticket", li), 404, "unknown_ticket")

    # Bad input.
    refused(hall.post("/tickets", {"case": code, "service": "PAY"}, kiosk), 400, "bad_request")
    refused(hall.post("/tickets", {"case": None}, kiosk), 400, "bad_request")
    refused(hall.post("/tickets", {"service": None, "case": code}, kiosk), 400, "bad_request")
    missing = refused(hall.post("/tickets", {}, kiosk), 400, "bad_request")
    assert missing["error"] == "'service' is required"
    refused(
        hall.post("/tickets", {"case": case_codes.new_code()}, kiosk), 404, "unknown_case", bilingual=True
    )
    refused(hall.post("/tickets", {"case": code}, bearer(hall.display)), 403, "forbidden")
    hall.post(f"/cases/{code}/cancel", {"reason": "客户撤回申请"}, li)
    closed = refused(hall.post("/tickets", {"case": code}, kiosk), 409, "case_closed", bilingual=True)
    assert "cancelled" in closed["error_en"]


def test_bad_input_is_a_clear_4xx(hall: Hall) -> None:
    li = hall.login("li", 4)
    refused(
        hall.post("/cases", {"counter": 4, "kind": "NEW_CONNECTION"}, li), 409, "case_refused", bilingual=True
    )
    hall.serve(4, li)
    good = {"counter": 4, "kind": "NEW_CONNECTION"}
    for body, status, code in [
        ({**good, "kind": "SOLAR"}, 409, "case_refused"),
        ({**good, "kind": "no such!"}, 400, "bad_request"),
        ({"kind": "NEW_CONNECTION"}, 400, "bad_request"),
        ({**good, "counter": "4"}, 400, "bad_request"),
        ({**good, "counter": 99}, 403, "forbidden"),
        ({**good, "contact_phone": "call me"}, 400, "bad_request"),
        ({**good, "contact_name": "a\u0000b"}, 400, "bad_request"),
        ({**good, "extra": 1}, 400, "bad_request"),
    ]:
        refused(hall.post("/cases", body, li), status, code)
    headers = {**li, "Content-Type": "application/json"}
    refused(hall.client.post(f"{PREFIX}/cases", data="{", headers=headers), 400, "bad_request")
    code = hall.post("/cases", good, li).get_json()["case"]["code"]
    for path, body, status, err in [
        (f"/cases/{code}/complete", {"step": "1"}, 400, "bad_request"),
        (f"/cases/{code}/complete", {"step": 0}, 400, "bad_request"),
        (f"/cases/{code}/complete", {}, 400, "bad_request"),
        (f"/cases/{code}/complete", {"step": 2}, 409, "step_not_active"),
        (f"/cases/{code}/hand-off", {"step": 1, "to": "nobody"}, 409, "case_refused"),
        (f"/cases/{code}/hand-off", {"step": 1}, 400, "bad_request"),
        (f"/cases/{code}/cancel", {}, 400, "bad_request"),
        (f"/cases/{code}/cancel", {"reason": "   "}, 409, "case_refused"),
        (f"/cases/{case_codes.new_code()}/complete", {"step": 1}, 404, "unknown_case"),
        ("/cases/nonsense/cancel", {"reason": "x"}, 404, "unknown_case"),
    ]:
        refused(hall.post(path, body, li), status, err)
    refused(hall.get(f"/cases/{case_codes.new_code()}", li), 404, "unknown_case", bilingual=True)


def test_the_overdue_step_is_listed_for_staff_at_the_right_moment(hall: Hall) -> None:
    li = hall.login("li", 4)
    code = hall.open_case(li)["code"]
    hall.at(local(date(2026, 9, 30), 15, 0))
    hall.post(f"/cases/{code}/complete", {"step": 1}, li)  # the survey: 8, 9 and Saturday 10 October

    # Sessions last hours, deadlines days: each look logs in again at its moment.
    hall.at(local(date(2026, 10, 10), 23, 59, 59))
    before = hall.get("/cases/overdue", hall.login("li", 4)).get_json()
    assert before["cases"] == []
    assert before["next_deadline"] == local(date(2026, 10, 11), 0, 0).isoformat()

    hall.at(local(date(2026, 10, 11), 0, 0, 1))
    for who, counter in (("li", 4), ("wang", 5), ("admin", None)):
        late = hall.get("/cases/overdue", hall.login(who, counter)).get_json()["cases"]
        assert [(c["code"], c["overdue"], c["active_step"]) for c in late] == [(code, True, 2)], who
        assert late[0]["steps"][1]["due_on"] == "2026-10-10" and late[0]["steps"][1]["overdue"] is True
    assert hall.get("/cases/overdue", hall.login("zhao", 1)).get_json() == {
        "now": hall.now[0].isoformat(),
        "next_deadline": None,
        "cases": [],
    }


def test_staff_hear_of_case_changes_and_screens_do_not(hall: Hall) -> None:
    socketio = hall.app.extensions["socketio"]
    li = hall.login("li", 4)
    console = socketio.test_client(hall.app, auth={"token": li["Authorization"].split()[1]})
    screen = socketio.test_client(hall.app, auth={"token": hall.display})
    console.get_received()
    screen.get_received()
    code = hall.open_case(li)["code"]
    hall.post(f"/cases/{code}/complete", {"step": 1}, li)
    heard: list[dict[str, Any]] = []
    deadline = clock_time.monotonic() + 10
    while len([m for m in heard if m["name"] == "case_changed"]) < 2 and clock_time.monotonic() < deadline:
        heard += console.get_received()
        clock_time.sleep(0.02)
    changes = [m["args"][0] for m in heard if m["name"] == "case_changed"]
    assert changes == [
        {"action": "opened", "kind": "NEW_CONNECTION", "service": "NEW", "status": "open"},
        {"action": "step_done", "kind": "NEW_CONNECTION", "service": "NEW", "status": "open"},
    ]
    assert code not in json.dumps(heard)
    assert all(m["name"] != "case_changed" for m in screen.get_received())
    console.disconnect()
    screen.disconnect()


def test_the_watch_tells_staff_when_a_step_comes_due(hall: Hall) -> None:
    hub = hall.app.extensions["qcall"]
    assert hub.case_watch.task is not None  # a serving hub of a site with kinds of case watches them
    assert hub.snapshots.get()["site"]["cases"] is True  # and its kiosk offers the lookup
    hub.case_watch.close()  # its own task: the test takes each look itself, at the times it sets
    told: list[dict[str, Any]] = []
    hub.case_watch.tell_staff = told.append
    li = hall.login("li", 4)
    hall.open_case(li)  # the application ends with Thursday 8 October
    hub.case_watch.since = hall.now[0]
    hall.at(local(date(2026, 10, 8), 23, 59, 59))
    assert hub.case_watch.watch_once() == (0, 0) and told == []
    hall.at(local(date(2026, 10, 9), 0, 0, 30))
    assert hub.case_watch.watch_once() == (1, 0)
    assert told == [{"action": "overdue", "kind": "NEW_CONNECTION", "service": "NEW", "status": "open"}]
    assert hub.case_watch.watch_once() == (0, 0)  # told once


def test_every_answer_fits_the_openapi_document(hall: Hall) -> None:
    doc = json.loads(DOC.read_text(encoding="utf-8"))
    li, admin = hall.login("li", 4), hall.login("admin", None)
    kiosk = bearer(hall.kiosk)
    ticket = hall.serve(4, li)
    body = {"counter": 4, "kind": "NEW_CONNECTION", "contact_phone": "13800138000"}
    made = hall.post("/cases", body, li)
    check_answer(doc, "post", "/cases", made)
    code = made.get_json()["case"]["code"]
    check_answer(doc, "post", "/cases", hall.post("/cases", body, li))  # 409: the ticket has its case
    check_answer(doc, "post", "/cases", hall.post("/cases", body, hall.login("zhao", 1)))
    check_answer(doc, "get", "/cases", hall.get("/cases", admin))
    check_answer(doc, "get", "/cases/overdue", hall.get("/cases/overdue", li))
    check_answer(doc, "get", "/cases/{code}", hall.get(f"/cases/{code}", li))
    check_answer(doc, "get", "/cases/{code}", hall.get(f"/cases/{case_codes.new_code()}", li))
    check_answer(doc, "get", "/cases/by-ticket/{ticket_id}", hall.get(f"/cases/by-ticket/{ticket['id']}", li))
    check_answer(doc, "get", "/cases/{code}/progress", hall.get(f"/cases/{code}/progress"))
    check_answer(doc, "get", "/cases/{code}/progress", hall.get("/cases/nonsense/progress"))
    check_answer(doc, "post", "/tickets", hall.post("/tickets", {"case": code}, kiosk))
    check_answer(doc, "post", "/tickets", hall.post("/tickets", {"case": "nonsense"}, kiosk))
    check_answer(doc, "post", "/cases/{code}/complete", hall.post(f"/cases/{code}/complete", {"step": 1}, li))
    check_answer(doc, "post", "/cases/{code}/complete", hall.post(f"/cases/{code}/complete", {"step": 1}, li))
    handed = hall.post(f"/cases/{code}/hand-off", {"step": 2, "to": "wang"}, li)
    check_answer(doc, "post", "/cases/{code}/hand-off", handed)
    cancelled = hall.post(f"/cases/{code}/cancel", {"reason": "撤回"}, li)
    check_answer(doc, "post", "/cases/{code}/cancel", cancelled)
    check_answer(doc, "post", "/tickets", hall.post("/tickets", {"case": code}, kiosk))  # 409 case_closed
    for _ in range(3):
        hall.get(f"/cases/{case_codes.new_code()}/progress")
    check_answer(doc, "get", "/cases/{code}/progress", hall.get(f"/cases/{code}/progress"))  # 429
    check_answer(doc, "post", "/tickets", hall.post("/tickets", {"case": code}, kiosk))  # 429
    schema_validator(doc, doc["x-socketio-events"]["case_changed"]["payload"]).validate(
        {"action": "overdue", "kind": "NEW_CONNECTION", "service": "NEW", "status": "open"}
    )


def test_a_site_without_kinds_of_case_has_no_watch_and_no_lookup_button(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    app = create_app(load_config(write_site(tmp_path / "site.toml", sqlite_url)), async_mode="threading")
    hub = app.extensions["qcall"]
    try:
        assert hub.case_watch.task is None
        assert hub.snapshots.get()["site"]["cases"] is False
        body = app.test_client().get(f"{PREFIX}/cases/{case_codes.new_code()}/progress").get_json()
        assert body["code"] == "unknown_case"
    finally:
        hub.close()
