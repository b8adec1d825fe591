"""The company view (issue 15): two halls' outboxes, the central service on PostgreSQL, templates.

Two halls run the known day of tests/stats_day.py (each its own SQLite store, a
hub built through bootstrap on it) while their link to the central service is
down: the central service is not listening. Each outbox round fails and the
halls keep working. The central service comes back on the same port (a real
socket, real HTTP): the outboxes catch up in small batches, and the central
store holds exactly both halls' logs — every event once, every ticket and leg as
the hall has it — a batch sent again changes nothing, a hall's report read there
equals its own, and the company's figures are the halls' sums. Templates saved
on the central service reach both halls through their admin path (audited, who
= central); one a hall's config cannot take is refused and the reason reported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer, make_server

from server.bootstrap import bootstrap
from server.central import schema as central
from server.central.app import create_central_app
from server.central.migrate import migrate as migrate_central
from server.central.store import CentralStore, Who
from server.central.wire import INGEST_PATH, STREAMS, encode
from server.config import ConfigError, load_config
from server.core.calendar import utc_now
from server.hub import Hub
from server.outbox import hall_profile
from server.reports.figures import build_report, day_period, month_period
from server.store.schema import audit_log, post_events, ticket_events, ticket_legs, tickets
from server.store.sql import make_engine
from tests import stats_day as known
from tests.test_reports_api import SITE, _database

ADMIN = Who("test", "local")
HALLS = (("east-1", "east"), ("west-1", "west"))


class CentralServer:
    """The central service on a real socket on 127.0.0.1, stopped and started again on one port."""

    def __init__(self, store: CentralStore) -> None:
        self.app = create_central_app(store)
        self.port = 0
        self.server: BaseWSGIServer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        assert self.server is not None and self.thread is not None
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def hall_site(folder: Path, url: str, hall: str, region: str, token: str, central_url: str) -> Path:
    site = folder / f"{hall}.toml"
    section = f"""
[central]
url = "{central_url}"
hall = "{hall}"
region = "{region}"
token = "{token}"
batch = 20
every_seconds = 1
"""
    site.write_text(SITE.format(url=url) + section, encoding="utf-8")
    return site


@dataclass
class World:
    store: CentralStore
    server: CentralServer
    halls: dict[str, Hub]
    admin: str

    def cut(self) -> None:
        """The link down: the central service stops listening."""
        if self.server.thread is not None and self.server.thread.is_alive():
            self.server.stop()

    def restore(self) -> None:
        """The link up again, on the same port."""
        if self.server.thread is None or not self.server.thread.is_alive():
            self.server.start()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Two halls on the known day and the central service, once for the module (each test says what
    state of the link it needs)."""
    folder = tmp_path_factory.mktemp("central")
    pg_url, drop = _database("postgresql", folder)
    patch = pytest.MonkeyPatch()
    patch.setenv("QCALL_VAR_DIR", str(folder))
    engine = make_engine(pg_url)
    migrate_central(engine)
    store = CentralStore(engine)
    server = CentralServer(store)
    halls: dict[str, Hub] = {}
    try:
        server.start()
        server.stop()  # the port is known; the link is down until a test restores it
        admin = store.create_token("admin", "boss", ADMIN, utc_now())
        for hall, region in HALLS:
            token = store.add_hall(hall, region, ADMIN, utc_now())
            url = f"sqlite:///{folder / hall}.db"
            day = known.build_day(url)  # the simulated day, on the hall's store, while the link is down
            day.store.engine.dispose()
            config = load_config(hall_site(folder, url, hall, region, token, server.url))
            halls[hall] = bootstrap(config)
        yield World(store, server, halls, admin)
    finally:
        for hub in halls.values():
            hub.close()
        if server.thread is not None and server.thread.is_alive():
            server.stop()
        engine.dispose()
        patch.undo()
        drop()


def rows(engine: Any, table: Any, hall: str | None = None) -> list[dict[str, Any]]:
    """Every row of a table as dicts, in key order (a central copy: one hall's, without its extras)."""
    query = select(table)
    if hall is not None:
        query = query.where(table.c.hall_id == hall)
    found = []
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            item = {k: v for k, v in row.items() if k not in ("hall_id", "version")}
            found.append(item)
    keys = [c.name for c in table.primary_key.columns if c.name != "hall_id"]
    return sorted(found, key=lambda r: tuple(r[k] for k in keys))


def test_a_day_without_the_link_is_shipped_once_and_the_reports_agree(world: World) -> None:
    east, west = world.halls["east-1"], world.halls["west-1"]
    world.cut()
    # The link is down: each round fails, the hall keeps its log and keeps working.
    shipped = world.store.count(central.ticket_events)
    assert east.outbox.once() is False and east.outbox.link == "down"
    assert west.outbox.once() is False
    east.core.issue("NEW")  # the hall issues with its link down
    east.core.take_post(1, "alice", "session-a")  # and a clerk goes on post: the post log ships too
    assert world.store.count(central.ticket_events) == shipped

    world.restore()  # the link is back: a round ships everything, seven rows a batch
    assert east.outbox.once() is True and west.outbox.once() is True
    assert east.outbox.link == "up"
    engine = world.store.engine
    for name, hub in world.halls.items():
        hall_engine = hub.store.engine
        for mine, theirs in (
            (post_events, central.post_events),
            (ticket_events, central.ticket_events),
            (tickets, central.tickets),
            (ticket_legs, central.ticket_legs),
        ):
            assert rows(engine, theirs, name) == rows(hall_engine, mine), f"{name}: {mine.name}"
        with hall_engine.connect() as conn:
            last = conn.execute(select(ticket_events.c.id).order_by(ticket_events.c.id.desc())).scalar()
        assert world.store.cursors()[name]["tickets"] == last
        assert hub.outbox.store.marks("stream:")["tickets"] == last

    # A batch sent again (its answer lost on the way) changes nothing.
    before = {t.name: rows(engine, t) for t in (central.ticket_events, central.tickets, central.ticket_legs)}
    batch = east.outbox.store.batch("tickets", STREAMS["tickets"], 0, 7, None)
    payload = {
        "streams": {
            "tickets": {
                "after": 0,
                "upto": batch.upto,
                "rows": [_json(r) for r in batch.rows],
                "tickets": [_json(r) for r in batch.views["tickets"]],
                "legs": [_json(r) for r in batch.views["legs"]],
            }
        },
        "profile": hall_profile(east.core.hall, "east"),
    }
    token = east.config.central.token if east.config.central else ""
    again = requests.post(world.server.url + INGEST_PATH, json=payload, headers=_bearer(token), timeout=10)
    assert again.status_code == 200, again.text
    assert again.json()["cursors"]["tickets"] == world.store.cursors()["east-1"]["tickets"]
    after = {t.name: rows(engine, t) for t in (central.ticket_events, central.tickets, central.ticket_legs)}
    assert after == before

    # The central store restored from a backup taken at east's event 20: later events, and the tickets
    # and legs that reflect them, gone; the cursor back at 20. The hall's own mark is ahead.
    with engine.begin() as conn:
        events = central.ticket_events
        conn.execute(events.delete().where(events.c.hall_id == "east-1", events.c.id > 20))
        for table in (central.tickets, central.ticket_legs):
            conn.execute(table.delete().where(table.c.hall_id == "east-1", table.c.version > 20))
        conn.execute(
            central.cursors.update()
            .where(central.cursors.c.hall_id == "east-1", central.cursors.c.stream == "tickets")
            .values(position=20)
        )
    assert east.outbox.once() is True  # the hall's mark is ahead: it resends from the central cursor
    assert rows(engine, central.ticket_events, "east-1") == rows(east.store.engine, ticket_events)
    assert rows(engine, central.ticket_legs, "east-1") == rows(east.store.engine, ticket_legs)
    assert rows(engine, central.tickets, "east-1") == rows(east.store.engine, tickets)

    # The live view: both halls, link up, their queue now.
    live = _get(world, "/api/v1/central/halls")["halls"]
    assert [(h["hall"], h["link"], h["pending_events"]) for h in live] == [
        ("east-1", "up", 0),
        ("west-1", "up", 0),
    ]
    # The known day's queue is of 10 March; today east has the ticket issued while the link was down.
    assert [(h["waiting"], h["open_counters"]) for h in live] == [(1, 1), (0, 0)]
    assert world.store.count(central.post_events) == 1

    # A hall's report read at the central store equals its own; the company's counts are the sums.
    day = known.DAY.isoformat()
    own = {
        name: build_report(hub.statistics, hub.core.hall, day_period(day))
        for name, hub in world.halls.items()
    }
    for name in world.halls:
        there = _get(world, f"/api/v1/central/reports/daily?day={day}&scope=hall:{name}")
        assert there.pop("scope")["halls"] == [name]
        for addition in (
            "complaints",
            "cases",
            "as_of",
        ):  # the central report's own (test_central_complaints)
            there.pop(addition)
        assert there == _plain(own[name])
    company = _get(world, f"/api/v1/central/reports/daily?day={day}")
    assert company["scope"]["halls"] == ["east-1", "west-1"]
    a, b = own["east-1"]["total"], own["west-1"]["total"]
    for section, figures in (("tickets", a["tickets"]), ("satisfaction", a["satisfaction"])):
        for figure, value in figures.items():
            if isinstance(value, int) and not isinstance(value, bool):
                assert company["total"][section][figure] == value + b[section][figure], (section, figure)
    assert company["total"]["waiting"]["count"] == a["waiting"]["count"] + b["waiting"]["count"]
    counters = {g["key"] for g in company["sections"]["counter"]}
    assert {"east-1/1", "west-1/1"} <= counters  # counter 1 of two halls is two counters
    region = _get(world, f"/api/v1/central/reports/monthly?month={day[:7]}&scope=region:west")
    assert (
        region["total"]["tickets"]
        == _plain(build_report(west.statistics, west.core.hall, month_period(day[:7])))["total"]["tickets"]
    )


def test_templates_reach_both_halls_audited_and_a_misfit_is_refused(world: World) -> None:
    world.restore()
    services = [
        {"code": "NEW", "name_zh": "新装", "name_en": "New supply", "prefix": "A"},
        {"code": "PAY", "name_zh": "缴费", "name_en": "Payment", "prefix": "B"},
        {"code": "INFO", "name_zh": "咨询", "name_en": "Enquiries", "prefix": "C"},
    ]
    _put(world, "services", {"section": "services", "value": services})
    notice = {
        "kind": "notice",
        "title_zh": "停电通知",
        "title_en": "Power cut",
        "body_zh": "东区",
        "body_en": "East",
    }
    _put(world, "east-notice", {"section": "notices", "value": notice, "region": "east"})
    misfit = [s for s in services if s["code"] != "INFO"]  # counter 3 serves INFO: a hall cannot take it
    _put(world, "no-info", {"section": "services", "value": misfit, "halls": ["west-1"]})
    _put(world, "bad-notice", {"section": "notices", "value": {"kind": "poster"}, "halls": ["west-1"]})
    for hub in world.halls.values():
        assert hub.outbox.once() is True
    for name, hub in world.halls.items():
        assert hub.core.hall.services["NEW"].name_en == "New supply", name
        with hub.store.engine.connect() as conn:
            audited = conn.execute(
                select(audit_log.c.actor, audit_log.c.action).where(audit_log.c.actor == "central")
            ).all()
        expected = {("central", "settings.services")} | (
            {("central", "notice.create")} if name == "east-1" else set()
        )
        assert set(audited) == expected, name
    assert [n.fields.title_en for n in world.halls["east-1"].notices.all()] == ["Power cut"]
    assert world.halls["west-1"].notices.all() == []
    assert "INFO" in world.halls["west-1"].core.hall.services
    results = {
        t["name"]: {r["hall"]: (r["state"], r["message"]) for r in t["results"]}
        for t in world.store.templates()
    }
    assert {h: s for h, (s, _m) in results["services"].items()} == {"east-1": "applied", "west-1": "applied"}
    assert results["east-notice"] == {"east-1": ("applied", "")}
    state, message = results["no-info"]["west-1"]
    assert state == "refused" and "counters[2].services" in message and "INFO" in message
    state, message = results["bad-notice"]["west-1"]
    assert state == "refused" and message.startswith("notices: kind: "), message
    # A second round takes nothing again; a new version of a template is taken once more.
    assert world.halls["east-1"].outbox.once() is True
    assert len(world.halls["east-1"].notices.all()) == 1
    actions = [e["action"] for e in _get(world, "/api/v1/central/audit")["entries"]]
    assert actions.count("template.save") == 4 and actions.count("hall.add") == 2


def test_refusals_are_json_and_rights_hold(world: World) -> None:
    world.restore()
    url = world.server.url
    assert requests.post(url + INGEST_PATH, json={}, timeout=10).json()["code"] == "unauthorized"
    viewer = world.store.create_token("viewer", "analyst", ADMIN, utc_now())
    answer = requests.put(
        url + "/api/v1/central/templates/x",
        json={"section": "services", "value": []},
        headers=_bearer(viewer),
        timeout=10,
    )
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
    bad = requests.get(url + "/api/v1/central/reports/daily?day=nope", headers=_bearer(viewer), timeout=10)
    assert bad.status_code == 400 and set(bad.json()) == {"error", "code", "error_zh", "error_en"}
    assert bad.json()["error_zh"].startswith("day ") and bad.json()["error_en"] == bad.json()["error"]
    scope = requests.get(
        url + "/api/v1/central/reports/daily?day=2026-03-10&scope=planet:x",
        headers=_bearer(viewer),
        timeout=10,
    )
    assert (scope.status_code, scope.json()["code"]) == (400, "bad_scope")
    token = world.halls["east-1"].config.central
    assert token is not None
    garbage = requests.post(
        url + INGEST_PATH,
        json={"streams": {"tickets": {"after": 0, "upto": 1, "rows": [{"id": 1, "x": 1}]}}},
        headers=_bearer(token.token or ""),
        timeout=10,
    )
    assert (garbage.status_code, garbage.json()["code"]) == (400, "bad_batch")
    page = requests.get(url + "/central/", timeout=10)
    assert page.status_code == 200 and "公司总览 / Company view" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_a_central_section_that_is_wrong_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    for section, expected in (
        ('url = "ftp://x"\nhall = "a"\ntoken = "t"', "central.url: expected the central service's address"),
        ('url = "http://x"\nhall = "A B"\ntoken = "t"', "central.hall: expected up to 32 lower-case"),
        ('url = "http://x"\nhall = "a"', "central.token: required key is missing"),
    ):
        site = tmp_path / "site.toml"
        site.write_text(SITE.format(url=url) + "\n[central]\n" + section + "\n", encoding="utf-8")
        with pytest.raises(ConfigError) as raised:
            load_config(site)
        message = str(raised.value)
        assert "\n" not in message and message.startswith(f"{site}: ") and expected in message, message


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _get(world: World, path: str) -> dict[str, Any]:
    answer = requests.get(world.server.url + path, headers=_bearer(world.admin), timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _put(world: World, name: str, body: dict[str, Any]) -> None:
    path = f"{world.server.url}/api/v1/central/templates/{name}"
    answer = requests.put(path, json=body, headers=_bearer(world.admin), timeout=10)
    assert answer.status_code == 200, answer.text


def _json(row: dict[str, Any]) -> dict[str, Any]:
    return encode(row)


def _plain(value: Any) -> Any:
    """A report as it comes back through JSON (keys and numbers as the API answers them)."""
    return json.loads(json.dumps(value))
