"""The estimated wait on the pages, a real browser against a real hub: the kiosk after issue, the
phone page and the lobby beside each service's waiting count, in both languages — "no counter open"
before a clerk opened one, a number after."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support import ARTIFACTS, HubProcess, bearer, issue, login

pytestmark = pytest.mark.browser


def _live(page: Any) -> None:
    page.wait_for_selector("body[data-live='connected']", timeout=15_000)


def _text(page: Any, selector: str, words: str) -> None:
    page.wait_for_function(
        "([s, w]) => (document.querySelector(s)?.textContent || '').includes(w)",
        arg=[selector, words],
        timeout=10_000,
    )


def test_the_pages_show_the_estimate_or_say_none_can_be_given(
    browser: Any, hub: HubProcess, site: Any
) -> None:
    errors: list[str] = []
    lobby = browser.new_page(viewport={"width": 1920, "height": 1080})
    lobby.on("pageerror", lambda exc: errors.append(f"lobby: {exc}"))
    lobby.goto(f"{hub.url}/display/lobby?token={site.creds.display}")
    _live(lobby)
    pay = "#services li[data-service='PAY'] .wait"
    _text(lobby, pay, "暂无窗口")
    _text(lobby, pay, "no counter open")

    kiosk = browser.new_page(viewport={"width": 1080, "height": 1920})
    kiosk.on("pageerror", lambda exc: errors.append(f"kiosk: {exc}"))
    kiosk.goto(f"{hub.url}/kiosk/?token={site.creds.kiosk}")
    _live(kiosk)
    kiosk.click(".service-btn[data-service='PAY']")
    kiosk.wait_for_selector("#ticket-number", state="visible", timeout=10_000)
    _text(kiosk, "#ticket-estimate", "无法估计")  # nobody has opened a counter yet

    clerk = login(hub.url, site.creds.clerks[1], 1)
    answer = requests.post(f"{hub.url}/api/v1/counters/1/call-next", headers=bearer(clerk), timeout=10)
    assert answer.status_code == 200, answer.text
    # Counter 1 open and busy, nothing measured: one 5-minute service's median, 3 minutes.
    _text(lobby, pay, "约3分钟")
    _text(lobby, pay, "~3 min")
    # Counter 1 serves ASK after PAY: its clerk opened it for ASK too (nobody waits: one service).
    _text(lobby, "#services li[data-service='ASK'] .wait", "约3分钟")

    ticket = issue(hub, site.creds.kiosk, "PAY")
    assert ticket["estimated_wait_minutes"] == 3
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))
    phone.goto(ticket["status_url"])
    _live(phone)
    words = {"zh": "预计等待约 3 分钟", "en": "About 3 min wait"}
    phone.wait_for_function(
        "w => w.includes((document.querySelector('#ticket-estimate')?.textContent || '').trim())",
        arg=list(words.values()),
        timeout=10_000,
    )
    shown = phone.inner_text("#ticket-estimate").strip()
    phone.click("#lang-switch")  # the page's language is the phone's; the other one on a tap
    _text(phone, "#ticket-estimate", words["en"] if shown == words["zh"] else words["zh"])

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lobby.screenshot(path=str(ARTIFACTS / "lobby-estimate.png"))
    phone.screenshot(path=str(ARTIFACTS / "status-estimate.png"))
    assert errors == []
    assert "Traceback" not in hub.log()
