"""Revocation and session security, against real hub processes and the Flask app.

A revoked token, a disabled user, a changed password and a second login must
end what they should at once: the REST API answers 401 and an already-open
Socket.IO connection is dropped (the test waits for the client's disconnect
event). Admin routes are for admins only and every change leaves an audit row.
Logins cost the same whether the user exists or not, and the session cookie
carries no token and is Secure behind a trusted HTTPS proxy.
"""

from __future__ import annotations

import base64
import json
import queue
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
import sqlalchemy
from flask import Flask

import server.store.accounts
from server.app import create_app
from server.config import load_config
from server.core.calendar import utc_now
from tests.conftest import HUB_PASSWORD_HASH
from tests.support import (
    ADMIN_PASSWORD,
    CLERK_PASSWORD,
    ROOT,
    Credentials,
    HubProcess,
    bearer,
    provision,
    run_cli,
    write_site,
)
from tests.waiting import SocketListener, wait_until

pytestmark = pytest.mark.slow

#: Generous: a loaded two-core machine may take a while.
WAIT = 20
TIMEOUT = 20
NEW_PASSWORD = "fresh-password-1"


# -- helpers ---------------------------------------------------------------------------


class Live(SocketListener):
    """A real Socket.IO client (websocket transport), connected and past its snapshot; ``gone`` on a drop."""

    def __init__(self, url: str, auth: dict[str, Any] | None = None, cookie: str | None = None) -> None:
        headers = {"Cookie": f"session={cookie}"} if cookie else {}
        super().__init__(url, auth, headers=headers, timeout=WAIT)
        self.connect()
        self.wait_for("snapshot")

    def wait_dropped(self) -> None:
        assert self.gone.wait(WAIT), f"the hub did not drop the socket within {WAIT} s"

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def refused_socket(url: str, auth: dict[str, Any] | None = None, cookie: str | None = None) -> Any:
    """Connect and expect the hub to refuse; the refusal's message (``connect_error``)."""
    client = socketio.Client(reconnection=False)
    refusals: queue.Queue[Any] = queue.Queue()
    client.on("connect_error", lambda data=None: refusals.put(data))
    headers = {"Cookie": f"session={cookie}"} if cookie else {}
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(url, auth=auth, headers=headers, transports=["websocket"], wait_timeout=WAIT)
        refusal = refusals.get(timeout=WAIT)
    finally:
        client.disconnect()
    return refusal.get("message") if isinstance(refusal, dict) else refusal


def api(
    hub: HubProcess, method: str, path: str, token: str | None = None, **kwargs: Any
) -> requests.Response:
    headers = bearer(token) if token else {}
    return requests.request(method, f"{hub.url}/api/v1{path}", headers=headers, timeout=TIMEOUT, **kwargs)


def ok(answer: requests.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.status_code}: {answer.text[:300]}"
    return answer.json()


def refused(answer: requests.Response, status: int, code: str) -> None:
    assert answer.status_code == status, f"expected {status}, got {answer.status_code}: {answer.text[:300]}"
    body = answer.json()
    assert body["code"] == code and body["error"], body


def log_in(hub: HubProcess, username: str, counter: int | None, password: str = CLERK_PASSWORD) -> str:
    body = {"username": username, "password": password, "counter": counter}
    return ok(api(hub, "POST", "/auth/login", json=body))["token"]


def cookie_login(hub: HubProcess, username: str, counter: int | None) -> requests.Session:
    browser = requests.Session()
    body = {"username": username, "password": CLERK_PASSWORD, "counter": counter}
    ok(browser.post(f"{hub.url}/api/v1/auth/login", json=body, timeout=TIMEOUT))
    return browser


def works(hub: HubProcess, token: str) -> bool:
    """Does the hub still accept this staff or display token? (401 means no.)"""
    path = "/queue"
    answer = api(hub, "GET", path, token)
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def audit(hub: HubProcess, admin: str, action: str) -> list[dict[str, Any]]:
    return ok(api(hub, "GET", f"/admin/audit?action={action}&limit=500", admin))["entries"]


@dataclass
class Hall:
    hub: HubProcess
    creds: Credentials
    config_path: Path
    admin: str


def start_hall(workdir: Path, single_session: bool) -> Hall:
    config_path = write_site(workdir / "site.toml", f"sqlite:///{workdir / 'qcall.db'}", 3)
    if not single_session:
        text = config_path.read_text(encoding="utf-8")
        config_path.write_text(
            text.replace("[hub]\n", "[hub]\nsingle_session = false\n", 1), encoding="utf-8"
        )
    creds = provision(config_path, 3)
    process = HubProcess(config_path, workdir)
    process.start()
    return Hall(process, creds, config_path, log_in(process, "admin", None, ADMIN_PASSWORD))


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    """A hub with the default single_session = true; tests make their own users and tokens."""
    made = start_hall(tmp_path_factory.mktemp("security-hall"), single_session=True)
    try:
        yield made
    finally:
        made.hub.stop()
    assert "Traceback" not in made.hub.log(), made.hub.log()[-4000:]


def new_user(hall: Hall, username: str, role: str = "staff") -> None:
    body = {"username": username, "role": role, "password": CLERK_PASSWORD}
    ok(api(hall.hub, "POST", "/admin/users", hall.admin, json=body), 201)


def new_token(hall: Hall, name: str, role: str = "display") -> dict[str, Any]:
    return ok(api(hall.hub, "POST", "/admin/tokens", hall.admin, json={"role": role, "name": name}), 201)


# -- revoking device tokens ----------------------------------------------------------------


def test_api_revoke_ends_rest_and_drops_the_open_socket(hall: Hall) -> None:
    made = new_token(hall, "screen-api")
    token = made["token"]
    listed = ok(api(hall.hub, "GET", "/admin/tokens", hall.admin))["tokens"]
    assert {"id": made["id"], "name": "screen-api", "role": "display"}.items() <= next(
        t for t in listed if t["id"] == made["id"]
    ).items()
    assert token not in json.dumps(listed)  # the list never shows a token
    screen = Live(hall.hub.url, {"token": token})
    try:
        assert works(hall.hub, token)
        revoked = ok(api(hall.hub, "POST", f"/admin/tokens/{made['id']}/revoke", hall.admin))
        assert revoked["revoked_at"] is not None
        screen.wait_dropped()
        assert not works(hall.hub, token)
        assert refused_socket(hall.hub.url, {"token": token}) == "unauthorized"
        refused(api(hall.hub, "POST", f"/admin/tokens/{made['id']}/revoke", hall.admin), 409, "conflict")
        refused(api(hall.hub, "POST", "/admin/tokens/0123456789ab/revoke", hall.admin), 404, "not_found")
    finally:
        screen.close()
    [entry] = [e for e in audit(hall.hub, hall.admin, "token.revoke") if made["id"] in e["target"]]
    assert (entry["actor"], entry["address"]) == ("admin", "127.0.0.1")


def test_cli_token_list_create_replace_and_revoke_by_name_and_id(hall: Hall) -> None:
    single = new_token(hall, "screen-cli")
    # A name has one live token (migration 0024's index): the admin API refuses a second, and so
    # does the installer's CLI, unless told --replace (the old one revoked in the same step).
    twin = new_token(hall, "twin")
    again = api(hall.hub, "POST", "/admin/tokens", hall.admin, json={"role": "display", "name": "twin"})
    refused(again, 409, "conflict")
    line = one_error_line(run_cli(hall.config_path, "token", "create", "--role", "display", "--name", "twin"))
    assert "exists already" in line and "--replace" in line, line
    assert works(hall.hub, twin["token"]), "a refused create revoked nothing"
    made = run_cli(hall.config_path, "token", "create", "--role", "display", "--name", "twin", "--replace")
    assert made.returncode == 0, made.stderr
    assert made.stderr.strip() == f"revoked token {twin['id']} (twin, display)", made.stderr
    successor = made.stdout.strip()
    assert successor.startswith("qd_display_") and "\n" not in successor  # stdout: the token alone
    wait_until(lambda: not works(hall.hub, twin["token"]), "the replaced token refused", timeout=2.5)
    assert works(hall.hub, successor)
    listed = ok(api(hall.hub, "GET", "/admin/tokens", hall.admin))["tokens"]
    assert [t["revoked_at"] is None for t in listed if t["name"] == "twin"] == [False, True]
    screen = Live(hall.hub.url, {"token": single["token"]})
    try:
        listed_cli = run_cli(hall.config_path, "token", "list")
        assert listed_cli.returncode == 0, listed_cli.stderr
        assert listed_cli.stdout.splitlines()[0].split() == ["id", "name", "role", "created", "revoked"]
        assert single["id"] in listed_cli.stdout and "screen-cli" in listed_cli.stdout
        assert "qd_" not in listed_cli.stdout  # never a token

        done = run_cli(hall.config_path, "token", "revoke", "screen-cli")
        assert done.returncode == 0, done.stderr
        screen.wait_dropped()  # the hub noticed a change made by another process
        # The hub believes a device token it checked for up to DEVICE_TOKEN_TTL (1 s).
        wait_until(lambda: not works(hall.hub, single["token"]), "the CLI's revocation", timeout=2.5)
    finally:
        screen.close()

    # By name: the one live token of the name (the revoked one is left alone).
    done = run_cli(hall.config_path, "token", "revoke", "twin")
    assert done.returncode == 0 and done.stdout.count("revoked token") == 1, done
    wait_until(lambda: not works(hall.hub, successor), "the CLI's revocation", timeout=2.5)

    assert "revoked already" in one_error_line(run_cli(hall.config_path, "token", "revoke", single["id"]))
    assert "revoked already" in one_error_line(run_cli(hall.config_path, "token", "revoke", "twin"))
    assert "no token" in one_error_line(run_cli(hall.config_path, "token", "revoke", "no-such-screen"))
    entries = audit(hall.hub, hall.admin, "token.revoke")
    by_cli = {e["target"]: e for e in entries if e["actor"] == "cli"}
    assert f"screen-cli ({single['id']})" in by_cli
    assert by_cli[f"twin ({twin['id']})"]["detail"]["replaced_by"] == successor_id(listed, twin["id"])


def successor_id(tokens: list[dict[str, Any]], old_id: str) -> str:
    """The id of the live token that replaced ``old_id`` (same name, not revoked when listed)."""
    name = next(t["name"] for t in tokens if t["id"] == old_id)
    [live] = [t["id"] for t in tokens if t["name"] == name and t["revoked_at"] is None]
    return str(live)


# -- disabling users ---------------------------------------------------------------------


def test_disable_ends_every_session_and_drops_sockets(hall: Hall) -> None:
    new_user(hall, "dana")
    token = log_in(hall.hub, "dana", 2)
    console = Live(hall.hub.url, {"token": token})
    try:
        done = ok(api(hall.hub, "POST", "/admin/users/dana/disable", hall.admin))
        assert done["user"]["active"] is False and done["sessions_ended"] == 1
        console.wait_dropped()
        assert not works(hall.hub, token)
        refused(
            api(
                hall.hub,
                "POST",
                "/auth/login",
                json={"username": "dana", "password": CLERK_PASSWORD, "counter": 2},
            ),
            401,
            "unauthorized",
        )
        refused(api(hall.hub, "POST", "/admin/users/dana/disable", hall.admin), 409, "conflict")
    finally:
        console.close()
    # Enabled again, the user logs in afresh; the old session stays over.
    ok(api(hall.hub, "POST", "/admin/users/dana/enable", hall.admin))
    assert not works(hall.hub, token)

    # The same from the command line, with a console logged in by cookie.
    browser = cookie_login(hall.hub, "dana", 2)
    cookie_console = Live(hall.hub.url, cookie=browser.cookies["session"])
    try:
        done_cli = run_cli(hall.config_path, "user", "disable", "dana")
        assert done_cli.returncode == 0, done_cli.stderr
        cookie_console.wait_dropped()
        assert browser.get(f"{hall.hub.url}/api/v1/auth/me", timeout=TIMEOUT).status_code == 401
        assert refused_socket(hall.hub.url, cookie=browser.cookies["session"]) == "unauthorized"
    finally:
        cookie_console.close()
        browser.close()
    listed = run_cli(hall.config_path, "user", "list")
    assert any(line.split()[:3] == ["dana", "staff", "disabled"] for line in listed.stdout.splitlines()), (
        listed
    )
    assert "no user" in one_error_line(run_cli(hall.config_path, "user", "enable", "nobody"))
    actions = [(e["actor"], e["action"]) for e in audit(hall.hub, hall.admin, "") if e["target"] == "dana"]
    assert {
        ("admin", "user.add"),
        ("admin", "user.disable"),
        ("admin", "user.enable"),
        ("cli", "user.disable"),
    } <= set(actions)


# -- passwords --------------------------------------------------------------------------


def test_admin_and_cli_password_changes_end_the_users_sessions(hall: Hall) -> None:
    new_user(hall, "erin")
    token = log_in(hall.hub, "erin", 3)
    console = Live(hall.hub.url, {"token": token})
    try:
        body = {"password": NEW_PASSWORD}
        done = ok(api(hall.hub, "POST", "/admin/users/erin/password", hall.admin, json=body))
        assert done["sessions_ended"] == 1
        console.wait_dropped()
        assert not works(hall.hub, token)
    finally:
        console.close()
    refused(
        api(
            hall.hub,
            "POST",
            "/auth/login",
            json={"username": "erin", "password": CLERK_PASSWORD, "counter": 3},
        ),
        401,
        "unauthorized",
    )
    token = log_in(hall.hub, "erin", 3, NEW_PASSWORD)

    console = Live(hall.hub.url, {"token": token})
    try:
        done_cli = run_cli(hall.config_path, "user", "password", "erin", stdin=CLERK_PASSWORD + "\n")
        assert done_cli.returncode == 0, done_cli.stderr
        console.wait_dropped()
        assert not works(hall.hub, token)
    finally:
        console.close()
    token = log_in(hall.hub, "erin", 3, CLERK_PASSWORD)
    ok(api(hall.hub, "POST", "/auth/logout", token))  # off post: counter 3 is free for the next test's clerk
    entries = [e for e in audit(hall.hub, hall.admin, "user.password") if e["target"] == "erin"]
    assert [e["actor"] for e in entries] == ["cli", "admin"]
    assert NEW_PASSWORD not in json.dumps(entries) and CLERK_PASSWORD not in json.dumps(entries)
    assert NEW_PASSWORD not in hall.hub.log() and CLERK_PASSWORD not in hall.hub.log()


# -- one session per user ---------------------------------------------------------------


def test_logging_in_again_ends_the_previous_session(hall: Hall) -> None:
    new_user(hall, "fay")
    first = log_in(hall.hub, "fay", 1)
    console = Live(hall.hub.url, {"token": first})
    try:
        second = log_in(hall.hub, "fay", 1)
        console.wait_dropped()
        assert not works(hall.hub, first)
        assert works(hall.hub, second)
    finally:
        console.close()


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    """A hub with single_session = false."""
    made = start_hall(tmp_path_factory.mktemp("multi-hall"), single_session=False)
    try:
        yield made
    finally:
        made.hub.stop()
    assert "Traceback" not in made.hub.log(), made.hub.log()[-4000:]


def test_without_single_session_logins_coexist_until_a_password_change(multi: Hall) -> None:
    first = log_in(multi.hub, "clerk1", 1)
    console = Live(multi.hub.url, {"token": first})
    try:
        second = log_in(multi.hub, "clerk1", 1)
        assert works(multi.hub, first) and works(multi.hub, second)
        # The first console still gets the hall's events.
        ok(api(multi.hub, "POST", "/tickets", multi.creds.kiosk, json={"service": "PAY"}), 201)
        console.wait_for("ticket_issued")
        assert not console.gone.is_set()

        wrong = {"current_password": "not-it", "new_password": NEW_PASSWORD}
        refused(api(multi.hub, "POST", "/auth/password", second, json=wrong), 403, "wrong_password")
        short = {"current_password": CLERK_PASSWORD, "new_password": "short"}
        refused(api(multi.hub, "POST", "/auth/password", second, json=short), 400, "bad_request")
        change = {"current_password": CLERK_PASSWORD, "new_password": NEW_PASSWORD}
        done = ok(api(multi.hub, "POST", "/auth/password", second, json=change))
        assert done == {"ok": True, "sessions_ended": 1}
        console.wait_dropped()  # the other session ended, with its socket
        assert not works(multi.hub, first)
        assert works(multi.hub, second)  # the session that changed it stays
    finally:
        console.close()
    refused(
        api(
            multi.hub,
            "POST",
            "/auth/login",
            json={"username": "clerk1", "password": CLERK_PASSWORD, "counter": 1},
        ),
        401,
        "unauthorized",
    )
    log_in(multi.hub, "clerk1", 1, NEW_PASSWORD)
    [entry] = audit(multi.hub, multi.admin, "auth.password")
    assert (entry["actor"], entry["target"], entry["detail"]) == ("clerk1", "clerk1", {"sessions_ended": 1})


# -- admin only ---------------------------------------------------------------------------


def admin_routes() -> list[tuple[str, str]]:
    """Every admin route, from the OpenAPI document (test_openapi checks it matches the app)."""
    doc = json.loads((ROOT / "server" / "api" / "openapi.json").read_text(encoding="utf-8"))
    return [
        (
            method.upper(),
            path.replace("{token_id}", "0123456789ab")
            .replace("{username}", "clerk1")
            .replace("{name}", "services")
            .replace("{notice_id}", "1")
            .replace("{code}", "ABC234"),
        )
        for path, item in doc["paths"].items()
        if path.startswith("/admin/")
        for method in item
        if method in ("get", "post", "put")
    ]


def test_non_admins_get_403_on_every_admin_route(hall: Hall) -> None:
    routes = admin_routes()
    # tokens (and rotate), users, audit log, priority ledger, device tests, pairing, settings
    # (tests/test_admin_rights.py walks the app's own map)
    assert len(routes) >= 12, routes
    assert ("GET", "/admin/settings/services") in routes, routes
    assert ("POST", "/admin/tokens/0123456789ab/rotate") in routes, routes
    clerk = log_in(hall.hub, "clerk2", 2)
    callers = {"staff": clerk, "kiosk": hall.creds.kiosk, "display": hall.creds.display}
    before = len(audit(hall.hub, hall.admin, ""))
    for method, path in routes:
        body = {"role": "kiosk", "name": "x", "username": "x", "password": "12345678"}
        for who, token in callers.items():
            answer = api(hall.hub, method, path, token, json=body if method in ("POST", "PUT") else None)
            assert answer.status_code == 403, (who, method, path, answer.text)
            assert answer.json()["code"] == "forbidden"
        refused(
            api(hall.hub, method, path, json=body if method in ("POST", "PUT") else None), 401, "unauthorized"
        )
    assert len(audit(hall.hub, hall.admin, "")) == before  # nothing changed
    assert works(hall.hub, clerk)


# -- login timing -------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """A hall whose passwords are hashed at the hub's own cost (not the tests' cheap one: conftest.py)."""
    monkeypatch.setattr(server.store.accounts, "generate_password_hash", HUB_PASSWORD_HASH)
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("QCALL_SECRET_KEY", raising=False)
    yield from make_app(tmp_path, trusted_proxies=0)


def make_app(tmp_path: Path, trusted_proxies: int) -> Iterator[Flask]:
    path = write_site(
        tmp_path / f"site{trusted_proxies}.toml", f"sqlite:///{tmp_path / f'q{trusted_proxies}.db'}", 2
    )
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("[hub]\n", f"[hub]\ntrusted_proxies = {trusted_proxies}\n", 1), encoding="utf-8"
    )
    made = create_app(load_config(path), async_mode="threading")
    accounts = made.extensions["qcall"].accounts
    accounts.add_user("clerk1", "staff", CLERK_PASSWORD, utc_now())
    accounts.add_user("gone", "staff", CLERK_PASSWORD, utc_now())
    accounts.set_active("gone", False, utc_now())
    yield made
    made.extensions["qcall"].store.engine.dispose()


def test_unknown_and_known_users_take_comparable_time_to_refuse(app: Flask) -> None:
    client = app.test_client()

    def timed(username: str) -> float:
        start = time.perf_counter()
        answer = client.post(
            "/api/v1/auth/login", json={"username": username, "password": "wrong-pass", "counter": 1}
        )
        elapsed = time.perf_counter() - start
        assert answer.status_code == 401, answer.get_json()
        return elapsed

    timed("warm-up")  # the dummy hash is made once, on first use
    # Four tries each stay under the throttle (5 per name, 20 per address), taken in turns so that a
    # burst of load on a shared machine slows all three alike; the fastest of each is its own cost
    # (a refusal that skipped the hash would be many times faster than any known user's).
    tries: dict[str, list[float]] = {"unknown": [], "known": [], "disabled": []}
    for n in range(4):
        tries["unknown"].append(timed(f"nobody{n}"))
        tries["known"].append(timed("clerk1"))
        tries["disabled"].append(timed("gone"))
    unknown, known, disabled = (min(tries[k]) for k in ("unknown", "known", "disabled"))
    for name, value in (("unknown", unknown), ("disabled", disabled)):
        ratio = max(value, known) / min(value, known)
        assert ratio < 3, f"{name} {value * 1000:.1f} ms vs known {known * 1000:.1f} ms"


def test_a_stored_password_is_scrypt_at_werkzeugs_full_cost(app: Flask) -> None:
    with app.extensions["qcall"].store.engine.connect() as connection:
        stored = connection.execute(
            sqlalchemy.text("SELECT password_hash FROM users WHERE username = 'clerk1'")
        ).scalar_one()
    assert stored.startswith("scrypt:32768:8:1$"), stored.split("$")[0]


# -- the session cookie ---------------------------------------------------------------------


def cookie_payload(value: str) -> dict[str, Any]:
    """The JSON inside a Flask session cookie (signed, not encrypted: anyone can read it)."""
    compressed = value.startswith(".")
    data = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    return json.loads(zlib.decompress(raw) if compressed else raw)


def set_cookie(answer: Any) -> str:
    [header] = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith("session=")]
    return header


def test_the_cookie_holds_no_token_and_still_logs_in(app: Flask) -> None:
    client = app.test_client()
    login = {"username": "clerk1", "password": CLERK_PASSWORD, "counter": 1}
    answer = client.post("/api/v1/auth/login", json=login)
    token = answer.get_json()["token"]
    header = set_cookie(answer)
    value = header.split(";")[0].removeprefix("session=")
    payload = cookie_payload(value)
    assert "qs_" not in json.dumps(payload) and token not in value, payload
    assert "Secure" not in header  # plain HTTP, no trusted proxy
    assert client.get("/api/v1/auth/me").get_json()["username"] == "clerk1"
    # The cookie also opens the console's socket (the handshake carries it).
    socketio_ext = app.extensions["socketio"]
    console = socketio_ext.test_client(app, flask_test_client=client)
    assert console.is_connected()
    assert client.post("/api/v1/auth/logout", json={}).status_code == 200
    assert not console.is_connected()  # logout drops the session's socket
    assert client.get("/api/v1/auth/me").status_code == 401


@pytest.mark.parametrize(
    ("trusted", "proto", "secure"), [(1, "https", True), (1, None, False), (0, "https", False)]
)
def test_the_cookie_is_secure_behind_a_trusted_https_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusted: int, proto: str | None, secure: bool
) -> None:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    for made in make_app(tmp_path, trusted_proxies=trusted):
        headers = {"X-Forwarded-Proto": proto, "X-Forwarded-For": "203.0.113.7"} if proto else {}
        login = {"username": "clerk1", "password": CLERK_PASSWORD, "counter": 1}
        answer = made.test_client().post("/api/v1/auth/login", json=login, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        attributes = [part.strip() for part in set_cookie(answer).split(";")]
        assert ("Secure" in attributes) is secure, attributes
        assert "HttpOnly" in attributes and "SameSite=Strict" in attributes


# -- the counter console in a browser ----------------------------------------------------


@pytest.mark.browser
def test_console_keeps_working_on_the_cookie_and_leaves_when_disabled(browser: Any, hall: Hall) -> None:
    """A console logged in by form, and a second tab living on the cookie alone, both go back
    to the login form when an admin disables the clerk."""
    new_user(hall, "gus")
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    errors: list[str] = []
    try:
        first = context.new_page()
        first.on("pageerror", lambda exc: errors.append(f"first: {exc}"))
        first.goto(f"{hall.hub.url}/counter/?counter=3")
        first.fill("#login-username", "gus")
        first.fill("#login-password", CLERK_PASSWORD)
        first.fill("#login-counter", "3")
        first.click("#login-submit")
        first.wait_for_selector("body[data-live='connected']", timeout=15_000)

        # A new tab has no token in its sessionStorage: the cookie logs it in, socket and all.
        second = context.new_page()
        second.on("pageerror", lambda exc: errors.append(f"second: {exc}"))
        second.goto(f"{hall.hub.url}/counter/?counter=3")
        second.wait_for_selector("#console-view:not([hidden])", timeout=15_000)
        second.wait_for_selector("body[data-live='connected']", timeout=15_000)

        ok(api(hall.hub, "POST", "/admin/users/gus/disable", hall.admin))
        for page in (first, second):
            page.wait_for_selector("#login-view:not([hidden])", timeout=15_000)
            page.wait_for_selector("#login-error:not([hidden])", timeout=15_000)
        assert errors == []
    finally:
        context.close()
