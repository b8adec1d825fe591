"""Satisfaction (满意度): the configured levels, a rating credited to the leg and clerk it rates, once,
within its window; from the pad (browser or serial) and from the visitor's phone with the ticket's own key.

The core is driven on a clock moved by hand (tests/stats_day.py's hall); the
REST side through the Flask app; the config's mistakes must be one line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.app import create_app
from server.config import load_config
from server.core.calendar import utc_now
from server.core.errors import AlreadyRated, EvaluationClosed, NothingToEvaluate, UnknownRating
from server.core.queue import QueueCore
from server.core.satisfaction import Satisfaction, make_levels
from server.store import SqlStore, make_engine
from tests import stats_day as known
from tests.support import write_site
from tests.test_config import BASE, edit, problem, write

# -- the config ------------------------------------------------------------------------------


def test_the_default_is_three_levels_and_five_can_be_chosen(tmp_path: Path) -> None:
    three = load_config(write(tmp_path, BASE)).hall().satisfaction
    assert [(lv.code, lv.score, lv.satisfied) for lv in three.levels] == [
        ("very_satisfied", 100, True),
        ("satisfied", 80, True),
        ("dissatisfied", 0, False),
    ]
    assert (three.target, three.pad_window, three.phone_window) == (
        80,
        timedelta(minutes=10),
        timedelta(hours=1),
    )
    assert [r.code for r in three.reasons] == [
        "waited_too_long",
        "attitude",
        "not_competent",
        "environment",
        "other",
    ]
    five_levels = """
[satisfaction]
levels = 5
scores = { basically_satisfied = 70 }
satisfied = ["very_satisfied"]
target = 90
phone_window_minutes = 30
[[satisfaction.reasons]]
code = "queue"
name_zh = "排队太久"
name_en = "Queue too long"
"""
    five = load_config(write(tmp_path, BASE + five_levels)).hall().satisfaction
    assert [(lv.code, lv.name_zh, lv.score, lv.satisfied) for lv in five.levels] == [
        ("very_satisfied", "非常满意", 100, True),
        ("satisfied", "满意", 80, False),
        ("basically_satisfied", "基本满意", 70, False),
        ("dissatisfied", "不满意", 40, False),
        ("very_dissatisfied", "非常不满意", 0, False),
    ]
    assert (five.target, five.phone_window, [r.code for r in five.reasons]) == (
        90,
        timedelta(minutes=30),
        ["queue"],
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("levels = 4", "satisfaction.levels: "),
        (
            'satisfied = ["basically_satisfied"]',
            "satisfied: 'basically_satisfied' is not one of the 3 levels",
        ),
        ("scores = { satisfied = 120 }", "satisfaction.scores.satisfied: "),
        ("scores = { great = 100 }", "scores: 'great' is not one of the 3 levels"),
        ("satisfied = []", "satisfied: expected at least one level"),
        ("target = 101", "satisfaction.target: "),
        ("pad_window_minutes = 0", "satisfaction.pad_window_minutes: "),
        (
            'reasons = [{ code = "a", name_zh = "甲", name_en = "A" }, '
            '{ code = "a", name_zh = "乙", name_en = "B" }]',
            "reasons[1].code: 'a' is used twice",
        ),
        ("colour = 1", "satisfaction.colour: unknown key"),
    ],
)
def test_a_bad_satisfaction_table_is_one_line(tmp_path: Path, table: str, expected: str) -> None:
    message = problem(write(tmp_path, BASE + f"\n[satisfaction]\n{table}\n"))
    assert expected in message, message


def test_a_serial_pad_may_only_send_the_sites_levels(tmp_path: Path) -> None:
    pad = (
        '\n[[devices]]\nname = "eval-1"\nkind = "evaluation_pad"\ncounter = 1\n'
        'settings = { port = "/dev/ttyUSB0", address = 41, '
        'ratings = { 1 = "very_satisfied", 2 = "basically_satisfied" } }\n'
    )
    message = problem(write(tmp_path, BASE + pad))
    assert "devices[1].settings.ratings.2: 'basically_satisfied' is not one of the site's 3 levels" in message
    load_config(write(tmp_path, edit("[hours]", "[satisfaction]\nlevels = 5\n\n[hours]") + pad))


# -- the core: a rating is credited to the leg and clerk it rates ---------------------------


def serve(
    d: known.Day, name: str, counter: int, clerk: str, service: str = "PAY", start: bool = True
) -> None:
    d.issue(name, service)
    d.call(counter, name, clerk)
    if start:
        d.core.start(counter, clerk)


@pytest.fixture
def day(database_url: str) -> known.Day:
    d = known.make_day(database_url)
    d.at("09:00:00")
    return d


def test_the_pad_rates_the_leg_last_ended_at_its_counter_once(day: known.Day) -> None:
    core = day.core
    with pytest.raises(NothingToEvaluate):
        core.evaluate(2, "satisfied")
    serve(day, "A", 2, "bob")
    day.at("09:05:00")
    core.finish(2, "bob")
    ticket = core.evaluate(2, "dissatisfied", source="pad-2", reason="attitude")
    assert ticket.id == day.id("A")
    events = [e for e in core.ticket(ticket.id)[0].history if e.kind.value == "evaluated"]
    assert [(e.counter, e.staff, e.detail) for e in events] == [
        (
            2,
            "bob",
            {
                "rating": "dissatisfied",
                "score": 0,
                "satisfied": False,
                "leg": 1,
                "source": "pad-2",
                "reason": "attitude",
            },
        )
    ]
    _, legs = core.journey(ticket.id)
    assert (legs[0].rating, legs[0].rating_score, legs[0].rating_satisfied, legs[0].rating_reason) == (
        "dissatisfied",
        0,
        False,
        "attitude",
    )
    with pytest.raises(AlreadyRated):
        core.evaluate(2, "very_satisfied")
    day.at("09:15:01")  # the pad's ten minutes have passed
    with pytest.raises(NothingToEvaluate):
        core.evaluate(2, "very_satisfied")


def test_a_reason_only_with_a_low_rating_and_only_the_sites_own(day: known.Day) -> None:
    serve(day, "A", 2, "bob")
    day.core.finish(2, "bob")
    with pytest.raises(UnknownRating, match="reason"):
        day.core.evaluate(2, "satisfied", reason="attitude")
    with pytest.raises(UnknownRating, match="unknown reason"):
        day.core.evaluate(2, "dissatisfied", reason="rude")
    with pytest.raises(UnknownRating, match="unknown rating"):
        day.core.evaluate(2, "basically_satisfied")  # five levels only
    day.core.evaluate(2, "dissatisfied")  # a low rating without a reason counts as it is


def test_a_visitor_served_then_sent_on_rates_the_clerk_who_served_them(day: known.Day) -> None:
    core = day.core
    serve(day, "A", 3, "carol", "INFO")
    day.at("09:03:00")
    core.transfer(3, to_service="PAY", staff="carol")
    core.evaluate(3, "very_satisfied", source="pad-3")  # the leg that ended here, served then sent on
    serve(day, "B", 3, "carol", "INFO", start=False)
    core.transfer(3, to_service="PAY", staff="carol")  # called, never started: nobody's service to rate
    day.at("09:04:00")
    _, legs = core.journey(day.id("A"))
    assert [(leg.leg, leg.staff, leg.rating) for leg in legs] == [
        (1, "carol", "very_satisfied"),
        (2, None, None),
    ]
    with pytest.raises(AlreadyRated):  # the last rateable leg at counter 3 is still A's first
        core.evaluate(3, "satisfied")
    with pytest.raises(NothingToEvaluate):
        core.evaluate_ticket(day.id("B"), "satisfied")


def test_the_phone_rates_each_leg_once_within_its_window(day: known.Day) -> None:
    core = day.core
    serve(day, "A", 2, "bob")
    with pytest.raises(NothingToEvaluate):
        core.evaluate_ticket(day.id("A"), "satisfied")  # still being served
    day.at("09:04:00")
    core.transfer(2, to_service="NEW", staff="bob")
    day.call(1, "A", "alice")
    core.start(1, "alice")
    day.at("09:10:00")
    core.finish(1, "alice")
    ticket = core.ticket(day.id("A"))[0]
    assert core.evaluation_offer(ticket).leg == 2  # the latest first
    _, leg = core.evaluate_ticket(day.id("A"), "very_satisfied")
    assert (leg.leg, leg.staff, leg.counter, leg.rating) == (2, "alice", 1, "very_satisfied")
    assert core.evaluation_offer(ticket).leg == 1
    with pytest.raises(AlreadyRated):
        core.evaluate_ticket(day.id("A"), "satisfied", leg=2)
    with pytest.raises(NothingToEvaluate):
        core.evaluate_ticket(day.id("A"), "satisfied", leg=3)
    day.at("10:04:01")  # an hour and a second after leg 1 ended
    assert core.evaluation_offer(ticket) is None
    with pytest.raises(EvaluationClosed):
        core.evaluate_ticket(day.id("A"), "dissatisfied", "waited_too_long")
    _, legs = core.journey(day.id("A"))
    assert [(leg.staff, leg.rating) for leg in legs] == [("bob", None), ("alice", "very_satisfied")]


def test_five_levels_on_the_pad(database_url: str) -> None:
    d = known.make_day(database_url, Satisfaction(levels=make_levels(5)))
    d.at("09:00:00")
    serve(d, "A", 1, "alice", "NEW")
    d.core.finish(1, "alice")
    d.core.evaluate(1, "basically_satisfied", source="pad-1")
    _, legs = d.core.journey(d.id("A"))
    assert (legs[0].rating, legs[0].rating_score, legs[0].rating_satisfied) == (
        "basically_satisfied",
        60,
        True,
    )


def test_a_leg_is_rated_once_when_eight_phones_race_for_it(database_url: str) -> None:
    """Eight cores, each on its own connection, rate the same leg at once: one rating, seven refusals.

    Three rounds (three tickets): without the leg's lock, PostgreSQL lets two ratings through in
    most rounds.
    """
    d = known.make_day(database_url)
    d.at("09:00:00")
    racers = 8
    cores = [
        QueueCore(d.core.hall, SqlStore(make_engine(database_url)), clock=d.core.clock) for _ in range(racers)
    ]
    for round_ in range(3):
        serve(d, f"R{round_}", 2, "bob")
        d.core.finish(2, "bob")
        ticket_id = d.id(f"R{round_}")
        barrier = threading.Barrier(racers)
        outcomes: list[str] = []

        def rate(
            core: QueueCore,
            rating: str,
            ticket_id: str = ticket_id,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            barrier.wait(timeout=30)
            try:
                core.evaluate_ticket(ticket_id, rating)
                outcomes.append("rated")
            except AlreadyRated:
                outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001 - the test says what went wrong in the thread
                outcomes.append(repr(exc))

        threads = [
            threading.Thread(target=rate, args=(core, "satisfied" if i % 2 else "dissatisfied"))
            for i, core in enumerate(cores)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["rated"] + ["refused"] * (racers - 1), f"round {round_}"
        history = d.core.ticket(ticket_id)[0].history
        assert [e.kind.value for e in history].count("evaluated") == 1
        _, legs = d.core.journey(ticket_id)
        assert legs[0].rating == next(e.detail["rating"] for e in history if e.kind.value == "evaluated")
    for core in cores:
        core.store.engine.dispose()


# -- REST: the pad, the phone, the levels, and who may read the statistics ---------------------

PAD = '\n[[devices]]\nname = "pad-1"\nkind = "evaluation_pad"\ncounter = 1\n'


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    path = write_site(tmp_path / "site.toml", sqlite_url, counters=2)
    path.write_text(path.read_text(encoding="utf-8") + PAD, encoding="utf-8")
    app = create_app(load_config(path), async_mode="threading")
    hub = app.extensions["qcall"]
    now = utc_now()
    app.config["tokens"] = {
        role: hub.accounts.create_device_token(role, name, now)
        for role, name in (("kiosk", "k1"), ("display", "d1"), ("pad", "pad-1"))
    }
    hub.accounts.add_user("admin", "admin", "admin-password", now)
    hub.accounts.add_user("clerk1", "staff", "clerk-password", now)
    yield app
    hub.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: FlaskClient, user: str, password: str, counter: int | None = None) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/login", json={"username": user, "password": password, "counter": counter}
    )
    assert answer.status_code == 200, answer.get_json()
    return bearer(answer.get_json()["token"])


def served(app: Flask, client: FlaskClient, clerk: dict[str, str]) -> dict[str, Any]:
    ticket = client.post(
        "/api/v1/tickets", json={"service": "PAY"}, headers=bearer(app.config["tokens"]["kiosk"])
    )
    assert ticket.status_code == 201
    for action in ("call-next", "start", "finish"):
        assert client.post(f"/api/v1/counters/1/{action}", headers=clerk).status_code == 200, action
    return ticket.get_json()


def test_the_levels_are_open_and_name_no_score(app: Flask) -> None:
    answer = app.test_client().get("/api/v1/satisfaction")
    assert answer.status_code == 200
    body = answer.get_json()
    assert [(lv["code"], lv["name_zh"], lv["satisfied"]) for lv in body["levels"]] == [
        ("very_satisfied", "非常满意", True),
        ("satisfied", "满意", True),
        ("dissatisfied", "不满意", False),
    ]
    assert all(set(lv) == {"code", "name_zh", "name_en", "satisfied"} for lv in body["levels"])
    assert body["reasons"][0] == {
        "code": "waited_too_long",
        "name_zh": "等候时间太长",
        "name_en": "Waited too long",
    }


def test_the_phone_rates_with_its_tickets_key_and_is_refused_a_second_time(app: Flask) -> None:
    client = app.test_client()
    clerk = login(client, "clerk1", "clerk-password", 1)
    waiting = client.post(
        "/api/v1/tickets", json={"service": "ASK"}, headers=bearer(app.config["tokens"]["kiosk"])
    )
    early = client.post(
        f"/api/v1/tickets/{waiting.get_json()['id']}/evaluation", json={"rating": "satisfied"}
    )
    assert (early.status_code, early.get_json()["code"]) == (409, "nothing_to_evaluate")
    assert "/" in early.get_json()["error"]  # both languages: a visitor reads it

    ticket = served(app, client, clerk)
    shown = client.get(f"/api/v1/tickets/{ticket['id']}").get_json()
    offer = shown["evaluation_offer"]
    assert {k: offer[k] for k in ("leg", "service", "counter", "counter_name_zh")} == {
        "leg": 1,
        "service": "PAY",
        "counter": 1,
        "counter_name_zh": "1号窗口",
    }
    assert "clerk1" not in str(shown) and "staff" not in offer  # the visitor never learns the clerk's name

    url = f"/api/v1/tickets/{ticket['id']}/evaluation"
    bad = client.post(url, json={"rating": "great"})
    assert (bad.status_code, bad.get_json()["code"]) == (400, "unknown_rating")
    bad_reason = client.post(url, json={"rating": "satisfied", "reason": "attitude"})
    assert (bad_reason.status_code, bad_reason.get_json()["code"]) == (400, "unknown_rating")
    rated = client.post(url, json={"rating": "dissatisfied", "reason": "waited_too_long"})
    assert rated.status_code == 200, rated.get_json()
    assert {k: rated.get_json()[k] for k in ("leg", "rating", "reason")} == {
        "leg": 1,
        "rating": "dissatisfied",
        "reason": "waited_too_long",
    }
    again = client.post(url, json={"rating": "very_satisfied"})
    assert (again.status_code, again.get_json()["code"]) == (409, "already_rated")
    after = client.get(f"/api/v1/tickets/{ticket['id']}").get_json()
    assert after["evaluation_offer"] is None and after["evaluation"] == "dissatisfied"
    assert after["history"][-1]["detail"] == {
        "rating": "dissatisfied",
        "score": 0,
        "satisfied": False,
        "leg": 1,
        "source": "phone",
    }  # the reason stays off the public history, like every reason
    pad = client.post(
        "/api/v1/counters/1/evaluation",
        json={"rating": "satisfied"},
        headers=bearer(app.config["tokens"]["pad"]),
    )
    assert (pad.status_code, pad.get_json()["code"]) == (409, "already_rated")  # rated on the phone
    unknown = client.post("/api/v1/tickets/nope/evaluation", json={"rating": "satisfied"})
    assert (unknown.status_code, unknown.get_json()["code"]) == (404, "unknown_ticket")


def test_the_browser_pad_sends_a_reason_and_the_statistics_credit_the_clerk(app: Flask) -> None:
    client = app.test_client()
    clerk = login(client, "clerk1", "clerk-password", 1)
    ticket = served(app, client, clerk)
    pad = bearer(app.config["tokens"]["pad"])
    rated = client.post(
        "/api/v1/counters/1/evaluation", json={"rating": "dissatisfied", "reason": "attitude"}, headers=pad
    )
    assert rated.status_code == 200, rated.get_json()
    day = app.extensions["qcall"].core.hall.calendar.business_day(utc_now()).isoformat()
    answer = client.get(
        f"/api/v1/stats?from={day}&by=clerk", headers=login(client, "admin", "admin-password")
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [g["key"] for g in body["groups"]] == ["clerk1"]
    assert body["groups"][0]["satisfaction"] == {
        "ratings": 1,
        "satisfied": 0,
        "share": 0.0,
        "index": 0.0,
        "target_met": False,
        "levels": {"very_satisfied": 0, "satisfied": 0, "dissatisfied": 1},
    }
    assert body["groups"][0]["tickets"]["served"] == 1
    assert body["total"]["tickets"]["issued"] is None  # issued at a kiosk: no clerk's figure
    assert (body["timezone"], body["satisfaction"]["target"]) == ("Asia/Shanghai", 80)
    text = answer.get_data(as_text=True)
    assert ticket["id"] not in text and ticket["number"] not in text  # no visitor in the figures


STAFF_DATA = "/api/v1/stats?from=2026-03-01&to=2026-03-31&by=clerk"


def test_statistics_are_for_admins_and_supervisors_only(app: Flask) -> None:
    client = app.test_client()
    tokens = app.config["tokens"]
    assert client.get(STAFF_DATA).status_code == 401
    for role in ("kiosk", "display", "pad"):
        refused = client.get(STAFF_DATA, headers=bearer(tokens[role]))
        assert (refused.status_code, refused.get_json()["code"]) == (403, "forbidden"), role
    staff = client.get(STAFF_DATA, headers=login(client, "clerk1", "clerk-password", 1))
    assert staff.status_code == 403
    admin = client.get(STAFF_DATA, headers=login(client, "admin", "admin-password"))
    assert admin.status_code == 200, admin.get_json()
    assert admin.headers["Cache-Control"] == "no-store"
    view = app.view_functions["stats.stats"]
    assert set(view.roles) == {"admin", "supervisor"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "code", "words"),
    [
        ("", "bad_request", "'from' is required"),
        ("from=2026-3-1", "bad_request", "YYYY-MM-DD"),
        ("from=2026-02-30", "bad_request", "not a date"),
        ("from=9999-12-31", "bad_request", "a year from 2000 to 2999"),  # its next days overflowed: a 500
        ("from=2026-03-10&to=9999-12-31", "bad_request", "'to' must be a year from 2000 to 2999"),
        ("from=0001-01-01", "bad_request", "'from' must be a year from 2000 to 2999"),
        ("from=2026-03-10&to=2026-03-09", "bad_request", "before"),
        ("from=2026-01-01&to=2027-01-02", "bad_request", "at most 366 days"),
        ("from=2026-03-10&by=week", "bad_request", "'by' must be one of"),
        ("from=2026-03-10&service=NOPE", "unknown_service", "NOPE"),
        ("from=2026-03-10&counter=9", "unknown_counter", "9"),
        ("from=2026-03-10&counter=one", "bad_request", "counter"),
        ("from=2026-03-10&form=2026-03-11", "bad_request", "unknown parameter 'form'"),
    ],
)
def test_a_question_the_statistics_cannot_answer_is_400(
    app: Flask, query: str, code: str, words: str
) -> None:
    client = app.test_client()
    answer = client.get(f"/api/v1/stats?{query}", headers=login(client, "admin", "admin-password"))
    assert (answer.status_code, answer.get_json()["code"]) == (400, code)
    assert words in answer.get_json()["error"]


def test_the_answers_fit_the_openapi_document(app: Flask) -> None:
    """The rating and statistics answers are what server/api/openapi.json says, refusals included."""
    from tests.test_openapi import DOC_PATH, check_answer

    doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    client = app.test_client()
    clerk = login(client, "clerk1", "clerk-password", 1)
    admin = login(client, "admin", "admin-password")
    check_answer(doc, "get", "/satisfaction", client.get("/api/v1/satisfaction"))
    ticket = served(app, client, clerk)
    detail = client.get(f"/api/v1/tickets/{ticket['id']}")
    assert detail.get_json()["evaluation_offer"] is not None
    check_answer(doc, "get", "/tickets/{ticket_id}", detail)
    url = f"/api/v1/tickets/{ticket['id']}/evaluation"
    check_answer(doc, "post", "/tickets/{ticket_id}/evaluation", client.post(url, json={"rating": "nope"}))
    check_answer(
        doc, "post", "/tickets/{ticket_id}/evaluation", client.post(url, json={"rating": "satisfied"})
    )
    check_answer(
        doc, "post", "/tickets/{ticket_id}/evaluation", client.post(url, json={"rating": "satisfied"})
    )
    check_answer(
        doc,
        "post",
        "/tickets/{ticket_id}/evaluation",
        client.post("/api/v1/tickets/x/evaluation", json={"rating": "satisfied"}),
    )
    pad = bearer(app.config["tokens"]["pad"])
    check_answer(
        doc,
        "post",
        "/counters/{counter}/evaluation",
        client.post("/api/v1/counters/1/evaluation", json={"rating": "satisfied"}, headers=pad),
    )
    day = app.extensions["qcall"].core.hall.calendar.business_day(utc_now()).isoformat()
    for by in ("day", "hour", "service", "counter", "clerk"):
        answer = client.get(f"/api/v1/stats?from={day}&by={by}", headers=admin)
        assert answer.status_code == 200
        check_answer(doc, "get", "/stats", answer)
    check_answer(doc, "get", "/stats", client.get("/api/v1/stats?from=2026-13-01", headers=admin))
    check_answer(doc, "get", "/stats", client.get(f"/api/v1/stats?from={day}", headers=clerk))
    legs = client.get(f"/api/v1/tickets/{ticket['id']}/legs", headers=admin)
    assert legs.get_json()["legs"][0]["rating"] == "satisfied"
    check_answer(doc, "get", "/tickets/{ticket_id}/legs", legs)
