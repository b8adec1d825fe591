"""A transfer in a real browser: the console's dialog offers only counters with a clerk on post, and
the visitor's phone names the counter the ticket went to as the hall calls it (贵宾理财室, not 3号窗口).

Counter 2 has nobody on post (closed), counter 3 (贵宾理财室 / VIP room) has its clerk on a break:
the dialog marks counter 2 无人值守 and disables it, offers counter 3. The pages are waited on by
what they show, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support import (
    ARTIFACTS,
    CLERK_PASSWORD,
    Credentials,
    HubProcess,
    login,
    provision,
    running_hub,
    write_site,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def hall(tmp_path: Path, sqlite_url: str) -> Iterator[tuple[HubProcess, Credentials]]:
    path = write_site(tmp_path / "site.toml", sqlite_url, counters=3)
    text = path.read_text(encoding="utf-8")
    named = text.replace(
        'name_zh = "3号窗口"\nname_en = "Counter 3"', 'name_zh = "贵宾理财室"\nname_en = "VIP room"'
    )
    assert named != text
    path.write_text(named, encoding="utf-8")
    creds = provision(path, 3)
    with running_hub(path, tmp_path) as hub:
        yield hub, creds


def test_the_transfer_dialog_offers_staffed_counters_and_the_phone_names_the_target(
    browser, hall: tuple[HubProcess, Credentials]
) -> None:
    hub, creds = hall
    api = f"{hub.url}/api/v1"
    errors: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Counter 3's clerk is on post, on a break; nobody is on post at counter 2.
    clerk3 = {"Authorization": f"Bearer {login(hub.url, 'clerk3', 3)}"}
    paused = requests.post(f"{api}/counters/3/pause", json={"reason": "lunch"}, headers=clerk3, timeout=10)
    assert paused.status_code == 200, paused.text
    issued = requests.post(
        f"{api}/tickets",
        json={"service": "PAY"},
        headers={"Authorization": f"Bearer {creds.kiosk}"},
        timeout=10,
    )
    assert issued.status_code == 201, issued.text
    ticket = issued.json()

    # A Chinese browser: the console keeps the login page's language (the clerk's), Chinese here.
    console = browser.new_page(viewport={"width": 1600, "height": 1100}, locale="zh-CN")
    console.on("pageerror", lambda exc: errors.append(str(exc)))
    console.goto(f"{hub.url}/counter/")
    console.fill("#login-username", "clerk1")
    console.fill("#login-password", CLERK_PASSWORD)
    console.fill("#login-counter", "1")
    console.click("#login-submit")
    console.wait_for_selector("html[lang='zh-CN']", timeout=15_000)
    console.click("#btn-call-next")
    console.wait_for_function(
        "n => document.body.innerText.includes(n)", arg=ticket["number"], timeout=10_000
    )
    console.wait_for_selector("#btn-transfer:not([disabled])", timeout=10_000).click()
    console.wait_for_selector("#transfer-dialog[open]", timeout=10_000)
    options = console.eval_on_selector_all(
        "#transfer-counter option",
        "els => els.filter(e => e.value).map(e => [e.value, e.textContent.trim(), e.disabled])",
    )
    assert options == [["2", "2号窗口（无人值守）", True], ["3", "贵宾理财室", False]], options
    console.screenshot(path=str(ARTIFACTS / "console-transfer-closed-counter.png"))
    console.select_option("#transfer-counter", "3")
    console.click("#transfer-confirm")
    console.wait_for_selector("#transfer-dialog", state="hidden", timeout=10_000)
    moved = requests.get(f"{api}/tickets/{ticket['id']}", timeout=10).json()
    assert (moved["status"], moved["target_counter"]) == ("transferred", 3)

    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    phone.goto(f"{hub.url}/t/{ticket['id']}")
    try:
        phone.wait_for_function(
            "said => (document.querySelector('#ticket-status') || {}).textContent === said",
            arg="已转到 贵宾理财室，请继续等候",
            timeout=10_000,
        )
    except PlaywrightTimeout:
        raise AssertionError(phone.inner_text("body")) from None
    assert "3号窗口" not in phone.inner_text("body")
    phone.screenshot(path=str(ARTIFACTS / "phone-transferred-named.png"))
    assert errors == []
    assert "Traceback" not in hub.log()
