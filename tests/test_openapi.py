"""server/api/openapi.json: valid OpenAPI 3.1, in step with the app's routes, and true to its answers."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from server.app import create_app
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import write_site

DOC_PATH = Path(__file__).resolve().parents[1] / "server" / "api" / "openapi.json"
PREFIX = "/api/v1"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
#: Methods Flask adds to every rule by itself.
IMPLICIT = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def app(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("QCALL_SECRET_KEY", raising=False)
    config = load_config(write_site(tmp_path / "site.toml", sqlite_url, counters=2))
    app = create_app(config, async_mode="threading")
    yield app
    app.extensions["qcall"].store.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def kiosk(app: Flask) -> str:
    return app.extensions["qcall"].accounts.create_device_token("kiosk", "t", utc_now())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def openapi_path(rule: str) -> str:
    """``/api/v1/counters/<int:counter>/call`` → ``/counters/{counter}/call``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.removeprefix(PREFIX))


def schema_validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose ``#/components/...`` references resolve in ``doc``."""
    root = {**schema, "components": doc["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def check_schema(doc: dict[str, Any], name: str, instance: Any) -> None:
    schema_validator(doc, {"$ref": f"#/components/schemas/{name}"}).validate(instance)


def check_answer(doc: dict[str, Any], method: str, path: str, answer: Any) -> None:
    """The answer's status is documented for the operation and its body fits that response's schema."""
    responses = doc["paths"][path][method]["responses"]
    assert str(answer.status_code) in responses, f"{method} {path}: {answer.status_code} is not documented"
    response = responses[str(answer.status_code)]
    if "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    schema = response["content"]["application/json"]["schema"]
    schema_validator(doc, schema).validate(answer.get_json())


# -- (a) a valid document ------------------------------------------------------------


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    assert doc["servers"] == [{"url": PREFIX}]


def test_socketio_events_point_at_schemas(doc: dict[str, Any]) -> None:
    events = doc["x-socketio-events"]
    expected = {"snapshot", "ticket_issued", "ticket_called", "ticket_recalled", "ticket_changed"}
    devices = {"print_status", "printer_status", "device_status", "print_job", "announcement"}
    live = {
        "counter_changed",
        "case_changed",
        "complaint_changed",
        "queue_moved",
        "supervisor",
        "settings_changed",
    }
    live |= {"notices_changed"}  # the lobby's and kiosk's notices (issue 14)
    assert expected | live | devices == set(events)
    for name, event in events.items():
        assert event["description"], name
        target = event["payload"]["$ref"].removeprefix("#/components/schemas/")
        assert target in doc["components"]["schemas"], name


# -- (b) the document and the app list the same routes ---------------------------------


def test_every_api_route_is_documented_and_nothing_else(app: Flask, doc: dict[str, Any]) -> None:
    in_app: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.rule == PREFIX or rule.rule.startswith(PREFIX + "/"):
            for method in (rule.methods or set()) - IMPLICIT:
                in_app.add((method.lower(), openapi_path(rule.rule)))
    in_doc = {
        (method, path) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS
    }
    assert in_app, "the app has no /api/v1 routes"
    assert sorted(in_app - in_doc) == [], "routes missing from openapi.json"
    assert sorted(in_doc - in_app) == [], "stale paths in openapi.json"


# -- (c) served as JSON ----------------------------------------------------------------


def test_served_at_api_v1_openapi_json(client: FlaskClient, doc: dict[str, Any]) -> None:
    answer = client.get(f"{PREFIX}/openapi.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    served = answer.get_json()
    # The site's own service codes are the only ones its bodies take; the rest is the file.
    ticket_service = served["components"]["schemas"]["TicketBody"]["properties"]["service"]
    assert ticket_service.pop("enum") == ["PAY", "ASK"]
    transfer = served["components"]["schemas"]["TransferBody"]["properties"]["service"]["anyOf"]
    assert [choice.pop("enum", None) for choice in transfer] == [["PAY", "ASK"], None]
    login_counter = served["components"]["schemas"]["LoginBody"]["properties"]["counter"]["anyOf"]
    assert [choice.pop("enum", None) for choice in login_counter] == [[1, 2], None]
    # The site's break reasons (here the five of a site that lists none) are the only ones a pause takes.
    reason = served["components"]["schemas"]["PauseBody"]["properties"]["reason"]["anyOf"]
    assert [choice.pop("enum", None) for choice in reason] == [
        ["lunch", "meeting", "training", "personal", "other"],
        None,
    ]
    # The statistics' filters take the site's services and counters.
    for parameter in served["paths"]["/stats"]["get"]["parameters"]:
        if parameter["name"] in ("service", "counter"):
            assert parameter["schema"].pop("enum") == (
                ["PAY", "ASK"] if parameter["name"] == "service" else [1, 2]
            )
    # A site without priority categories or triage desks takes only null for them.
    schemas = doc["components"]["schemas"]
    for body, key in (("TicketBody", "category"), ("PriorityBody", "category"), ("TicketBody", "desk")):
        assert served["components"]["schemas"][body]["properties"][key]["anyOf"] == [{"type": "null"}]
        served["components"]["schemas"][body]["properties"][key] = schemas[body]["properties"][key]
    assert served == doc


# -- (d) the answers fit the schemas ------------------------------------------------------


def test_issued_ticket_and_errors_fit_the_schemas(
    client: FlaskClient, kiosk: str, doc: dict[str, Any]
) -> None:
    issued = client.post(f"{PREFIX}/tickets", json={"service": "PAY"}, headers=bearer(kiosk))
    assert issued.status_code == 201, issued.get_data(as_text=True)
    check_schema(doc, "IssuedTicket", issued.get_json())
    check_answer(doc, "post", "/tickets", issued)

    refused = client.post(f"{PREFIX}/tickets", json={"service": "PAY"})
    assert refused.status_code == 401
    check_schema(doc, "Error", refused.get_json())
    check_answer(doc, "post", "/tickets", refused)

    for body, code in (({"service": "NOPE"}, "unknown_service"), ({"service": 1}, "bad_request")):
        answer = client.post(f"{PREFIX}/tickets", json=body, headers=bearer(kiosk))
        assert (answer.status_code, answer.get_json()["code"]) == (400, code)
        check_answer(doc, "post", "/tickets", answer)


def test_a_visit_fits_the_schemas(app: Flask, client: FlaskClient, kiosk: str, doc: dict[str, Any]) -> None:
    """Issue, look, log in, call, no-show (过号): each answer fits what the document says."""
    hub = app.extensions["qcall"]
    hub.accounts.add_user("clerk1", "staff", "clerk-password", utc_now())
    ticket = client.post(f"{PREFIX}/tickets", json={"service": "PAY"}, headers=bearer(kiosk)).get_json()

    check_answer(doc, "get", "/tickets/{ticket_id}", client.get(f"{PREFIX}/tickets/{ticket['id']}"))
    check_answer(doc, "get", "/tickets/{ticket_id}", client.get(f"{PREFIX}/tickets/nope"))
    check_answer(doc, "get", "/queue", client.get(f"{PREFIX}/queue", headers=bearer(kiosk)))
    check_answer(doc, "get", "/health", client.get(f"{PREFIX}/health"))

    login = {"username": "clerk1", "password": "clerk-password", "counter": 1}
    check_answer(
        doc, "post", "/auth/login", client.post(f"{PREFIX}/auth/login", json={**login, "counter": 9})
    )
    logged_in = client.post(f"{PREFIX}/auth/login", json=login)
    check_answer(doc, "post", "/auth/login", logged_in)
    staff = bearer(logged_in.get_json()["token"])
    check_answer(doc, "get", "/auth/me", client.get(f"{PREFIX}/auth/me", headers=staff))

    counter = "/counters/{counter}"
    check_answer(doc, "get", counter, client.get(f"{PREFIX}/counters/1", headers=staff))
    check_answer(doc, "get", counter, client.get(f"{PREFIX}/counters/2", headers=staff))
    check_answer(doc, "get", counter, client.get(f"{PREFIX}/counters/9", headers=staff))
    check_answer(doc, "post", counter + "/start", client.post(f"{PREFIX}/counters/1/start", headers=staff))
    called = client.post(f"{PREFIX}/counters/1/call-next", headers=staff)
    assert called.status_code == 200
    check_answer(doc, "post", counter + "/call-next", called)
    check_answer(
        doc, "post", counter + "/no-show", client.post(f"{PREFIX}/counters/1/no-show", headers=staff)
    )
    check_answer(
        doc, "post", counter + "/call-next", client.post(f"{PREFIX}/counters/1/call-next", headers=staff)
    )
    check_answer(
        doc,
        "post",
        counter + "/transfer",
        client.post(f"{PREFIX}/counters/1/transfer", json={}, headers=staff),
    )
    check_answer(doc, "post", counter + "/pause", client.post(f"{PREFIX}/counters/1/pause", headers=staff))
    paused = client.post(f"{PREFIX}/counters/1/call", json={"ticket_id": ticket["id"]}, headers=staff)
    assert paused.get_json()["code"] == "counter_paused"
    check_answer(doc, "post", counter + "/call", paused)
    check_answer(doc, "post", "/auth/logout", client.post(f"{PREFIX}/auth/logout", headers=staff))

    history = client.get(f"{PREFIX}/tickets/{ticket['id']}").get_json()
    assert [event["kind"] for event in history["history"]] == ["issued", "called", "no_show"]
    check_schema(doc, "TicketDetail", history)


def test_socketio_payloads_fit_x_socketio_events(
    app: Flask, client: FlaskClient, kiosk: str, doc: dict[str, Any]
) -> None:
    """What screens and a visitor's phone receive matches the payload schemas of x-socketio-events."""
    hub, socketio = app.extensions["qcall"], app.extensions["socketio"]
    hub.accounts.add_user("clerk1", "staff", "clerk-password", utc_now())
    screen = socketio.test_client(app, auth={"token": kiosk})
    ticket = client.post(f"{PREFIX}/tickets", json={"service": "PAY"}, headers=bearer(kiosk)).get_json()
    phone = socketio.test_client(app, auth={"ticket": ticket["id"]})
    login = {"username": "clerk1", "password": "clerk-password", "counter": 1}
    staff = bearer(client.post(f"{PREFIX}/auth/login", json=login).get_json()["token"])
    for action in ("call-next", "recall", "start", "finish", "pause"):
        assert client.post(f"{PREFIX}/counters/1/{action}", headers=staff).status_code == 200, action

    expected = {"snapshot", "ticket_issued", "ticket_called", "ticket_recalled", "ticket_changed"}
    expected.add("counter_changed")
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while {m["name"] for m in seen} != expected and time.monotonic() < deadline:
        seen += screen.get_received()
        time.sleep(0.05)
    assert {m["name"] for m in seen} == expected
    visitor: list[dict[str, Any]] = []
    mine = {"ticket_called", "ticket_recalled", "ticket_changed", "queue_moved"}
    while {m["name"] for m in visitor} != mine and time.monotonic() < deadline + 10:
        visitor += phone.get_received()
        time.sleep(0.05)
    assert {m["name"] for m in visitor} == mine
    for message in seen + visitor:
        event = doc["x-socketio-events"][message["name"]]
        schema_validator(doc, event["payload"]).validate(message["args"][0])
    assert all("queue" not in m["args"][0] for m in visitor)


def test_device_kinds_match_the_config(doc: dict[str, Any]) -> None:
    """Every kind a site file may declare can appear on GET /devices, and nothing else."""
    from typing import get_args

    from server.config import DeviceSection

    kinds = set(get_args(DeviceSection.model_fields["kind"].annotation))
    assert set(doc["components"]["schemas"]["DeviceStatus"]["properties"]["kind"]["enum"]) == kinds


def test_x_roles_are_the_roles_the_routes_admit(app: Flask, doc: dict[str, Any]) -> None:
    """``x-roles`` says who may call an operation; it must be what ``@requires`` enforces."""
    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "roles", None)
        if roles is None or not rule.rule.startswith(PREFIX):
            continue
        path = openapi_path(rule.rule)
        for method in rule.methods - IMPLICIT:
            operation = doc["paths"][path][method.lower()]
            assert set(operation.get("x-roles", [])) == set(roles), f"{method} {path}"
            checked += 1
    assert checked >= 4
