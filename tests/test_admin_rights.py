"""Every admin route refuses staff, triage and device tokens (403), whoever made it.

The routes are read from the app's own URL map, not listed here: a route added
under ``/api/v1/admin/`` by any module later is checked by this test the day it
is added, with every method it takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask

from server.app import create_app
from server.config import load_config
from server.hub import Hub
from tests.support import write_site

ADMIN_PREFIX = "/api/v1/admin"
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
PASSWORD = "clerk-password"
#: What each path parameter is filled with (a real name where one exists, so a 404 cannot hide a 403).
SAMPLES = {"name": "services", "username": "ann", "token_id": "1", "section": "services"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("admin-rights")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QCALL_VAR_DIR", str(tmp / "var"))
        patch.delenv("QCALL_SECRET_KEY", raising=False)
        config = load_config(write_site(tmp / "site.toml", f"sqlite:///{tmp / 'qcall.db'}", counters=2))
        app = create_app(config, clock=lambda: T0, async_mode="threading")
        yield app
        hub: Hub = app.extensions["qcall"]
        hub.close()


def tokens(app: Flask) -> dict[str, str]:
    hub: Hub = app.extensions["qcall"]
    client = app.test_client()
    found = {
        "kiosk": hub.accounts.create_device_token("kiosk", "kiosk-1", T0),
        "display": hub.accounts.create_device_token("display", "lobby-1", T0),
        "pad": hub.accounts.create_device_token("pad", "pad-1", T0),
    }
    for username, role, counter in (("ann", "staff", 1), ("nurse", "triage", None)):
        hub.accounts.add_user(username, role, PASSWORD, T0)
        body = {"username": username, "password": PASSWORD, **({"counter": counter} if counter else {})}
        answer = client.post("/api/v1/auth/login", json=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        found[username] = answer.get_json()["token"]
    return found


def admin_routes(app: Flask) -> list[tuple[str, str]]:
    """(method, path) of every route under /api/v1/admin, path parameters filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not (rule.rule == ADMIN_PREFIX or rule.rule.startswith(ADMIN_PREFIX + "/")):
            continue
        path = re.sub(r"<(?:([^<>:]+):)?([^<>]+)>", lambda m: SAMPLES.get(m[2], "1"), rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def test_every_admin_route_is_403_for_staff_triage_and_devices(app: Flask) -> None:
    routes = admin_routes(app)
    # The settings' routes, the audit log, tokens and users at least: the walk found the blueprints.
    paths = {path for _, path in routes}
    assert {"/api/v1/admin/settings", "/api/v1/admin/settings/services", "/api/v1/admin/audit"} <= paths
    assert ("PUT", "/api/v1/admin/settings/services") in routes and len(routes) >= 10
    client = app.test_client()
    for who, token in tokens(app).items():
        for method, path in routes:
            answer = client.open(path, method=method, headers={"Authorization": f"Bearer {token}"}, json={})
            body = answer.get_json(silent=True) or {}
            assert (answer.status_code, body.get("code")) == (403, "forbidden"), (who, method, path, body)
    for method, path in routes:
        anonymous = app.test_client().open(path, method=method, json={})
        assert anonymous.status_code == 401, (method, path)


def test_a_supervisor_reads_targets_appointments_and_categories_and_writes_none(app: Flask) -> None:
    """A 值班长 runs the floor from the admin page: the targets (every counter, as an admin sees them),
    the day's bookings and the priority categories are read; booking, cancelling, importing and the
    settings stay an admin's (403 in both languages)."""
    hub: Hub = app.extensions["qcall"]
    hub.accounts.add_user("duty", "supervisor", PASSWORD, T0)
    client = app.test_client()
    login = client.post("/api/v1/auth/login", json={"username": "duty", "password": PASSWORD})
    assert login.status_code == 200, login.get_data(as_text=True)
    auth = {"Authorization": f"Bearer {login.get_json()['token']}"}

    targets = client.get("/api/v1/targets", headers=auth)
    assert targets.status_code == 200, targets.get_json()
    assert [c["number"] for c in targets.get_json()["counters"]] == [1, 2]  # the whole hall, not one counter
    appointments = client.get("/api/v1/appointments?date=2026-03-10", headers=auth)
    assert appointments.status_code == 200, appointments.get_json()
    assert appointments.get_json()["date"] == "2026-03-10"
    categories = client.get("/api/v1/priority-categories", headers=auth)
    assert categories.status_code == 200 and "categories" in categories.get_json()

    for method, path, body in (
        ("POST", "/api/v1/appointments", {"service": "PAY", "date": "2026-03-11", "start": "09:00"}),
        ("POST", "/api/v1/appointments/import", {"csv": "service,date,start\nPAY,2026-03-11,09:00\n"}),
        ("POST", "/api/v1/appointments/x1/cancel", {}),
        ("PUT", "/api/v1/admin/settings/targets", {}),
    ):
        answer = client.open(path, method=method, headers=auth, json=body)
        refusal = answer.get_json() or {}
        assert (answer.status_code, refusal.get("code")) == (403, "forbidden"), (method, path, refusal)
        assert refusal["error_zh"] and refusal["error_en"], refusal
