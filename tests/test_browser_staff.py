"""Staff on post in a real browser: the console's login, break and logout, and the admin page's staff section.

Playwright drives the system's headless Chromium against a real hub process;
a lobby page watches the counters open, pause and close. Every wait is on what
the page shows, with a deadline.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.support import ADMIN_PASSWORD, ARTIFACTS, CLERK_PASSWORD, add_user, bearer, issue, login

pytestmark = pytest.mark.browser

TIMEOUT = 15_000


def live(page: Any) -> None:
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)


def lobby_status(lobby: Any, counter: int, status: str, timeout: int = TIMEOUT) -> None:
    lobby.wait_for_selector(
        f"#counters li[data-counter='{counter}'][data-status='{status}']", timeout=timeout
    )


def console_login(page: Any, hub: Any, username: str, counter: int) -> None:
    page.goto(f"{hub.url}/counter/?counter={counter}")
    page.fill("#login-username", username)
    page.fill("#login-password", CLERK_PASSWORD)
    page.fill("#login-counter", str(counter))
    page.click("#login-submit")


def test_console_moves_here_takes_a_break_and_closes_the_counter_at_logout(browser, hub, site) -> None:
    errors: list[str] = []
    lobby = browser.new_page(viewport={"width": 1920, "height": 1080})
    lobby.on("pageerror", lambda exc: errors.append(f"lobby: {exc}"))
    lobby.goto(f"{hub.url}/display/lobby?token={site.creds.display}")
    live(lobby)
    lobby_status(lobby, 1, "closed")
    assert "未开放" in lobby.inner_text("#counters li[data-counter='1']")

    # clerk1 is on post at counter 2 already: the console at counter 1 offers to move here.
    login(hub.url, "clerk1", 2)
    lobby_status(lobby, 2, "open")
    console = browser.new_page(viewport={"width": 1366, "height": 900})
    console.on("pageerror", lambda exc: errors.append(f"console: {exc}"))
    console_login(console, hub, "clerk1", 1)
    move = console.wait_for_selector("#login-move:not([hidden])", timeout=TIMEOUT)
    assert "2" in move.inner_text() and "移到此窗口 / Move here" in console.inner_text("#login-move-go")
    console.click("#login-move-go")
    live(console)
    console.wait_for_selector("#counter-status.badge.open", timeout=TIMEOUT)
    lobby_status(lobby, 1, "open")
    lobby_status(lobby, 2, "closed")

    # A break: the pause button asks why; the lobby says only 暂停服务 / Paused.
    console.click("#btn-pause")
    dialog = console.wait_for_selector("#break-dialog[open]", timeout=TIMEOUT)
    assert len(console.query_selector_all("#break-reasons .break-reason")) == 5
    assert "午餐" in dialog.inner_text() and "Lunch" in dialog.inner_text()
    console.click(".break-reason[data-reason='lunch']")
    console.wait_for_selector("#counter-status.badge.paused", timeout=TIMEOUT)
    shown = console.wait_for_selector("#break-status:not([hidden])", timeout=TIMEOUT).inner_text()
    assert "午餐" in shown or "Lunch" in shown
    assert console.is_disabled("#btn-call-next")
    lobby_status(lobby, 1, "paused")
    row = lobby.inner_text("#counters li[data-counter='1']")
    assert "暂停服务" in row and "clerk1" not in row and "午餐" not in row
    admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
    [lunch] = requests.get(f"{hub.url}/api/v1/staff/breaks", headers=bearer(admin), timeout=10).json()[
        "breaks"
    ]
    assert (lunch["username"], lunch["counter"], lunch["reason"], lunch["ended_at"]) == (
        "clerk1",
        1,
        "lunch",
        None,
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    console.screenshot(path=str(ARTIFACTS / "console-break.png"))
    console.click("#btn-pause")  # resume
    console.wait_for_selector("#counter-status.badge.open", timeout=TIMEOUT)
    lobby_status(lobby, 1, "open")

    # Logout with a visitor called: refused first (the clerk says no), then forced: handed back.
    ticket = issue(hub, site.creds.kiosk, "PAY")
    console.click("#btn-call-next:enabled")
    console.wait_for_function(
        "n => (document.querySelector('#current-number')?.textContent || '').includes(n)",
        arg=ticket["number"],
    )
    console.once("dialog", lambda d: d.dismiss())
    console.click("#btn-logout")
    refused = console.wait_for_selector("#banner.warn:not([hidden])", timeout=TIMEOUT).inner_text()
    assert ticket["number"] in refused
    assert console.is_visible("#console-view")
    console.once("dialog", lambda d: d.accept())
    pressed = time.monotonic()
    console.click("#btn-logout")
    lobby_status(lobby, 1, "closed", timeout=1_000)
    took = time.monotonic() - pressed
    print(f"console logout → lobby shows counter 1 closed: {took * 1000:.0f} ms")
    assert took <= 1.0
    console.wait_for_selector("#login-view:not([hidden])", timeout=TIMEOUT)
    back = requests.get(f"{hub.url}/api/v1/tickets/{ticket['id']}", timeout=10).json()
    assert back["status"] == "waiting" and back["history"][-1]["kind"] == "requeued"
    lobby.screenshot(path=str(ARTIFACTS / "lobby-closed.png"))
    assert errors == []


def admin_page(browser: Any, hub: Any, username: str, password: str, counter: int | None = None) -> Any:
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(f"{hub.url}/counter/admin.html")
    page.fill("#admin-login-username", username)
    page.fill("#admin-login-password", password)
    if counter is not None:
        page.fill("#admin-login-counter", str(counter))
    page.click("#admin-login-submit")
    page.wait_for_selector("#admin-view:not([hidden])", timeout=TIMEOUT)
    return page


def post_state(page: Any, counter: int, state: str) -> None:
    page.wait_for_selector(f"#post-list tr[data-counter='{counter}'][data-state='{state}']", timeout=TIMEOUT)


def test_the_admin_pages_staff_section(browser, hub, site) -> None:
    errors: list[str] = []
    page = admin_page(browser, hub, "admin", ADMIN_PASSWORD)
    page.on("pageerror", lambda exc: errors.append(f"admin: {exc}"))
    page.wait_for_selector("#staff-layout:not([hidden])", timeout=TIMEOUT)
    for counter in (1, 2, 3):
        post_state(page, counter, "closed")

    # Add to today's rota: clerk1 at counter 1 all day (an end of 00:00 is midnight).
    page.wait_for_selector("#rota-form:not([hidden])", timeout=TIMEOUT)
    page.wait_for_selector("#rota-user option[value='clerk1']", state="attached", timeout=TIMEOUT)
    page.select_option("#rota-user", "clerk1")
    page.select_option("#rota-counter", "1")
    # Times out of order: refused on the form, each language whole, the end field marked, nothing kept.
    page.fill("#rota-start", "12:00")
    page.fill("#rota-end", "09:00")
    page.click("#rota-add")
    page.wait_for_selector("#rota-end.invalid[aria-invalid='true']", timeout=TIMEOUT)
    said = page.inner_text("#rota-form-message")
    assert said == (
        "排班有误：开始时间 12:00 须早于结束时间 09:00 / bad rota entry: start 12:00 is not before end 09:00"
    ), said
    assert page.query_selector("#rota-list tr[data-username='clerk1']") is None
    page.fill("#rota-start", "00:00")
    page.fill("#rota-end", "00:00")
    page.click("#rota-add")
    page.wait_for_selector("#rota-list tr[data-username='clerk1'][data-counter='1']", timeout=TIMEOUT)
    assert "24:00" in page.inner_text("#rota-list")
    assert page.get_attribute("#rota-end", "aria-invalid") is None  # the mark went with the mistake
    post_state(page, 1, "missing")

    # The clerk logs in: the section hears it from the hall and reads again.
    login(hub.url, "clerk1", 1)
    post_state(page, 1, "ok")
    login(hub.url, "clerk2", 2)
    post_state(page, 2, "unplanned")

    # A CSV with a bad line: refused whole, the line named.
    day = page.input_value("#rota-date")
    csv = f"date,username,counter,start,end\n{day},clerk2,2,09:00,12:00\n{day},clerk2,9,13:00,17:00\n"
    page.set_input_files(
        "#rota-file", files=[{"name": "rota.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.click("#rota-import")
    lines = page.wait_for_selector("#rota-import-lines", timeout=TIMEOUT).inner_text()
    assert "line 3" in lines and "counter '9'" in lines
    assert "第 3 行（窗口）：没有窗口“9” / line 3 (Counter): there is no counter '9'" in lines, lines
    assert len(page.query_selector_all("#rota-list tr")) == 1

    # Remove the entry: a second tap on the same button.
    page.click("#rota-list button[data-remove]")
    page.wait_for_selector("#rota-list button[data-remove].confirming", timeout=TIMEOUT)
    page.click("#rota-list button[data-remove]")
    page.wait_for_selector("#rota-empty:not([hidden])", timeout=TIMEOUT)
    post_state(page, 1, "unplanned")

    # End clerk2's post (left without logging out): two taps; the counter closes, the login ends.
    page.click("#post-list tr[data-counter='2'] button[data-end]")
    page.click("#post-list tr[data-counter='2'] button[data-end].confirming")
    post_state(page, 2, "closed")
    page.wait_for_selector("#attendance-list tr[data-username='clerk2']", timeout=TIMEOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-staff.png"), full_page=True)

    # A supervisor reads the section, without the admin's buttons; a clerk does not see it at all.
    admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
    add_user(hub.url, admin, "sue", "supervisor")
    supervisor = admin_page(browser, hub, "sue", CLERK_PASSWORD)
    supervisor.wait_for_selector("#staff-layout:not([hidden])", timeout=TIMEOUT)
    post_state(supervisor, 1, "unplanned")
    assert supervisor.is_hidden("#rota-form") and supervisor.is_hidden("#rota-import-form")
    assert supervisor.query_selector_all("#post-list button") == []
    clerk = admin_page(browser, hub, "clerk3", CLERK_PASSWORD, counter=3)
    clerk.wait_for_selector("#queue-counters-list tr[data-counter='3'][data-status='open']", timeout=TIMEOUT)
    assert clerk.is_hidden("#staff-layout")
    assert errors == []


def test_the_consoles_language_stays_as_the_login_page_showed_it(browser, hub, site) -> None:
    """The walk-through's bug: an English browser saw the login page in English and the console in
    Chinese once the snapshot (the hall's default) came. Now the login page's language stays, and is
    kept for the next visit; a clerk who switches there gets their choice instead."""
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1600, "height": 900}, locale="en-US")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    console_login(page, hub, "clerk1", 1)
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
    assert page.inner_text("#btn-logout") == "Log out"
    assert page.get_attribute("html", "lang") == "en"
    page.reload()  # kept: the same page again is still English
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
    assert page.inner_text("#btn-logout") == "Log out"
    page.click("#btn-logout")
    page.wait_for_selector("#login-view:not([hidden])", timeout=TIMEOUT)

    # A Chinese browser whose clerk taps "English" on the login page: English after login too.
    other = browser.new_page(viewport={"width": 1600, "height": 900}, locale="zh-CN")
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    other.goto(f"{hub.url}/counter/?counter=2")
    assert other.inner_text("#login-lang") == "English"
    other.click("#login-lang")
    other.fill("#login-username", "clerk2")
    other.fill("#login-password", CLERK_PASSWORD)
    other.fill("#login-counter", "2")
    other.click("#login-submit")
    other.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
    assert other.inner_text("#btn-logout") == "Log out"
    assert errors == []


def test_the_requeue_box_says_what_is_wrong_with_an_empty_or_malformed_number(browser, hub, site) -> None:
    """The walk-through's bug: an empty or malformed number in the late visitor's box did nothing
    visible. Now the page says why, in both languages, beside the box; nothing is sent."""
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    console_login(page, hub, "clerk1", 1)
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
    page.click("#requeue-go")
    said = page.wait_for_selector("#requeue-message:not([hidden])", timeout=TIMEOUT).inner_text()
    assert "请输入迟到顾客的号码" in said and "Enter the late visitor's number" in said, said
    assert page.get_attribute("#requeue-number", "aria-invalid") == "true"
    page.fill("#requeue-number", "12A")
    page.wait_for_selector("#requeue-message", state="hidden", timeout=TIMEOUT)  # typing clears it
    page.click("#requeue-go")
    said = page.wait_for_selector("#requeue-message:not([hidden])", timeout=TIMEOUT).inner_text()
    assert "“12A” 不是号码" in said and '"12A" is not a ticket number' in said, said
    # A well-formed number goes to the hub; its refusal (no such ticket) is said as before.
    page.fill("#requeue-number", "A999")
    page.click("#requeue-go")
    page.wait_for_selector("#requeue-message", state="hidden", timeout=TIMEOUT)
    page.wait_for_selector("#banner.error:not([hidden])", timeout=TIMEOUT)
    assert errors == []
