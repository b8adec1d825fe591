"""Complaints over REST, in the real app with a clock moved by hand: a full life, rights, bad input, overdue.

The app is ``create_app`` on SQLite (the cases' test site: China's working
days, a NEW service at counters 4 and 5), driven by Flask's test client; the
clock is a list the test sets, so a deadline is crossed by setting it. Every
answer is checked against server/api/openapi.json.
"""

from __future__ import annotations

import json
import time as clock_time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.app import create_app
from server.config import load_config
from server.store.schema import audit_log
from tests.test_cases_api import PASSWORD, Hall, bearer, case_site, local, refused
from tests.test_openapi import DOC_PATH, check_answer, schema_validator

#: Four working days: recorded Wednesday 30 September 2026, the National Day holiday (1–7 October)
#: is skipped, Saturday 10 October is a make-up working day (调休), Sunday 11 is not: Monday 12 October.
COMPLAINTS_TOML = """
[complaints]
working_days = 4
"""


@pytest.fixture
def hall(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("QCALL_SECRET_KEY", raising=False)
    site = case_site(tmp_path / "site.toml", sqlite_url)
    site.write_text(site.read_text(encoding="utf-8") + COMPLAINTS_TOML, encoding="utf-8")
    now = [local(date(2026, 9, 30), 10, 0)]
    app = create_app(load_config(site), lambda: now[0], "threading")
    hub = app.extensions["qcall"]
    for user in ("li", "wang"):
        hub.accounts.add_user(user, "staff", PASSWORD, now[0])
    hub.accounts.add_user("sun", "supervisor", PASSWORD, now[0])
    hub.accounts.add_user("admin", "admin", "admin-password-1", now[0])
    made = Hall(
        app,
        app.test_client(),
        now,
        hub.accounts.create_device_token("kiosk", "kiosk-1", now[0]),
        hub.accounts.create_device_token("display", "lobby-1", now[0]),
    )
    yield made
    hub.close()


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


def finished(hall: Hall, clerk: dict[str, str]) -> dict[str, Any]:
    """A NEW ticket served and finished by ``clerk`` at counter 4."""
    ticket = hall.serve(4, clerk)
    assert hall.post("/counters/4/finish", None, clerk).status_code == 200
    return ticket


def test_a_complaint_from_the_phone_to_its_closure(hall: Hall, doc: dict[str, Any]) -> None:
    li, sun = hall.login("li", 4), hall.login("sun", None)  # sun: the supervisor on duty
    ticket = finished(hall, li)
    phone = {
        "category": "attitude",
        "text": "等了很久没人理",
        "ticket": ticket["id"],
        "contact_phone": "138 0013 8000",
    }
    made = hall.post("/complaints", phone)  # nobody logged in: the ticket's id is the right
    check_answer(doc, "post", "/complaints", made)
    assert made.status_code == 201
    receipt = made.get_json()["receipt"]
    assert set(made.get_json()) == {"receipt"} and receipt["due_on"] == "2026-10-12"
    cid = receipt["id"]

    listed = hall.get("/complaints", sun)
    check_answer(doc, "get", "/complaints", listed)
    (row,) = listed.get_json()["complaints"]
    assert (row["owner"], row["clerk"], row["ticket_number"], row["channel"]) == (
        "sun",
        "li",
        ticket["number"],
        "phone",
    )
    assert row["contact_phone"] == "138****8000" and row["contact_masked"] is True  # masked in a list
    one = hall.get(f"/complaints/{cid}", sun)
    check_answer(doc, "get", "/complaints/{complaint_id}", one)
    assert one.get_json()["complaint"]["contact_phone"] == "13800138000"
    assert [e["kind"] for e in one.get_json()["events"]] == ["recorded"]

    # li is the clerk concerned, not its owner: he reads nothing of it until it is given to him.
    refused(hall.get(f"/complaints/{cid}", li), 403, "forbidden")
    assert hall.get("/complaints", li).get_json()["complaints"] == []
    refused(hall.post(f"/complaints/{cid}/owner", {"owner": "wang"}, li), 403, "forbidden")
    moved = hall.post(f"/complaints/{cid}/owner", {"owner": "wang"}, sun)
    check_answer(doc, "post", "/complaints/{complaint_id}/owner", moved)
    assert moved.get_json()["complaint"]["owner"] == "wang"
    wang = hall.login("wang", 5)
    noted = hall.post(f"/complaints/{cid}/notes", {"note": "已调监控，属实"}, wang)
    check_answer(doc, "post", "/complaints/{complaint_id}/notes", noted)
    early = hall.post(f"/complaints/{cid}/close", {"result": "已批评教育"}, wang)
    check_answer(doc, "post", "/complaints/{complaint_id}/close", early)
    refused(early, 409, "return_call_required", bilingual=True)

    hall.at(local(date(2026, 10, 8), 15, 0))  # a week later: new logins
    wang, sun = hall.login("wang", 5), hall.login("sun", None)
    called = hall.post(
        f"/complaints/{cid}/return-call", {"satisfaction": "satisfied", "note": "接受道歉"}, wang
    )
    check_answer(doc, "post", "/complaints/{complaint_id}/return-call", called)
    assert called.get_json()["complaint"]["return_call"]["by"] == "wang"
    closed = hall.post(f"/complaints/{cid}/close", {"result": "已批评教育，改进排班"}, wang)
    check_answer(doc, "post", "/complaints/{complaint_id}/close", closed)
    assert closed.get_json()["complaint"]["handled"] is True
    refused(
        hall.post(f"/complaints/{cid}/notes", {"note": "again"}, wang),
        409,
        "complaint_closed",
        bilingual=True,
    )
    timeline = hall.get(f"/complaints/{cid}", wang).get_json()["events"]
    assert [e["kind"] for e in timeline] == ["recorded", "owner", "note", "return_call", "closed"]

    figures = hall.get("/complaints/figures?from=2026-09-30&to=2026-10-08", sun)
    check_answer(doc, "get", "/complaints/figures", figures)
    got = figures.get_json()
    assert (got["recorded"], got["closed"], got["handled"], got["handled_rate"]) == (1, 1, 1, 100.0)
    assert got["closure_working_days"] == {"p50": 1, "p90": 1}  # 30 Sep → 8 Oct: one working day
    stats = hall.get("/stats?from=2026-09-30&to=2026-10-08", sun).get_json()
    assert stats["complaints"]["handled"] == 1
    refused(hall.get("/complaints/figures?from=2026-09-30", wang), 403, "forbidden")

    # Audited, and no phone or text in the audit log.
    hub = hall.app.extensions["qcall"]
    with hub.store.engine.connect() as conn:
        audited = [
            (r.action, json.dumps(r.detail, ensure_ascii=False)) for r in conn.execute(select(audit_log))
        ]
    assert [a for a, _ in audited if a.startswith("complaint.")] == [
        "complaint.record",
        "complaint.owner",
        "complaint.note",
        "complaint.return_call",
        "complaint.close",
    ]
    assert not any("13800138000" in d or "等了很久" in d for _, d in audited)


def test_who_may_record_and_read(hall: Hall, doc: dict[str, Any]) -> None:
    li, admin = hall.login("li", 4), hall.login("admin", None)
    ticket = finished(hall, li)
    body = {"category": "suggestion", "text": "多设座椅"}
    refused(hall.post("/complaints", body, bearer(hall.display)), 403, "forbidden")
    kiosk = hall.post("/complaints", body, bearer(hall.kiosk))
    assert kiosk.status_code == 201 and set(kiosk.get_json()) == {"receipt"}
    cid = kiosk.get_json()["receipt"]["id"]
    assert (
        hall.get(f"/complaints/{cid}", admin).get_json()["complaint"]["owner"] is None
    )  # no supervisor on duty
    refused(hall.get(f"/complaints/{cid}", bearer(hall.kiosk)), 403, "forbidden")
    refused(hall.get("/complaints", bearer(hall.display)), 403, "forbidden")
    refused(hall.get(f"/complaints/{cid}"), 401, "unauthorized")
    # At the console a clerk names the ticket; the clerk concerned comes from its legs.
    staff = hall.post("/complaints", {**body, "ticket": ticket["id"], "category": "fees"}, li)
    check_answer(doc, "post", "/complaints", staff)
    assert (
        staff.get_json()["complaint"]["clerk"] == "li"
        and staff.get_json()["complaint"]["channel"] == "counter"
    )
    # The site's categories, for the kiosk's and the phone's form.
    cats = hall.get("/complaints/categories")
    check_answer(doc, "get", "/complaints/categories", cats)
    assert [c["code"] for c in cats.get_json()["categories"]][:2] == ["attitude", "waiting"]


def test_bad_input_is_a_clear_4xx(hall: Hall, doc: dict[str, Any]) -> None:
    li, sun = hall.login("li", 4), hall.login("sun", None)
    ticket = finished(hall, li)
    cases = [
        (
            hall.post("/complaints", {"category": "nope", "text": "x", "ticket": ticket["id"]}),
            400,
            "unknown_category",
        ),
        (
            hall.post("/complaints", {"category": "fees", "text": "x", "ticket": "t-unknown"}),
            404,
            "unknown_ticket",
        ),
        (hall.post("/complaints", {"category": "fees", "text": "x"}), 401, "unauthorized"),
        (
            hall.post(
                "/complaints", {"category": "fees", "text": "x", "ticket": ticket["id"], "clerk": "li"}
            ),
            403,
            "forbidden",
        ),
        (
            hall.post("/complaints", {"category": "fees", "text": "   ", "ticket": ticket["id"]}),
            409,
            "complaint_refused",
        ),
        (
            hall.post("/complaints", {"category": "fees", "text": "x", "case": "AAAAA-AAAAA"}, li),
            409,
            "complaint_refused",
        ),
        (
            hall.post("/complaints", {"category": "fees", "text": "x", "clerk": "ghost"}, li),
            409,
            "complaint_refused",
        ),
        (hall.post("/complaints", {"category": "fees", "text": "x", "extra": 1}, li), 400, "bad_request"),
        (hall.get("/complaints/kNOPE", sun), 404, "unknown_complaint"),
        (hall.get("/complaints?status=late", sun), 400, "bad_request"),
        (hall.get("/complaints/figures", sun), 400, "bad_request"),
        (hall.get("/complaints/figures?from=2026-13-01", sun), 400, "bad_request"),
        (hall.get("/complaints/figures?from=2026-10-02&to=2026-10-01", sun), 400, "bad_request"),
    ]
    for answer, status, code in cases:
        refused(answer, status, code)
    for _ in range(3):
        assert (
            hall.post("/complaints", {"category": "fees", "text": "x", "ticket": ticket["id"]}).status_code
            == 201
        )
    refused(
        hall.post("/complaints", {"category": "fees", "text": "x", "ticket": ticket["id"]}),
        409,
        "complaint_refused",
    )
    cid = hall.get("/complaints", sun).get_json()["complaints"][0]["id"]
    refused(hall.post(f"/complaints/{cid}/return-call", {"satisfaction": "meh"}, sun), 400, "bad_request")
    future = {"satisfaction": "satisfied", "at": "2027-01-01T10:00:00+08:00"}
    refused(hall.post(f"/complaints/{cid}/return-call", future, sun), 409, "complaint_refused")
    for at in ("noon", "2026-13-01T10:00:00+08:00", "2026-10-01T10:00:00"):
        answer = hall.post(f"/complaints/{cid}/return-call", {"satisfaction": "satisfied", "at": at}, sun)
        refused(answer, 400, "bad_request")
    refused(hall.post(f"/complaints/{cid}/owner", {"owner": "ghost"}, sun), 409, "complaint_refused")
    refused(hall.post(f"/complaints/{cid}/close", {}, sun), 400, "bad_request")


def test_overdue_on_the_right_day_across_the_holiday_and_the_weekend(hall: Hall, doc: dict[str, Any]) -> None:
    hub = hall.app.extensions["qcall"]
    assert hub.complaint_watch.task is not None  # a serving hub watches
    hub.complaint_watch.close()  # the test takes each look itself, at the times it sets
    told: list[dict[str, Any]] = []
    hub.complaint_watch.tell_staff = told.append
    sun = hall.login("sun", None)
    made = hall.post("/complaints", {"category": "waiting", "text": "排队太久"}, bearer(hall.kiosk))
    cid = made.get_json()["receipt"]["id"]
    hub.complaint_watch.since = hall.now[0]
    for moment in (
        local(date(2026, 10, 7), 12),
        local(date(2026, 10, 11), 12),
        local(date(2026, 10, 12), 23, 59, 59),
    ):
        hall.at(moment)  # the holiday, the Sunday, and the last second of Monday 12 October
        sun = hall.login("sun", None)
        assert hub.complaint_watch.once() == (0, 0) and told == []
        assert hall.get(f"/complaints/{cid}", sun).get_json()["complaint"]["overdue"] is False
        assert hall.get("/complaints?status=overdue", sun).get_json()["complaints"] == []
    hall.at(local(date(2026, 10, 13), 0, 0, 1))
    sun = hall.login("sun", None)
    assert hub.complaint_watch.once() == (1, 0)
    assert told == [{"action": "overdue", "category": "waiting", "status": "open"}]
    schema_validator(doc, doc["x-socketio-events"]["complaint_changed"]["payload"]).validate(told[0])
    assert hub.complaint_watch.once() == (0, 0)  # told once
    (late,) = hall.get("/complaints?status=overdue", sun).get_json()["complaints"]
    assert late["id"] == cid and late["overdue"] is True
    figures = hall.get("/complaints/figures?from=2026-10-13", sun).get_json()
    assert figures["overdue_open"] == 1 and figures["handled_rate"] is None


def test_staff_hear_of_complaints_and_screens_do_not(hall: Hall) -> None:
    socketio = hall.app.extensions["socketio"]
    sun = hall.login("sun", None)
    console = socketio.test_client(hall.app, auth={"token": sun["Authorization"].split()[1]})
    screen = socketio.test_client(hall.app, auth={"token": hall.display})
    console.get_received()
    screen.get_received()
    hall.post(
        "/complaints",
        {"category": "fees", "text": "收费不明", "contact_phone": "13800138000"},
        bearer(hall.kiosk),
    )
    heard: list[dict[str, Any]] = []
    deadline = clock_time.monotonic() + 10
    while not heard and clock_time.monotonic() < deadline:
        heard += [m for m in console.get_received() if m["name"] == "complaint_changed"]
        clock_time.sleep(0.02)
    assert [m["args"][0] for m in heard] == [{"action": "recorded", "category": "fees", "status": "open"}]
    assert all(m["name"] != "complaint_changed" for m in screen.get_received())
    console.disconnect()
    screen.disconnect()
