"""Notices over the REST API, on SQLite and PostgreSQL (the Flask app, a hand-moved clock).

Who may read and manage them (403 for staff, triage and devices on the admin
routes); validation naming the field, in both languages, with nothing half
saved; the schedule (default end, scheduled, expired); every change audited
before → after; ``notices_changed`` heard by a screen on a change and when the
hub's clock passes a notice's end; the hotline, the phone page's QR and the
doctors on duty from the rota, without user names.
"""

from __future__ import annotations

import re
import time as clock_time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from server.core.rota import RotaEntry
from tests.api_hall import T0, ApiHall, device_tokens, open_hall
from tests.support import write_site

SETTINGS = """
[notices]
default_days = 3
doctors_on_duty = true
"""


class Hall(ApiHall):
    def tick(self, **delta: float) -> datetime:
        self.now[0] += timedelta(**delta)
        return self.now[0]

    def post(self, body: dict[str, Any], who: str = "boss") -> Any:
        return self.ok("POST", "/admin/notices", who, 201, json=body)


@pytest.fixture
def hall(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    path = write_site(tmp_path / "site.toml", database_url, counters=2)
    text = path.read_text(encoding="utf-8").replace(
        'notice_en = "Test notice"\n', 'notice_en = "Test notice"\nhotline = "95598"\n'
    )
    path.write_text(text + SETTINGS, encoding="utf-8")
    users = (("ann", "staff"), ("boss", "admin"), ("sue", "supervisor"), ("nurse", "triage"))
    hall = open_hall(Hall, path, tmp_path, monkeypatch, users)
    device_tokens(hall)
    for username, counter in (("boss", None), ("sue", None), ("nurse", None), ("ann", 1)):
        answer = hall.log_in(username, username, counter)
        assert answer.status_code == 200, answer.get_json()
    yield hall
    hall.hub.close()


NEWS = {
    "kind": "notice",
    "title_zh": "系统升级",
    "title_en": "System upgrade",
    "body_zh": "周六暂停网上缴费。",
}
TARIFF = {
    "kind": "tariff",
    "title_zh": "居民阶梯电价",
    "title_en": "Residential tiered tariff",
    "tariff": {
        "columns": [{"zh": "档位", "en": "Tier"}, {"zh": "电价（元/千瓦时）", "en": "Price (CNY/kWh)"}],
        "rows": [["第一档", "0.5283"], ["第二档", "0.5783"], ["第三档", "0.8283"]],
    },
}

#: A planned power cut as the admin page's form sends it.
OUTAGE = {
    "kind": "outage",
    "title_zh": "计划停电",
    "title_en": "Planned power cut",
    "area_zh": "城东片区",
    "area_en": "East district",
    "outage_from": "2026-03-11T08:00",
    "outage_to": "2026-03-11T18:00",
}

# -- rights ----------------------------------------------------------------------------------


def test_only_admins_and_supervisors_manage_notices(hall: Hall) -> None:
    kept = hall.post(NEWS)
    writes = (
        ("GET", "/admin/notices", None),
        ("POST", "/admin/notices", NEWS),
        ("PUT", f"/admin/notices/{kept['id']}", NEWS),
        ("POST", f"/admin/notices/{kept['id']}/withdraw", {}),
    )
    for who in ("kiosk", "display", "pad", "ann", "nurse"):
        for method, path, body in writes:
            hall.refused(method, path, who, 403, "forbidden", json=body)
    for method, path, body in writes:
        hall.refused(method, path, None, 401, "unauthorized", json=body)
    assert [n["id"] for n in hall.ok("GET", "/admin/notices", "sue")["notices"]] == [kept["id"]]
    edited = hall.ok("PUT", f"/admin/notices/{kept['id']}", "sue", json={**NEWS, "title_en": "Upgrade"})
    assert edited["updated_by"] == "sue" and edited["created_by"] == "boss"
    # The screens' read: kiosks, lobby screens and staff; not a pad, nor anybody without a token.
    for who in ("kiosk", "display", "ann", "boss", "sue", "nurse"):
        assert [n["id"] for n in hall.ok("GET", "/notices", who)["notices"]] == [kept["id"]]
    hall.refused("GET", "/notices", "pad", 403, "forbidden")
    hall.refused("GET", "/notices", None, 401, "unauthorized")


# -- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "notice", "title_zh": " ", "title_en": ""}, "title_zh"),
        ({**NEWS, "starts_at": "2026-03-12T09:00", "ends_at": "2026-03-11T09:00"}, "ends_at"),
        ({**NEWS, "starts_at": "2026-03-12T09:00", "ends_at": "2026-03-12T09:00"}, "ends_at"),
        ({**NEWS, "ends_at": "next tuesday"}, "ends_at"),
        ({**TARIFF, "tariff": {"columns": TARIFF["tariff"]["columns"], "rows": []}}, "tariff.rows"),
        ({**TARIFF, "tariff": None}, "tariff"),
        ({**TARIFF, "tariff": {"columns": TARIFF["tariff"]["columns"], "rows": [["x"]]}}, "tariff.rows.0"),
        ({**NEWS, "title_zh": "长" * 81}, "title_zh"),
        ({**NEWS, "body_en": "x" * 1001}, "body_en"),
        ({"kind": "outage", "title_zh": "停电", "outage_from": "2026-03-11T08:00"}, "area_zh"),
        (
            {"kind": "outage", "title_zh": "停电", "area_zh": "城东", "outage_from": "2026-03-11T08:00"},
            "outage_to",
        ),
        (
            {
                "kind": "outage",
                "title_zh": "停电",
                "area_zh": "城东",
                "outage_from": "2026-03-11T18:00",
                "outage_to": "2026-03-11T08:00",
            },
            "outage_to",
        ),
        # Power-cut notices as the form sends them, times malformed or fields left empty.
        (
            {**OUTAGE, "outage_from": "2026-03-11T25:00"},
            "outage_from",
        ),
        ({**OUTAGE, "outage_from": "tomorrow 8am"}, "outage_from"),
        ({**OUTAGE, "outage_to": "2026-02-30T08:00"}, "outage_to"),
        ({**OUTAGE, "outage_from": ""}, "outage_from"),
        ({**OUTAGE, "area_zh": "  ", "area_en": ""}, "area_zh"),
        ({**OUTAGE, "title_zh": "", "title_en": " "}, "title_zh"),
        ({**OUTAGE, "starts_at": "soon"}, "starts_at"),
        # Tariff notices: the table's headings and cells.
        ({**TARIFF, "tariff": {"columns": [], "rows": [["x"]]}}, "tariff.columns"),
        (
            {
                **TARIFF,
                "tariff": {
                    "columns": [{"zh": " ", "en": ""}, {"zh": "电价", "en": "Price"}],
                    "rows": [["a", "b"]],
                },
            },
            "tariff.columns.0",
        ),
        ({**TARIFF, "title_zh": "", "title_en": ""}, "title_zh"),
        ({**TARIFF, "ends_at": "2026-03-10T08:00"}, "ends_at"),
    ],
)
def test_a_bad_notice_is_refused_naming_the_field_and_nothing_is_saved(
    hall: Hall, body: dict[str, Any], field: str
) -> None:
    refusal = hall.refused("POST", "/admin/notices", "boss", 400, "bad_notice", json=body)
    assert refusal["field"] == field
    assert refusal["error_zh"] and refusal["error_en"] and field in refusal["error"]
    assert hall.ok("GET", "/admin/notices", "boss")["notices"] == []
    assert hall.hub.audit.recent(10, "notice.create") == []


def test_a_bad_edit_of_a_power_cut_or_tariff_leaves_the_notice_as_it_was(hall: Hall) -> None:
    outage = hall.post(OUTAGE)
    tariff = hall.post(TARIFF)
    for kept, body, field in (
        (outage, {**OUTAGE, "outage_to": "2026-03-11T18:60"}, "outage_to"),
        (outage, {**OUTAGE, "outage_from": "2026-03-11T19:00"}, "outage_to"),  # now after its end
        (outage, {**OUTAGE, "area_zh": "", "area_en": ""}, "area_zh"),
        (tariff, {**TARIFF, "tariff": {"columns": TARIFF["tariff"]["columns"], "rows": []}}, "tariff.rows"),
    ):
        refusal = hall.refused("PUT", f"/admin/notices/{kept['id']}", "boss", 400, "bad_notice", json=body)
        assert refusal["field"] == field and re.search("[\u4e00-\u9fff]", refusal["error_zh"]), refusal
    listed = {n["id"]: n for n in hall.ok("GET", "/admin/notices", "boss")["notices"]}
    assert listed == {outage["id"]: outage, tariff["id"]: tariff}
    assert hall.hub.audit.recent(10, "notice.update") == []


def test_a_body_of_the_wrong_shape_is_a_400_naming_the_field(hall: Hall) -> None:
    for body, word in (
        ({"kind": "poster", "title_zh": "x"}, "kind"),
        ({**NEWS, "position": 5000}, "position"),
        ({**NEWS, "colour": "red"}, "colour"),
        ({"title_zh": "x"}, "kind"),
    ):
        refusal = hall.refused("POST", "/admin/notices", "boss", 400, "bad_request", json=body)
        assert word in refusal["error"]
    kept = hall.post(NEWS)
    hall.refused(
        "PUT",
        f"/admin/notices/{kept['id']}",
        "boss",
        400,
        "bad_notice",
        json={**NEWS, "title_zh": "", "title_en": ""},
    )
    assert hall.ok("GET", "/admin/notices", "boss")["notices"][0]["title_zh"] == NEWS["title_zh"]
    hall.refused("PUT", "/admin/notices/999", "boss", 404, "not_found", json=NEWS)
    hall.refused("POST", "/admin/notices/99999999999/withdraw", "boss", 404, "not_found")


# -- the schedule, the audit -----------------------------------------------------------------------


def test_the_schedule_the_default_end_and_every_change_audited(hall: Hall) -> None:
    news = hall.post(NEWS)
    assert news["starts_at"] == T0.isoformat()
    assert news["ends_at"] == (T0 + timedelta(days=3)).isoformat()  # [notices] default_days
    assert news["state"] == "current" and news["created_by"] == "boss"
    # 11:00 hall time (no offset: the hall's zone), for two hours.
    later = hall.post(
        {**TARIFF, "starts_at": "2026-03-10T11:00", "ends_at": "2026-03-10T13:00", "position": 1}
    )
    assert later["starts_at"] == "2026-03-10T03:00:00+00:00" and later["state"] == "scheduled"
    assert later["tariff"]["rows"][2] == ["第三档", "0.8283"]
    shown = hall.ok("GET", "/notices", "display")
    assert [n["id"] for n in shown["notices"]] == [news["id"]]
    assert shown["next_change_in"] == timedelta(hours=2).total_seconds()

    hall.tick(hours=2)
    shown = hall.ok("GET", "/notices", "display")
    assert [n["id"] for n in shown["notices"]] == [news["id"], later["id"]]
    hall.tick(hours=2)  # the tariff ended
    assert [n["id"] for n in hall.ok("GET", "/notices", "kiosk")["notices"]] == [news["id"]]
    states = {n["id"]: n["state"] for n in hall.ok("GET", "/admin/notices", "boss")["notices"]}
    assert states == {news["id"]: "current", later["id"]: "expired"}

    edited = hall.ok("PUT", f"/admin/notices/{news['id']}", "sue", json={**NEWS, "title_en": "Upgrade done"})
    assert edited["title_en"] == "Upgrade done"
    withdrawn = hall.ok("POST", f"/admin/notices/{news['id']}/withdraw", "boss")
    assert withdrawn["state"] == "withdrawn" and withdrawn["withdrawn_by"] == "boss"
    assert hall.ok("GET", "/notices", "display")["notices"] == []
    hall.refused("POST", f"/admin/notices/{news['id']}/withdraw", "boss", 409, "notice_withdrawn")
    hall.refused("PUT", f"/admin/notices/{news['id']}", "boss", 409, "notice_withdrawn", json=NEWS)

    entries = {e.action: e for e in hall.hub.audit.recent(20) if e.action.startswith("notice.")}
    assert set(entries) == {"notice.create", "notice.edit", "notice.withdraw"}
    edit = entries["notice.edit"]
    assert edit.actor == "sue"
    assert edit.detail["before"]["title_en"] == "System upgrade"
    assert edit.detail["after"]["title_en"] == "Upgrade done"
    assert entries["notice.withdraw"].detail["before"]["withdrawn_at"] is None
    assert entries["notice.withdraw"].detail["after"]["withdrawn_by"] == "boss"
    creations = hall.ok("GET", "/admin/audit?action=notice.create", "boss")["entries"]
    assert [e["detail"]["after"]["kind"] for e in creations] == ["tariff", "notice"]


# -- the screens hear it ----------------------------------------------------------------------------


def heard(client: Any, name: str, count: int = 1) -> list[dict[str, Any]]:
    """The ``name`` events ``client`` received, waiting up to 5 s for ``count`` of them."""
    got: list[dict[str, Any]] = []
    deadline = clock_time.monotonic() + 5
    while len(got) < count and clock_time.monotonic() < deadline:
        got += [m["args"][0] for m in client.get_received() if m["name"] == name]
        if len(got) < count:
            clock_time.sleep(0.02)
    return got


def test_screens_hear_each_change_and_an_end_by_the_hubs_clock(hall: Hall) -> None:
    watch = hall.hub.notices.watch
    watch.close()  # its own task: the test takes each look itself, at the times it sets
    socketio = hall.app.extensions["socketio"]
    screen = socketio.test_client(hall.app, auth={"token": hall.tokens["display"]})
    kiosk = socketio.test_client(hall.app, auth={"token": hall.tokens["kiosk"]})
    screen.get_received()
    kiosk.get_received()
    kept = hall.post({**NEWS, "ends_at": (T0 + timedelta(minutes=10)).isoformat()})
    assert heard(screen, "notices_changed") == [{"reason": "created", "id": kept["id"]}]
    assert heard(kiosk, "notices_changed") == [{"reason": "created", "id": kept["id"]}]
    assert watch.look() is False  # reads the next end: nothing came yet
    hall.tick(minutes=9, seconds=59)
    assert watch.look() is False
    assert heard(screen, "notices_changed", 0) == []
    hall.tick(seconds=1)
    assert watch.look() is True  # its end came by the hub's clock
    assert heard(screen, "notices_changed") == [{"reason": "schedule"}]
    assert hall.ok("GET", "/notices", "display")["notices"] == []
    assert watch.look() is False  # told once
    assert heard(screen, "notices_changed", 0) == []
    # A scheduled one starts by the clock too.
    soon = hall.post({**NEWS, "starts_at": (hall.now[0] + timedelta(minutes=5)).isoformat()})
    assert heard(screen, "notices_changed") == [{"reason": "created", "id": soon["id"]}]
    assert watch.look() is False
    hall.tick(minutes=5)
    assert watch.look() is True
    assert [n["id"] for n in hall.ok("GET", "/notices", "display")["notices"]] == [soon["id"]]
    hall.ok("POST", f"/admin/notices/{soon['id']}/withdraw", "boss")
    assert heard(screen, "notices_changed") == [
        {"reason": "schedule"},
        {"reason": "withdrawn", "id": soon["id"]},
    ]
    screen.disconnect()
    kiosk.disconnect()


# -- the hotline, the phone page, the doctors on duty ---------------------------------------------


def test_hotline_phone_qr_and_doctors_on_duty_without_user_names(hall: Hall) -> None:
    day = hall.hub.core.hall.calendar.business_day(T0)
    hall.hub.rota.add(RotaEntry(day, "ann", 1, "08:00", "12:00"), T0, "boss")
    hall.hub.rota.add(RotaEntry(day, "ann", 2, "13:00", "17:00"), T0, "boss")
    hall.hub.rota.add(RotaEntry(day, "boss", 2, "07:00", "08:30"), T0, "boss")  # over by 09:00
    shown = hall.ok("GET", "/notices", "display")
    assert shown["hotline"] == "95598"
    assert (
        shown["phone_url"] is None and shown["phone_qr_url"] is None
    )  # a loopback address: no phone opens it
    outside = hall.call("GET", "/notices", "display", base_url="http://192.168.1.10:5000")
    assert outside.get_json()["phone_url"] == "http://192.168.1.10:5000/phone/"
    assert outside.get_json()["phone_qr_url"] == "/api/v1/notices/phone-qr.svg"
    assert [(d["counter"], d["start"], d["now"]) for d in shown["doctors"]] == [
        (1, "08:00", True),
        (2, "13:00", False),
    ]
    assert shown["doctors"][0]["counter_name_zh"] == "1号窗口"
    assert "ann" not in str(shown) and "boss" not in str(shown)
    qr = hall.call("GET", "/notices/phone-qr.svg")  # open, like a ticket's QR: an <img> sends no token
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data


def test_doctors_on_duty_show_the_display_name_an_admin_gave(hall: Hall) -> None:
    """The card shows ``users.display_name`` (migration 0020), set on the admin API, never a user name."""
    day = hall.hub.core.hall.calendar.business_day(T0)
    hall.hub.rota.add(RotaEntry(day, "ann", 1, "08:00", "12:00"), T0, "boss")
    hall.hub.rota.add(RotaEntry(day, "boss", 2, "08:00", "12:00"), T0, "boss")  # no display name: none shown
    doctors = hall.ok("GET", "/notices", "kiosk")["doctors"]
    assert [(d["counter"], d["name"]) for d in doctors] == [(1, None), (2, None)]
    hall.ok("POST", "/admin/users/ann/display-name", "boss", json={"display_name": "  王医生 Dr Wang "})
    doctors = hall.ok("GET", "/notices", "kiosk")["doctors"]
    assert [(d["counter"], d["name"]) for d in doctors] == [(1, "王医生 Dr Wang"), (2, None)]
    assert "ann" not in str(doctors) and "boss" not in str(doctors)
    hall.ok("POST", "/admin/users/ann/display-name", "boss", json={"display_name": None})
    assert [d["name"] for d in hall.ok("GET", "/notices", "display")["doctors"]] == [None, None]


def test_answers_fit_the_openapi_document(hall: Hall) -> None:
    import json

    from tests.test_openapi import DOC_PATH, check_answer

    doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    kept = hall.post(TARIFF)
    outage = {
        "kind": "outage",
        "title_zh": "计划停电",
        "area_zh": "城东",
        "outage_from": "2026-03-11T08:00",
        "outage_to": "2026-03-11T17:00+08:00",
    }
    hall.post(outage)
    hall.hub.rota.add(
        RotaEntry(hall.hub.core.hall.calendar.business_day(T0), "ann", 1, "08:00", "12:00"), T0, "boss"
    )
    answers = (
        ("get", "/notices", hall.call("GET", "/notices", "display")),
        ("get", "/admin/notices", hall.call("GET", "/admin/notices", "sue")),
        ("post", "/admin/notices", hall.call("POST", "/admin/notices", "boss", json={"kind": "notice"})),
        ("post", "/admin/notices", hall.call("POST", "/admin/notices", "boss", json={"kind": 3})),
        (
            "put",
            "/admin/notices/{notice_id}",
            hall.call("PUT", f"/admin/notices/{kept['id']}", "boss", json=TARIFF),
        ),
        (
            "post",
            "/admin/notices/{notice_id}/withdraw",
            hall.call("POST", f"/admin/notices/{kept['id']}/withdraw", "boss"),
        ),
        (
            "post",
            "/admin/notices/{notice_id}/withdraw",
            hall.call("POST", f"/admin/notices/{kept['id']}/withdraw", "boss"),
        ),
        ("put", "/admin/notices/{notice_id}", hall.call("PUT", "/admin/notices/77", "boss", json=TARIFF)),
        ("get", "/admin/notices", hall.call("GET", "/admin/notices", "ann")),
    )
    for method, path, answer in answers:
        check_answer(doc, method, path, answer)
    shown = answers[0][2].get_json()
    assert shown["rotate_seconds"] == 12 and shown["doctors"][0]["counter"] == 1
    assert [n["kind"] for n in shown["notices"]] == ["tariff", "outage"]
    assert shown["notices"][1]["outage_to"] == "2026-03-11T09:00:00+00:00"
