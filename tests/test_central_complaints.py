"""The company view's complaints and cases: shipped without anything personal, counted per hall.

One hall (SQLite, a hub built through bootstrap, its clock a list the test sets)
records three complaints and opens a case, each with a visitor's name and phone,
and ships them to the central service (PostgreSQL, a real socket, real HTTP,
its clock set by hand too). The central store then holds the complaints' and
cases' states the hall has, in the columns their figures need, and none of the
visitor's phone, name, texts or the case's code in any table; the report and the
live view count what the hall did (answered in time, late, not at all; a case's
step overdue); a batch sent twice, or an older one after a newer, changes
nothing; a batch carrying a phone is refused; refusals say it in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import select

from server.bootstrap import bootstrap
from server.central import schema as central
from server.central.app import create_central_app
from server.central.migrate import migrate as migrate_central
from server.central.store import CentralStore, Who
from server.central.wire import INGEST_PATH, STREAMS, encode
from server.config import load_config
from server.core.appointments import Actor
from server.core.complaints import Channel, Intake
from server.hub import Hub
from server.store.schema import case_steps, cases, complaint_events, complaints
from server.store.sql import make_engine
from tests.support import ARTIFACTS, CASE_KINDS_TOML
from tests.test_central import CentralServer, hall_site
from tests.test_reports_api import _database

ADMIN = Who("test", "local")
LI = Actor("li", "10.0.0.5")
#: What the visitor told the hall: it must never reach the central store.
PHONE = "13912345678"
NAME = "王小明"
TEXT = "窗口态度差 ZQX-TEXT"
RESULT = "已道歉 ZQX-RESULT"
NOTE = "回访满意 ZQX-NOTE"
#: 10 March 2026, a Tuesday, 10:00 in Shanghai.
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@dataclass
class Scene:
    hub: Hub
    store: CentralStore
    server: CentralServer
    hall_now: list[datetime]
    central_now: list[datetime]
    admin: str
    token: str


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    folder = tmp_path_factory.mktemp("central-complaints")
    pg_url, drop = _database("postgresql", folder)
    patch = pytest.MonkeyPatch()
    patch.setenv("QCALL_VAR_DIR", str(folder))
    engine = make_engine(pg_url)
    migrate_central(engine)
    store = CentralStore(engine)
    central_now = [T0]
    server = CentralServer(store)
    server.app = create_central_app(store, lambda: central_now[0])  # the central clock, set by hand
    hub: Hub | None = None
    try:
        server.start()
        admin = store.create_token("admin", "boss", ADMIN, T0)
        token = store.add_hall("east-1", "east", ADMIN, T0)
        site = hall_site(folder, f"sqlite:///{folder / 'east.db'}", "east-1", "east", token, server.url)
        text = site.read_text(encoding="utf-8").replace("every_seconds = 1", "every_seconds = 3600")
        site.write_text(text + CASE_KINDS_TOML, encoding="utf-8")
        hall_now = [T0]
        hub = bootstrap(load_config(site), clock=lambda: hall_now[0])
        yield Scene(hub, store, server, hall_now, central_now, admin, token)
    finally:
        if hub is not None:
            hub.close()
        if server.thread is not None and server.thread.is_alive():
            server.stop()
        engine.dispose()
        patch.undo()
        drop()


def _record(hub: Hub) -> str:
    intake = Intake("attitude", TEXT, Channel.COUNTER, "li", contact_phone=PHONE)
    return hub.complaints.record(intake, LI).id


def _dump(engine: Any) -> str:
    """Every row of every central table, as text."""
    found = []
    with engine.connect() as conn:
        for table in central.metadata.sorted_tables:
            found.extend(repr(dict(row)) for row in conn.execute(select(table)).mappings())
    return "\n".join(found)


def _hall_rows(hub: Hub, table: Any, columns: list[str]) -> list[dict[str, Any]]:
    with hub.store.engine.connect() as conn:
        query = select(*(table.c[c] for c in columns))
        return sorted((dict(r) for r in conn.execute(query).mappings()), key=repr)


def _central_rows(store: CentralStore, table: Any) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        found = conn.execute(select(table).where(table.c.hall_id == "east-1")).mappings()
        return sorted(
            ({k: v for k, v in r.items() if k not in ("hall_id", "version")} for r in found), key=repr
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _payload(scene: Scene, stream: str) -> dict[str, Any]:
    """The stream's whole log from the start as one batch, as the outbox would send it."""
    batch = scene.hub.outbox.store.batch(stream, STREAMS[stream], 0, 2000, None)
    views = {name: [encode(r) for r in rows] for name, rows in batch.views.items()}
    return {"streams": {stream: {"after": 0, "upto": batch.upto, "rows": [], **views}}}


def _post(scene: Scene, payload: dict[str, Any]) -> requests.Response:
    return requests.post(
        scene.server.url + INGEST_PATH, json=payload, headers=_bearer(scene.token), timeout=10
    )


def test_complaints_and_cases_ship_without_personal_data_and_are_counted(scene: Scene) -> None:
    hub = scene.hub
    in_time, late = _record(hub), _record(hub)
    _record(hub)  # never answered
    hub.complaints.return_call(in_time, "satisfied", NOTE, LI)
    ticket = hub.core.issue("NEW").ticket
    hub.core.take_post(1, "li", "session-li")
    hub.core.call_ticket(1, ticket.id, "li")
    hub.core.start(1, "li")
    case = hub.cases.open("NEW_CONNECTION", ticket.id, 1, LI, contact_name=NAME, contact_phone=PHONE)
    assert hub.outbox.once() is True
    older = _payload(scene, "complaints")  # the complaints as they stood then

    # A week and more later the hall answers the second complaint, past its deadline, and closes both.
    due = hub.complaints.find(late).due_at
    scene.hall_now[0] = due + timedelta(days=1)
    hub.complaints.return_call(late, "satisfied", NOTE, LI)
    for answered in (in_time, late):
        hub.complaints.close(answered, RESULT, LI)
    assert hub.outbox.once() is True

    store, engine = scene.store, scene.store.engine
    # The hall's complaints and cases as they are, in the columns shipped.
    for hall_table, copy in (
        (complaints, central.complaints),
        (cases, central.cases),
        (case_steps, central.case_steps),
    ):
        columns = [c.name for c in copy.c if c.name not in ("hall_id", "version")]
        assert _central_rows(store, copy) == _hall_rows(hub, hall_table, columns), hall_table.name
    marks = hub.outbox.store.marks("stream:")
    assert store.cursors()["east-1"]["complaints"] == marks["complaints"] > 0
    assert store.cursors()["east-1"]["cases"] == marks["cases"] > 0

    # Nothing personal at the central store: the hall has it all, the central store none of it.
    with hub.store.engine.connect() as conn:
        hall_text = repr([conn.execute(select(t)).all() for t in (complaints, cases, complaint_events)])
    secrets = (PHONE, NAME, TEXT, RESULT, NOTE, case.code)
    assert all(s in hall_text for s in (PHONE, NAME, TEXT, RESULT, case.code))
    dumped = _dump(engine)
    assert [s for s in secrets if s in dumped] == []

    # A batch sent again, and an older one after a newer, change nothing.
    before = _dump(engine)
    assert _post(scene, _payload(scene, "complaints")).status_code == 200
    assert _post(scene, _payload(scene, "cases")).status_code == 200
    answer = _post(scene, older)
    assert answer.status_code == 200, answer.text
    assert answer.json()["cursors"]["complaints"] == marks["complaints"]
    assert _dump(engine) == before

    # The central service's figures, a month after: the third complaint and the case's step overdue.
    scene.central_now[0] = T0 + timedelta(days=30)
    report = _get(scene, "/api/v1/central/reports/monthly?month=2026-03")
    expected = {
        "received": 3,
        "answered": 2,
        "answered_in_time": 1,
        "judged": 3,  # the one answered late and the one not answered are both judged
        "answered_in_time_share": 33.3,
        "open": 1,
        "overdue": 1,
    }
    assert report["complaints"]["total"] == expected
    assert report["complaints"]["halls"] == [{"hall": "east-1", **expected}]
    assert report["cases"]["total"] == {"opened": 1, "open": 1, "steps_overdue": 1}
    day = _get(scene, "/api/v1/central/reports/daily?day=2026-03-11&scope=hall:east-1")
    assert day["complaints"]["total"]["received"] == 0 and day["cases"]["total"]["opened"] == 0
    assert day["complaints"]["total"]["answered_in_time_share"] is None
    assert day["complaints"]["total"]["overdue"] == 1  # now, whatever the period
    # Before the deadlines, nothing is overdue and only the answered complaints are judged.
    scene.central_now[0] = T0 + timedelta(hours=2)
    early = _get(scene, "/api/v1/central/reports/daily?day=2026-03-10&scope=hall:east-1")["complaints"][
        "total"
    ]
    assert (early["judged"], early["answered_in_time_share"], early["overdue"]) == (2, 50.0, 0)
    live = _get(scene, "/api/v1/central/halls")["halls"]
    assert {
        k: live[0][k] for k in ("complaints_open", "complaints_overdue", "cases_open", "case_steps_overdue")
    } == {
        "complaints_open": 1,
        "complaints_overdue": 0,
        "cases_open": 1,
        "case_steps_overdue": 0,
    }


def test_a_batch_carrying_a_phone_is_refused_and_refusals_speak_both_languages(scene: Scene) -> None:
    url = scene.server.url
    row = {
        "id": "k-x",
        "category": "attitude",
        "channel": "counter",
        "status": "open",
        "recorded_at": T0.isoformat(),
        "due_on": "2026-03-17",
        "due_at": T0.isoformat(),
        "contact_phone": PHONE,
        "version": 10_000,
    }
    cursor = scene.store.cursors().get("east-1", {}).get("complaints", 0)
    payload = {"streams": {"complaints": {"after": cursor, "upto": cursor, "rows": [], "complaints": [row]}}}
    refused = _post(scene, payload)
    assert (refused.status_code, refused.json()["code"]) == (400, "bad_batch")
    assert "contact_phone" in refused.json()["error_en"] and refused.json()["error_zh"].startswith(
        "上传的记录"
    )
    assert PHONE not in _dump(scene.store.engine)
    # A complaint's log stays in the hall: a batch carrying its events is refused.
    logged = {"complaints": {"after": cursor, "upto": cursor + 1, "rows": [{"id": cursor + 1}]}}
    assert _post(scene, {"streams": logged}).json()["code"] == "bad_batch"

    viewer = scene.store.create_token("viewer", "analyst", ADMIN, T0)
    cases_ = [
        (requests.post(url + INGEST_PATH, json={}, timeout=10), 401, "unauthorized", "营业厅"),
        (
            requests.put(
                url + "/api/v1/central/templates/x",
                json={"section": "services", "value": []},
                headers=_bearer(viewer),
                timeout=10,
            ),
            403,
            "forbidden",
            "管理员",
        ),
        (
            requests.get(
                url + "/api/v1/central/reports/daily?day=2026-03-10&scope=hall:nowhere",
                headers=_bearer(viewer),
                timeout=10,
            ),
            404,
            "unknown_hall",
            "没有营业厅",
        ),
        (requests.get(url + "/api/v1/central/nothing-here", timeout=10), 404, "not_found", "没有这个地址"),
    ]
    for answer, status, code, chinese in cases_:
        body = answer.json()
        assert (answer.status_code, body["code"]) == (status, code), body
        assert chinese in body["error_zh"], body
        assert body["error_en"] == body["error"] and body["error_en"], body


@pytest.mark.browser
def test_the_central_page_shows_each_halls_complaints_and_cases(browser, scene: Scene) -> None:  # type: ignore[no-untyped-def]
    """The page's live table and its report show the API's figures, in both languages."""
    _record(scene.hub)  # a complaint of its own, so the figures are not all naught whatever ran before
    assert scene.hub.outbox.once() is True
    if "west-1" not in {h["hall_id"] for h in scene.store.halls()}:
        scene.store.add_hall("west-1", "west", ADMIN, T0)  # a hall not upgraded: it never ships complaints
    scene.central_now[0] = T0 + timedelta(days=30)
    live = _get(scene, "/api/v1/central/halls")["halls"][0]
    report = _get(scene, "/api/v1/central/reports/monthly?month=2026-03")
    k, c = report["complaints"]["total"], report["cases"]["total"]
    assert k["received"] >= 1 and k["overdue"] >= 1

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(scene.server.url + "/central/")
    page.fill("#token", scene.admin)
    page.click("#token-form button")
    page.wait_for_selector("#halls tbody tr")
    cells = page.locator("#halls tbody tr").first.locator("td").all_inner_texts()
    old_hall = page.locator("#halls tbody tr").nth(1).locator("td").all_inner_texts()
    assert old_hall[0] == "west-1 / west-1" and old_hall[-4:] == ["未上报 / Not shipped"] * 4
    shown = [live[f] for f in ("complaints_open", "complaints_overdue", "cases_open", "case_steps_overdue")]
    assert cells[-4:] == [str(n) for n in shown]
    assert "投诉超期 / Complaints overdue" in page.locator("#halls thead").inner_text()

    page.select_option("#kind", "monthly")
    page.fill("#when", "2026-03")
    page.click("#report-form button")
    page.wait_for_selector("#deadlines tbody tr:nth-child(2)")
    rows = [r.locator("td").all_inner_texts() for r in page.locator("#deadlines tbody tr").all()]
    share = "—" if k["answered_in_time_share"] is None else f"{k['answered_in_time_share']:g} %"
    figures = [k["received"], k["answered"], k["answered_in_time"], share, k["open"], k["overdue"]]
    figures += [c["opened"], c["open"], c["steps_overdue"]]
    assert rows[0][0] == "测试营业厅 / Test Hall"
    assert rows[-1] == ["合计 / Total", *(str(f) for f in figures)]
    assert rows[-2] == ["west-1 / west-1", *["未上报 / Not shipped"] * 9]
    missing = page.locator("#deadlines-missing").inner_text()
    assert "合计不含未上报的营业厅" in missing and "The total leaves out" in missing and "west-1" in missing
    assert "答复客户时限合格率 / Share answered in time" in page.locator("#deadlines thead").inner_text()
    page.screenshot(path=str(ARTIFACTS / "central-complaints.png"), full_page=True)


def _get(scene: Scene, path: str) -> dict[str, Any]:
    answer = requests.get(scene.server.url + path, headers=_bearer(scene.admin), timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_stream_the_central_service_does_not_know_stops_no_other(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A central service older than the hall (it knows no ``cases``) takes the rest, and the hall, not
    asking again and again, keeps its cases' cursor for the day the service knows them."""
    import server.central.store as central_store

    older = {name: table for name, table in central_store.STREAMS.items() if name != "cases"}
    monkeypatch.setattr(central_store, "STREAMS", older)
    hub = scene.hub
    marks = hub.outbox.store.marks("stream:")
    sent: list[dict[str, Any]] = []
    send = hub.outbox.send

    def counted(url: str, payload: dict[str, Any], token: str, timeout: float) -> dict[str, Any]:
        sent.append(payload)
        answer: dict[str, Any] = send(url, payload, token, timeout)
        return answer

    monkeypatch.setattr(hub.outbox, "send", counted)
    new = _record(hub)
    assert hub.outbox.once() is True and hub.outbox.link == "up"
    # Sent, passed over and not asked again: the round that moved the complaints, one that found no more.
    assert len(sent) == 2 and all("cases" in p["streams"] for p in sent)
    after = hub.outbox.store.marks("stream:")
    assert after["complaints"] > marks["complaints"]
    assert after["cases"] == marks["cases"]
    assert scene.store.cursors()["east-1"]["complaints"] == after["complaints"]
    with scene.store.engine.connect() as conn:
        ids = conn.execute(select(central.complaints.c.id)).scalars().all()
    assert new in ids


def test_a_batch_is_cut_short_to_keep_its_views_under_the_cap(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events touching more current rows than a batch may carry go in several batches, never jam."""
    hub = scene.hub
    assert hub.outbox.once() is True  # whatever is left from before, shipped
    mark = hub.outbox.store.marks("stream:")["complaints"]
    recorded = [_record(hub) for _ in range(5)]
    hub.complaints.return_call(recorded[0], "satisfied", NOTE, LI)  # a second event of the first one
    monkeypatch.setattr(hub.outbox.store, "view_cap", 2)
    first = hub.outbox.store.batch("complaints", STREAMS["complaints"], mark, 2000, None)
    assert [r["id"] for r in first.views["complaints"]] == recorded[:2]
    assert first.pending == 4  # three complaints recorded, the first's return call, all after the cut
    # A cap below one subject's rows: the first event still goes, alone.
    monkeypatch.setattr(hub.outbox.store, "view_cap", 0)
    alone = hub.outbox.store.batch("complaints", STREAMS["complaints"], mark, 2000, None)
    assert [r["id"] for r in alone.views["complaints"]] == recorded[:1] and alone.upto == mark + 1
    # The link ships it all, in batches under the cap, and the central store has every complaint.
    monkeypatch.setattr(hub.outbox.store, "view_cap", 2)
    sent: list[int] = []
    send = hub.outbox.send

    def counted(url: str, payload: dict[str, Any], token: str, timeout: float) -> dict[str, Any]:
        sent.append(len(payload["streams"]["complaints"].get("complaints", [])))
        answer: dict[str, Any] = send(url, payload, token, timeout)
        return answer

    monkeypatch.setattr(hub.outbox, "send", counted)
    assert hub.outbox.once() is True
    assert max(sent) == 2 and sum(sent) >= 5
    marks = hub.outbox.store.marks("stream:")
    assert scene.store.cursors()["east-1"]["complaints"] == marks["complaints"]
    assert (
        hub.outbox.store.batch("complaints", STREAMS["complaints"], marks["complaints"], 2000, None).upto
        == marks["complaints"]
    )
    with scene.store.engine.connect() as conn:
        k = central.complaints.c
        shipped = dict(conn.execute(select(k.id, k.return_at).where(k.id.in_(recorded))).all())
    assert sorted(shipped) == sorted(recorded) and shipped[recorded[0]] is not None
