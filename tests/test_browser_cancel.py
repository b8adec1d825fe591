"""A visitor cancels from the phone page and the lobby's waiting count drops, in a real browser.

Playwright drives the system's headless Chromium against a real hub process:
the phone page (/t/<id>) asks, confirms, and the lobby TV, live over
Socket.IO, shows one fewer waiting for the service. The counter console shows
the journey of its current ticket.
"""

from __future__ import annotations

import pytest
import requests

from tests.support import ARTIFACTS, CLERK_PASSWORD, bearer

pytestmark = pytest.mark.browser


def _live(page: object) -> None:
    page.wait_for_selector("body[data-live='connected']", timeout=15_000)


def lobby_waiting(page: object, service_zh: str) -> str:
    return page.evaluate(
        """name => {
            for (const li of document.querySelectorAll('#services li')) {
              if (li.querySelector('.zh')?.textContent === name)
                return li.querySelector('.count').textContent;
            }
            return null;
        }""",
        service_zh,
    )


def shows_waiting(page: object, service_zh: str, count: str) -> None:
    """Wait until the lobby shows ``count`` waiting for the service (it follows the live deltas)."""
    page.wait_for_function(
        """([name, count]) => [...document.querySelectorAll('#services li')].some(
               li => li.querySelector('.zh')?.textContent === name
                     && li.querySelector('.count').textContent === count)""",
        arg=[service_zh, count],
        timeout=5_000,
    )


def test_a_visitor_cancels_on_the_phone_and_the_lobby_count_drops(browser, hub, site) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    issued = [
        requests.post(
            f"{hub.url}/api/v1/tickets", json={"service": "PAY"}, headers=bearer(site.creds.kiosk), timeout=10
        ).json()
        for _ in range(2)
    ]
    leaving = issued[1]

    lobby = browser.new_page(viewport={"width": 1920, "height": 1080})
    lobby.on("pageerror", lambda exc: errors.append(f"lobby: {exc}"))
    lobby.goto(f"{hub.url}/display/lobby?token={site.creds.display}")
    _live(lobby)
    lobby.wait_for_function("() => document.querySelectorAll('#services li').length > 0")
    assert lobby_waiting(lobby, "电费缴纳") == "2"

    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))
    phone.goto(leaving["status_url"].replace(leaving["status_url"].split("/t/")[0], hub.url))
    phone.wait_for_selector("#ticket[data-status='waiting']", timeout=10_000)
    ask = phone.wait_for_selector("#cancel-ask", state="visible")
    box = ask.bounding_box()
    assert box and box["height"] >= 48, "the cancel button is a big touch target"
    assert "取消排队" in ask.inner_text() and "Cancel my place" in ask.inner_text()
    ask.click()
    # The confirm step: nothing happened yet; "keep my place" takes it back.
    phone.wait_for_selector("#cancel-confirm", state="visible")
    phone.click("#cancel-no")
    phone.wait_for_selector("#cancel-confirm", state="hidden")
    assert lobby_waiting(lobby, "电费缴纳") == "2"
    phone.click("#cancel-ask")
    phone.click("#cancel-yes")
    phone.wait_for_selector("#ticket[data-status='cancelled']", timeout=10_000)
    phone.wait_for_selector("#cancel", state="hidden")
    shows_waiting(lobby, "电费缴纳", "1")
    phone.screenshot(path=str(ARTIFACTS / "phone-cancelled.png"))
    assert (
        requests.get(f"{hub.url}/api/v1/tickets/{leaving['id']}", timeout=10).json()["status"] == "cancelled"
    )

    # The console shows the journey of its current ticket, and cancels with a confirm.
    counter = browser.new_page(viewport={"width": 1366, "height": 768})
    counter.on("pageerror", lambda exc: errors.append(f"counter: {exc}"))
    counter.goto(f"{hub.url}/counter/?counter=1")
    counter.fill("#login-username", site.creds.clerks[1])
    counter.fill("#login-password", CLERK_PASSWORD)
    counter.fill("#login-counter", "1")
    counter.click("#login-submit")
    _live(counter)
    counter.click("#btn-call-next:enabled")
    counter.wait_for_selector("#current-journey li[data-leg='1'][data-outcome='open']", timeout=10_000)
    # The journey's "1." stands beside its text: the list is left-aligned and centred as a block,
    # not the marker at the panel's far left with the text centred across the panel.
    gap = counter.evaluate(
        """() => {
          const ol = document.querySelector('#current-journey'), li = ol.querySelector("li[data-leg='1']");
          const range = document.createRange(); range.selectNodeContents(li);
          return range.getClientRects()[0].left - ol.getBoundingClientRect().left;
        }"""
    )
    assert gap <= 40, f"the journey's text starts {gap:.0f} px right of its number"
    counter.once("dialog", lambda dialog: dialog.accept())
    counter.click("#btn-cancel:enabled")
    counter.wait_for_function("() => document.querySelector('#current-number').textContent === '—'")
    assert (
        requests.get(f"{hub.url}/api/v1/tickets/{issued[0]['id']}", timeout=10).json()["status"]
        == "cancelled"
    )
    shows_waiting(lobby, "电费缴纳", "0")
    assert errors == []
    assert "Traceback" not in hub.log()
