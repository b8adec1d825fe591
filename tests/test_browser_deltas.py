"""A lobby screen that misses a live event mends itself: a real browser against a real hub.

The hub sends screens deltas with the hall's version. Here the lobby's own
socket really misses one: the test (never the page) keeps a handle on the
socket the page opens, through an init script that wraps ``window.io``, and
swallows the next ``ticket_called`` before qcall.js sees it. The next event's
version then skips one; the page must ask the hub for the snapshot and end
up showing exactly what a lobby opened afresh shows.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support import ARTIFACTS, HubProcess, bearer, issue, login

pytestmark = pytest.mark.browser

#: Runs before the page's scripts: keeps every socket the page opens in window.testSockets,
#: and counts the snapshots each receives. The page's own code is untouched.
KEEP_SOCKETS = """
(() => {
  let real = null;
  window.testSockets = [];
  window.testSnapshots = 0;
  function wrapped(...args) {
    const socket = real(...args);
    socket.on("snapshot", () => { window.testSnapshots += 1; });
    window.testSockets.push(socket);
    return socket;
  }
  Object.defineProperty(window, "io", {
    configurable: true,
    get() { return real && wrapped; },
    set(value) { real = value; },
  });
})();
"""

#: Swallow the next ticket_called: qcall.js's handlers are put back once it has gone by.
MISS_NEXT_CALL = """
() => {
  const socket = window.testSockets[0];
  const handlers = socket.listeners("ticket_called");
  socket.off("ticket_called");
  window.testMissed = null;
  socket.once("ticket_called", (payload) => {
    window.testMissed = payload.v;
    handlers.forEach((fn) => socket.on("ticket_called", fn));
  });
}
"""

#: What the lobby shows of the hall (the clock and the one-off flash left out).
SHOWN = """
() => ({
  current: document.querySelector("#current-call").textContent.replace(/\\s+/g, " ").trim(),
  counters: document.querySelector("#counters").innerHTML,
  recent: document.querySelector("#recent-calls").innerHTML,
  services: document.querySelector("#services").innerHTML,
  version: document.body.getAttribute("data-hall-version"),
})
"""


def hall_version(hub: HubProcess, token: str) -> int:
    answer = requests.get(f"{hub.url}/api/v1/queue", headers=bearer(token), timeout=10)
    return int(answer.json()["v"])


def open_lobby(browser: Any, hub: HubProcess, token: str, errors: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(KEEP_SOCKETS)
    page.goto(f"{hub.url}/display/lobby?token={token}")
    page.wait_for_selector("body[data-live='connected']", timeout=15_000)
    return page


def wait_version(page: Any, version: int) -> None:
    page.wait_for_function(
        "v => document.body.getAttribute('data-hall-version') === String(v)", arg=version, timeout=10_000
    )


def call_next(hub: HubProcess, clerk: str, counter: int) -> dict[str, Any]:
    answer = requests.post(
        f"{hub.url}/api/v1/counters/{counter}/call-next", headers=bearer(clerk), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["ticket"]


def test_a_lobby_that_missed_a_call_resyncs_to_a_fresh_lobby(
    browser: Any, hub: HubProcess, site: Any
) -> None:
    display, kiosk = site.creds.display, site.creds.kiosk
    errors: list[str] = []
    one, two = login(hub.url, "clerk1", 1), login(hub.url, "clerk2", 2)
    for service in ("PAY", "ASK", "PAY", "PAY", "ASK"):
        issue(hub, kiosk, service)
    lobby = open_lobby(browser, hub, display, errors)
    call_next(hub, one, 1)
    call_next(hub, two, 2)
    wait_version(lobby, hall_version(hub, display))
    assert lobby.evaluate("() => window.testSnapshots") == 1

    # The lobby misses this call: its number must not show, and nothing else happens yet.
    lobby.evaluate(MISS_NEXT_CALL)
    missed = call_next(hub, one, 1)
    lobby.wait_for_function("() => window.testMissed !== null", timeout=10_000)
    assert missed["number"] not in lobby.inner_text("#current-call")
    assert lobby.evaluate("() => window.testSnapshots") == 1

    # The next event skips a version: the lobby asks for the snapshot and draws it.
    issue(hub, kiosk, "ASK")
    version = hall_version(hub, display)
    wait_version(lobby, version)
    assert lobby.evaluate("() => window.testSnapshots") == 2, "the gap was mended by one snapshot"
    assert missed["number"] in lobby.inner_text("#current-call")

    fresh = open_lobby(browser, hub, display, errors)
    wait_version(fresh, version)
    assert lobby.evaluate(SHOWN) == fresh.evaluate(SHOWN)

    # And it keeps up with deltas afterwards, as the fresh one does.
    call_next(hub, two, 2)
    version = hall_version(hub, display)
    for page in (lobby, fresh):
        wait_version(page, version)
    assert lobby.evaluate(SHOWN) == fresh.evaluate(SHOWN)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lobby.screenshot(path=str(ARTIFACTS / "lobby-after-resync.png"))
    assert errors == []
    assert "Traceback" not in hub.log()
