"""Appointments through a real hub: rights per role, bad input → 4xx (never 500), check-in, import, CLI.

Every refusal is JSON ``{"error", "code"}``; those a visitor reads at the kiosk
also carry ``error_zh`` and ``error_en``.
"""

from __future__ import annotations

import json
import subprocess
import sys
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
    CLERK_PASSWORD,
    ROOT,
    Credentials,
    HubProcess,
    appointment_site,
    assert_bilingual,
    bearer,
    login,
    provision,
    slot_now,
)
from tests.test_openapi import DOC_PATH, schema_validator

pytestmark = pytest.mark.slow
TIMEOUT = 20


@dataclass
class Hall:
    hub: HubProcess
    creds: Credentials
    booking: str
    staff: str
    admin: str
    config: Path

    def post(self, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = {**(bearer(token) if token else {}), **kwargs.pop("headers", {})}
        return requests.post(f"{self.hub.url}/api/v1{path}", headers=headers, timeout=TIMEOUT, **kwargs)

    def get(self, path: str, token: str | None, **kwargs: Any) -> requests.Response:
        headers = bearer(token) if token else {}
        return requests.get(f"{self.hub.url}/api/v1{path}", headers=headers, timeout=TIMEOUT, **kwargs)

    def book(self, token: str | None = None, **fields: Any) -> dict[str, Any]:
        day, start = slot_now()
        body = {"service": "PAY", "date": day, "start": start, **fields}
        answer = self.post("/appointments", token or self.booking, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["appointment"]


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    workdir = tmp_path_factory.mktemp("appointments")
    config = appointment_site(workdir / "site.toml", f"sqlite:///{workdir / 'qcall.db'}")
    creds = provision(config, 2)
    made = bootstrap(load_config(config))
    booking = made.accounts.create_device_token("booking", "his", utc_now())
    made.accounts.add_user("duty", "supervisor", CLERK_PASSWORD, utc_now())  # the hall manager (值班长)
    made.close()
    hub = HubProcess(config, workdir)
    hub.start()
    try:
        yield Hall(
            hub,
            creds,
            booking,
            login(hub.url, "clerk1", 1),
            login(hub.url, "admin", None, "admin-password"),
            config,
        )
    finally:
        hub.stop()
        assert "Traceback" not in hub.log()


def refused(answer: requests.Response, status: int, code: str, bilingual: bool = True) -> dict[str, Any]:
    assert answer.status_code == status, f"{answer.status_code} {answer.text[:300]}"
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert body["code"] == code and body["error"], body
    if bilingual:
        assert body["error_zh"] and body["error_en"] and body["error_zh"] != body["error_en"], body
    assert_bilingual(body)  # every refusal, the appointments' own and the API's
    return body


def test_rights_per_role(hall: Hall) -> None:
    made = hall.book()
    assert len(made["code"]) == 6 and made["source"] == "web"
    refused(hall.get("/appointments", hall.booking), 403, "forbidden", bilingual=False)  # no list of names
    refused(hall.post("/tickets", hall.booking, json={"service": "PAY"}), 403, "forbidden", bilingual=False)
    refused(
        hall.post("/appointments/check-in", hall.booking, json={"code": "X"}),
        403,
        "forbidden",
        bilingual=False,
    )
    refused(hall.get("/queue", hall.booking), 403, "forbidden", bilingual=False)
    day, start = slot_now()
    body = {"service": "PAY", "date": day, "start": start}
    refused(hall.post("/appointments", hall.creds.kiosk, json=body), 403, "forbidden", bilingual=False)
    refused(
        hall.post("/appointments/check-in", hall.creds.display, json={"code": "X"}),
        403,
        "forbidden",
        bilingual=False,
    )
    refused(
        hall.post("/appointments/import", hall.staff, json={"csv": "x"}), 403, "forbidden", bilingual=False
    )
    refused(hall.post("/appointments", None, json=body), 401, "unauthorized", bilingual=False)


def test_bad_input_is_a_clear_4xx(hall: Hall) -> None:
    day, start = slot_now()
    good = {"service": "PAY", "date": day, "start": start}
    for body, status, code in [
        ({**good, "service": "ASK"}, 409, "bad_booking"),  # takes no appointments
        ({**good, "service": "NOPE"}, 409, "bad_booking"),
        ({**good, "date": "2000-01-01"}, 409, "bad_booking"),
        ({**good, "counter": 99}, 409, "bad_booking"),
        ({**good, "date": "2026-02-30"}, 400, "bad_request"),
        ({**good, "date": "tomorrow"}, 400, "bad_request"),
        ({**good, "start": "25:00"}, 400, "bad_request"),
        ({**good, "phone": "call me"}, 400, "bad_request"),
        ({**good, "code": "!!"}, 400, "bad_request"),
        ({**good, "name": "a\u0000b"}, 400, "bad_request"),
        ({**good, "counter": "1"}, 400, "bad_request"),
        ({**good, "extra": 1}, 400, "bad_request"),
        ({**good, "source": "fax"}, 400, "bad_request"),
        ({"date": day}, 400, "bad_request"),
    ]:
        refused(
            hall.post("/appointments", hall.booking, json=body), status, code, bilingual=code != "bad_request"
        )
    refused(
        hall.post("/appointments", hall.booking, data="service=PAY", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported_media_type",
        bilingual=False,
    )
    refused(
        hall.post("/appointments/check-in", hall.creds.kiosk, json={}), 400, "bad_request", bilingual=False
    )
    refused(
        hall.post("/appointments/check-in", hall.creds.kiosk, json={"code": "A", "phone": "1"}),
        400,
        "bad_request",
        bilingual=False,
    )
    refused(
        hall.post("/appointments/check-in", hall.creds.kiosk, json={"code": "ZZZZZZ"}),
        404,
        "unknown_appointment",
    )
    refused(
        hall.post("/appointments/check-in", hall.creds.kiosk, json={"code": "<script>"}),
        404,
        "unknown_appointment",
    )
    refused(
        hall.post("/appointments/check-in", hall.creds.kiosk, json={"phone": "abc"}),
        404,
        "unknown_appointment",
    )
    refused(hall.post("/appointments/nope/cancel", hall.staff, json={}), 404, "unknown_appointment")
    refused(
        hall.post("/appointments/" + "x" * 300 + "/cancel", hall.staff, json={}), 404, "unknown_appointment"
    )
    refused(hall.get("/appointments?date=tomorrow", hall.staff), 400, "bad_request", bilingual=False)
    refused(hall.get("/appointments?date=2026-13-01", hall.staff), 400, "bad_request", bilingual=False)


def test_check_in_by_code_once_and_the_list_masks(hall: Hall) -> None:
    made = hall.book(phone="13812345678", name="张小明")
    answer = hall.post("/appointments/check-in", hall.creds.kiosk, json={"code": made["code"].lower()})
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["appointment"] is True and ticket["due_at"] and ticket["arrival"] == "on_time"
    assert ticket["name"] == "张*明" and "13812345678" not in answer.text
    again = refused(
        hall.post("/appointments/check-in", hall.creds.kiosk, json={"code": made["code"]}),
        409,
        "appointment_used",
    )
    assert "已使用" in again["error_zh"]
    status = hall.get(f"/tickets/{ticket['id']}", None).json()
    assert status["appointment"] is True and "张" not in str(status)
    snapshot = hall.get("/queue", hall.creds.display).text
    assert "张" not in snapshot and "1381234" not in snapshot
    day = hall.get("/appointments", hall.staff).json()
    # What the admin page's booking form offers: the services that take appointments, and the name field.
    assert [s["code"] for s in day["services"]] == ["PAY"] and day["call_by_name"] is True
    listed = day["appointments"]
    mine = next(a for a in listed if a["id"] == made["id"])
    assert (mine["status"], mine["phone"], mine["name"]) == ("checked_in", "138****5678", "张*明")
    refused(hall.post(f"/appointments/{made['id']}/cancel", hall.staff, json={}), 409, "appointment_used")


def test_a_supervisor_reads_the_bookings_without_their_codes(hall: Hall) -> None:
    """The code is a bearer's (enough to check in at a kiosk): the hall manager reads the day's
    bookings to run the floor, never their codes; staff and admins still see them."""
    made = hall.book(phone="13812340000")
    duty = login(hall.hub.url, "duty", None)
    answer = hall.get("/appointments", duty)
    assert answer.status_code == 200, answer.text
    seen = next(a for a in answer.json()["appointments"] if a["id"] == made["id"])
    assert "code" not in seen and made["code"] not in answer.text
    assert (seen["phone"], seen["status"]) == ("138****0000", "booked")
    doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    schema = doc["paths"]["/appointments"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    schema_validator(doc, schema).validate(answer.json())
    for token in (hall.staff, hall.admin):
        listed = hall.get("/appointments", token).json()["appointments"]
        assert next(a for a in listed if a["id"] == made["id"])["code"] == made["code"]


def test_phone_with_two_bookings_picks_one(hall: Hall) -> None:
    first = hall.book(hall.staff, phone="13900000001")
    hall.book(hall.admin, phone="13900000001", start=slot_now(3)[1])
    answer = hall.post("/appointments/check-in", hall.creds.kiosk, json={"phone": "139 0000 0001"})
    assert answer.status_code == 200, answer.text
    choices = answer.json()["choices"]
    assert len(choices) == 2 and "13900000001" not in answer.text
    refused(
        hall.post(
            "/appointments/check-in", hall.creds.kiosk, json={"phone": "13900000001", "appointment_id": "zzz"}
        ),
        404,
        "unknown_appointment",
    )
    picked = hall.post(
        "/appointments/check-in",
        hall.creds.kiosk,
        json={"phone": "13900000001", "appointment_id": first["id"]},
    )
    assert picked.status_code == 201, picked.text
    # One left: checked in without a choice.
    assert (
        hall.post("/appointments/check-in", hall.creds.kiosk, json={"phone": "13900000001"}).status_code
        == 201
    )


def test_full_half_day_and_cancel(hall: Hall) -> None:
    """PAY takes 12 a half-day: whatever earlier tests booked, the 13th of this half-day is refused."""
    day, start = slot_now()
    body = {"service": "PAY", "date": day, "start": start}
    made = []
    while True:
        answer = hall.post("/appointments", hall.booking, json=body)
        if answer.status_code != 201:
            break
        made.append(answer.json()["appointment"])
    full = refused(answer, 409, "slot_full")
    assert "号源已满" in full["error_zh"] and "fully booked" in full["error_en"]
    victim = made[-1] if made else None
    if victim:
        assert hall.post(f"/appointments/{victim['id']}/cancel", hall.booking, json={}).status_code == 200
        assert hall.post("/appointments", hall.booking, json=body).status_code == 201


def test_import_all_or_nothing_with_line_numbers(hall: Hall) -> None:
    tomorrow = "2099-01-05"
    before = len(hall.get(f"/appointments?date={tomorrow}", hall.staff).json()["appointments"])
    bad = (
        "code,service,date,start,phone,name\n"
        f"K7M2QX,PAY,{tomorrow},09:00,,\nK7M2QY,PAY,{tomorrow},9h,,\n,ASK,{tomorrow},10:00,,\n"
    )
    body = refused(hall.post("/appointments/import", hall.booking, json={"csv": bad}), 400, "bad_import")
    assert [line.split(":")[0] for line in body["lines"]] == ["line 3", "line 4"]
    # Each line's problem on its column, in both languages (lines: the same in English, for scripts).
    assert [(p["line"], p["field"]) for p in body["problems"]] == [(3, "start"), (4, "service")]
    assert body["problems"][0]["error_zh"] == "时间 '9h' 无效，应形如 09:30"
    assert body["problems"][0]["error_en"] == "start '9h' is not a time like 09:30"
    assert body["lines"][0] == "line 3: start '9h' is not a time like 09:30"
    for problem in body["problems"]:
        assert_bilingual(problem)
    empty = refused(
        hall.post("/appointments/import", hall.booking, json={"csv": "service,date,start\n"}),
        400,
        "bad_import",
    )
    assert [(p["line"], p["field"], p["error_zh"]) for p in empty["problems"]] == [
        (2, "", "列名行之后没有预约")
    ]
    over = "service,date,start\n" + f"PAY,{tomorrow},09:00\n" * 13
    refused(hall.post("/appointments/import", hall.admin, json={"csv": over}), 409, "slot_full")
    assert len(hall.get(f"/appointments?date={tomorrow}", hall.staff).json()["appointments"]) == before
    good = (
        "预约码,科室,日期,时间,电话,姓名\n"
        f"K7M2QX,PAY,{tomorrow},09:00,13800000009,李四\n,PAY,{tomorrow},14:00,,\n"
    )
    answer = hall.post("/appointments/import", hall.booking, json={"csv": good})
    assert answer.status_code == 201, answer.text
    assert answer.json()["imported"] == 2 and answer.json()["appointments"][0]["code"] == "K7M2QX"
    audit = hall.get("/admin/audit?action=appointment.import", hall.admin).json()["entries"]
    assert audit and audit[0]["actor"] == "his"
    refused(
        hall.post("/appointments/import", hall.booking, json={"csv": good}), 409, "bad_booking"
    )  # K7M2QX taken


def test_cli_import_refuses_a_bad_file_by_line(hall: Hall, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("service,date,start\nPAY,2099-02-01,09:00\nPAY,2099-02-01,noon\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "server", "--config", str(hall.config), "appointments", "import", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"QCALL_VAR_DIR": str(tmp_path), "PATH": ""},
    )
    assert run.returncode == 2 and "line 3" in run.stderr and "Traceback" not in run.stderr
    good = tmp_path / "good.csv"
    good.write_text("service,date,start\nPAY,2099-02-01,09:00\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "server", "--config", str(hall.config), "appointments", "import", str(good)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"QCALL_VAR_DIR": str(tmp_path), "PATH": ""},
    )
    assert run.returncode == 0, run.stderr
    assert "imported 1" in run.stdout
    listed = hall.get("/appointments?date=2099-02-01", hall.staff).json()["appointments"]
    assert [a["source"] for a in listed] == ["import"]
    sweep = subprocess.run(
        [sys.executable, "-m", "server", "--config", str(hall.config), "appointments", "sweep"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"QCALL_VAR_DIR": str(tmp_path), "PATH": ""},
    )
    assert sweep.returncode == 0 and "no_show" in sweep.stdout, sweep.stderr
