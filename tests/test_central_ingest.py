"""A hall's batch that does not fit is refused 400, never 500; a stream the service does not know is
passed over; a database down answers 503 with Retry-After.

The central service on a real socket (werkzeug on 127.0.0.1) over SQLite and PostgreSQL, each
batch posted over HTTP with the hall's token. Every refusal is ``bad_batch`` in both languages and
leaves the central store as it was: on SQLite a text where a number belongs used to be kept (and
then never replaced, a text comparing above any number), on PostgreSQL it was a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from alembic import command
from sqlalchemy import Integer, select

from server.central import schema as central
from server.central import wire
from server.central.migrate import alembic_config, migrate
from server.central.store import CentralStore, Who
from server.central.wire import INGEST_PATH, MAX_ID
from server.store.sql import make_engine
from tests.test_central import CentralServer

ADMIN = Who("test", "local")
T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
#: A time whose UTC is before year 1 (Python cannot hold it).
EARLY = "0001-01-01T00:00:00+01:00"


@dataclass
class Central:
    store: CentralStore
    server: CentralServer
    token: str

    def post(self, payload: Any) -> requests.Response:
        return requests.post(
            self.server.url + INGEST_PATH,
            json=payload,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )

    def dump(self) -> str:
        """Every row of every central table but the halls' (their last_seen_at moves with any batch)."""
        found = []
        with self.store.engine.connect() as conn:
            for table in central.metadata.sorted_tables:
                if table is not central.halls:
                    found.extend(repr(dict(row)) for row in conn.execute(select(table)).mappings())
        return "\n".join(found)


@pytest.fixture
def hub(empty_database_url: str) -> Iterator[Central]:
    engine = make_engine(empty_database_url)
    migrate(engine)
    store = CentralStore(engine)
    token = store.add_hall("east-1", "east", ADMIN, T0)
    server = CentralServer(store)
    server.start()
    try:
        yield Central(store, server, token)
    finally:
        server.stop()
        engine.dispose()


def complaint(**changes: Any) -> dict[str, Any]:
    row = {
        "id": "k-1",
        "category": "attitude",
        "channel": "counter",
        "service": None,
        "status": "open",
        "recorded_at": T0.isoformat(),
        "due_on": "2026-03-17",
        "due_at": "2026-03-17T09:00:00+00:00",
        "return_at": None,
        "closed_at": None,
        "version": 5,
    }
    row.update(changes)
    return {key: value for key, value in row.items() if value != "<absent>"}


def step(**changes: Any) -> dict[str, Any]:
    row = {
        "case_id": "c-1",
        "step": 1,
        "code": "APPLICATION",
        "name_zh": "受理申请",
        "name_en": "Application",
        "status": "active",
        "owner": None,
        "due_at": None,
        "done_at": None,
        "version": 3,
    }
    row.update(changes)
    return row


def stream(after: Any = 0, upto: Any = 5, **views: Any) -> dict[str, Any]:
    return {"after": after, "upto": upto, "rows": [], **views}


BAD: list[tuple[str, Any]] = [
    ("a view not a list", {"streams": {"complaints": stream(complaints=5)}}),
    ("rows not a list", {"streams": {"complaints": {**stream(), "rows": 5}}}),
    ("version missing", {"streams": {"complaints": stream(complaints=[complaint(version="<absent>")])}}),
    ("status missing", {"streams": {"complaints": stream(complaints=[complaint(status="<absent>")])}}),
    ("status null", {"streams": {"complaints": stream(complaints=[complaint(status=None)])}}),
    ("version as text", {"streams": {"complaints": stream(complaints=[complaint(version="abc")])}}),
    ("version a bool", {"streams": {"complaints": stream(complaints=[complaint(version=True)])}}),
    ("version too big", {"streams": {"complaints": stream(complaints=[complaint(version=10**30)])}}),
    ("an id too long", {"streams": {"complaints": stream(complaints=[complaint(id="k" * 33)])}}),
    ("an id a number", {"streams": {"complaints": stream(complaints=[complaint(id=7)])}}),
    ("a time not a time", {"streams": {"complaints": stream(complaints=[complaint(due_at="soon")])}}),
    ("a time a number", {"streams": {"complaints": stream(complaints=[complaint(due_at=5)])}}),
    ("a day not a day", {"streams": {"complaints": stream(complaints=[complaint(due_on="2026-13-01")])}}),
    ("a NUL in text", {"streams": {"complaints": stream(complaints=[complaint(category="a\x00b")])}}),
    ("a step as text", {"streams": {"cases": stream(steps=[step(step="x")])}}),
    ("after too big", {"streams": {"complaints": stream(after=10**30, upto=10**30)}}),
    ("upto too big", {"streams": {"complaints": stream(upto=10**30)}}),
    ("upto as text", {"streams": {"complaints": stream(upto="5")}}),
    ("after negative", {"streams": {"complaints": stream(after=-1)}}),
    ("a cursor past 63 bits", {"streams": {"complaints": stream(upto=MAX_ID + 1)}}),
    ("template id as text", {"template_results": [{"template_id": "x", "version": 1, "state": "applied"}]}),
    (
        "template version huge",
        {"template_results": [{"template_id": 1, "version": 10**30, "state": "applied"}]},
    ),
    ("streams not an object", {"streams": [1]}),
    ("a time before year 1", {"streams": {"complaints": stream(complaints=[complaint(recorded_at=EARLY)])}}),
    ("last event before year 1", {"last_event_at": EARLY}),
]


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_batch_that_does_not_fit_is_refused_400_in_both_languages_and_changes_nothing(hub: Central) -> None:
    good = hub.post({"streams": {"complaints": stream(complaints=[complaint()])}})
    assert good.status_code == 200, good.text
    before = hub.dump()
    assert "k-1" in before
    for what, payload in BAD:
        answer = hub.post(payload)
        body = answer.json()
        assert (answer.status_code, body["code"]) == (400, "bad_batch"), (what, body)
        assert body["error_zh"] and body["error_en"] == body["error"], (what, body)
        assert body["error_zh"] != body["error_en"], (what, body)
    assert hub.dump() == before
    # The row taken stays replaceable by a newer version (no text version kept above any number).
    newer = hub.post(
        {"streams": {"complaints": stream(5, 6, complaints=[complaint(status="closed", version=6)])}}
    )
    assert newer.status_code == 200, newer.text
    with hub.store.engine.connect() as conn:
        row = conn.execute(select(central.complaints.c.status, central.complaints.c.version)).one()
    assert tuple(row) == ("closed", 6)


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_stream_the_service_does_not_know_is_passed_over_and_the_known_ones_taken(hub: Central) -> None:
    payload = {
        "streams": {
            "complaints": stream(0, 5, complaints=[complaint()]),
            "surveys": {"after": 0, "upto": 9, "rows": [{"anything": 1}]},
        }
    }
    answer = hub.post(payload)
    assert answer.status_code == 200, answer.text
    cursors = answer.json()["cursors"]
    assert cursors["complaints"] == 5
    assert "surveys" not in cursors  # no cursor for it: the hall keeps it and sends it once it is known
    assert hub.store.cursors()["east-1"] == {"complaints": 5}
    assert "k-1" in hub.dump()


def test_a_database_down_answers_503_with_retry_after_not_500() -> None:
    """Nothing listens where the central store should be: the hall is told to come back, in both languages."""
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/nothing?connect_timeout=2")
    server = CentralServer(CentralStore(engine))
    server.start()
    try:
        answer = requests.post(
            server.url + INGEST_PATH, json={"streams": {}}, headers={"Authorization": "Bearer x"}, timeout=30
        )
    finally:
        server.stop()
        engine.dispose()
    body = answer.json()
    assert (answer.status_code, body["code"]) == (503, "store_unavailable"), body
    assert answer.headers["Retry-After"].isdigit()
    assert "中心数据库" in body["error_zh"] and body["error_en"] == body["error"]


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_downgrade_past_complaints_forgets_their_cursors_so_the_hall_resends(hub: Central) -> None:
    taken = hub.post(
        {"streams": {"complaints": stream(0, 5, complaints=[complaint()]), "posts": stream(0, 3)}}
    )
    assert taken.json()["cursors"]["complaints"] == 5, taken.json()
    assert hub.store.cursors()["east-1"] == {"posts": 3, "complaints": 5}
    cfg = alembic_config()
    with hub.store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "central_0001")
    assert hub.store.cursors()["east-1"] == {"posts": 3}  # another stream's cursor stays
    migrate(hub.store.engine)
    # The hall goes on from its mark; the central store has none of it: it is told to start again.
    again = hub.post({"streams": {"complaints": stream(5, 6, complaints=[complaint(version=6)])}})
    assert again.status_code == 200, again.text
    assert again.json()["cursors"]["complaints"] == 0
    resent = hub.post({"streams": {"complaints": stream(0, 6, complaints=[complaint(version=6)])}})
    assert resent.json()["cursors"]["complaints"] == 6
    assert "k-1" in hub.dump()


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_a_hall_that_has_not_shipped_complaints_has_null_figures_and_the_sum_names_it(hub: Central) -> None:
    """A hall not yet upgraded (it ships tickets, no complaints or cases) is "not shipped", not 0."""
    old_token = hub.store.add_hall("west-1", "west", ADMIN, T0)
    admin = hub.store.create_token("admin", "boss", ADMIN, T0)
    shipped = hub.post(
        {"streams": {"complaints": stream(0, 5, complaints=[complaint()]), "cases": stream(0, 0)}}
    )
    assert shipped.status_code == 200, shipped.text
    old = requests.post(
        hub.server.url + INGEST_PATH,
        json={"streams": {"tickets": stream(0, 0), "posts": stream(0, 0)}},
        headers={"Authorization": f"Bearer {old_token}"},
        timeout=10,
    )
    assert old.status_code == 200, old.text

    def get(path: str) -> dict[str, Any]:
        answer = requests.get(hub.server.url + path, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    live = {h["hall"]: h for h in get("/api/v1/central/halls")["halls"]}
    figures = ("complaints_open", "complaints_overdue", "cases_open", "case_steps_overdue")
    assert [live["west-1"][f] for f in figures] == [None] * 4
    assert [live["east-1"][f] for f in figures] == [1, 1, 0, 0]  # open and, by now, overdue
    report = get("/api/v1/central/reports/monthly?month=2026-03")
    complaints, cases = report["complaints"], report["cases"]
    west = next(h for h in complaints["halls"] if h["hall"] == "west-1")
    assert set(west.values()) == {"west-1", None}
    east = next(h for h in complaints["halls"] if h["hall"] == "east-1")
    assert complaints["total"] == {k: v for k, v in east.items() if k != "hall"}
    assert complaints["total"]["received"] == 1
    assert complaints["halls_missing"] == ["west-1"] and cases["halls_missing"] == ["west-1"]
    assert cases["total"] == {"opened": 0, "open": 0, "steps_overdue": 0}


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_a_value_only_the_database_refuses_is_400_bad_batch(
    hub: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last guard: with the range check of INTEGER columns taken away, PostgreSQL itself refuses a
    version past 2^31 (a DataError), and the hall is still answered 400 ``bad_batch``, nothing kept."""
    monkeypatch.setitem(wire.INT_LIMITS, Integer, MAX_ID)
    before = hub.dump()
    answer = hub.post({"streams": {"complaints": stream(complaints=[complaint(version=2**40)])}})
    body = answer.json()
    assert (answer.status_code, body["code"]) == (400, "bad_batch"), body
    assert "中心数据库" in body["error_zh"] and body["error_en"] == body["error"]
    assert hub.dump() == before
