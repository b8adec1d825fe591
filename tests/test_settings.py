"""The hall's settings edited from the browser, on SQLite and PostgreSQL (the Flask app, a fixed clock).

Saved sections are laid over the file and applied live (the kiosk issues for a
new service, a clerk logs in at a new counter, every screen gets
``settings_changed`` and a fresh snapshot); invalid sections are refused with
each field named and nothing saved; a stale version and a service or counter
still needed today are 409; every save is one audit row with before → after;
a restart keeps what was saved and says, in one line, where the file now
differs; ``settings export`` → ``settings import`` gives the same config.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from server import cli
from server.app import create_app
from server.bootstrap import bootstrap
from server.config import ConfigError, load_config
from server.hub import Hub
from server.pydantic_zh import in_chinese
from server.settings import EDITABLE, overlay, section_value
from server.store.accounts import Actor
from server.store.settings import SectionChange, SettingsStore, StaleVersion
from tests.support import assert_bilingual, bearer, provision, running_hub, write_site
from tests.test_openapi import DOC_PATH, check_answer
from tests.waiting import wait_until

PREFIX = "/api/v1"
#: Tuesday 10 March 2026, 09:00 in Shanghai (the test site's zone).
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
PASSWORD = "clerk-password"
NEW_SERVICE = {"code": "NEW", "name_zh": "新业务", "name_en": "New business", "prefix": "C"}
NEW_COUNTER = {"number": 9, "name_zh": "9号窗口", "name_en": "Counter 9", "services": ["NEW", "PAY"]}
#: Chinese characters: a Chinese sentence has some; an English one none.
CJK = re.compile(r"[\u4e00-\u9fff]")
#: A priority category the settings take (the test site has none).
CATEGORY = {"code": "ELD", "name_zh": "老年人", "name_en": "Elderly", "weight": 10, "grant": "kiosk"}


@dataclass
class Hall:
    app: Flask
    client: FlaskClient
    tokens: dict[str, str]
    path: Path
    url: str

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.extensions["qcall"]
        return hub

    def call(self, method: str, path: str, who: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.open(PREFIX + path, method=method, headers=headers, **kwargs)

    def ok(self, method: str, path: str, who: str = "boss", status: int = 200, **kwargs: Any) -> Any:
        answer = self.call(method, path, who, **kwargs)
        assert answer.status_code == status, answer.get_data(as_text=True)
        return answer.get_json()

    def refused(self, method: str, path: str, who: str, status: int, code: str, **kwargs: Any) -> Any:
        answer = self.call(method, path, who, **kwargs)
        body = answer.get_json()
        assert (answer.status_code, body["code"]) == (status, code), body
        assert isinstance(body["error"], str) and body["error"]
        assert_bilingual(body)
        return body

    def section(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self.ok("GET", f"/admin/settings/{name}")
        return body

    def save(self, name: str, value: Any, version: int | None = None, who: str = "boss") -> dict[str, Any]:
        if version is None:
            version = self.section(name)["version"]
        body: dict[str, Any] = self.ok(
            "PUT", f"/admin/settings/{name}", who, json={"value": value, "version": version}
        )
        return body


def start(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Flask, dict[str, str]]:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("QCALL_SECRET_KEY", raising=False)
    app = create_app(load_config(path), clock=lambda: T0, async_mode="threading")
    hub: Hub = app.extensions["qcall"]
    client = app.test_client()
    tokens: dict[str, str] = {}
    for username, role in (("boss", "admin"), ("sue", "supervisor"), ("ann", "staff"), ("nurse", "triage")):
        if not hub.accounts.has_user(username):
            hub.accounts.add_user(username, role, PASSWORD, T0)
        counter = {"ann": 1}.get(username)
        body = {"username": username, "password": PASSWORD, **({"counter": counter} if counter else {})}
        answer = client.post(PREFIX + "/auth/login", json=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        tokens[username] = answer.get_json()["token"]
    # A hub started again on the same database gives its devices fresh tokens (one live per name).
    tokens["kiosk"] = hub.accounts.create_device_token("kiosk", "kiosk-1", T0, replace=True)
    tokens["display"] = hub.accounts.create_device_token("display", "lobby-1", T0, replace=True)
    return app, tokens


@pytest.fixture
def hall(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    path = write_site(tmp_path / "site.toml", database_url, counters=3)
    app, tokens = start(path, tmp_path, monkeypatch)
    hall = Hall(app, app.test_client(), tokens, path, database_url)
    hall.client = app.test_client()
    try:
        yield hall
    finally:
        if not hall.hub.closed:
            hall.hub.close()


def with_new_service(hall: Hall) -> list[dict[str, Any]]:
    return [*hall.section("services")["value"], NEW_SERVICE]


# -- reading ---------------------------------------------------------------------------------


def test_every_section_is_the_files_at_version_0_until_saved(hall: Hall) -> None:
    doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    answer = hall.call("GET", "/admin/settings", "sue")
    check_answer(doc, "get", "/admin/settings", answer)
    sections = answer.get_json()["sections"]
    assert set(sections) == set(EDITABLE)
    for name in EDITABLE:
        assert sections[name] == {
            "value": section_value(hall.hub.config, name),
            "version": 0,
            "stored": False,
            "changed_at": None,
            "changed_by": None,
        }
    assert [s["code"] for s in sections["services"]["value"]] == ["PAY", "ASK"]
    assert sections["hours"]["value"]["enforce"] is False
    one = hall.call("GET", "/admin/settings/counters", "boss")
    check_answer(doc, "get", "/admin/settings/{name}", one)
    assert one.get_json()["section"] == "counters" and len(one.get_json()["value"]) == 3
    hall.refused("GET", "/admin/settings/voice", "boss", 404, "not_found")  # zones and devices are editable
    # The document names the same sections as the one list of them.
    for method in ("get", "put"):
        [name] = doc["paths"]["/admin/settings/{name}"][method]["parameters"]
        assert name["schema"]["enum"] == list(EDITABLE)


def test_supervisors_read_only_admins_save_everyone_else_403(hall: Hall) -> None:
    body = {"value": with_new_service(hall), "version": 0}
    hall.refused("PUT", "/admin/settings/services", "sue", 403, "forbidden", json=body)
    for who in ("ann", "nurse", "kiosk", "display"):
        hall.refused("GET", "/admin/settings", who, 403, "forbidden")
        hall.refused("GET", "/admin/settings/services", who, 403, "forbidden")
        hall.refused("PUT", "/admin/settings/services", who, 403, "forbidden", json=body)
    assert hall.client.get(PREFIX + "/admin/settings").status_code in (401, 403)
    assert hall.section("services")["version"] == 0


# -- saving, live ----------------------------------------------------------------------------


def test_a_new_service_and_counter_are_live_at_once(hall: Hall) -> None:
    socketio = hall.app.extensions["socketio"]
    lobby = socketio.test_client(hall.app, auth={"token": hall.tokens["display"]})
    lobby.get_received()  # the snapshot of the connect
    saved = hall.save("services", with_new_service(hall), 0)
    assert saved["version"] == 1 and saved["stored"] is True and saved["changed_by"] == "boss"
    assert saved["changed_at"] == T0.isoformat()
    received = lobby.get_received()
    names = [m["name"] for m in received]
    assert names[:2] == ["settings_changed", "snapshot"], names
    assert received[0]["args"][0] == {"sections": ["services"], "version": 1}
    assert "NEW" in {s["code"] for s in received[1]["args"][0]["services"]}
    # The kiosk issues for it, its next number follows its prefix.
    ticket = hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "NEW"})
    assert ticket["number"] == "C001"
    assert hall.hub.config.services[-1].code == "NEW" and "NEW" in hall.hub.core.hall.services

    counters = [*hall.section("counters")["value"], NEW_COUNTER]
    assert hall.save("counters", counters, 0)["version"] == 1
    snapshot = [m for m in lobby.get_received() if m["name"] == "snapshot"][-1]["args"][0]
    assert 9 in {c["number"] for c in snapshot["counters"]}
    # A clerk logs in at the new counter and calls the new service's ticket.
    hall.hub.accounts.add_user("cat", "staff", PASSWORD, T0)
    login = hall.client.post(
        PREFIX + "/auth/login", json={"username": "cat", "password": PASSWORD, "counter": 9}
    )
    assert login.status_code == 200, login.get_data(as_text=True)
    hall.tokens["cat"] = login.get_json()["token"]
    called = hall.ok("POST", "/counters/9/call-next", "cat")
    assert called["ticket"]["number"] == "C001"
    lobby.disconnect()


def test_each_save_is_one_audit_row_with_before_and_after(hall: Hall) -> None:
    before = hall.section("priority")["value"]
    after = [{"code": "elderly", "name_zh": "老年人", "name_en": "Senior", "weight": 5, "grant": "kiosk"}]
    hall.save("priority", after, 0)
    entries = hall.ok("GET", "/admin/audit?action=settings.priority")["entries"]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["actor"], entry["action"], entry["target"]) == ("boss", "settings.priority", "priority")
    assert entry["detail"] == {"before": before, "after": after, "version": 1}
    assert "elderly" in hall.hub.core.hall.categories


def test_hours_saved_take_effect_and_keep_their_dates(hall: Hall) -> None:
    hours = hall.section("hours")["value"]
    hours.update(
        enforce=True,
        tue=["08:30-12:00", "13:30-17:30"],
        exceptions=[{"date": "2026-10-01", "hours": [], "name_zh": "国庆", "name_en": "National Day"}],
    )
    saved = hall.save("hours", hours, 0)
    assert saved["value"]["exceptions"][0]["date"] == "2026-10-01"
    assert saved["value"]["tue"] == ["08:30-12:00", "13:30-17:30"]
    # 09:00 on a Tuesday: open. The core reads the new calendar.
    assert hall.hub.core.hall.calendar.enforce_hours is True
    hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    hours["tue"] = ["13:30-17:30"]
    hall.save("hours", hours, 1)
    closed = hall.refused("POST", "/tickets", "kiosk", 409, "hall_closed", json={"service": "PAY"})
    assert closed["opens_at"]


# -- refusals --------------------------------------------------------------------------------


def invalid(hall: Hall, name: str, value: Any) -> list[dict[str, str]]:
    doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    answer = hall.call("PUT", f"/admin/settings/{name}", "boss", json={"value": value, "version": 0})
    check_answer(doc, "put", "/admin/settings/{name}", answer)
    body = answer.get_json()
    assert (answer.status_code, body["code"]) == (422, "invalid_settings"), body
    problems: list[dict[str, str]] = body["problems"]
    first = problems[0]
    assert body["error"] == f"{first['field']}: {first['message']}"
    # Said in both languages, the whole refusal and each problem on its field (the English as before).
    assert CJK.search(body["error_zh"]) and first["field"] in body["error_zh"], body
    assert body["error_en"].startswith(f"settings not saved: {body['error']}"), body
    for problem in problems:
        assert CJK.search(problem["error_zh"]) and problem["error_en"] == problem["message"], problem
        assert not CJK.search(problem["error_en"]), problem
    return problems


def test_invalid_sections_name_the_field_and_nothing_is_saved(hall: Hall) -> None:
    services = hall.section("services")["value"]
    empty_name = copy.deepcopy(services)
    empty_name[1]["name_en"] = ""
    [problem] = invalid(hall, "services", empty_name)
    assert problem == {
        "field": "services[1].name_en",
        "message": "may not be empty; expected some text",
        "error_zh": "不能为空，请填写内容",
        "error_en": "may not be empty; expected some text",
    }

    twice = [*services, {**NEW_SERVICE, "code": "PAY"}]
    [problem] = invalid(hall, "services", twice)
    assert problem["field"] == "services[2].code" and "used twice" in problem["message"]

    bad_code = [*services, {**NEW_SERVICE, "code": "no spaces"}]
    assert invalid(hall, "services", bad_code)[0]["field"] == "services[2].code"

    counters = hall.section("counters")["value"]
    serving_nothing = copy.deepcopy(counters)
    serving_nothing[2]["services"] = []
    [problem] = invalid(hall, "counters", serving_nothing)
    assert problem["field"] == "counters[2].services"
    assert "at least one service" in problem["message"]

    unknown = copy.deepcopy(counters)
    unknown[0]["services"] = ["PAY", "NOPE"]
    [problem] = invalid(hall, "counters", unknown)
    assert problem["field"] == "counters[0].services" and "'NOPE'" in problem["message"]

    hours = hall.section("hours")["value"]
    [problem] = invalid(hall, "hours", {**hours, "mon": ["17:00-09:00"]})
    assert problem["field"] == "hours.mon" and "start before end" in problem["message"]
    problems = invalid(hall, "hours", {**hours, "exceptions": [{"date": "2026-13-01", "hours": []}]})
    assert problems[0]["field"] == "hours.exceptions[0].date"

    misspelt = invalid(hall, "priority", [{"code": "x", "name_zh": "x", "name_en": "x", "wieght": 3}])
    assert misspelt[0]["field"] == "priority[0].wieght"
    assert (misspelt[0]["message"], misspelt[0]["error_zh"]) == (
        "unknown key; check its spelling",
        "没有这一项，请检查拼写",
    )

    assert invalid(hall, "services", "PAY")[0]["field"] == "services"
    for name in EDITABLE:
        assert hall.section(name)["version"] == 0
    assert hall.ok("GET", "/admin/audit?action=settings.services")["entries"] == []
    assert [s.code for s in hall.hub.config.services] == ["PAY", "ASK"]


def _new_service(**change: Any) -> Any:
    return lambda value: [*value, {**NEW_SERVICE, **change}]


def _category(**change: Any) -> Any:
    return lambda value: [{k: v for k, v in {**CATEGORY, **change}.items() if v is not None}]


@pytest.mark.parametrize(
    ("section", "change", "field", "zh", "en"),
    [
        pytest.param(
            "services",
            _new_service(width="3"),
            "services[2].width",
            "须为整数，收到 '3'",
            "valid integer",
            id="malformed",
        ),
        pytest.param(
            "services",
            _new_service(name_zh=5),
            "services[2].name_zh",
            "须为文字，收到 5",
            "valid string",
            id="not-text",
        ),
        pytest.param(
            "priority",
            _category(wieght=3),
            "priority[0].wieght",
            "没有这一项，请检查拼写",
            "unknown key",
            id="unknown-key",
        ),
        pytest.param(
            "priority",
            _category(weight=0),
            "priority[0].weight",
            "须不小于 1，收到 0",
            "greater than or equal to 1",
            id="below-bound",
        ),
        pytest.param(
            "services",
            _new_service(width=9),
            "services[2].width",
            "须不大于 4，收到 9",
            "less than or equal to 4",
            id="above-bound",
        ),
        pytest.param(
            "services",
            _new_service(prefix="c"),
            "services[2].prefix",
            "须为 1 到 2 个大写字母，如 A，收到 'c'",
            "1 or 2 capital letters",
            id="pattern",
        ),
        pytest.param(
            "priority",
            _category(grant="all"),
            "priority[0].grant",
            "须为 'kiosk'、'staff' 或 'confirm' 之一，收到 'all'",
            "'kiosk', 'staff' or 'confirm'",
            id="literal",
        ),
        pytest.param(
            "priority",
            _category(weight=None),
            "priority[0].weight",
            "缺少这一必填项",
            "required key is missing",
            id="missing",
        ),
        pytest.param(
            "hours",
            lambda value: {**value, "enforce": "yes"},
            "hours.enforce",
            "须为 true 或 false，收到 'yes'",
            "valid boolean",
            id="not-a-bool",
        ),
        pytest.param(
            "counters",
            lambda value: [{**value[0], "services": ["PAY", "NOPE"]}, *value[1:]],
            "counters[0].services",
            "没有业务 'NOPE'；应为 ['ASK', 'PAY'] 之一",
            "unknown service 'NOPE'",
            id="our-own-check",
        ),
        pytest.param(
            "services",
            _new_service(daily_limit=1000, width=3),
            "services[2].daily_limit",
            "1000 超出 3 位号码；请把号码位数（width）调到 4",
            "needs more than width 3 digits",
            id="our-own-field-check",
        ),
        pytest.param(
            "hours",
            lambda value: {**value, "holidays": "XX"},
            "hours.holidays",
            "没有节假日国家 'XX'；应为 ISO 国家代码，如 'CN'、'HK'、'SG'",
            "unknown holiday country 'XX'",
            id="holiday-country",
        ),
    ],
)
def test_each_refusal_is_said_in_both_languages_on_its_field(
    hall: Hall, section: str, change: Any, field: str, zh: str, en: str
) -> None:
    """A malformed value, an unknown key, a bound, a pattern, a choice, a key left out and the site's own
    checks: each 422 names its field with a whole Chinese sentence and the English; nothing is saved."""
    before = hall.section(section)
    problems = invalid(hall, section, change(copy.deepcopy(before["value"])))
    assert (problems[0]["field"], problems[0]["error_zh"]) == (field, zh), problems
    assert en in problems[0]["error_en"], problems
    assert hall.section(section) == before
    assert hall.ok("GET", f"/admin/audit?action=settings.{section}")["entries"] == []


def test_a_refusal_said_in_no_chinese_sentence_names_its_field_with_the_english(hall: Hall) -> None:
    """A check that words no Chinese of its own (a plain ValueError) and an error type the table does not
    know: a Chinese sentence naming the field, with the English words, never English alone."""
    from pydantic import BaseModel, ValidationError, field_validator

    from server.settings import problems_of

    class Plain(BaseModel):
        code: str

        @field_validator("code")
        @classmethod
        def _plain(cls, value: str) -> str:
            raise ValueError("words of a check with no Chinese")

    with pytest.raises(ValidationError) as refused:
        Plain(code="x")
    (problem,) = problems_of(refused.value)
    assert problem.field == "code" and "words of a check with no Chinese" in problem.en
    assert problem.zh.startswith("「code」的值不符合要求（") and "words of a check" in problem.zh
    # A service's target_minutes is worded in Chinese (the key that was meant is named).
    problems = invalid(hall, "services", _new_service(target_minutes=20)(hall.section("services")["value"]))
    assert problems[0]["field"] == "services[2]"
    assert problems[0]["error_zh"].startswith(
        "没有 target_minutes 这一项：业务的时限分为 wait_target_minutes"
    )
    unknown: Any = {"type": "uuid_parsing", "loc": ("devices", 0, "id"), "msg": "Input should be a UUID"}
    assert in_chinese(unknown, "devices[0].id", "Input should be a UUID") == (
        "「devices[0].id」的值不符合要求（Input should be a UUID）"
    )
    assert hall.section("services")["version"] == 0
    assert hall.ok("GET", "/admin/audit?action=settings.services")["entries"] == []


def test_a_removal_still_needed_is_refused_in_both_languages(hall: Hall) -> None:
    hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    counters = hall.section("counters")["value"]
    hall.save("counters", [{**c, "services": ["ASK"]} for c in counters], 0)
    body = hall.refused(
        "PUT",
        "/admin/settings/services",
        "boss",
        409,
        "in_use",
        json={"value": hall.section("services")["value"][1:], "version": 0},
    )
    assert body["field"] == "services[0]"
    assert body["error_zh"] == (
        "业务 PAY 不能删除：今天还有 1 个号在等候或在窗口办理；请先办完或取消"
        "（在此期间如要停止取号，请在特殊日期中把该业务今天设为关闭）"
    )
    assert body["error_en"] == body["error"] and body["error_en"].startswith("service PAY cannot be removed")
    assert hall.section("services")["version"] == 0
    assert hall.ok("GET", "/admin/audit?action=settings.services")["entries"] == []


def test_a_body_not_of_the_shape_is_400(hall: Hall) -> None:
    value = hall.section("services")["value"]
    for body in (
        {"value": value},
        {"version": 0},
        {"value": value, "version": "0"},
        {"value": value, "version": -1},
    ):
        hall.refused("PUT", "/admin/settings/services", "boss", 400, "bad_request", json=body)
    extra = {"value": value, "version": 0, "force": True}
    hall.refused("PUT", "/admin/settings/services", "boss", 400, "bad_request", json=extra)
    hall.refused("PUT", "/admin/settings/services", "boss", 400, "bad_request", json=[value])
    hall.refused("PUT", "/admin/settings/voice", "boss", 404, "not_found", json={"value": [], "version": 0})


def test_a_stale_version_is_409_and_keeps_the_other_save(hall: Hall) -> None:
    first = with_new_service(hall)
    hall.save("services", first, 0)
    second = [*hall.section("services")["value"][:2], {**NEW_SERVICE, "code": "OTHER", "prefix": "D"}]
    body = hall.refused(
        "PUT", "/admin/settings/services", "boss", 409, "stale_version", json={"value": second, "version": 0}
    )
    assert body["current_version"] == 1
    assert "设置已被他人修改（当前为第 1 版，您的修改基于第 0 版）" in body["error_zh"], body
    assert body["error_en"] == body["error"] and "reload" in body["error_en"]
    assert [s["code"] for s in hall.section("services")["value"]] == ["PAY", "ASK", "NEW"]
    assert len(hall.ok("GET", "/admin/audit?action=settings.services")["entries"]) == 1


def test_a_service_or_counter_still_needed_today_cannot_be_removed(hall: Hall) -> None:
    hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "ASK"})
    services = hall.section("services")["value"]
    counters = hall.section("counters")["value"]
    # ASK is served by every counter: take it from the counters first, then from the services.
    only_pay = [{**c, "services": ["PAY"]} for c in counters]
    hall.save("counters", only_pay, 0)
    body = hall.refused(
        "PUT", "/admin/settings/services", "boss", 409, "in_use", json={"value": services[:1], "version": 0}
    )
    assert body["field"] == "services[1]" and "ASK" in body["error"]
    # Counter 1 has its clerk on post (ann logged in there): refused too.
    body = hall.refused(
        "PUT", "/admin/settings/counters", "boss", 409, "in_use", json={"value": only_pay[1:], "version": 1}
    )
    assert body["field"] == "counters[0]" and "on post" in body["error"]
    # Counter 3 has a called ticket: refused.
    hall.hub.accounts.add_user("dan", "staff", PASSWORD, T0)
    login = hall.client.post(
        PREFIX + "/auth/login", json={"username": "dan", "password": PASSWORD, "counter": 3}
    )
    hall.tokens["dan"] = login.get_json()["token"]
    hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    hall.ok("POST", "/counters/3/call-next", "dan")
    body = hall.refused(
        "PUT", "/admin/settings/counters", "boss", 409, "in_use", json={"value": only_pay[:2], "version": 1}
    )
    assert body["field"] == "counters[2]" and "counter 3" in body["error"]
    assert hall.section("counters")["version"] == 1
    assert sorted(hall.hub.core.hall.counters) == [1, 2, 3]


# -- kept across a restart, and the file ------------------------------------------------------


def test_saved_sections_survive_a_restart_and_the_file_is_not_rewritten(
    hall: Hall, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = hall.path.read_text(encoding="utf-8")
    hall.save("services", with_new_service(hall), 0)
    hall.hub.close()
    app, tokens = start(hall.path, tmp_path, monkeypatch)
    hall.app, hall.tokens, hall.client = app, tokens, app.test_client()
    assert [s.code for s in hall.hub.config.services] == ["PAY", "ASK", "NEW"]
    assert "NEW" in hall.hub.core.hall.services
    state = hall.section("services")
    assert (state["version"], state["stored"], state["changed_by"]) == (1, True, "boss")
    assert hall.path.read_text(encoding="utf-8") == text


def test_at_start_one_line_names_each_section_the_file_now_differs_in(
    hall: Hall, caplog: pytest.LogCaptureFixture
) -> None:
    hall.save("services", with_new_service(hall), 0)
    hall.save("priority", [], 0)  # the same as the file's: no difference to report
    config = load_config(hall.path)
    with caplog.at_level(logging.WARNING, logger="server.settings"):
        bootstrap(config).close()
    lines = [r.getMessage() for r in caplog.records if r.name == "server.settings"]
    assert len(lines) == 1
    assert "services" in lines[0] and "priority" not in lines[0]
    assert "python -m server settings import FILE --section services" in lines[0]


def test_saved_sections_that_no_longer_fit_the_file_stop_the_hub_with_one_line(hall: Hall) -> None:
    counters = hall.section("counters")["value"]
    hall.save("counters", [*counters, {**NEW_COUNTER, "services": ["ASK"]}], 0)
    # The file's own ASK is renamed (its counters follow): fine alone, but the saved counters name ASK.
    text = hall.path.read_text(encoding="utf-8").replace('"ASK"', '"ASKX"')
    hall.path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        bootstrap(load_config(hall.path))
    message = str(refused.value)
    assert "\n" not in message and "counters[0].services" in message and "settings import" in message


def test_export_then_import_gives_the_same_config(
    hall: Hall, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hall.save("services", with_new_service(hall), 0)
    hall.save("counters", [*hall.section("counters")["value"], NEW_COUNTER], 0)
    hall.hub.close()
    capsys.readouterr()
    assert cli.main(["--config", str(hall.path), "settings", "export"]) == 0
    exported = capsys.readouterr().out
    (tmp_path / "export.toml").write_text(exported, encoding="utf-8")
    before = load_config(tmp_path / "export.toml")
    assert [s.code for s in before.services] == ["PAY", "ASK", "NEW"]

    # The export imported as it is changes nothing: no section saved again, nothing audited.
    assert cli.main(["settings", "import", str(tmp_path / "export.toml"), "--config", str(hall.path)]) == 0
    out = capsys.readouterr().out
    assert "settings counters: unchanged" in out and "nothing to import" in out and "version" not in out
    hub = bootstrap(load_config(hall.path))
    try:
        assert hub.config.model_dump() == before.model_dump()
        assert [(e.actor, e.detail["version"]) for e in hub.audit.recent(10, "settings.counters")] == [
            ("boss", 1)
        ]
        assert {s.section: s.version for s in hub.settings.store.stored().values()} == {
            "services": 1,
            "counters": 1,
        }
    finally:
        hub.close()
    assert cli.main(["--config", str(hall.path), "settings", "export"]) == 0
    assert capsys.readouterr().out == exported
    # One section changed in the file: that one is saved (version 2), the rest stay as they were.
    edited = exported.replace('name_en = "New business"', 'name_en = "New accounts"', 1)
    assert edited != exported
    (tmp_path / "edited.toml").write_text(edited, encoding="utf-8")
    assert cli.main(["settings", "import", str(tmp_path / "edited.toml"), "--config", str(hall.path)]) == 0
    out = capsys.readouterr().out
    assert "settings services: imported" in out and "version 2" in out and "settings hours: unchanged" in out


def test_import_is_checked_first_and_all_or_nothing(
    hall: Hall, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hall.hub.close()
    # A file whose counters serve a service the hall's (the file's) services do not have.
    other = write_site(tmp_path / "other.toml", hall.url, counters=2)
    text = other.read_text(encoding="utf-8").replace('code = "ASK"', 'code = "INFO"')
    other.write_text(text.replace('["ASK", "PAY"]', '["INFO", "PAY"]').replace('["PAY", "ASK"]', '["PAY"]'))
    args = ["--config", str(hall.path), "settings", "import", str(other), "--section", "counters"]
    assert cli.main(args) == 2
    error = capsys.readouterr().err
    assert "nothing was imported" in error and "counters[1].services" in error and error[-1] == "\n"
    # With its services too, it fits: both saved.
    assert cli.main([*args, "--section", "services"]) == 0
    hub = bootstrap(load_config(hall.path))
    try:
        assert [s.code for s in hub.config.services] == ["PAY", "INFO"]
        assert [c.number for c in hub.config.counters] == [1, 2]
    finally:
        hub.close()


# -- the store on its own --------------------------------------------------------------------


def test_the_store_checks_versions_and_saves_all_or_nothing(hall: Hall) -> None:
    store = SettingsStore(hall.hub.store.engine)
    admin = Actor("boss", "127.0.0.1")
    [first] = store.save([SectionChange("priority", [], None, 0)], admin, T0)
    assert (first.version, first.changed_by) == (1, "boss")
    with pytest.raises(StaleVersion) as stale:
        store.save([SectionChange("priority", [], [], 0)], admin, T0)
    assert stale.value.current == 1

    def refuse(_conn: Any) -> None:
        raise RuntimeError("refused after the writes")

    with pytest.raises(RuntimeError):
        store.save(
            [SectionChange("priority", ["x"], [], 1), SectionChange("services", ["y"], [], 0)],
            admin,
            T0,
            refuse,
        )
    stored = store.stored()
    assert set(stored) == {"priority"} and stored["priority"].value == [] and stored["priority"].version == 1
    assert len(hall.hub.audit.recent(10, "settings.priority")) == 1
    assert hall.hub.audit.recent(10, "settings.services") == []


def test_overlay_keeps_every_other_section_of_the_file(hall: Hall) -> None:
    config = hall.hub.config
    laid = overlay(config, {"priority": []})
    assert laid.model_dump(exclude={"priority"}) == config.model_dump(exclude={"priority"})
    assert laid.folder == config.folder


def test_an_import_beside_a_running_hub_is_applied_within_seconds(tmp_path: Path) -> None:
    """A real hub process: ``settings import`` from the command line reaches its screens, no restart."""
    url = f"sqlite:///{tmp_path / 'qcall.db'}"
    path = write_site(tmp_path / "site.toml", url, counters=2)
    creds = provision(path, 2)
    other = write_site(tmp_path / "other.toml", url, counters=2)
    service = '[[services]]\ncode = "NEW"\nname_zh = "新业务"\nname_en = "New business"\nprefix = "C"\n\n'
    text = other.read_text(encoding="utf-8").replace("[[counters]]", service + "[[counters]]", 1)
    other.write_text(text, encoding="utf-8")
    with running_hub(path, tmp_path) as hub:

        def codes() -> list[str]:
            answer = requests.get(f"{hub.url}/api/v1/queue", headers=bearer(creds.display), timeout=10)
            return [s["code"] for s in answer.json()["services"]]

        assert codes() == ["PAY", "ASK"]
        assert (
            cli.main(["--config", str(path), "settings", "import", str(other), "--section", "services"]) == 0
        )
        wait_until(lambda: codes() == ["PAY", "ASK", "NEW"], "the running hub to show the imported service")
        ticket = requests.post(
            f"{hub.url}/api/v1/tickets", json={"service": "NEW"}, headers=bearer(creds.kiosk), timeout=10
        )
        assert ticket.status_code == 201 and ticket.json()["number"] == "C001"
        assert "settings: applied services saved by another process" in hub.log()


def test_refresh_applies_what_another_process_saved(hall: Hall) -> None:
    socketio = hall.app.extensions["socketio"]
    lobby = socketio.test_client(hall.app, auth={"token": hall.tokens["display"]})
    lobby.get_received()
    assert hall.hub.settings.refresh(hall.hub) == []
    store = SettingsStore(hall.hub.store.engine)  # as the command line's process would
    after = [*section_value(hall.hub.config, "services"), NEW_SERVICE]
    store.save([SectionChange("services", after, None, None)], Actor("cli", "local"), T0)
    # This call applies it, or the hub's own watch of the audit log did a moment before (it runs beside
    # the test): either way once, and the screens heard it.
    assert hall.hub.settings.refresh(hall.hub) in (["services"], [])
    assert "NEW" in hall.hub.core.hall.services
    assert [m["name"] for m in lobby.get_received()][:2] == ["settings_changed", "snapshot"]
    assert hall.hub.settings.refresh(hall.hub) == []  # applied once
    lobby.disconnect()


def test_the_pace_model_follows_the_counters_and_keeps_what_it_learned() -> None:
    from server.core.estimate import PaceModel
    from server.core.model import Counter

    pace = PaceModel({1: Counter(1, "1号", "One", ("PAY",)), 2: Counter(2, "2号", "Two", ("PAY",))})
    pace.counter_set(1, True, True, T0)
    assert pace.servers("NEW", T0)[0] == []  # nobody serves it yet (and the answer is cached)
    version = pace.version
    pace.reshape({1: Counter(1, "1号", "One", ("PAY", "NEW")), 9: Counter(9, "9号", "Nine", ("NEW",))})
    assert pace.version > version
    one = pace.counter(1)
    assert one is not None and one.staffed  # kept
    assert pace.counter(2) is None and pace.counter(9) is not None
    assert len(pace.servers("NEW", T0)[0]) == 1  # counter 1, staffed; counter 9 has no clerk yet


def test_a_service_or_counter_with_bookings_ahead_cannot_be_removed(hall: Hall) -> None:
    from datetime import date, timedelta

    from server.store.schema import appointments

    tomorrow = date(2026, 3, 11)
    slot = T0 + timedelta(days=1)
    with hall.hub.store.engine.begin() as conn:
        conn.execute(
            appointments.insert().values(
                id="a1", code="K7Q2", business_day=tomorrow, half="am", service="ASK", counter=3,
                slot_start=slot, slot_end=slot + timedelta(minutes=30), source="test", status="booked",
                created_at=T0,
            )
        )  # fmt: skip
    only_pay = [{**c, "services": ["PAY"]} for c in hall.section("counters")["value"]]
    body = hall.refused(
        "PUT", "/admin/settings/counters", "boss", 409, "in_use", json={"value": only_pay[:2], "version": 0}
    )
    assert body["field"] == "counters[2]" and "appointment" in body["error"]
    hall.save("counters", only_pay, 0)
    services = hall.section("services")["value"]
    body = hall.refused(
        "PUT", "/admin/settings/services", "boss", 409, "in_use", json={"value": services[:1], "version": 0}
    )
    assert body["field"] == "services[1]" and "1 appointment(s)" in body["error"]
    with hall.hub.store.engine.begin() as conn:
        conn.execute(appointments.update().values(status="cancelled"))
    assert [s["code"] for s in hall.save("services", services[:1], 0)["value"]] == ["PAY"]


def test_a_large_hall_fits_in_one_save(hall: Hall) -> None:
    """More than the API's usual 16 KiB body: a big hall's services are one section, saved whole."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    services = [
        {
            "code": f"S{i:03d}",
            "name_zh": f"业务{i:03d}" * 4,
            "name_en": f"Business number {i:03d} of the hall",
            "prefix": letters[i // 26] + letters[i % 26],
        }
        for i in range(120)
    ]
    keep = list(hall.section("services")["value"])
    value = [*keep, *services]
    assert len(json.dumps({"value": value, "version": 0}).encode()) > 16 * 1024
    assert len(hall.save("services", value, 0)["value"]) == 122


def test_a_prefix_another_service_numbered_with_today_is_refused(hall: Hall) -> None:
    assert hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "ASK"})["number"] == "B0001"
    services = hall.section("services")["value"]
    swapped = [{**services[0], "prefix": "B"}, {**services[1], "prefix": "D"}]
    body = hall.refused(
        "PUT", "/admin/settings/services", "boss", 409, "in_use", json={"value": swapped, "version": 0}
    )
    assert body["field"] == "services[0].prefix" and "service ASK" in body["error"]
    # A prefix nobody used today is fine, and so is ASK's own new one: its next number follows its count.
    fresh = [{**services[0], "prefix": "E"}, {**services[1], "prefix": "D"}]
    hall.save("services", fresh, 0)
    assert hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "ASK"})["number"] == "D0002"
    assert hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})["number"] == "E001"


def test_an_export_leaves_the_secrets_out(hall: Hall, capsys: pytest.CaptureFixture[str]) -> None:
    hall.hub.close()
    text = hall.path.read_text(encoding="utf-8")
    central = '\n[central]\nurl = "http://127.0.0.1:9"\nhall = "east-07"\n'
    central += 'token = "qc_hall_secret_1234567890"\n'
    hall.path.write_text(text + central, encoding="utf-8")
    capsys.readouterr()
    assert cli.main(["--config", str(hall.path), "settings", "export"]) == 0
    out, err = capsys.readouterr()
    assert "qc_hall_secret" not in out and 'hall = "east-07"' in out
    assert "central.token left out" in err
    data = {"hub": {"database_url": "postgresql+psycopg://qcall:s3cret@db.local:5432/qcall"}}
    assert cli.without_secrets(data) == ["hub.database_url's password"]
    assert data["hub"]["database_url"] == "postgresql+psycopg://qcall:***@db.local:5432/qcall"


#: A date the hall-wide entry and the service's entry of the special-date tests share.
DAY = "2026-10-01"


@pytest.mark.parametrize(
    ("specials", "field", "words", "zh"),
    [
        (
            [{"date": "2026-02-30", "hours": []}],
            "hours.exceptions[0].date",
            "expected a date",
            "没有这一天，日期须如 2026-10-01，收到 '2026-02-30'",
        ),
        (
            [{"date": "1 Oct", "hours": []}],
            "hours.exceptions[0].date",
            "expected a date",
            "须为日期，如 2026-10-01，收到 '1 Oct'",
        ),
        (
            [{"date": "", "hours": []}],
            "hours.exceptions[0].date",
            "expected a date",
            "须为日期，如 2026-10-01，收到 ''",
        ),
        (
            [{"date": DAY, "hours": ["17:00-09:00"]}],
            "hours.exceptions[0].hours",
            "start before end",
            "时段须形如 08:30-17:30（开始早于结束），收到 '17:00-09:00'",
        ),
        (
            [{"date": DAY, "hours": ["09:00-09:00"]}],
            "hours.exceptions[0].hours",
            "start before end",
            "时段须形如 08:30-17:30（开始早于结束），收到 '09:00-09:00'",
        ),
        (
            [{"date": DAY, "hours": ["25:00-26:00"]}],
            "hours.exceptions[0].hours",
            "'25:00-26:00'",
            "时段须形如 08:30-17:30（开始早于结束），收到 '25:00-26:00'",
        ),
        (
            [{"date": DAY, "hours": ["9-17"]}],
            "hours.exceptions[0].hours",
            "'9-17'",
            "时段须形如 08:30-17:30（开始早于结束），收到 '9-17'",
        ),
        (
            [{"date": DAY, "hours": [""]}],
            "hours.exceptions[0].hours",
            "expected ranges",
            "时段须形如 08:30-17:30（开始早于结束），收到 ''",
        ),
        (
            [{"date": DAY, "hours": ["09:00-12:00", "11:00-14:00"]}],
            "hours.exceptions[0].hours",
            "do not overlap",
            "时段不能重叠：'09:00-12:00' 与 '11:00-14:00' 重叠",
        ),
        ([{"hours": []}], "hours.exceptions[0].date", "missing", "缺少这一必填项"),
        (
            [{"date": DAY, "hours": [], "sevrices": ["PAY"]}],
            "hours.exceptions[0].sevrices",
            "unknown key",
            "没有这一项，请检查拼写",
        ),
        (
            [{"date": DAY, "hours": [], "working_day": "no"}],
            "hours.exceptions[0].working_day",
            "valid boolean",
            "须为 true 或 false，收到 'no'",
        ),
        (
            [{"date": DAY, "hours": [], "name_en": "x" * 61}],
            "hours.exceptions[0].name_en",
            "at most 60 characters",
            f"最多 60 个字符，收到 '{'x' * 56}...",
        ),
        (
            [{"date": DAY, "hours": [], "services": ["NOPE"]}],
            "hours.exceptions[0].services",
            "unknown service 'NOPE'",
            "没有业务 'NOPE'；应为 ['ASK', 'PAY'] 之一",
        ),
        (
            [{"date": DAY, "hours": [], "services": ["PAY"], "working_day": False}],
            "hours.exceptions[0].working_day",
            "set for the whole hall only",
            "“是否算工作日”只能对整个大厅设置：请在不指定业务的特殊日期中设置",
        ),
        (
            [{"date": DAY, "hours": []}, {"date": DAY, "hours": ["09:00-12:00"]}],
            "hours.exceptions[1].date",
            "given twice for the hall",
            "2026-10-01 对整个大厅设了两次；每个日期只设一条",
        ),
        (
            [{"date": DAY, "hours": [], "services": ["PAY"]}, {"date": DAY, "services": ["ASK", "PAY"]}],
            "hours.exceptions[1].date",
            "given twice for service 'PAY'",
            "2026-10-01 对业务 'PAY' 设了两次；每个日期只设一条",
        ),
    ],
)
def test_a_bad_special_date_is_refused_naming_it_and_nothing_is_saved(
    hall: Hall, specials: list[dict[str, Any]], field: str, words: str, zh: str
) -> None:
    """Special dates (the hours section's exceptions) as the admin page's form sends them: a day that is
    no date, a range whose end is not after its start, a time that is no time, a date left out, a key
    misspelt, a service the hall has not, a date given twice: each said in Chinese and in English."""
    hours = hall.section("hours")["value"]
    problems = invalid(hall, "hours", {**hours, "exceptions": specials})
    assert problems[0]["field"] == field, problems
    assert words in problems[0]["message"], problems
    assert problems[0]["error_zh"] == zh, problems
    state = hall.section("hours")
    assert (state["version"], state["value"]) == (0, hours)
    assert hall.ok("GET", "/admin/audit?action=settings.hours")["entries"] == []
