"""Priority in a real browser (issue 11): the kiosk's green channel, the triage desk, the admin page.

Playwright drives the system's headless Chromium against a real hub process
whose site has priority categories, a ``[calling]`` cap and two triage desks
(one with a printer writing to a file). Every wait is on what a page shows or
on the hub's answer, never a sleep. Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    CLERK_PASSWORD,
    PRIORITY_TOML,
    Credentials,
    HubProcess,
    bearer,
    login,
    provision,
    running_hub,
    write_site,
)

pytestmark = pytest.mark.browser
TIMEOUT = 15_000  # ms, for the pages

#: The shared green channel and triage desk, with a capped clinic and a desk without a printer.
SITE_TOML = (
    """
[[services]]
code = "CAP"
name_zh = "限号门诊"
name_en = "Capped clinic"
prefix = "C"
daily_limit = 1

[[triage_desks]]
name = "triage-2"
"""
    + PRIORITY_TOML
)


@dataclass
class Hall:
    hub: HubProcess
    creds: Credentials


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[Hall]:
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=2)
    paper = tmp_path / "desk-printer.bin"
    config.write_text(config.read_text(encoding="utf-8") + SITE_TOML.format(paper=paper), encoding="utf-8")
    creds = provision(config, 2)
    setup = bootstrap(load_config(config))
    setup.accounts.add_user("nurse1", "triage", CLERK_PASSWORD, utc_now())
    setup.store.engine.dispose()
    with running_hub(config, tmp_path) as hub:
        yield Hall(hub, creds)


def api(hall: Hall, method: str, path: str, token: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, f"{hall.hub.url}/api/v1{path}", headers=bearer(token), json=body, timeout=20
    )


def issue(hall: Hall, token: str, service: str = "PAY", **extra: Any) -> dict[str, Any]:
    answer = api(hall, "POST", "/tickets", token, {"service": service, **extra})
    assert answer.status_code == 201, answer.text
    return answer.json()


def page_with_errors(browser: Any, errors: list[str], name: str, **size: int) -> Any:
    page = browser.new_page(viewport={"width": size.get("width", 1366), "height": size.get("height", 900)})
    page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    return page


def live(page: Any) -> None:
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)


def console(browser: Any, errors: list[str], hall: Hall, counter: int) -> Any:
    page = page_with_errors(browser, errors, f"console {counter}")
    page.goto(f"{hall.hub.url}/counter/?counter={counter}")
    page.fill("#login-username", hall.creds.clerks[counter])
    page.fill("#login-password", CLERK_PASSWORD)
    page.fill("#login-counter", str(counter))
    page.click("#login-submit")
    live(page)
    return page


def row_text(page: Any, ticket_id: str, where: str = "#waiting-list") -> str:
    selector = f"{where} [data-ticket-id='{ticket_id}']"
    page.wait_for_selector(selector, timeout=TIMEOUT)
    return page.inner_text(selector)


def test_a_green_channel_ticket_from_the_kiosk_is_called_before_earlier_normal_tickets(
    browser: Any, hall: Hall
) -> None:
    errors: list[str] = []
    earlier = [issue(hall, hall.creds.kiosk) for _ in range(2)]

    kiosk = page_with_errors(browser, errors, "kiosk", width=1080, height=1920)
    kiosk.goto(f"{hall.hub.url}/kiosk/?token={hall.creds.kiosk}")
    live(kiosk)
    # The kiosk offers only what it may give: the elderly button, not the staff-only emergency.
    kiosk.wait_for_selector(".green-btn[data-category='elderly']", timeout=TIMEOUT)
    assert kiosk.query_selector(".green-btn[data-category='emergency']") is None
    kiosk.click(".green-btn[data-category='elderly']")
    kiosk.wait_for_selector(".green-btn.on[data-category='elderly']", timeout=TIMEOUT)
    kiosk.click(".service-btn[data-service='PAY']")
    number = kiosk.wait_for_selector("#ticket-number", state="visible", timeout=TIMEOUT).inner_text().strip()
    assert number == "A003"  # after the two earlier normal tickets
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kiosk.screenshot(path=str(ARTIFACTS / "kiosk-green.png"))

    clerk = console(browser, errors, hall, 1)
    # The console's waiting list puts it first, with its reason.
    clerk.wait_for_function(
        "n => (document.querySelector('#waiting-list tr .ticket-no') || {}).textContent === n",
        arg=number,
        timeout=TIMEOUT,
    )
    clerk.click("#btn-call-next:enabled")
    clerk.wait_for_function(
        "n => document.querySelector('#current-number').textContent.trim() === n", arg=number, timeout=TIMEOUT
    )
    # Then the earlier normal tickets, first come first.
    token = login(hall.hub.url, "clerk1", 1)
    called = api(hall, "POST", "/counters/1/call-next", token).json()["ticket"]
    assert called["id"] == earlier[0]["id"]
    assert errors == []


def test_the_triage_page_issues_a_ticket_with_a_category_that_the_console_shows_with_its_reason(
    browser: Any, hall: Hall
) -> None:
    errors: list[str] = []
    normal = issue(hall, hall.creds.kiosk)

    desk = page_with_errors(browser, errors, "triage")
    desk.goto(f"{hall.hub.url}/triage/")
    desk.fill("#triage-login-username", "nurse1")
    desk.fill("#triage-login-password", CLERK_PASSWORD)
    desk.click("#triage-login-submit")
    live(desk)
    # Two desks: the nurse says which one this is; its printer is named on the button.
    assert "desk-printer" in desk.inner_text(".desk-btn[data-desk='triage-1']")
    desk.click(".desk-btn[data-desk='triage-1']")
    desk.wait_for_selector("#desk-name:has-text('triage-1')", timeout=TIMEOUT)
    assert desk.is_disabled("#btn-issue")  # no service picked yet
    desk.click(".svc-btn[data-service='PAY']")
    desk.click(".cat-btn[data-category='emergency']")
    desk.wait_for_selector(".cat-btn.on[data-category='emergency']", timeout=TIMEOUT)
    desk.click("#btn-issue:enabled")
    number = desk.wait_for_selector("#result-number", state="visible", timeout=TIMEOUT).inner_text().strip()
    assert number == "A002"
    ahead = desk.inner_text("#result-ahead")
    assert "前面没有人等候" in ahead and "Nobody ahead" in ahead  # emergency goes before the normal one
    printed = desk.wait_for_selector("#result-print", timeout=TIMEOUT)
    assert printed.get_attribute("data-state") in ("queued", "waiting"), printed.inner_text()
    assert "desk-printer" in printed.inner_text()
    assert "急诊" in desk.inner_text("#result-category")
    rows = desk.query_selector_all("#issued-list tr")
    assert len(rows) == 1 and number in rows[0].inner_text()

    # A refusal is said in both languages: the capped clinic's one ticket of the day, then 409.
    desk.click(".svc-btn[data-service='CAP']")
    desk.click("#btn-issue:enabled")
    desk.wait_for_selector("#result-number:has-text('C001')", timeout=TIMEOUT)
    desk.click(".svc-btn[data-service='CAP']")
    desk.click("#btn-issue:enabled")
    banner = desk.wait_for_selector("#banner.error[data-code='daily_limit_reached']", timeout=TIMEOUT)
    text = banner.inner_text()
    assert "号票已发完" in text and "tickets for this service have been given out" in text
    assert len(desk.query_selector_all("#issued-list tr")) == 2
    desk.screenshot(path=str(ARTIFACTS / "triage.png"))

    # The clerk of counter 1 sees it first in the waiting list, with the reason for its place.
    ticket_id = desk.get_attribute("#issued-list tr:last-child", "data-ticket-id")
    assert ticket_id is not None
    clerk = console(browser, errors, hall, 1)
    clerk.wait_for_function(
        "id => { const r = document.querySelector("
        "`#waiting-list tr[data-ticket-id='${id}'] td:nth-child(5)`);"
        " return r && /急诊|Emergency/.test(r.textContent); }",
        arg=ticket_id,
        timeout=TIMEOUT,
    )
    note = row_text(clerk, ticket_id)
    assert "优先" in note or "priority" in note
    first = clerk.get_attribute("#waiting-list tr:first-child", "data-ticket-id")
    assert first == ticket_id != normal["id"]
    assert errors == []


def test_the_admin_page_shows_next_up_with_reasons_and_the_ledger_and_a_display_cannot_read_it(
    browser: Any, hall: Hall
) -> None:
    errors: list[str] = []
    nurse = login(hall.hub.url, "nurse1", None)
    clerk = login(hall.hub.url, "clerk1", 1)
    normal = issue(hall, hall.creds.kiosk)

    admin = page_with_errors(browser, errors, "admin", width=1600, height=1000)
    admin.goto(f"{hall.hub.url}/counter/admin.html")
    admin.fill("#admin-login-username", "admin")
    admin.fill("#admin-login-password", ADMIN_PASSWORD)
    admin.click("#admin-login-submit")
    live(admin)
    admin.wait_for_selector(
        f"#nextup-list [data-counter='1'] li[data-ticket-id='{normal['id']}']", timeout=TIMEOUT
    )

    # A ticket given priority at the triage desk after the page was drawn: the page follows the hall.
    urgent = issue(hall, nurse, category="emergency", desk="triage-2")
    first = f"#nextup-list [data-counter='1'] li:first-child[data-ticket-id='{urgent['id']}']"
    admin.wait_for_selector(first, timeout=TIMEOUT)
    assert admin.get_attribute(first, "data-reason") == "priority:emergency"
    assert "急诊" in admin.inner_text(first) or "Emergency" in admin.inner_text(first)
    second = f"#nextup-list [data-counter='1'] li:nth-child(2)[data-ticket-id='{normal['id']}']"
    assert admin.get_attribute(second, "data-reason") == "first come"
    # Counter 2 (admins see every counter) has its own order.
    admin.wait_for_selector("#nextup-list [data-counter='2'] li", timeout=TIMEOUT)

    # The ledger: who, role, from → to; the number is looked up from the id.
    entry = f"#ledger-list tr[data-ticket-id='{urgent['id']}']"
    admin.wait_for_selector(f"{entry}[data-action='grant']", timeout=TIMEOUT)
    admin.wait_for_function(
        "sel => !document.querySelector(sel + ' .ticket-no').textContent.includes('…')",
        arg=entry,
        timeout=TIMEOUT,
    )
    text = admin.inner_text(entry)
    assert "nurse1" in text and urgent["number"] in text
    assert ("分诊" in text or "triage" in text) and ("急诊" in text or "Emergency" in text)
    # The hub's own reason ("at issue") in the page's language, not the hub's English key.
    reason = admin.inner_text(f"{entry} td.reason")
    assert reason == ("取号时给予" if admin.evaluate("QCall.lang()") == "zh" else "given at issue"), reason

    # The clerk of counter 1 gives the earlier ticket priority, with a reason: the ledger shows it too.
    # (Not the admin through the API: a second admin login would end the page's session.)
    body = {"category": "elderly", "reason": "八十岁 / aged 80"}
    api(hall, "POST", f"/tickets/{normal['id']}/priority", clerk, body).raise_for_status()
    changed = f"#ledger-list tr[data-ticket-id='{normal['id']}'][data-action='change']"
    admin.wait_for_selector(changed, timeout=TIMEOUT)
    assert "clerk1" in admin.inner_text(changed) and "八十岁 / aged 80" in admin.inner_text(changed)
    admin.screenshot(path=str(ARTIFACTS / "admin-priority.png"))

    # Least rights: a display token and the nurse cannot read the ledger; a clerk sees no ledger panel.
    for token in (hall.creds.display, nurse):
        refused = api(hall, "GET", "/admin/priority-ledger", token)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    clerk_admin = page_with_errors(browser, errors, "clerk admin")
    clerk_admin.goto(f"{hall.hub.url}/counter/admin.html")
    clerk_admin.fill("#admin-login-username", "clerk2")
    clerk_admin.fill("#admin-login-password", CLERK_PASSWORD)
    clerk_admin.fill("#admin-login-counter", "2")
    clerk_admin.click("#admin-login-submit")
    live(clerk_admin)
    clerk_admin.wait_for_selector("#nextup-list [data-counter='2'] li", timeout=TIMEOUT)
    assert clerk_admin.query_selector("#nextup-list [data-counter='1']") is None
    assert clerk_admin.is_hidden("#ledger-panel")
    assert errors == []
