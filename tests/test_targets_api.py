"""Targets over REST (issue 12): the next-up list's due times, the legs' verdicts, the share within
target and its refusals, each answer checked against server/api/openapi.json.

The app runs in this process with a clock moved by hand, so every due time
and every figure is known exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from server.app import create_app
from server.config import load_config
from tests.support import write_site
from tests.test_openapi import DOC_PATH, check_answer

#: Tuesday 10 March 2026, 09:00 in Shanghai.
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
PASSWORD = "clerk-password"

TARGETS = """
[targets]
wait_minutes = 15
service_minutes = 20
warn_before_minutes = 3
"""


@dataclass
class Hall:
    client: FlaskClient
    now: list[datetime]
    kiosk: dict[str, str]
    doc: dict[str, Any]

    def at(self, minutes: float) -> None:
        self.now[0] = T0 + timedelta(minutes=minutes)

    def login(self, name: str, counter: int | None) -> dict[str, str]:
        answer = self.client.post(
            "/api/v1/auth/login", json={"username": name, "password": PASSWORD, "counter": counter}
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return {"Authorization": f"Bearer {answer.get_json()['token']}"}

    def issue(self, service: str = "PAY") -> dict[str, Any]:
        answer = self.client.post("/api/v1/tickets", json={"service": service}, headers=self.kiosk)
        assert answer.status_code == 201, answer.get_data(as_text=True)
        return dict(answer.get_json())

    def act(self, counter: int, action: str, who: dict[str, str], body: Any = None) -> dict[str, Any]:
        answer = self.client.post(f"/api/v1/counters/{counter}/{action}", json=body or {}, headers=who)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return dict(answer.get_json())

    def get(self, path: str, who: dict[str, str] | None = None, schema_path: str | None = None) -> Any:
        answer = self.client.get(f"/api/v1{path}", headers=who or {})
        check_answer(self.doc, "get", schema_path or path.split("?")[0], answer)
        return answer


@pytest.fixture
def hall(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    import json

    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    path = write_site(tmp_path / "site.toml", sqlite_url, counters=2)
    # ASK promises a call within 5 minutes, over the site's 15.
    text = path.read_text(encoding="utf-8").replace("width = 4\n", "width = 4\nwait_target_minutes = 5\n", 1)
    path.write_text(text + TARGETS, encoding="utf-8")
    now = [T0]
    app = create_app(load_config(path), clock=lambda: now[0], async_mode="threading")
    hub = app.extensions["qcall"]
    for name, role in (("clerk1", "staff"), ("clerk2", "staff"), ("admin", "admin")):
        hub.accounts.add_user(name, role, PASSWORD, T0)
    kiosk = {"Authorization": f"Bearer {hub.accounts.create_device_token('kiosk', 'k', T0)}"}
    yield Hall(app.test_client(), now, kiosk, json.loads(DOC_PATH.read_text(encoding="utf-8")))
    hub.store.engine.dispose()


def test_the_console_reads_when_each_target_is_breached_and_the_legs_their_verdicts(hall: Hall) -> None:
    clerk1 = hall.login("clerk1", 1)
    first = hall.issue("PAY")
    hall.at(1)
    second = hall.issue("ASK")
    hall.at(2)
    plan = hall.get("/counters/1/next", clerk1, "/counters/{counter}/next").get_json()
    assert (plan["now"], plan["warn_before_seconds"], plan["current"]) == (
        (T0 + timedelta(minutes=2)).isoformat(),
        180,
        None,
    )
    assert {p["ticket_id"]: p["wait_due_at"] for p in plan["next"]} == {
        first["id"]: (T0 + timedelta(minutes=15)).isoformat(),
        second["id"]: (T0 + timedelta(minutes=6)).isoformat(),  # ASK's own 5 minutes
    }

    hall.at(16)
    hall.act(1, "call", clerk1, {"ticket_id": first["id"]})  # a minute late
    hall.at(17)
    hall.act(1, "start", clerk1)
    plan = hall.get("/counters/1/next", clerk1, "/counters/{counter}/next").get_json()
    assert plan["current"]["service_due_at"] == (T0 + timedelta(minutes=37)).isoformat()
    assert plan["current"]["status"] == "serving"
    hall.at(30)
    hall.act(1, "finish", clerk1)

    journey = hall.get(f"/tickets/{first['id']}/legs", clerk1, "/tickets/{ticket_id}/legs").get_json()
    (leg,) = journey["legs"]
    assert (leg["wait_seconds"], leg["wait_met"], leg["service_seconds"], leg["service_met"]) == (
        960.0,
        False,
        780.0,
        True,
    )
    assert leg["last_called_at"] == (T0 + timedelta(minutes=16)).isoformat()
    # Still waiting: nothing judged yet (its journey is replayed from the log: no leg kept yet).
    waiting = hall.get(f"/tickets/{second['id']}/legs", clerk1, "/tickets/{ticket_id}/legs").get_json()
    assert [(leg["wait_seconds"], leg["wait_met"]) for leg in waiting["legs"]] == [(None, None)]


def test_the_share_within_target_for_admins_and_for_a_clerks_own_counter(hall: Hall) -> None:
    clerk1, clerk2, admin = hall.login("clerk1", 1), hall.login("clerk2", 2), hall.login("admin", None)
    pay = [hall.issue("PAY") for _ in range(3)]
    hall.at(10)
    hall.act(1, "call", clerk1, {"ticket_id": pay[0]["id"]})  # 10 minutes: met
    hall.act(1, "start", clerk1)
    hall.at(20)
    hall.act(2, "call", clerk2, {"ticket_id": pay[1]["id"]})  # 20 minutes: missed
    hall.at(35)
    hall.act(1, "finish", clerk1)  # 25 minutes of service: missed
    hall.act(2, "finish", clerk2)  # 15 minutes from the call (never started): met
    gave_up = hall.client.post(f"/api/v1/tickets/{pay[2]['id']}/cancel", json={})  # after 35: missed
    assert gave_up.status_code == 200, gave_up.get_data(as_text=True)

    report = hall.get("/targets", admin).get_json()
    assert (report["first_day"], report["last_day"]) == ("2026-03-10", "2026-03-10")
    assert report["hall"] == {
        "wait": {"with_target": 3, "met": 1, "share": pytest.approx(1 / 3)},
        "service": {"with_target": 2, "met": 1, "share": 0.5},
    }
    lines = {s["code"]: s for s in report["services"]}
    assert lines["PAY"]["wait"] == {"with_target": 3, "met": 1, "share": pytest.approx(1 / 3)}
    assert lines["ASK"]["wait"] == {"with_target": 0, "met": 0, "share": None}
    assert [(c["number"], c["wait"]["met"], c["service"]["met"]) for c in report["counters"]] == [
        (1, 1, 0),
        (2, 0, 1),
    ]
    assert report["targets"] == {
        "warn_before_minutes": 3,
        "site": {"wait_minutes": 15, "service_minutes": 20},  # what a service without its own has
        "services": [
            {"code": "PAY", "wait_minutes": 15, "service_minutes": 20},
            {"code": "ASK", "wait_minutes": 5, "service_minutes": 20},
        ],
    }
    # A clerk sees the hall and the services, and of the counters only their own.
    mine = hall.get("/targets?day=2026-03-10", clerk2).get_json()
    assert [c["number"] for c in mine["counters"]] == [2]
    assert (mine["hall"], mine["services"]) == (report["hall"], report["services"])
    week = hall.get("/targets?day=2026-03-09&days=7", admin).get_json()
    assert (week["first_day"], week["last_day"], week["hall"]) == ("2026-03-09", "2026-03-15", report["hall"])
    empty = hall.get("/targets?day=2026-03-11", admin).get_json()
    assert empty["hall"]["wait"] == {"with_target": 0, "met": 0, "share": None}
    # A range that would run past the calendar's last day ends there.
    end = hall.get("/targets?day=9999-12-30&days=366", admin).get_json()
    assert (end["first_day"], end["last_day"]) == ("9999-12-30", "9999-12-31")


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("day=2026-02-30", "'day': 2026-02-30 is no day of the calendar"),
        ("day=yesterday", "'day' must be a date like 2026-12-01"),
        ("day=2026-3-1", "'day' must be a date like 2026-12-01"),
        ("days=0", "'days' must be a whole number from 1 to 366, got '0'"),
        ("day=2026-03-10&days=367", "'days' must be a whole number from 1 to 366, got '367'"),
        ("days=-1", "got '-1'"),
        ("days=1.5", "got '1.5'"),
        ("days=７", "got '７'"),
    ],
)
def test_a_bad_date_is_a_400_naming_it(hall: Hall, query: str, needle: str) -> None:
    answer = hall.get(f"/targets?{query}", hall.login("admin", None), "/targets")
    assert answer.status_code == 400
    assert answer.get_json()["code"] == "bad_request"
    assert needle in answer.get_json()["error"], answer.get_json()


def test_the_share_within_target_is_for_staff_and_admins_only(hall: Hall) -> None:
    assert hall.get("/targets").status_code == 401
    refused = hall.get("/targets", hall.kiosk)
    assert (refused.status_code, refused.get_json()["code"]) == (403, "forbidden")
