"""Reports (server/reports/, GET /api/v1/reports/*): every figure is the statistics', in every format.

The known day of tests/stats_day.py is built through the queue core into a
database, and a hub app with the same hall is opened on it (once per backend
for the module). The daily and monthly reports must hold exactly what
``GET /stats`` answers for the same period and groupings; the CSV, the
workbook and the PDF the same numbers as the JSON; the clerk's scorecard the
clerk's group and a rank. Only admins and supervisors may read any of it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from pypdf import PdfReader

from server.app import create_app
from server.config import load_config
from server.core.calendar import utc_now
from server.reports.csv_file import BOM, cell_text
from server.reports.table import layout
from tests import stats_day as known
from tests.conftest import PG_ADMIN_URL, _pg_admin
from tests.test_openapi import DOC_PATH, check_answer

SITE = """
[site]
name_zh = "测试营业厅"
name_en = "Test Hall"
timezone = "Asia/Shanghai"

[hub]
database_url = "{url}"

[[services]]
code = "NEW"
name_zh = "新装"
name_en = "New connection"
prefix = "A"

[[services]]
code = "PAY"
name_zh = "缴费"
name_en = "Payment"
prefix = "B"

[[services]]
code = "INFO"
name_zh = "咨询"
name_en = "Enquiries"
prefix = "C"

[[counters]]
number = 1
name_zh = "1号窗口"
name_en = "Counter 1"
services = ["NEW"]

[[counters]]
number = 2
name_zh = "2号窗口"
name_en = "Counter 2"
services = ["PAY"]

[[counters]]
number = 3
name_zh = "3号窗口"
name_en = "Counter 3"
services = ["PAY", "INFO"]
"""

DAY = known.DAY.isoformat()
MONTH = DAY[:7]
PASSWORD = "report-password"
#: The groupings of each report, as GET /stats names them.
DAILY = ("hour", "service", "counter", "clerk")
MONTHLY = ("day", "service", "counter", "clerk")


def _database(backend: str, folder: Path) -> tuple[str, Callable[[], None]]:
    """A fresh database on ``backend`` and how to drop it (PostgreSQL on localhost, as conftest finds it)."""
    if backend == "sqlite":
        return f"sqlite:///{folder / 'qcall.db'}", lambda: None
    try:
        admin = _pg_admin()
    except Exception as exc:  # noqa: BLE001  psycopg's errors: skip here, fail under CI (as conftest does)
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
    name = f"qcall_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with _pg_admin() as again:
            again.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", drop


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Flask]]:
    """One hub app per backend for the module, on the known day, with a user of every role and devices."""
    made: dict[str, Flask] = {}
    cleanups: list[Callable[[], None]] = []
    patch = pytest.MonkeyPatch()

    def app_for(backend: str) -> Flask:
        if backend in made:
            return made[backend]
        folder = tmp_path_factory.mktemp(f"reports-{backend}")
        url, drop = _database(backend, folder)
        cleanups.append(drop)
        day = known.build_day(url)
        day.store.engine.dispose()
        patch.setenv("QCALL_VAR_DIR", str(folder))
        site = folder / "site.toml"
        site.write_text(SITE.format(url=url), encoding="utf-8")
        app = create_app(load_config(site), async_mode="threading")
        hub = app.extensions["qcall"]
        now = utc_now()
        app.config["tokens"] = {
            role: hub.accounts.create_device_token(role, f"{role}-1", now) for role in ("kiosk", "display")
        }
        for user, role in (
            ("admin", "admin"),
            ("boss", "supervisor"),
            ("clerk1", "staff"),
            ("nurse", "triage"),
        ):
            hub.accounts.add_user(user, role, PASSWORD, now)
        cleanups.insert(0, hub.close)
        made[backend] = app
        return app

    yield app_for
    for cleanup in cleanups:
        cleanup()
    patch.undo()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_app(request: pytest.FixtureRequest, apps: Callable[[str], Flask]) -> Flask:
    return apps(request.param)


@pytest.fixture
def app(apps: Callable[[str], Flask]) -> Flask:
    return apps("sqlite")


def login(client: FlaskClient, user: str, counter: int | None = None) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/login", json={"username": user, "password": PASSWORD, "counter": counter}
    )
    assert answer.status_code == 200, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def get_json(client: FlaskClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = answer.get_json()
    return body


def without_names(group: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in group.items() if k not in ("key", "name_zh", "name_en")}


# -- the figures are the statistics' -----------------------------------------------------------


def test_the_daily_report_is_the_statistics_of_the_day(any_app: Flask) -> None:
    client = any_app.test_client()
    admin = login(client, "admin")
    report = get_json(client, f"/api/v1/reports/daily?day={DAY}", admin)
    assert report["period"] == {"kind": "daily", "label": DAY, "from": DAY, "to": DAY}
    assert report["hall"] == {"name_zh": "测试营业厅", "name_en": "Test Hall", "timezone": "Asia/Shanghai"}
    assert report["satisfaction"]["target"] == 80
    assert set(report["sections"]) == set(DAILY)
    for by in DAILY:
        stats = get_json(client, f"/api/v1/stats?from={DAY}&by={by}", admin)
        assert report["sections"][by] == stats["groups"], by
    assert report["total"] == get_json(client, f"/api/v1/stats?from={DAY}", admin)["total"] == known.TOTAL
    assert [(h["from"], h["to"], h["count"]) for h in report["handoffs"]] == known.HANDOFFS
    # And the figures worked out by hand (tests/stats_day.py), section by section.
    sections = report["sections"]
    assert {g["key"]: without_names(g) for g in sections["hour"]} == known.BY_HOUR
    assert {g["key"]: without_names(g) for g in sections["service"]} == known.BY_SERVICE
    assert {g["key"]: without_names(g) for g in sections["counter"]} == known.BY_COUNTER
    assert {g["key"]: without_names(g) for g in sections["clerk"]} == known.BY_CLERK


def test_the_monthly_report_is_the_statistics_of_the_month(any_app: Flask) -> None:
    client = any_app.test_client()
    admin = login(client, "admin")
    report = get_json(client, f"/api/v1/reports/monthly?month={MONTH}", admin)
    assert report["period"] == {"kind": "monthly", "label": MONTH, "from": "2026-03-01", "to": "2026-03-31"}
    period = "from=2026-03-01&to=2026-03-31"
    for by in MONTHLY:
        stats = get_json(client, f"/api/v1/stats?{period}&by={by}", admin)
        assert report["sections"][by] == stats["groups"], by
        if by == "day":
            assert report["total"] == stats["total"]
            assert report["handoffs"] == stats["handoffs"]
    assert [g["key"] for g in report["sections"]["day"]] == ["2026-03-09", DAY]
    assert report["total"]["tickets"]["issued"] == 11  # the day before is in the month too
    check_answer(
        json.loads(DOC_PATH.read_text(encoding="utf-8")), "get", "/reports/monthly", _ok(client, admin)
    )


def _ok(client: FlaskClient, admin: dict[str, str]) -> Any:
    return client.get(f"/api/v1/reports/monthly?month={MONTH}", headers=admin)


def test_a_month_to_come_is_empty_not_refused(app: Flask) -> None:
    client = app.test_client()
    report = get_json(client, "/api/v1/reports/monthly?month=2099-01", login(client, "boss"))
    assert report["sections"] == {"day": [], "service": [], "counter": [], "clerk": []}
    assert report["total"]["tickets"]["issued"] == 0 and report["handoffs"] == []


# -- the files hold the same numbers ---------------------------------------------------------------


def download(client: FlaskClient, url: str, headers: dict[str, str], media: str, name: str) -> bytes:
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert answer.mimetype == media
    assert answer.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert answer.headers["Cache-Control"] == "no-store"
    return answer.get_data()


def number(text: str) -> str | float:
    """A cell's text as a number where it is one, so 274 and 274.0 compare equal."""
    try:
        return float(text)
    except ValueError:
        return text


def test_the_csv_and_the_workbook_hold_the_reports_numbers(app: Flask) -> None:
    client = app.test_client()
    admin = login(client, "admin")
    for kind, query in (("daily", f"day={DAY}"), ("monthly", f"month={MONTH}")):
        report = get_json(client, f"/api/v1/reports/{kind}?{query}", admin)
        label = report["period"]["label"]
        url = f"/api/v1/reports/{kind}?{query}&format="
        raw = download(client, url + "csv", admin, "text/csv", f"qcall-{kind}-{label}.csv")
        assert raw.startswith(BOM.encode("utf-8"))
        lines = list(csv.reader(io.StringIO(raw.decode("utf-8").removeprefix(BOM))))
        header, rows = lines[0], lines[1:]
        assert header[:6] == [
            "部分 Section",
            "分组 Group",
            "名称 Name (zh)",
            "名称(英) Name (en)",
            "取号 Issued",
            "办结 Served",
        ]
        # Every cell is the report's own figure: the hall's row and one per group of each section.
        expected = [[cell_text(v) for v in row] for row in layout(report).rows()]
        assert rows == expected
        hall = dict(zip(header, rows[0], strict=True))
        total = report["total"]
        assert (hall["取号 Issued"], hall["办结 Served"], hall["过号 No-show"]) == tuple(
            str(total["tickets"][k]) for k in ("issued", "served", "no_show")
        )
        assert (hall["等候P50(秒) Wait p50 (s)"], hall["等候P90(秒) Wait p90 (s)"]) == (
            str(total["waiting"]["p50"]),
            str(total["waiting"]["p90"]),
        )
        assert hall["满意率 Share satisfied"] == str(total["satisfaction"]["share"])
        # 达标: a machine-readable boolean (Excel's TRUE/FALSE) in the CSV, never English-only words.
        assert hall["达标 Target met"] == ("TRUE" if total["satisfaction"]["target_met"] else "FALSE")
        clerks = {r[1]: r for r in rows if r[0] == "clerk"}
        served = header.index("办结 Served")
        assert {k: int(r[served]) for k, r in clerks.items()} == {
            (g["key"] or ""): g["tickets"]["served"] for g in report["sections"]["clerk"]
        }
        assert [r[1] for r in rows if r[0] == "handoff"] == ["INFO→PAY", "PAY→NEW"]

        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        book = load_workbook(
            io.BytesIO(download(client, url + "xlsx", admin, media, f"qcall-{kind}-{label}.xlsx"))
        )
        names = ["全厅 Hall", "时段 Hours" if kind == "daily" else "日期 Days"]
        assert book.sheetnames == [
            *names,
            "业务 Services",
            "窗口 Counters",
            "营业员 Clerks",
            "内转 Hand-offs",
        ]
        first_sheet = list(book.worksheets[0].iter_rows(values_only=True))
        assert isinstance(first_sheet[1][first_sheet[0].index("达标 Target met")], bool)  # Excel's own
        from_book = []
        for sheet in book.worksheets:
            values = list(sheet.iter_rows(values_only=True))
            assert list(values[0]) == header, sheet.title
            from_book += [[cell_text(v) for v in row] for row in values[1:]]
        # The same numbers as the CSV, sheet by sheet (Excel keeps 274.0 as the number 274).
        assert [[number(v) for v in row] for row in from_book] == [[number(v) for v in row] for row in rows]


def test_the_pdf_holds_the_totals(app: Flask) -> None:
    client = app.test_client()
    admin = login(client, "admin")
    raw = download(
        client,
        f"/api/v1/reports/daily?day={DAY}&format=pdf",
        admin,
        "application/pdf",
        f"qcall-daily-{DAY}.pdf",
    )
    assert raw.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(raw)).pages)
    assert "Test Hall" in text and "测试营业厅" in text and "日报表" in text
    assert "Period: 2026-03-10 – 2026-03-10" in text
    assert "Issued 10 · Served 6 · No-show 1 · Cancelled 2 · Transferred 2" in text
    # known.TOTAL: 11 waits (T4's, cancelled while waiting, to its end), rank 6 is 180 s.
    assert "Wait p50/p90 180/600 s · Service p50/p90 240/1200 s" in text
    assert "Satisfied 71.4% (5/7; target 80%: not met)" in text
    # The summary and the yes/no cells in both languages, as every other word of the report.
    assert "取号 10 · 办结 6 · 过号 1 · 取消 2 · 转出 2" in text
    assert "满意率 71.4%（5/7；目标 80%：未达标）" in text
    words = text.split()
    assert "否" in words and "no" not in [w for i, w in enumerate(words) if i == 0 or words[i - 1] != "否"]
    for clerk in ("alice", "bob", "carol", "dave"):
        assert clerk in text
    monthly = download(
        client,
        f"/api/v1/reports/monthly?month={MONTH}&format=pdf",
        admin,
        "application/pdf",
        f"qcall-monthly-{MONTH}.pdf",
    )
    month_text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(monthly)).pages)
    assert "Issued 11 · Served 7" in month_text and "月报表" in month_text


def test_no_visitor_is_in_any_report(app: Flask) -> None:
    """Counts, times and ratings only: no ticket id, number or phone in the JSON or the CSV."""
    hub = app.extensions["qcall"]
    client = app.test_client()
    admin = login(client, "admin")
    with hub.store.engine.connect() as conn:
        from sqlalchemy import select

        from server.store.schema import tickets

        ids_and_numbers = [
            value for row in conn.execute(select(tickets.c.id, tickets.c.number)) for value in row
        ]
    assert len(ids_and_numbers) == 22
    for fmt in ("json", "csv"):
        text = client.get(f"/api/v1/reports/monthly?month={MONTH}&format={fmt}", headers=admin).get_data(
            as_text=True
        )
        assert not [value for value in ids_and_numbers if value in text], fmt


# -- the clerk's scorecard ---------------------------------------------------------------------------


def test_a_clerks_scorecard_is_their_group_and_rank(any_app: Flask) -> None:
    client = any_app.test_client()
    boss = login(client, "boss")
    doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    cards = {}
    stats = get_json(client, "/api/v1/stats?from=2026-03-01&to=2026-03-31&by=clerk", boss)
    by_clerk = {g["key"]: {k: v for k, v in g.items() if k != "key"} for g in stats["groups"]}
    for clerk in ("alice", "bob", "carol", "dave"):
        answer = client.get(f"/api/v1/reports/clerks/{clerk}?month={MONTH}", headers=boss)
        check_answer(doc, "get", "/reports/clerks/{username}", answer)
        cards[clerk] = answer.get_json()
        assert cards[clerk]["figures"] == by_clerk[clerk], clerk
    alice = cards["alice"]
    assert {
        k: alice[k] for k in ("served", "service_mean_seconds", "satisfaction_share", "ratings", "no_show")
    } == {
        "served": 4,  # three on the known day, one the day before
        "service_mean_seconds": 528.0,  # (4 × 600 + 240) / 5 services
        "satisfaction_share": 1.0,
        "ratings": 2,
        "no_show": 0,
    }
    assert (alice["target"], alice["target_met"], alice["satisfaction_index"]) == (80, True, 90.0)
    # Served 4, 0, 2, 1; share 1.0 (2 ratings), 0.5 (2), 0.5 (2), 1.0 (1): equal figures share a rank.
    assert {c: (card["rank"]["served"], card["rank"]["satisfaction"]) for c, card in cards.items()} == {
        "alice": (1, 1),
        "bob": (4, 3),
        "carol": (2, 3),
        "dave": (3, 2),
    }
    assert alice["rank"]["clerks"] == alice["rank"]["rated_clerks"] == 4
    # A user without a visitor in the month: zeros, no rank; a name nobody has: 404.
    idle = get_json(client, f"/api/v1/reports/clerks/clerk1?month={MONTH}", boss)
    assert (idle["served"], idle["figures"], idle["rank"]["served"]) == (0, None, None)
    unknown = client.get(f"/api/v1/reports/clerks/nobody?month={MONTH}", headers=boss)
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "unknown_clerk")
    check_answer(doc, "get", "/reports/clerks/{username}", unknown)
    april = get_json(client, "/api/v1/reports/clerks/clerk1?month=2026-04", boss)
    assert (april["served"], april["rank"]["clerks"]) == (0, 0)
    # The known day's clerks are names in the log, not users: a month without them knows none of them.
    gone = client.get("/api/v1/reports/clerks/alice?month=2026-04", headers=boss)
    assert gone.status_code == 404


# -- who may read them, and questions they cannot answer -----------------------------------------------

URLS = (
    f"/api/v1/reports/daily?day={DAY}",
    f"/api/v1/reports/monthly?month={MONTH}&format=csv",
    f"/api/v1/reports/clerks/alice?month={MONTH}",
)


def test_reports_are_for_admins_and_supervisors_only(app: Flask) -> None:
    client = app.test_client()
    tokens = app.config["tokens"]
    refused = {
        "kiosk": {"Authorization": f"Bearer {tokens['kiosk']}"},
        "display": {"Authorization": f"Bearer {tokens['display']}"},
        "staff": login(client, "clerk1", 2),
        "triage": login(client, "nurse"),
    }
    allowed = {"admin": login(client, "admin"), "supervisor": login(client, "boss")}
    for url in URLS:
        anonymous = app.test_client().get(url)  # no cookie of the logins above
        assert (anonymous.status_code, anonymous.get_json()["code"]) == (401, "unauthorized"), url
        for who, headers in refused.items():
            answer = client.get(url, headers=headers)
            assert (answer.status_code, answer.get_json()["code"]) == (403, "forbidden"), (url, who)
        for who, headers in allowed.items():
            assert client.get(url, headers=headers).status_code == 200, (url, who)
    for name in ("reports.daily", "reports.monthly", "reports.clerk"):
        assert set(app.view_functions[name].roles) == {"admin", "supervisor"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("daily", "'day' is required"),
        ("daily?day=2026-3-1", "YYYY-MM-DD"),
        ("daily?day=2026-02-30", "not a date"),
        ("daily?day=1999-12-31", "from 2000 to 2999"),
        ("daily?day=2026-03-10&format=doc", "'format' must be one of json, csv, xlsx, pdf"),
        ("daily?date=2026-03-10", "unknown parameter 'date'"),
        ("monthly", "'month' is required"),
        ("monthly?month=2026-3", "YYYY-MM"),
        ("monthly?month=2026-13", "not a month"),
        ("monthly?month=2026-00", "not a month"),
        ("monthly?month=0202-03", "from 2000 to 2999"),
        ("monthly?month=2026-03-01", "YYYY-MM"),
        ("clerks/alice", "'month' is required"),
        ("clerks/alice?month=2026-03&format=csv", "unknown parameter 'format'"),
    ],
)
def test_a_question_a_report_cannot_answer_is_400(app: Flask, url: str, words: str) -> None:
    client = app.test_client()
    answer = client.get(f"/api/v1/reports/{url}", headers=login(client, "boss"))
    assert (answer.status_code, answer.get_json()["code"]) == (400, "bad_request")
    assert words in answer.get_json()["error"]
    path = "/reports/" + ("clerks/{username}" if url.startswith("clerks") else url.split("?")[0])
    check_answer(json.loads(DOC_PATH.read_text(encoding="utf-8")), "get", path, answer)
