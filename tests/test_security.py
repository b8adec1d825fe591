"""The holes of issue "Close the holes", each reproduced as reported and shown refused.

1. path traversal on the file routes (``/demo/prints/../utility_hall.db``), and
   the demo's pages only in the demo;
2. forged clicks from another port of the same host (CSRF);
4. a Socket.IO client emitting ``connect``, and tokens in the log;
5. bad input that gave a 500 (NUL on PostgreSQL, deep JSON) and counter path
   segments that are no ASCII number;
6. a Content-Security-Policy on every page, the SQLite file 0600, and the brake
   on ticket issue (429 and the kiosk's "please wait a moment").

Items 3 (revocation, sessions, login timing, the session cookie) and 7
(contract drift) have their own modules, as they need their own hubs:
``tests/test_accounts_security.py``, ``tests/test_openapi.py`` (x-roles, device
kinds) and ``tests/test_schemathesis.py`` (Schemathesis' every check against a
running hub, as anonymous, kiosk and admin).

Real hub processes, the Flask test client and real Socket.IO clients and
Chromium, all on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from server.app import create_app
from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from server.demo.blueprint import install
from server.demo.twins import DemoHardware
from server.hall_pages import COUNTER, DISPLAY, KIOSK
from server.security import CONTENT_SECURITY_POLICY, same_origin
from tests.support import (
    ROOT,
    HubProcess,
    assert_bilingual,
    bearer,
    free_port,
    login,
    provision,
    running_hub,
    write_site,
)
from tests.waiting import wait_until

TIMEOUT = 20
STATIC = ROOT / "server" / "static"
PRINTERS = """
[[devices]]
name = "kiosk-1"
kind = "kiosk"
settings = { printer = "printer-1" }

[[devices]]
name = "printer-1"
kind = "printer"
settings = { connector = "virtual" }
"""
#: A brake small enough to reach in a test: 3 tickets at once, then 1 a minute.
BRAKE = "ticket_burst = 3\ntickets_per_minute = 1\n"


def raw_get(url: str, path: str, method: str = "GET") -> tuple[int, bytes]:
    """A request with ``path`` sent exactly as written (``curl --path-as-is``): no ``..`` folding."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        conn.request(method, path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def new_token(config_path: Path, role: str = "kiosk", name: str = "kiosk-1") -> str:
    """A fresh device token, written to the hall's database (the hub may be running); it replaces the
    live one of the name (each test makes its own kiosk-1: a name has one live token)."""
    hub = bootstrap(load_config(config_path))
    try:
        return hub.accounts.create_device_token(role, name, utc_now(), replace=True)
    finally:
        hub.store.engine.dispose()


def refused(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, f"expected {status}, got {answer.status_code}: {answer.text[:300]}"
    body = answer.json()
    assert body["code"] == code and body["error"], body
    assert_bilingual(body)
    return body


def counter_state(hub: HubProcess, token: str, number: int = 1) -> dict[str, Any]:
    answer = requests.get(f"{hub.url}/api/v1/counters/{number}", headers=bearer(token), timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return answer.json()


@dataclass
class Hall:
    hub: HubProcess
    config_path: Path
    db_path: Path
    admin: str


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    """One ``python -m server run`` for the module: SQLite, 3 counters, the small brake, a printer."""
    tmp = tmp_path_factory.mktemp("security")
    db_path = tmp / "hall.db"
    config_path = write_site(tmp / "site.toml", f"sqlite:///{db_path}", counters=3)
    text = re.sub(
        r"ticket_burst = \d+\ntickets_per_minute = \d+\n", BRAKE, config_path.read_text(encoding="utf-8")
    )
    assert BRAKE in text
    text += PRINTERS
    config_path.write_text(text, encoding="utf-8")
    provision(config_path, 3)
    with running_hub(config_path, tmp) as hub:
        admin = login(hub.url, "admin", None, "admin-password")
        yield Hall(hub, config_path, db_path, admin)


def assert_clean_log(hub: HubProcess) -> None:
    log = hub.log()
    assert "Traceback" not in log, log[-3000:]


# -- 1. path traversal, demo pages only in the demo -------------------------------------------------

#: Ways to say "a file elsewhere" in one URL variable, written as sent on the wire.
ESCAPES = [
    "..",
    "%2e%2e",
    "..%2f",
    "../secret_key",
    "../../var/secret_key",
    "%2e%2e/secret_key",
    "%2e%2e%2fsecret_key",
    "..%2fsecret_key",
    "..%5csecret_key",
    "..%2f..%2fvar%2fsecret_key",
    "../utility_hall.db",
    "../../server/app.py",
    "%2e%2e%2f%2e%2e%2fserver%2fapp.py",
    "%252e%252e/secret_key",
    "....//secret_key",
    "..;/secret_key",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "index.html%00",
    "%00",
    "secret_key",
    "utility_hall.db",
    "ticket-00001.png%00.txt",
    "kiosk.js%00../../secret_key",
]


#: Values for the variables not being attacked: a good one, or the target's own name.
FILLERS = [
    {"printer": "printer-1", "*": "ticket-00001.png"},
    {"*": "secret_key"},
    {"*": "utility_hall.db"},
]


@pytest.fixture(params=["run", "demo"])
def file_app(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app as ``run`` or ``demo`` builds it; var/ holds the database, the key and a printed ticket."""
    var = tmp_path / "var"
    (var / "prints" / "printer-1").mkdir(parents=True)
    (var / "prints" / "printer-1" / "ticket-00001.png").write_bytes(b"\x89PNG printed ticket")
    monkeypatch.setenv("QCALL_VAR_DIR", str(var))
    monkeypatch.delenv("QCALL_SECRET_KEY", raising=False)
    config_path = write_site(tmp_path / "site.toml", f"sqlite:///{var / 'utility_hall.db'}")
    config_path.write_text(config_path.read_text(encoding="utf-8") + PRINTERS, encoding="utf-8")
    if request.param == "demo":  # as server/demo/main.py builds it: virtual printers, the /demo pages
        hardware = DemoHardware(prints=var / "prints")
        site = load_config(config_path)
        app = install(
            create_app(site, async_mode="threading", printer_transport=hardware.printer_transport), hardware
        )
    else:
        hardware = None
        app = create_app(load_config(config_path), async_mode="threading")
    app.testing = True
    yield app, var
    app.extensions["qcall"].close()
    if hardware is not None:
        hardware.stop()


def test_no_file_route_serves_anything_outside_the_page_folders(file_app: Any) -> None:
    app, var = file_app
    allowed = {
        p.read_bytes()
        for folder in (KIOSK, COUNTER, DISPLAY, STATIC)
        for p in folder.rglob("*")
        if p.is_file()
    }
    allowed.add((var / "prints" / "printer-1" / "ticket-00001.png").read_bytes())
    secrets = [(var / "secret_key").read_bytes().strip(), b"SQLite format 3", b"root:"]
    routes = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ()) and rule.arguments and not rule.rule.startswith("/api/")
    ]
    file_routes = {
        r for r in routes if r.startswith(("/kiosk/", "/counter/", "/display/", "/static/", "/voice/"))
    }
    assert {
        "/kiosk/<path:name>",
        "/counter/<path:name>",
        "/display/<path:name>",
        "/static/<path:filename>",
        "/voice/<name>",
    } <= file_routes
    demo = app.blueprints.get("demo") is not None
    assert ("/demo/prints/<printer>/<name>" in routes) is demo
    client = app.test_client()
    served = 0
    for rule in routes:
        names = re.findall(r"<(?:[^<>:]+:)?([^<>]+)>", rule)
        for name, escape, filler in itertools.product(names, ESCAPES, FILLERS):
            # The other variables get a good value, or the name of the file to reach.
            values = {n: filler.get(n, filler["*"]) for n in names}
            values[name] = escape
            url = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", lambda m: values[m[1]], rule)  # noqa: B023
            answer = client.get(url)
            assert answer.status_code != 500, url
            body = answer.get_data()
            if any(secret in body for secret in secrets):
                pytest.fail(f"{url} answered {answer.status_code} with the key, the database or passwd")
            if answer.status_code == 200:
                served += 1
                assert body in allowed, f"{url} served a file outside the page folders"
    assert served > 0  # /t/<id> always answers its page: the walk did reach the routes
    # The way in of the report, with the printer folder present and an absolute var dir.
    for url in (
        "/demo/prints/../utility_hall.db",
        "/demo/prints/%2e%2e/secret_key",
        "/demo/prints/../secret_key",
        "/demo/prints/printer-1/../../secret_key",
    ):
        answer = client.get(url)
        assert answer.status_code == 404, url
    # The demo still shows its printed tickets; ``run`` has no /demo at all.
    good = client.get("/demo/prints/printer-1/ticket-00001.png")
    assert good.status_code == (200 if demo else 404)
    for page in ("/demo/prints", "/demo/displays"):
        assert client.get(page).status_code in ((200, 404) if demo else (404,)), page
    assert client.post("/demo/keypad/keypad-1", data={"key": "call_next"}).status_code == 404


def test_run_hub_has_no_demo_routes(hall: Hall) -> None:
    """``curl --path-as-is`` against a real ``run`` hub, with var/prints present: nothing but 404."""
    var = hall.hub.workdir / "var"
    (var / "prints" / "printer-1").mkdir(parents=True, exist_ok=True)
    assert (var / "secret_key").exists()
    for path in (
        "/demo/prints",
        "/demo/displays",
        "/demo/prints/../secret_key",
        "/demo/prints/%2e%2e/secret_key",
        "/demo/prints/printer-1/ticket-00001.png",
        "/kiosk/../../var/secret_key",
        "/static/%2e%2e/%2e%2e/var/secret_key",
    ):
        status, body = raw_get(hall.hub.url, path)
        assert status in (400, 404), (path, status)
        assert (var / "secret_key").read_bytes().strip() not in body
    status, _ = raw_get(hall.hub.url, "/demo/keypad/keypad-1", "POST")
    assert status in (403, 404, 415)


def test_demo_serves_its_printed_tickets_from_a_relative_var_dir(tmp_path: Path) -> None:
    """``python -m server demo`` started in a folder with the default ``var``: the images are there."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("QCALL_VAR_DIR", "QCALL_DATABASE_URL")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "demo", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        token = None
        deadline = time.monotonic() + 60
        while token is None:
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")
            match = re.search(r"/kiosk/\?token=(qd_\S+)", log_path.read_text(errors="replace"))
            token = match[1] if match else None
            time.sleep(0.1)  # a poll interval for the banner, not a wait for an effect
        snapshot = None
        while snapshot is None:
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")
            try:
                snapshot = requests.get(f"{base}/api/v1/queue", headers=bearer(token), timeout=TIMEOUT).json()
            except requests.ConnectionError:
                time.sleep(0.1)  # a poll interval until the hub listens
        service = snapshot["services"][0]["code"]
        answer = requests.post(
            f"{base}/api/v1/tickets", json={"service": service}, headers=bearer(token), timeout=TIMEOUT
        )
        assert answer.status_code == 201, answer.text
        image = None
        while image is None:
            assert time.monotonic() < deadline, "the demo page never showed the printed ticket"
            page = requests.get(f"{base}/demo/prints", timeout=TIMEOUT)
            assert page.status_code == 200
            assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert "<style" not in page.text and "<script" not in page.text
            found = re.search(r'<img src="(/demo/prints/[^"]+)"', page.text)
            if found is None:
                time.sleep(0.1)  # a poll interval until the virtual printer has drawn the ticket
            else:
                image = found[1]
        png = requests.get(base + image, timeout=TIMEOUT)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG"), png.status_code
        assert requests.get(f"{base}/demo/displays", timeout=TIMEOUT).status_code == 200
        for path in (
            "/demo/prints/../demo.db",
            "/demo/prints/%2e%2e/secret_key",
            "/demo/prints/..%2fsecret_key",
        ):
            status, body = raw_get(base, path)
            assert status == 404, path
            assert b"SQLite format 3" not in body
        assert "Traceback" not in log_path.read_text(errors="replace")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# -- 2. forged clicks -------------------------------------------------------------------------------


def test_cookie_state_change_from_another_origin_is_refused(hall: Hall) -> None:
    hub = hall.hub
    other = f"http://127.0.0.1:{free_port()}"
    browser = requests.Session()  # holds the staff cookie, as the clerk's browser does
    answer = browser.post(
        f"{hub.url}/api/v1/auth/login",
        json={"username": "clerk1", "password": "clerk-password", "counter": 1},
        headers={"Origin": hub.url},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200 and browser.cookies, answer.text
    pause = f"{hub.url}/api/v1/counters/1/pause"
    call_next = f"{hub.url}/api/v1/counters/1/call-next"
    # The auto-submitted form of the report (another port of the same host is same-site).
    form = browser.post(pause, data={"x": "1"}, headers={"Origin": other, "Sec-Fetch-Site": "same-site"})
    refused(form, 403, "cross_origin")
    # The no-cors fetch: text/plain, Origin of the other port.
    fetch = browser.post(call_next, data="", headers={"Origin": other, "Content-Type": "text/plain"})
    refused(fetch, 403, "cross_origin")
    refused(browser.post(pause, json={}, headers={"Origin": "null"}), 403, "cross_origin")
    refused(
        browser.post(pause, json={}, headers={"Origin": "null", "Sec-Fetch-Site": "cross-site"}),
        403,
        "cross_origin",
    )
    refused(browser.post(pause, json={}, headers={"Sec-Fetch-Site": "cross-site"}), 403, "cross_origin")
    # A browser that sends no Origin at all still cannot send JSON from a form or a no-cors fetch.
    refused(browser.post(pause, data={"x": "1"}), 415, "unsupported_media_type")
    refused(
        browser.post(pause, data=b"", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"
    )
    refused(browser.post(pause, files={"f": ("a.txt", b"x")}), 415, "unsupported_media_type")
    refused(browser.post(pause), 415, "unsupported_media_type")  # the no-cors fetch without a body
    assert counter_state(hub, hall.admin)["counter"]["status"] == "open"
    # The console itself (same origin, JSON) still works with the cookie alone.
    same = browser.post(pause, json={}, headers={"Origin": hub.url, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200 and same.json()["counter"]["status"] == "paused", same.text
    resumed = browser.post(f"{hub.url}/api/v1/counters/1/resume", json={}, headers={"Origin": hub.url})
    assert resumed.status_code == 200, resumed.text
    # A form of the hub's own page: the browser says same-origin, and Origin: null (no-referrer pages).
    own_form = browser.post(pause, json={}, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert own_form.status_code == 200, own_form.text
    resumed = browser.post(f"{hub.url}/api/v1/counters/1/resume", json={}, headers={"Origin": hub.url})
    assert resumed.status_code == 200, resumed.text
    # A bearer token is not a cookie: no page of another origin can set that header.
    token = login(hub.url, "clerk1", 1)
    api_client = requests.post(pause, headers={**bearer(token), "Origin": other}, timeout=TIMEOUT)
    assert api_client.status_code == 200, api_client.text
    requests.post(f"{hub.url}/api/v1/counters/1/resume", headers=bearer(token), timeout=TIMEOUT)
    assert_clean_log(hub)


def test_same_origin_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Which ``Origin`` is ours: the Host the browser used (default ports folded), or ``public_url``."""
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path / "var"))
    config_path = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'q.db'}")
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace("[hub]", 'public_url = "https://hall.example"\n\n[hub]', 1), "utf-8")
    app = create_app(load_config(config_path), async_mode="threading")
    try:
        cases = {
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000"): True,
            ("http://127.0.0.1:5000", "http://127.0.0.1:5001"): False,
            ("http://127.0.0.1:5000", "http://localhost:5000"): False,
            ("http://hall.local", "http://hall.local:80"): True,
            ("http://hall.local", "https://hall.local"): True,  # TLS ends at a proxy that keeps Host
            ("http://127.0.0.1:5000", "https://hall.example"): True,  # public_url
            ("http://127.0.0.1:5000", "http://hall.example"): False,
            ("http://127.0.0.1:5000", "null"): False,
            ("http://127.0.0.1:5000", "http://127.0.0.1:abc"): False,
            ("http://127.0.0.1:5000", "file://"): False,
        }
        for (base, origin), expected in cases.items():
            with app.test_request_context("/", base_url=base):
                assert same_origin(origin) is expected, (base, origin)
    finally:
        app.extensions["qcall"].store.engine.dispose()


class _Attacker(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:  # the name http.server calls
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.mark.browser
def test_forged_clicks_in_a_real_browser(hall: Hall, browser: Any) -> None:
    """A page on another port auto-submits a form and fires a no-cors fetch with the clerk's cookie."""
    hub = hall.hub
    waiting = requests.post(
        f"{hub.url}/api/v1/tickets", json={"service": "PAY"}, headers=bearer(hall.admin), timeout=TIMEOUT
    ).json()
    _Attacker.page = f"""<!doctype html><body>
<form id="f" method="post" action="{hub.url}/api/v1/counters/1/pause"><input name="x" value="1"></form>
<script>
fetch("{hub.url}/api/v1/counters/1/call-next", {{method: "POST", mode: "no-cors", credentials: "include"}})
  .catch(function () {{}}).then(function () {{ document.getElementById("f").submit(); }});
</script></body>""".encode()
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        context = browser.new_context()
        login_answer = context.request.post(
            f"{hub.url}/api/v1/auth/login",
            data={"username": "clerk1", "password": "clerk-password", "counter": 1},
        )
        assert login_answer.ok and context.cookies(hub.url), login_answer.text()
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        page.wait_for_url(f"{hub.url}/api/v1/counters/1/pause", timeout=15_000)
        assert "cross_origin" in page.content()
        context.close()
    finally:
        attacker.shutdown()
    state = counter_state(hub, hall.admin)
    assert state["counter"]["status"] == "open"
    assert waiting["id"] in [t["id"] for t in state["waiting"]]  # call-next did not run


# -- 4. Socket.IO -----------------------------------------------------------------------------------


def connections(hub: HubProcess) -> int:
    return requests.get(f"{hub.url}/api/v1/health", timeout=TIMEOUT).json()["connections"]


def test_client_emitting_connect_is_ignored_and_tokens_stay_out_of_the_log(hall: Hall) -> None:
    hub = hall.hub
    kiosk = new_token(hall.config_path)
    wait_until(lambda: connections(hub) == 0, "other sockets are still open")
    before = hub.log().count("ignored a client event")
    client = socketio.Client(reconnection=False)
    client.connect(hub.url, auth={"token": kiosk}, transports=["websocket"], wait_timeout=TIMEOUT)
    try:
        assert connections(hub) == 1
        stolen = "qd_kiosk_" + "S3cr3tPart" * 3
        for _ in range(30):  # the report: each one ran the connect handler again
            client.emit("connect", {"token": kiosk})
        for _ in range(5):  # each refusal printed a traceback with the token's first characters
            client.emit("connect", {"token": stolen})
        client.emit("disconnect")
        client.emit("connect_error", {"message": "x"})
        # Acknowledged once the hub has handled it, after the events sent before it: a barrier.
        client.call("print_status", {}, timeout=TIMEOUT)
        assert connections(hub) == 1
        wait_until(
            lambda: hub.log().count("ignored a client event") >= before + 37,
            "the hub never saw the reserved events",
        )
        assert connections(hub) == 1
    finally:
        client.disconnect()
    wait_until(lambda: connections(hub) == 0, "the count did not return to 0 after the disconnect")
    # Refused handshakes: a wrong token, 30 times; nothing of it reaches the log.
    wrong = "qd_kiosk_" + "W0ngT0kenChars" * 3
    for _ in range(30):
        refused_client = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused_client.connect(
                hub.url, auth={"token": wrong}, transports=["websocket"], wait_timeout=TIMEOUT
            )
    assert connections(hub) == 0
    log = hub.log()
    for secret in (stolen, wrong):
        random_part = secret.removeprefix("qd_kiosk_")
        for start in range(0, len(random_part) - 8):
            assert random_part[start : start + 8] not in log, "a token reached the hub's log"
    assert kiosk.removeprefix("qd_kiosk_")[:8] not in log
    assert_clean_log(hub)


# -- 5. bad input -----------------------------------------------------------------------------------


def test_bad_input_is_a_4xx_on_both_databases(tmp_path: Path, database_url: str) -> None:
    config_path = write_site(tmp_path / "site.toml", database_url, counters=2)
    creds = provision(config_path, 2)
    with running_hub(config_path, tmp_path) as hub:
        admin = login(hub.url, "admin", None, "admin-password")
        api = f"{hub.url}/api/v1"
        kiosk = bearer(creds.kiosk)
        # NUL: in the URL, in a user name, in a ticket id, in any JSON string.
        refused(requests.get(f"{api}/tickets/%00", timeout=TIMEOUT), 400, "bad_request")
        refused(requests.get(f"{api}/tickets/abc%00/qr.svg", timeout=TIMEOUT), 400, "bad_request")
        refused(requests.get(f"{api}/queue?x=%00", headers=kiosk, timeout=TIMEOUT), 400, "bad_request")
        for body in (
            {"username": "clerk1\x00", "password": "clerk-password", "counter": 1},
            {"username": "clerk1", "password": "pass\x00word", "counter": 1},
        ):
            refused(requests.post(f"{api}/auth/login", json=body, timeout=TIMEOUT), 400, "bad_request")
        refused(
            requests.post(f"{api}/tickets", json={"service": "PAY\x00"}, headers=kiosk, timeout=TIMEOUT),
            400,
            "bad_request",
        )
        refused(
            requests.post(
                f"{api}/tickets", json={"service": "PAY", "\x00": 1}, headers=kiosk, timeout=TIMEOUT
            ),
            400,
            "bad_request",
        )
        refused(
            requests.post(
                f"{api}/counters/1/call",
                json={"ticket_id": "abc\x00"},
                headers=bearer(admin),
                timeout=TIMEOUT,
            ),
            400,
            "bad_request",
        )
        refused(
            requests.post(
                f"{api}/counters/1/transfer",
                json={"service": "A\x00"},
                headers=bearer(admin),
                timeout=TIMEOUT,
            ),
            400,
            "bad_request",
        )
        # JSON nested 5,000 deep.
        deep = b"[" * 5000 + b"]" * 5000
        for path, headers in (("/tickets", kiosk), ("/auth/login", {})):
            answer = requests.post(
                f"{api}{path}",
                data=deep,
                timeout=TIMEOUT,
                headers={**headers, "Content-Type": "application/json"},
            )
            refused(answer, 400, "bad_request")
        deep_object = b'{"a":' * 2000 + b"1" + b"}" * 2000  # 12 KB, under the 16 KB cap
        refused(
            requests.post(
                f"{api}/tickets",
                data=deep_object,
                timeout=TIMEOUT,
                headers={**kiosk, "Content-Type": "application/json"},
            ),
            400,
            "bad_request",
        )
        # Counter segments: ASCII digits of a configured counter, else unknown_counter.
        issue = requests.post(f"{api}/tickets", json={"service": "PAY"}, headers=kiosk, timeout=TIMEOUT)
        assert issue.status_code == 201
        for segment in (
            "１",
            "%EF%BC%91",
            "-1",
            "+1",
            "0",
            "01x",
            "1.0",
            "99",
            "99999999999999999999",
            "٣",
            "1e3",
            "%20",
        ):
            for method, action in (("POST", "/call-next"), ("POST", "/pause"), ("GET", "")):
                answer = requests.request(
                    method,
                    f"{api}/counters/{segment}{action}",
                    headers=bearer(admin),
                    json={} if method == "POST" else None,
                    timeout=TIMEOUT,
                )
                refused(answer, 404, "unknown_counter")
            # The token check still comes first: strangers learn nothing.
            refused(
                requests.post(f"{api}/counters/{segment}/call-next", json={}, timeout=TIMEOUT),
                401,
                "unauthorized",
            )
        ticket = requests.get(f"{api}/tickets/{issue.json()['id']}", timeout=TIMEOUT).json()
        assert ticket["status"] == "waiting", "a full-width 1 acted on counter 1"
        # The same on the socket: a NUL in the handshake is refused, not a handler's crash.
        for auth in ({"ticket": "abc\x00"}, {"token": "qd_kiosk_\x00"}):
            client = socketio.Client(reconnection=False)
            reasons: list[Any] = []
            client.on("connect_error", reasons.append)
            with pytest.raises(socketio.exceptions.ConnectionError):
                client.connect(hub.url, auth=auth, transports=["websocket"], wait_timeout=TIMEOUT)
            assert reasons == [{"message": "bad_request"}], reasons
        login(hub.url, "clerk1", 1)  # on post: counter 1 calls (the admin acts there)
        called = requests.post(f"{api}/counters/01/call-next", headers=bearer(admin), timeout=TIMEOUT)
        assert called.status_code == 200 and called.json()["counter"]["number"] == 1, called.text
        assert_clean_log(hub)


# -- 6. defaults: CSP, the database file's mode, the brake on tickets ----------------------------------

PAGES = [
    "/kiosk/",
    "/kiosk/index.html",
    "/t/abc",
    "/counter/",
    "/counter/admin.html",
    "/triage/",
    "/display/lobby",
    "/display/counter",
    "/display/pad",
]


def test_every_page_has_a_csp_and_no_inline_script_or_style(hall: Hall) -> None:
    policy = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-inline'" not in policy["style-src"]
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    for path in PAGES:
        answer = requests.get(f"{hall.hub.url}{path}", timeout=TIMEOUT)
        assert answer.status_code == 200, path
        assert answer.headers.get("Content-Security-Policy") == CONTENT_SECURITY_POLICY, path
        html = answer.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"{path} has an inline script"
        assert "<style" not in html and " style=" not in html, f"{path} has an inline style"
        assert not re.search(r"\son[a-z]+=", html), f"{path} has an inline event handler"
    for path in ("/static/qcall.js", "/api/v1/health"):
        assert requests.get(f"{hall.hub.url}{path}", timeout=TIMEOUT).headers["Content-Security-Policy"]


def test_database_and_secret_key_are_private(hall: Hall) -> None:
    # A write makes sure the WAL and its index exist.
    requests.post(f"{hall.hub.url}/api/v1/counters/3/pause", headers=bearer(hall.admin), timeout=TIMEOUT)
    requests.post(f"{hall.hub.url}/api/v1/counters/3/resume", headers=bearer(hall.admin), timeout=TIMEOUT)
    files = [
        hall.db_path,
        Path(f"{hall.db_path}-wal"),
        Path(f"{hall.db_path}-shm"),
        hall.hub.workdir / "var" / "secret_key",
    ]
    for path in files:
        assert path.exists(), path
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is {oct(mode)}"


def test_an_older_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    hub = bootstrap(load_config(write_site(tmp_path / "site.toml", f"sqlite:///{db}")))
    hub.store.engine.dispose()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_one_kiosk_cannot_take_the_day_in_a_second(hall: Hall) -> None:
    hub = hall.hub
    greedy = new_token(hall.config_path)
    answers = [
        requests.post(
            f"{hub.url}/api/v1/tickets", json={"service": "ASK"}, headers=bearer(greedy), timeout=TIMEOUT
        )
        for _ in range(6)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201, 429, 429, 429]
    body = refused(answers[3], 429, "too_many_requests")
    assert "wait" in body["error"]
    assert body["error_zh"] == "这台设备取号过于频繁，请稍候再试" and body["error_en"] == body["error"]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60
    # Per token: another kiosk is not held back by the greedy one.
    other = new_token(hall.config_path, name="kiosk-2")
    ok = requests.post(
        f"{hub.url}/api/v1/tickets", json={"service": "ASK"}, headers=bearer(other), timeout=TIMEOUT
    )
    assert ok.status_code == 201, ok.text
    assert_clean_log(hub)


def test_brake_settings_are_checked() -> None:
    from server.config import HubSection

    assert (HubSection().ticket_burst, HubSection().tickets_per_minute) == (10, 30)
    with pytest.raises(ValueError):
        HubSection(ticket_burst=0)


@pytest.mark.browser
def test_kiosk_says_please_wait_in_both_languages(hall: Hall, browser: Any) -> None:
    hub = hall.hub
    kiosk = new_token(hall.config_path)
    for _ in range(3):  # the burst, taken by someone else with this kiosk's token
        requests.post(
            f"{hub.url}/api/v1/tickets", json={"service": "PAY"}, headers=bearer(kiosk), timeout=TIMEOUT
        )
    page = browser.new_page(viewport={"width": 1080, "height": 1920})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"{hub.url}/kiosk/?token={kiosk}")
    page.wait_for_selector("body[data-live='connected']", timeout=15_000)
    page.click(".service-btn[data-service='PAY']")
    page.wait_for_function(
        "() => ['请稍候', 'wait a moment'].every(w => document.body.innerText.includes(w))",
        timeout=10_000,
    )
    assert errors == []
