"""The supervisor's screen in a real browser (issue 13, part 5): an alert when a target is about to
be breached, and a counter shown unstaffed when its clerk logs out.

The hub is a real process on the real clock with a one-minute wait target and
a one-minute lead, so a new ticket's "nearly due" alert begins at once: the
test sees it without waiting for a minute to pass. Every wait is on what the
page shows, never a sleep. The socket's room refuses a clerk. Screenshot:
``test-artifacts/e2e/supervisor.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    CLERK_PASSWORD,
    Credentials,
    HubProcess,
    bearer,
    issue,
    login,
    provision,
    running_hub,
    write_site,
)
from tests.test_accounts_security import refused_socket
from tests.test_browser_targets import TARGETS, contrast

pytestmark = pytest.mark.browser
TIMEOUT = 15_000  # ms
SUPERVISOR_PASSWORD = "supervisor-password"


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[tuple[HubProcess, Credentials]]:
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=2)
    config.write_text(config.read_text(encoding="utf-8") + TARGETS, encoding="utf-8")
    creds = provision(config, 2)
    made = bootstrap(load_config(config))
    made.accounts.add_user("sue", "supervisor", SUPERVISOR_PASSWORD, utc_now())
    made.store.engine.dispose()
    with running_hub(config, tmp_path) as hub:
        yield hub, creds


def test_the_supervisor_sees_a_target_about_to_breach_and_a_counter_left_unstaffed(
    browser: Any, hall: tuple[HubProcess, Credentials]
) -> None:
    hub, creds = hall
    errors: list[str] = []
    clerk = login(hub.url, creds.clerks[1], 1, CLERK_PASSWORD)  # counter 1 open: its clerk on post
    # The room is for admins and supervisors: a clerk's socket asking for it is refused.
    assert refused_socket(hub.url, {"token": clerk, "supervise": True}) == "forbidden"

    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{hub.url}/counter/supervisor.html")
    page.fill("#sup-login-username", "sue")
    page.fill("#sup-login-password", SUPERVISOR_PASSWORD)
    page.click("#sup-login-submit")
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
    page.wait_for_selector(".sup-counter[data-counter='1'][data-status='open']", timeout=TIMEOUT)
    page.wait_for_selector(".sup-counter[data-counter='2'][data-status='closed']", timeout=TIMEOUT)
    assert page.locator("#alerts-none").is_visible()

    # A ticket with a one-minute wait target and a one-minute lead is nearly due as it joins the queue.
    ticket = issue(hub, creds.kiosk)
    alert = page.locator(f"li[data-alert='wait:{ticket['number']}']")
    alert.wait_for(timeout=TIMEOUT)
    assert alert.get_attribute("data-kind") == "wait_due"
    assert alert.get_attribute("data-level") == "warn"  # nearly due, not yet overdue
    text = alert.inner_text()
    assert f"{ticket['number']} 号等候快到时限" in text and "wait nearly at its target" in text
    assert "还剩" in text and "left" in text
    assert contrast(alert) >= 7, "an alert must read from across the hall"
    waiting = page.locator("#services-list tr[data-service='PAY']")
    assert waiting.get_attribute("data-waiting") == "1"

    # The clerk logs out: counter 1 is unstaffed on the supervisor's page at once.
    answer = requests.post(f"{hub.url}/api/v1/auth/logout", headers=bearer(clerk), timeout=20)
    assert answer.status_code == 200, answer.text
    closed = page.locator(".sup-counter[data-counter='1'][data-status='closed']")
    closed.wait_for(timeout=TIMEOUT)
    badge = closed.locator(".sup-badge")
    words = {"无人值守": ("Unstaffed", "Nobody on post"), "Unstaffed": ("无人值守", "无人在岗")}
    first = badge.inner_text()
    assert first in words, first
    other, nobody = words[first]
    page.click("#lang-switch")  # the other language: every word of the page has both
    page.wait_for_function(
        "([sel, word]) => document.querySelector(sel).textContent === word",
        arg=[".sup-counter[data-counter='1'] .sup-badge", other],
        timeout=TIMEOUT,
    )
    assert nobody in closed.inner_text()
    english = other == "Unstaffed"
    head = alert.locator(".sup-alert-text").inner_text()
    assert head.startswith(f"{ticket['number']}: wait nearly" if english else f"{ticket['number']} 号等候")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "supervisor.png"), full_page=True)
    assert errors == []


def shanghai_minutes(before: datetime, after: datetime) -> set[str]:
    """Every "HH:MM" of the hall's zone (Asia/Shanghai) from `before` to `after`."""
    zone = ZoneInfo("Asia/Shanghai")
    out, at = set(), before.replace(second=0, microsecond=0)
    while at <= after:
        out.add(at.astimezone(zone).strftime("%H:%M"))
        at += timedelta(minutes=1)
    return out


def test_a_browser_in_new_york_shows_the_halls_times(
    browser: Any, hall: tuple[HubProcess, Credentials]
) -> None:
    """The walk-through's bug: a browser in another zone showed the supervisor's clock and the admin
    page's staff and audit times in its own zone. The login answer carries the hall's zone (and the
    supervisor's view does), so the times are the hall's from the first draw, before any snapshot."""
    hub, creds = hall
    errors: list[str] = []
    before = utc_now()
    login(hub.url, creds.clerks[1], 1, CLERK_PASSWORD)  # counter 1 on post "since" now

    page = browser.new_page(viewport={"width": 1600, "height": 900}, timezone_id="America/New_York")
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{hub.url}/counter/supervisor.html")
    page.fill("#sup-login-username", "sue")
    page.fill("#sup-login-password", SUPERVISOR_PASSWORD)
    page.click("#sup-login-submit")
    page.wait_for_function(
        "() => document.querySelector('#sup-clock').textContent.length >= 8", timeout=TIMEOUT
    )
    clock = page.inner_text("#sup-clock")
    assert clock[:5] in shanghai_minutes(before, utc_now()), clock
    page.close()

    admin = browser.new_page(viewport={"width": 1600, "height": 1200}, timezone_id="America/New_York")
    admin.on("pageerror", lambda exc: errors.append(str(exc)))
    admin.goto(f"{hub.url}/counter/admin.html")
    admin.fill("#admin-login-username", "admin")
    admin.fill("#admin-login-password", ADMIN_PASSWORD)
    admin.click("#admin-login-submit")
    since = admin.wait_for_selector("#post-list tr[data-counter='1'] .since", timeout=TIMEOUT).inner_text()
    after = utc_now()
    assert any(hm in since for hm in shanghai_minutes(before, after)), since
    # The audit log: the admin's own changes, each at the hall's day and time.
    requests.post(
        f"{hub.url}/api/v1/admin/users",
        json={"username": "newbie", "role": "staff", "password": "newbie-password-1"},
        headers=bearer(login(hub.url, "admin", None, ADMIN_PASSWORD)),
        timeout=20,
    ).raise_for_status()
    admin.wait_for_selector("#audit-layout:not([hidden])", timeout=TIMEOUT)
    admin.click("#audit-reload")
    at = admin.wait_for_selector("#audit-list td.audit-at", timeout=TIMEOUT).inner_text()
    after = utc_now()
    day = after.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    assert at.startswith(day) and at[11:16] in shanghai_minutes(before, after), at
    assert errors == []
