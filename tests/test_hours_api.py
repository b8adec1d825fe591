"""``GET /api/v1/hours`` and the hours' refusals over REST, checked against openapi.json.

The app runs on a fake clock (the hub's clock decides what is open), so each
answer is the one a kiosk gets at that moment of the hall's week.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.app import create_app
from server.config import load_config
from tests.test_closing import SITE, at
from tests.test_openapi import DOC_PATH, check_answer, schema_validator

PREFIX = "/api/v1"
#: The site's own closed day: Thursday 3 December 2026.
CLOSED_THURSDAY = """
[[hours.exceptions]]
date = 2026-12-03
hours = []
name_zh = "系统升级"
name_en = "System upgrade"
"""


@pytest.fixture
def now() -> list[datetime]:
    return [at(2026, 12, 1, 10, 0)]  # Tuesday 10:00


@pytest.fixture
def app(
    tmp_path: Path, sqlite_url: str, now: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    path = tmp_path / "site.toml"
    site = SITE.format(url=sqlite_url, at_closing="carry_over")
    site += CLOSED_THURSDAY
    path.write_text(site, encoding="utf-8")
    app = create_app(load_config(path), clock=lambda: now[0], async_mode="threading")
    yield app
    app.extensions["qcall"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def kiosk(app: Flask, now: list[datetime]) -> dict[str, str]:
    token = app.extensions["qcall"].accounts.create_device_token("kiosk", "kiosk-1", now[0])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    import json

    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


def hours(client: FlaskClient, doc: dict[str, Any]) -> dict[str, Any]:
    answer = client.get(f"{PREFIX}/hours")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    check_answer(doc, "get", "/hours", answer)
    body: dict[str, Any] = answer.get_json()
    return body


def test_hours_while_open_say_the_closing_and_the_last_ticket(
    client: FlaskClient, doc: dict[str, Any]
) -> None:
    body = hours(client, doc)
    assert body["now"] == "2026-12-01T10:00:00+08:00" and body["enforced"] is True
    hall = body["hall"]
    assert hall["open"] and hall["issuing"]
    assert hall["closes_at"] == "2026-12-01T12:00:00+08:00"
    assert hall["last_ticket_at"] == "2026-12-01T11:30:00+08:00"
    assert (hall["opens_at"], hall["opens_zh"], hall["opens_en"]) == (
        "2026-12-01T13:30:00+08:00",
        "今天 13:30",
        "today 13:30",
    )
    assert hall["today"] == ["09:00-12:00", "13:30-17:00"] and hall["day_name_zh"] is None
    services = {s["code"]: s for s in body["services"]}
    assert list(services) == ["PAY", "NEW"]
    assert services["PAY"]["issuing"] and not services["NEW"]["open"]  # NEW: Mondays and Wednesday mornings
    assert services["NEW"]["today"] == [] and services["NEW"]["opens_zh"] == "明天 09:00"
    assert body["next_change_in"] == 90 * 60  # 11:30, the morning's last ticket


def test_hours_on_a_closed_day_name_it_and_say_when_the_hall_opens(
    client: FlaskClient, doc: dict[str, Any], now: list[datetime]
) -> None:
    now[0] = at(2026, 12, 3, 10, 0)  # Thursday: the site's own closed day
    body = hours(client, doc)
    hall = body["hall"]
    assert not hall["open"] and not hall["issuing"] and hall["today"] == []
    assert (hall["day_name_zh"], hall["day_name_en"]) == ("系统升级", "System upgrade")
    assert (hall["opens_zh"], hall["opens_en"]) == ("明天 09:00", "tomorrow 09:00")
    assert body["next_change_in"] == 23 * 3600
    now[0] = at(2026, 10, 1, 10, 0)  # National Day: closed on public holidays
    hall = hours(client, doc)["hall"]
    assert (hall["day_name_zh"], hall["day_name_en"], hall["opens_en"]) == (
        "国庆节",
        "National Day",
        "Thu 8 Oct 09:00",
    )


def test_a_ticket_outside_the_hours_is_a_bilingual_409_with_the_next_opening(
    client: FlaskClient, kiosk: dict[str, str], doc: dict[str, Any], now: list[datetime]
) -> None:
    refused = client.post(f"{PREFIX}/tickets", json={"service": "NEW"}, headers=kiosk)
    assert refused.status_code == 409
    check_answer(doc, "post", "/tickets", refused)
    assert refused.get_json() == {
        "error": "本业务 明天 09:00 开始办理 / This service opens tomorrow 09:00",
        "code": "service_closed",
        "error_zh": "本业务 明天 09:00 开始办理",
        "error_en": "This service opens tomorrow 09:00",
        "opens_at": "2026-12-02T01:00:00+00:00",
    }
    for _ in range(3):
        assert client.post(f"{PREFIX}/tickets", json={"service": "PAY"}, headers=kiosk).status_code == 201
    full = client.post(f"{PREFIX}/tickets", json={"service": "PAY"}, headers=kiosk)
    check_answer(doc, "post", "/tickets", full)
    assert (
        full.get_json()["code"] == "half_day_full"
        and full.get_json()["opens_at"] == "2026-12-01T05:30:00+00:00"
    )
    now[0] = at(2026, 12, 1, 18, 0)
    closed = client.post(f"{PREFIX}/tickets", json={"service": "PAY"}, headers=kiosk)
    check_answer(doc, "post", "/tickets", closed)
    assert closed.get_json()["code"] == "hall_closed"
    assert closed.get_json()["error_zh"] == "大厅 明天 09:00 开始办理"


def test_the_phone_hears_the_closing_as_the_document_says(
    app: Flask, client: FlaskClient, kiosk: dict[str, str], doc: dict[str, Any], now: list[datetime]
) -> None:
    ticket = client.post(f"{PREFIX}/tickets", json={"service": "PAY"}, headers=kiosk).get_json()
    socketio = app.extensions["socketio"]
    phone = socketio.test_client(app, auth={"ticket": ticket["id"]})
    screen = socketio.test_client(app, auth={"token": kiosk["Authorization"].removeprefix("Bearer ")})
    now[0] = at(2026, 12, 1, 17, 0)
    (carried,) = app.extensions["qcall"].closing.once()
    assert carried.id == ticket["id"]
    schema = doc["x-socketio-events"]["ticket_changed"]["payload"]

    def changed(client_: Any) -> list[dict[str, Any]]:
        import time

        deadline = time.monotonic() + 10
        seen: list[dict[str, Any]] = []
        while not seen and time.monotonic() < deadline:
            seen = [m["args"][0] for m in client_.get_received() if m["name"] == "ticket_changed"]
            if not seen:
                time.sleep(0.05)
        return seen

    (mine,) = changed(phone)
    assert mine["event"] == "carried_over" and mine["closing"]["to_day"] == "2026-12-02"
    assert set(mine) == {"ticket", "event", "closing"}
    (hall,) = changed(screen)
    for payload in (mine, hall):
        schema_validator(doc, schema).validate(payload)
    detail = client.get(f"{PREFIX}/tickets/{ticket['id']}").get_json()
    check_answer(doc, "get", "/tickets/{ticket_id}", client.get(f"{PREFIX}/tickets/{ticket['id']}"))
    assert detail["history"][-1]["kind"] == "carried_over"
    assert detail["history"][-1]["detail"]["opens_at"] == "2026-12-02T01:00:00+00:00"
