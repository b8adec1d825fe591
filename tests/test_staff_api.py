"""Staff on post through the REST API, on SQLite and PostgreSQL (the Flask app, a hand-moved clock).

Least rights on staff data (403 for devices, clerks and triage); a second login
refused or moved as the site says; a logout refused with a visitor at the
counter unless forced; a login ended by an admin or by its time closes the
counter; breaks, attendance and the rota over the API, every change audited;
the supervisor role from the command line; a keypad at a closed counter refused.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from server import cli
from tests.api_hall import PASSWORD, PREFIX, T0, ApiHall, device_tokens, open_hall
from tests.support import write_site
from tests.test_openapi import DOC_PATH as DOC
from tests.test_openapi import check_answer
from tests.waiting import wait_until

STAFF_READS = ("/staff/now", "/staff/breaks", "/staff/attendance", "/staff/rota")


class Hall(ApiHall):
    def tick(self, minutes: float) -> datetime:
        self.now[0] += timedelta(minutes=minutes)
        return self.now[0]

    def shown(self) -> dict[int, str]:
        return {c["number"]: c["status"] for c in self.ok("GET", "/queue", "display")["counters"]}


def build(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, extra: str = "", vip: bool = False
) -> Iterator[Hall]:
    path = write_site(tmp_path / "site.toml", url, counters=3)
    if vip:  # counter 3 has a name of its own, not "3号窗口"
        text = path.read_text(encoding="utf-8")
        text = text.replace(
            'name_zh = "3号窗口"\nname_en = "Counter 3"', 'name_zh = "贵宾理财室"\nname_en = "VIP room"'
        )
        assert "贵宾理财室" in text
        path.write_text(text, encoding="utf-8")
    if extra:
        path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    users = (
        ("ann", "staff"),
        ("bob", "staff"),
        ("boss", "admin"),
        ("sue", "supervisor"),
        ("nurse", "triage"),
    )
    hall = open_hall(Hall, path, tmp_path, monkeypatch, users)
    hub = hall.hub
    device_tokens(hall)
    for name, counter in (("boss", None), ("sue", None), ("nurse", None)):
        assert hall.log_in(name, name, counter).status_code == 200
    try:
        yield hall
    finally:
        hub.close()


@pytest.fixture
def hall(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    yield from build(tmp_path, database_url, monkeypatch)


@pytest.fixture
def vip_hall(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    yield from build(tmp_path, sqlite_url, monkeypatch, vip=True)


@pytest.fixture
def moving_hall(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    yield from build(tmp_path, sqlite_url, monkeypatch, '\n[staff]\nsecond_login = "move"\n')


# -- least rights ------------------------------------------------------------------------------


def test_staff_data_is_for_admins_and_supervisors_only(hall: Hall) -> None:
    assert hall.log_in("ann", "ann", 1).status_code == 200
    day = hall.ok("GET", "/staff/rota", "boss")["date"]
    writes = (
        ("/staff/rota", {"date": day, "username": "ann", "counter": 1, "start": "09:00", "end": "12:00"}),
        ("/staff/rota/import", {"csv": f"date,username,counter,start,end\n{day},ann,1,09:00,12:00\n"}),
        ("/staff/rota/1/remove", {}),
        ("/staff/posts/1/end", {}),
    )
    for who in ("kiosk", "display", "pad", "ann", "nurse"):
        for path in STAFF_READS:
            hall.refused("GET", path, who, 403, "forbidden")
        for path, body in writes:
            hall.refused("POST", path, who, 403, "forbidden", json=body)
    for path in STAFF_READS:
        hall.refused("GET", path, None, 401, "unauthorized")
        hall.ok("GET", path, "sue")
        hall.ok("GET", path, "boss")
    # A supervisor reads; only an admin changes.
    for path, body in writes:
        hall.refused("POST", path, "sue", 403, "forbidden", json=body)
    # A supervisor cannot call, issue at a counter or administer.
    refused = hall.refused("POST", "/counters/1/call-next", "sue", 403, "forbidden")
    assert refused["error_zh"] == "值班长不能在窗口办理业务"  # the role's one name, everywhere
    hall.refused("POST", "/counters/1/pause", "sue", 403, "forbidden")
    hall.refused("GET", "/admin/users", "sue", 403, "forbidden")
    hall.refused("POST", "/admin/tokens", "sue", 403, "forbidden", json={"role": "kiosk", "name": "x"})
    assert hall.ok("GET", "/auth/me", "sue") == {
        "username": "sue",
        "role": "supervisor",
        "counter": None,
        "timezone": "Asia/Shanghai",
    }
    hall.ok("GET", "/devices", "sue")
    hall.ok("GET", "/queue", "sue")
    answer = hall.client.post(
        PREFIX + "/auth/login", json={"username": "sue", "password": PASSWORD, "counter": 2}
    )
    assert answer.status_code == 400 and "without a counter" in answer.get_json()["error"]
    # The break reasons: the console's, not staff data (a clerk reads them; a device does not).
    reasons = hall.ok("GET", "/break-reasons", "ann")
    assert reasons["default"] == "other"
    assert [r["code"] for r in reasons["reasons"]] == ["lunch", "meeting", "training", "personal", "other"]
    assert reasons["reasons"][0] == {"code": "lunch", "name_zh": "午餐", "name_en": "Lunch"}
    hall.refused("GET", "/break-reasons", "kiosk", 403, "forbidden")


# -- on post, off post ---------------------------------------------------------------------------


def test_login_opens_the_counter_a_second_login_is_refused_or_moves(hall: Hall) -> None:
    assert hall.shown() == {1: "closed", 2: "closed", 3: "closed"}
    assert hall.log_in("ann", "ann", 1).status_code == 200
    assert hall.shown() == {1: "open", 2: "closed", 3: "closed"}
    first = hall.tokens["ann"]

    refused = hall.log_in("ann2", "ann", 2)
    body = refused.get_json()
    assert (refused.status_code, body["code"], body["counter"]) == (409, "on_post_elsewhere", 1)
    assert "counter 1" in body["error"]
    assert hall.call("GET", "/auth/me", "ann").status_code == 200  # the first login stands
    busy = hall.log_in("bob", "bob", 1)
    assert (busy.status_code, busy.get_json()["code"]) == (409, "counter_staffed")
    assert (
        hall.call(
            "POST", "/auth/login", json={"username": "ann", "password": "wrong-pass", "counter": 2}
        ).status_code
        == 401
    )

    ticket = hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    assert hall.ok("POST", "/counters/1/call-next", "ann")["ticket"]["id"] == ticket["id"]
    moved = hall.log_in("ann", "ann", 2, move=True)
    assert moved.status_code == 200 and moved.get_json()["counter"] == 2
    assert hall.shown() == {1: "closed", 2: "open", 3: "closed"}
    assert (
        hall.client.get(PREFIX + "/auth/me", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    )
    back = hall.ok("GET", f"/tickets/{ticket['id']}")
    assert back["status"] == "waiting" and back["history"][-1]["kind"] == "requeued"
    # Counter 1 is closed: an admin cannot call there either (a visitor would walk to an empty window).
    hall.refused("POST", "/counters/1/call-next", "boss", 409, "counter_closed")
    assert (
        hall.ok("POST", "/counters/2/call-next", "boss")["ticket"]["id"] == ticket["id"]
    )  # any staffed counter


def test_a_site_that_moves_by_default(moving_hall: Hall) -> None:
    hall = moving_hall
    assert hall.log_in("ann", "ann", 1).status_code == 200
    assert hall.log_in("ann", "ann", 2, move=False).get_json()["code"] == "on_post_elsewhere"
    assert hall.log_in("ann", "ann", 2).status_code == 200
    assert hall.shown() == {1: "closed", 2: "open", 3: "closed"}


def test_logout_closes_the_counter_and_waits_for_the_visitor_unless_forced(hall: Hall) -> None:
    hall.log_in("ann", "ann", 1)
    ticket = hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    hall.ok("POST", "/counters/1/call-next", "ann")
    hall.ok("POST", "/counters/1/start", "ann")
    body = hall.refused("POST", "/auth/logout", "ann", 409, "ticket_at_counter")
    assert ticket["number"] in body["error"] and "force" in body["error"]
    assert hall.shown()[1] == "open" and hall.call("GET", "/auth/me", "ann").status_code == 200
    hall.refused("POST", "/auth/logout", "ann", 400, "bad_request", json={"force": "yes"})
    assert hall.ok("POST", "/auth/logout", "ann", json={"force": True}) == {"ok": True}
    assert hall.shown()[1] == "closed"
    done = hall.ok("GET", f"/tickets/{ticket['id']}")
    # The public history says why (post_end); the private "reason" stays with staff.
    assert done["status"] == "done" and done["history"][-1]["detail"] == {"by": "post_end"}
    # With nobody at the counter, a plain logout.
    hall.log_in("ann", "ann", 1)
    assert hall.shown()[1] == "open"
    hall.ok("POST", "/auth/logout", "ann")
    assert hall.shown()[1] == "closed"
    hall.ok("POST", "/auth/logout", "sue")  # no post: just the login ends


def test_an_admin_ending_the_login_closes_the_counter_at_once(hall: Hall) -> None:
    hall.log_in("ann", "ann", 1)
    hall.log_in("bob", "bob", 2)
    hall.ok("POST", "/admin/users/ann/disable", "boss")
    hall.ok("POST", "/admin/users/bob/password", "boss", json={"password": "another-password"})
    assert hall.shown() == {1: "closed", 2: "closed", 3: "closed"}
    clerks = hall.ok("GET", "/staff/attendance", "sue")["clerks"]
    assert {a["username"]: a["on_post_now"] for a in clerks} == {"ann": False, "bob": False}


def test_an_admin_ends_the_post_of_a_clerk_who_left(hall: Hall) -> None:
    hall.log_in("ann", "ann", 1)
    hall.refused("POST", "/staff/posts/2/end", "boss", 409, "conflict")
    hall.refused("POST", "/staff/posts/9/end", "boss", 404, "unknown_counter")
    ended = hall.ok("POST", "/staff/posts/1/end", "boss")
    assert ended["ended"] == "ann" and ended["counter"]["status"] == "closed"
    assert hall.call("GET", "/auth/me", "ann").status_code == 401  # the forgotten console is logged out
    assert hall.log_in("bob", "bob", 1).status_code == 200  # the counter is free for the next clerk
    [entry] = hall.ok("GET", "/admin/audit?action=post.end", "boss")["entries"]
    assert (entry["actor"], entry["target"], entry["detail"]) == ("boss", "ann", {"counter": 1})


def test_an_expired_login_ends_the_post_at_its_expiry(hall: Hall) -> None:
    hall.log_in("ann", "ann", 3)
    hours = hall.hub.config.hub.staff_session_hours
    hall.tick(hours * 60 + 20)  # 20 minutes after the login ran out, nobody noticed yet
    hall.hub.posts.settle()
    assert hall.shown()[3] == "closed"
    hall.log_in("sue", "sue")  # her login ran out too
    [ann] = hall.ok("GET", "/staff/attendance?date=2026-03-10", "sue")["clerks"]
    assert ann["first_login"] == T0.isoformat()
    assert ann["last_logout"] == (T0 + timedelta(hours=hours)).isoformat()
    assert ann["on_post_seconds"] == hours * 3600


def test_logging_in_again_at_the_same_counter_keeps_the_visitor(hall: Hall) -> None:
    hall.log_in("ann", "ann", 1)
    ticket = hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    hall.ok("POST", "/counters/1/call-next", "ann")
    assert hall.log_in("ann", "ann", 1).status_code == 200  # the browser was closed and opened again
    hall.hub.posts.settle()
    assert hall.ok("GET", f"/tickets/{ticket['id']}")["status"] == "called"
    assert hall.shown()[1] == "open"
    assert hall.ok("POST", "/counters/1/finish", "ann")["ticket"]["status"] == "done"


# -- breaks, now, attendance -------------------------------------------------------------------------


def test_breaks_over_the_api(hall: Hall) -> None:
    hall.log_in("ann", "ann", 1)
    hall.refused("POST", "/counters/1/pause", "ann", 400, "unknown_break_reason", json={"reason": "nap"})
    hall.refused("POST", "/counters/1/pause", "ann", 400, "bad_request", json={"reason": 3})
    hall.tick(60)
    paused = hall.ok("POST", "/counters/1/pause", "ann", json={"reason": "lunch"})
    assert paused["counter"]["status"] == "paused"
    assert paused["post"] == {
        "username": "ann",
        "since": T0.isoformat(),
        "break": {"reason": "lunch", "since": (T0 + timedelta(minutes=60)).isoformat()},
    }
    hall.refused("POST", "/counters/1/call-next", "ann", 409, "counter_paused")
    assert hall.shown()[1] == "paused"
    hall.tick(25)
    now = {c["counter"]: c for c in hall.ok("GET", "/staff/now", "sue")["counters"]}
    assert now[1]["state"] == "unplanned" and now[1]["on_post"] == "ann"
    assert now[1]["break"] == {
        "reason": "lunch",
        "since": (T0 + timedelta(minutes=60)).isoformat(),
        "seconds": 1500,
    }
    assert now[2]["state"] == "closed" and now[2]["status"] == "closed"
    resumed = hall.ok("POST", "/counters/1/resume", "ann")
    assert resumed["counter"]["status"] == "open" and resumed["post"]["break"] is None
    [lunch] = hall.ok("GET", "/staff/breaks", "sue")["breaks"]
    assert (lunch["username"], lunch["counter"], lunch["reason"], lunch["seconds"]) == (
        "ann",
        1,
        "lunch",
        1500,
    )
    [ann] = hall.ok("GET", "/staff/attendance", "boss")["clerks"]
    assert (ann["on_post_seconds"], ann["break_seconds"], ann["working_seconds"]) == (
        85 * 60,
        {"lunch": 1500},
        3600,
    )
    hall.refused("GET", "/staff/breaks?date=2026-02-30", "sue", 400, "bad_request")
    assert hall.ok("GET", "/staff/breaks?date=2026-03-09", "sue")["breaks"] == []


# -- the rota -------------------------------------------------------------------------------------


ROTA_ENTRY = {"date": "2026-03-10", "username": "ann", "counter": 1, "start": "08:00", "end": "12:00"}


@pytest.mark.parametrize(
    ("change", "field", "zh", "en"),
    [
        (
            {"start": "12:00", "end": "09:00"},
            "end",
            "排班有误：开始时间 12:00 须早于结束时间 09:00",
            "bad rota entry: start 12:00 is not before end 09:00",
        ),
        (
            {"start": "09:00", "end": "09:00"},
            "end",
            "排班有误：开始时间 09:00 须早于结束时间 09:00",
            "bad rota entry: start 09:00 is not before end 09:00",
        ),
        ({"counter": 9}, "counter", "排班有误：没有窗口“9”", "bad rota entry: there is no counter '9'"),
        (
            {"username": "ghost"},
            "username",
            "排班有误：没有用户“ghost”",
            "bad rota entry: there is no user 'ghost'",
        ),
        (
            {"username": "nurse"},
            "username",
            "排班有误：用户“nurse”是预检分诊：只有工作人员和管理员可排到窗口",
            "bad rota entry: user 'nurse' is triage: only staff and admins are put on post at a counter",
        ),
        (
            {"date": "2026-02-30"},
            "date",
            "排班有误：日期“2026-02-30”无效，应形如 2026-12-01",
            "bad rota entry: date '2026-02-30' is not a date like 2026-12-01",
        ),
    ],
)
def test_a_bad_rota_entry_is_refused_in_each_language_and_nothing_is_saved(
    hall: Hall, change: dict[str, Any], field: str, zh: str, en: str
) -> None:
    """The form's refusal names the field, and each language is whole: the Chinese sentence carries no
    English (it read "排班有误：start 12:00 is not before end 09:00"), the page shows the two apart."""
    refusal = hall.refused("POST", "/staff/rota", "boss", 409, "bad_rota", json={**ROTA_ENTRY, **change})
    assert (refusal["field"], refusal["error_zh"], refusal["error_en"]) == (field, zh, en)
    assert refusal["error"] == f"{zh} / {en}"
    assert hall.ok("GET", "/staff/rota?date=2026-03-10", "sue")["entries"] == []
    assert hall.hub.audit.recent(10, "rota.add") == []


def test_a_rota_clash_is_said_in_each_language_without_a_field(hall: Hall) -> None:
    kept = hall.ok("POST", "/staff/rota", "boss", 201, json=ROTA_ENTRY)["entry"]
    for change, zh, en in (
        (
            {"counter": 2, "start": "11:00", "end": "13:00"},
            "排班冲突：ann 在 2026-03-10 08:00–12:00 已排在 1 号窗口",
            "the rota clashes: ann is already at counter 1 from 08:00 to 12:00 on 2026-03-10",
        ),
        (
            {"username": "bob", "start": "07:00", "end": "08:30"},
            "排班冲突：1 号窗口在 2026-03-10 08:00–12:00 已排了 ann",
            "the rota clashes: counter 1 already has ann from 08:00 to 12:00 on 2026-03-10",
        ),
    ):
        refusal = hall.refused("POST", "/staff/rota", "boss", 409, "bad_rota", json={**ROTA_ENTRY, **change})
        assert (refusal["error_zh"], refusal["error_en"]) == (zh, en) and "field" not in refusal
    assert [e["id"] for e in hall.ok("GET", "/staff/rota?date=2026-03-10", "sue")["entries"]] == [kept["id"]]
    assert len(hall.hub.audit.recent(10, "rota.add")) == 1


HEADER = "date,username,counter,start,end\n"


@pytest.mark.parametrize(
    ("csv", "problems"),
    [
        pytest.param(
            f"{HEADER}2026-03-10,bob,2,09:00,12:00\n2026-03-10,bob,7,09:00,12:00\n2026-03-10,ann,2,9:00,12:00\n",
            [
                (3, "counter", "没有窗口“7”", "there is no counter '7'"),
                (
                    4,
                    "start",
                    "开始时间“9:00”无效，应形如 09:00（24:00 表示一天结束）",
                    "start '9:00' is not a time",
                ),
            ],
            id="bad-lines",
        ),
        pytest.param(
            f"{HEADER}2026-03-10,bob,2,09:00,12:00\n2026-03-10,ann,2,11:00,13:00\n",
            [(3, "counter", "2 号窗口在 2026-03-10 09:00–12:00 已排了 bob", "counter 2 already has bob")],
            id="clash",
        ),
        pytest.param(
            "date,username,counter,start\n2026-03-10,bob,2,09:00\n",
            [(1, "end", "缺少“结束时间”列（end）", "missing column 'end'")],
            id="missing-column",
        ),
        pytest.param(HEADER, [(2, "", "列名行之后没有排班", "no rota entries")], id="no-entries"),
    ],
)
def test_a_bad_rota_csv_is_refused_line_by_line_in_each_language(
    hall: Hall, csv: str, problems: list[tuple[int, str, str, str]]
) -> None:
    """The import's refusal: each bad line with its number, its field (the column) and a whole sentence in
    each language; ``lines`` in English as before; nothing saved, no audit row."""
    answer = hall.call("POST", "/staff/rota/import", "boss", json={"csv": csv})
    check_answer(json.loads(DOC.read_text(encoding="utf-8")), "post", "/staff/rota/import", answer)
    refused = answer.get_json()
    assert (answer.status_code, refused["code"]) == (400, "bad_import"), refused
    assert re.search(r"[\u4e00-\u9fff]", refused["error_zh"]) and "没有保存任何排班" in refused["error_zh"]
    assert refused["error_en"].startswith("import refused, no rota entry was saved")
    got = [(p["line"], p["field"], p["error_zh"], p["error_en"]) for p in refused["problems"]]
    assert [g[:3] for g in got] == [want[:3] for want in problems], got
    for (*_, en), want in zip(got, problems, strict=True):
        assert want[3] in en and not re.search(r"[\u4e00-\u9fff]", en)
    assert refused["lines"] == [f"line {p['line']}: {p['error_en']}" for p in refused["problems"]]
    assert [p["message"] for p in refused["problems"]] == [p["error_en"] for p in refused["problems"]]
    assert hall.ok("GET", "/staff/rota?date=2026-03-10", "sue")["entries"] == []
    assert hall.hub.audit.recent(10, "rota.import") == []


def test_the_rota_over_the_api_is_checked_and_audited(hall: Hall) -> None:
    day = "2026-03-10"
    entry = {"date": day, "username": "ann", "counter": 1, "start": "08:00", "end": "12:00"}
    added = hall.ok("POST", "/staff/rota", "boss", 201, json=entry)["entry"]
    clash = hall.refused("POST", "/staff/rota", "boss", 409, "bad_rota", json={**entry, "counter": 2})
    assert "already at counter 1" in clash["error_en"] and clash["error_zh"].startswith("排班冲突")
    bad = hall.refused("POST", "/staff/rota", "boss", 409, "bad_rota", json={**entry, "username": "nurse"})
    assert "triage" in bad["error_en"]
    hall.refused("POST", "/staff/rota", "boss", 400, "bad_request", json={**entry, "start": "8:00"})
    hall.refused("POST", "/staff/rota", "boss", 400, "bad_request", json={**entry, "extra": 1})
    now = {c["counter"]: c for c in hall.ok("GET", "/staff/now", "sue")["counters"]}
    assert now[1]["state"] == "missing" and now[1]["planned"][0]["username"] == "ann"
    hall.log_in("ann", "ann", 1)
    assert {c["counter"]: c["state"] for c in hall.ok("GET", "/staff/now", "sue")["counters"]}[1] == "ok"

    refused = hall.refused(
        "POST",
        "/staff/rota/import",
        "boss",
        400,
        "bad_import",
        json={"csv": f"date,username,counter,start,end\n{day},bob,2,09:00,12:00\n{day},bob,7,09:00,12:00\n"},
    )
    assert refused["lines"] == ["line 3: there is no counter '7'"]
    # One line wrong in four places: each is reported, on its line and column, in both languages.
    many = hall.refused(
        "POST",
        "/staff/rota/import",
        "boss",
        400,
        "bad_import",
        json={"csv": f"date,username,counter,start,end\n{day},ghost,9,25:00,25:30\n"},
    )
    assert [(p["line"], p["field"]) for p in many["problems"]] == [
        (2, "username"),
        (2, "counter"),
        (2, "start"),
        (2, "end"),
    ]
    assert [p["error_zh"] for p in many["problems"]] == [
        "没有用户“ghost”",
        "没有窗口“9”",
        "开始时间“25:00”无效，应形如 09:00（24:00 表示一天结束）",
        "结束时间“25:30”无效，应形如 09:00（24:00 表示一天结束）",
    ]
    assert all(p["error_en"] for p in many["problems"]) and len(many["lines"]) == 4
    assert [e["id"] for e in hall.ok("GET", "/staff/rota", "sue")["entries"]] == [
        added["id"]
    ]  # nothing saved
    imported = hall.ok(
        "POST",
        "/staff/rota/import",
        "boss",
        201,
        json={"csv": f"date,username,counter,start,end\n{day},bob,2,09:00,12:00\n{day},ann,1,12:00,17:00\n"},
    )
    assert (imported["imported"], imported["days"]) == (2, [day])
    listed = hall.ok("GET", f"/staff/rota?date={day}", "sue")
    assert [(e["username"], e["counter"], e["start"]) for e in listed["entries"]] == [
        ("ann", 1, "12:00"),
        ("bob", 2, "09:00"),
    ]
    assert listed["users"] == ["ann", "bob", "boss"]
    gone = listed["entries"][0]["id"]
    assert hall.ok("POST", f"/staff/rota/{gone}/remove", "boss")["entry"]["username"] == "ann"
    hall.refused("POST", f"/staff/rota/{gone}/remove", "boss", 404, "not_found")
    actions = [
        e["action"]
        for e in hall.ok("GET", "/admin/audit?limit=10", "boss")["entries"]
        if e["action"].startswith("rota.")
    ]
    assert actions == ["rota.remove", "rota.import", "rota.add"]


# -- the supervisor role and the keypad -------------------------------------------------------------


def test_the_cli_adds_a_supervisor(
    hall: Hall, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = hall.hub.config.folder / "site.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["--config", str(path), "user", "add", "vic", "--role", "supervisor"]) == 0
    assert "user vic added (supervisor)" in capsys.readouterr().out
    assert hall.log_in("vic", "vic").status_code == 200
    hall.ok("GET", "/staff/now", "vic")


def test_a_keypad_at_a_closed_counter_is_refused(hall: Hall, caplog: pytest.LogCaptureFixture) -> None:
    ticket = hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    with caplog.at_level(logging.INFO, logger="server.devices.counters"):
        hall.hub.counter_devices.key_pressed("keys-1", 1, "call_next")
        wait_until(lambda: "closed: nobody is on post" in caplog.text, "the keypad's refusal in the log")
    assert "keypad keys-1 at counter 1: call_next refused" in caplog.text
    assert hall.ok("GET", f"/tickets/{ticket['id']}")["status"] == "waiting"
    hall.log_in("ann", "ann", 1)
    hall.hub.counter_devices.key_pressed("keys-1", 1, "call_next")
    wait_until(lambda: hall.ok("GET", f"/tickets/{ticket['id']}")["status"] == "called", "the keypad's call")


def test_a_transfer_to_a_counter_nobody_is_on_post_at_is_refused(vip_hall: Hall) -> None:
    hall = vip_hall
    hall.log_in("ann", "ann", 1)
    ticket = hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    hall.ok("POST", "/counters/1/call-next", "ann")
    hall.ok("POST", "/counters/1/start", "ann")
    refused = hall.refused("POST", "/counters/1/transfer", "ann", 409, "counter_closed", json={"counter": 3})
    assert refused["error_zh"] == "贵宾理财室无人值守，不能转入"
    assert refused["error_en"].startswith("Nobody is on post at VIP room")
    assert hall.ok("GET", f"/tickets/{ticket['id']}")["status"] == "serving"  # still at counter 1
    # A counter on a break still takes it: its clerk is back soon.
    hall.log_in("bob", "bob", 3)
    hall.ok("POST", "/counters/3/pause", "bob", json={"reason": "lunch"})
    hall.ok("POST", "/counters/1/transfer", "ann", json={"counter": 3})
    shown = hall.ok("GET", f"/tickets/{ticket['id']}")
    assert (shown["status"], shown["target_counter"]) == ("transferred", 3)
    # The visitor's page names it as the hall does, not "3号窗口".
    assert (shown["target_counter_name_zh"], shown["target_counter_name_en"]) == ("贵宾理财室", "VIP room")


# -- the document --------------------------------------------------------------------------------


def test_answers_fit_the_openapi_document(hall: Hall) -> None:
    """Every staff answer, and the changed login, logout, pause and counter answers, fit openapi.json."""
    doc = json.loads(DOC.read_text(encoding="utf-8"))

    def check(method: str, path: str, template: str, who: str | None, **kwargs: Any) -> Any:
        answer = hall.call(method, path, who, **kwargs)
        check_answer(doc, method.lower(), template, answer)
        return answer.get_json()

    day = "2026-03-10"
    entry = {"date": day, "username": "ann", "counter": 1, "start": "09:00", "end": "24:00"}
    added = check("POST", "/staff/rota", "/staff/rota", "boss", json=entry)
    check("POST", "/staff/rota", "/staff/rota", "boss", json={**entry, "counter": 2})  # 409 bad_rota
    check("POST", "/staff/rota", "/staff/rota", "sue", json=entry)  # 403
    check("POST", "/staff/rota/import", "/staff/rota/import", "boss", json={"csv": "date,username\n"})
    check(
        "POST",
        "/staff/rota/import",
        "/staff/rota/import",
        "boss",
        json={"csv": f"date,username,counter,start,end\n{day},bob,2,09:00,12:00\n"},
    )
    login = hall.call("POST", "/auth/login", json={"username": "ann", "password": PASSWORD, "counter": 1})
    check_answer(doc, "post", "/auth/login", login)
    hall.tokens["ann"] = login.get_json()["token"]
    for body in (
        {"username": "ann", "password": PASSWORD, "counter": 2},
        {"username": "bob", "password": PASSWORD, "counter": 1},
    ):
        check_answer(doc, "post", "/auth/login", hall.call("POST", "/auth/login", json=body))  # 409s
    check("GET", "/counters/1", "/counters/{counter}", "ann")
    check("POST", "/counters/1/pause", "/counters/{counter}/pause", "ann", json={"reason": "nap"})
    check("POST", "/counters/2/pause", "/counters/{counter}/pause", "boss")  # 409 counter_closed
    check("POST", "/counters/2/call-next", "/counters/{counter}/call-next", "boss")  # 409 counter_closed
    check("POST", "/counters/1/pause", "/counters/{counter}/pause", "ann", json={"reason": "lunch"})
    check("GET", "/break-reasons", "/break-reasons", "ann")
    for path in STAFF_READS:
        check("GET", path, path, "sue")
        check("GET", path, path, "kiosk")  # 403
    check("GET", "/staff/breaks?date=nope", "/staff/breaks", "sue")  # 400
    check("POST", "/counters/1/resume", "/counters/{counter}/resume", "ann")
    ticket = hall.ok("POST", "/tickets", "kiosk", 201, json={"service": "PAY"})
    hall.ok("POST", "/counters/1/call", "ann", json={"ticket_id": ticket["id"]})
    check("POST", "/auth/logout", "/auth/logout", "ann")  # 409 ticket_at_counter
    check("POST", f"/staff/rota/{added['entry']['id']}/remove", "/staff/rota/{entry_id}/remove", "boss")
    check("POST", "/staff/rota/999/remove", "/staff/rota/{entry_id}/remove", "boss")  # 404
    check("POST", "/staff/posts/1/end", "/staff/posts/{counter}/end", "boss")
    check("POST", "/staff/posts/1/end", "/staff/posts/{counter}/end", "boss")  # 409
    check("GET", "/auth/me", "/auth/me", "sue")


def test_logins_older_than_the_posts_are_put_on_post_at_start(hall: Hall) -> None:
    """An upgrade: logins made before the hub kept posts hold none; the hub puts their clerks on post."""
    accounts, hours = hall.hub.accounts, hall.hub.config.hub.staff_session_hours
    accounts.login("ann", PASSWORD, 1, T0, hours)  # straight to the store: no post, as before 0014
    accounts.login("bob", PASSWORD, 1, T0 + timedelta(seconds=1), hours, single_session=True)
    accounts.login("boss", PASSWORD, 3, T0, hours, single_session=False)
    accounts.login("nurse", PASSWORD, None, T0, hours, single_session=False)
    assert hall.shown() == {1: "closed", 2: "closed", 3: "closed"}
    assert hall.hub.posts.adopt() == 2
    assert hall.shown() == {1: "open", 2: "closed", 3: "open"}
    on_post = {c["counter"]: c["on_post"] for c in hall.ok("GET", "/staff/now", "sue")["counters"]}
    assert on_post == {1: "bob", 2: None, 3: "boss"}  # the newest login at counter 1 wins
    assert hall.hub.posts.adopt() == 0  # once only
