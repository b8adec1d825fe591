"""The whole walk in a real browser: kiosk ticket → counter call → lobby screen.

Playwright drives the system's headless Chromium (no browser download) against
a real hub process. Screenshots of the three pages are kept in
``test-artifacts/e2e/`` for a person to look at.
"""

from __future__ import annotations

import time

import pytest

from tests.support import ARTIFACTS, CLERK_PASSWORD

pytestmark = pytest.mark.browser


def _live(page: object) -> None:
    """Wait until the page has its socket up and has drawn the snapshot."""
    page.wait_for_selector("body[data-live='connected']", timeout=15_000)


def test_kiosk_counter_lobby(browser, hub, site) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []

    lobby = browser.new_page(viewport={"width": 1920, "height": 1080})
    lobby.on("pageerror", lambda exc: errors.append(f"lobby: {exc}"))
    lobby.goto(f"{hub.url}/display/lobby?token={site.creds.display}")
    _live(lobby)
    assert "token=" not in lobby.url, "the lobby must drop its token from the address bar"

    kiosk = browser.new_page(viewport={"width": 1080, "height": 1920})
    kiosk.on("pageerror", lambda exc: errors.append(f"kiosk: {exc}"))
    kiosk.goto(f"{hub.url}/kiosk/?token={site.creds.kiosk}")
    _live(kiosk)
    kiosk.click(".service-btn[data-service='PAY']")
    number = kiosk.wait_for_selector("#ticket-number", state="visible", timeout=10_000).inner_text().strip()
    assert number == "A001"
    kiosk.screenshot(path=str(ARTIFACTS / "kiosk.png"))

    counter = browser.new_page(viewport={"width": 1366, "height": 768})
    counter.on("pageerror", lambda exc: errors.append(f"counter: {exc}"))
    counter.goto(f"{hub.url}/counter/?counter=1")
    counter.fill("#login-username", site.creds.clerks[1])
    counter.fill("#login-password", CLERK_PASSWORD)
    counter.fill("#login-counter", "1")
    counter.click("#login-submit")
    _live(counter)
    call_next = counter.wait_for_selector("#btn-call-next:enabled", timeout=10_000)

    pressed = time.monotonic()
    call_next.click()
    lobby.wait_for_function(
        "n => (document.querySelector('#current-number')?.textContent || '').includes(n)",
        arg=number,
        timeout=1_000,
    )
    seen_after = time.monotonic() - pressed
    assert seen_after <= 1.0
    counter.wait_for_function(
        "n => (document.querySelector('#current-number')?.textContent || '').includes(n)", arg=number
    )

    lobby.screenshot(path=str(ARTIFACTS / "lobby.png"))
    counter.screenshot(path=str(ARTIFACTS / "counter.png"))
    assert errors == []
    assert "Traceback" not in hub.log()


def test_visitor_status_page(browser, hub, site) -> None:
    """The QR code's page on a phone shows the ticket and turns to 'go to counter' when called."""
    import requests

    from tests.support import bearer, login

    ticket = requests.post(
        f"{hub.url}/api/v1/tickets", json={"service": "ASK"}, headers=bearer(site.creds.kiosk), timeout=10
    ).json()
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(ticket["status_url"])
    _live(phone)
    phone.wait_for_function("n => document.body.innerText.includes(n)", arg=ticket["number"])
    token = login(hub.url, site.creds.clerks[2], 2)
    answer = requests.post(f"{hub.url}/api/v1/counters/2/call-next", headers=bearer(token), timeout=10)
    assert answer.json()["ticket"]["id"] == ticket["id"]
    phone.wait_for_selector("[data-status='called']", timeout=10_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "status.png"))
