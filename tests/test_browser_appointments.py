"""Appointment check-in at the kiosk in a real browser: the code on the big keypad, and a scanner's burst.

A USB scanner types like a keyboard: a fast run of keys ending in Enter, with
no field focused. The kiosk must take it anywhere on the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import Site
from tests.support import (
    ARTIFACTS,
    HubProcess,
    appointment_site,
    bearer,
    login,
    provision,
    running_hub,
    slot_now,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def booked_hub(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[HubProcess, Site]]:
    config = appointment_site(tmp_path / "site.toml", sqlite_url, counters=2)
    site = Site(config, provision(config, 2), 2)
    with running_hub(config, tmp_path) as hub:
        yield hub, site


def book(hub: HubProcess, token: str, phone: str | None = None) -> dict:
    day, start = slot_now()
    body = {"service": "PAY", "date": day, "start": start, **({"phone": phone} if phone else {})}
    answer = requests.post(f"{hub.url}/api/v1/appointments", json=body, headers=bearer(token), timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["appointment"]


def test_check_in_by_keypad_and_by_scanner(browser, booked_hub) -> None:
    hub, site = booked_hub
    staff = login(hub.url, site.creds.clerks[1], 1)
    first, second = book(hub, staff), book(hub, staff)
    errors: list[str] = []
    kiosk = browser.new_page(viewport={"width": 1080, "height": 1920})
    kiosk.on("pageerror", lambda exc: errors.append(str(exc)))
    kiosk.goto(f"{hub.url}/kiosk/?token={site.creds.kiosk}")
    kiosk.wait_for_selector("body[data-live='connected']", timeout=15_000)

    # 1. The big keypad: tap the code key by key.
    kiosk.click("#checkin-open")
    for key in first["code"]:
        kiosk.click(f"#checkin-keypad .key[data-key='{key}']")
    assert kiosk.inner_text("#checkin-entry").strip() == first["code"]
    kiosk.click("#checkin-submit")
    kiosk.wait_for_selector("#ticket-view:not([hidden])", timeout=10_000)
    assert kiosk.inner_text("#ticket-number").strip() == "A001"
    assert "预约" in kiosk.inner_text("#ticket-appointment")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kiosk.screenshot(path=str(ARTIFACTS / "kiosk-appointment.png"))

    # 2. The same code again: refused in both languages, nothing issued.
    kiosk.keyboard.type(first["code"] + "\n", delay=5)
    message = kiosk.wait_for_selector("#checkin-message:not([hidden])", timeout=10_000).inner_text()
    assert "已使用" in message and "used" in message

    # 3. A scanner's burst, no field focused, from the service screen: a link ending in the code.
    kiosk.click("#checkin-cancel")
    kiosk.wait_for_selector("#service-view:not([hidden])")
    kiosk.evaluate("document.activeElement && document.activeElement.blur()")
    kiosk.keyboard.type(f"https://hall.example.cn/a/{second['code']}\n", delay=5)
    kiosk.wait_for_function(
        "() => (document.querySelector('#ticket-number')?.textContent || '').trim() === 'A002'",
        timeout=10_000,
    )
    assert not kiosk.is_hidden("#ticket-appointment")

    # 4. A person typing slowly on a keyboard is no scanner: nothing happens.
    kiosk.click("#ticket-done")
    kiosk.keyboard.type("ABCDEF\n", delay=150)
    kiosk.wait_for_timeout(300)
    assert kiosk.is_hidden("#checkin-view")

    listed = requests.get(f"{hub.url}/api/v1/appointments", headers=bearer(staff), timeout=10).json()
    assert sorted(a["status"] for a in listed["appointments"]) == ["checked_in", "checked_in"]
    queue = requests.get(f"{hub.url}/api/v1/queue", headers=bearer(site.creds.display), timeout=10).json()
    assert queue["services"][0]["waiting"] == 2
    assert errors == []
    assert "Traceback" not in hub.log()
