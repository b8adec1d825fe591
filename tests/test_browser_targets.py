"""Targets in a real browser (issue 12): the counter console and the admin page mark a ticket
"快超时 Nearly due" before its target is breached and "已超时 Overdue" after, by themselves.

The hub is a real process on the real clock with one-minute targets and a
one-minute lead, so a new ticket is nearly due at once and overdue a minute
after it joined the queue, with no event in between: the page's own timer has
to move the mark. Every wait is on what the page shows (up to 90 s for the
breach), never a sleep. Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

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

pytestmark = pytest.mark.browser
TIMEOUT = 15_000  # ms, for the pages
#: Long enough for a one-minute target to fall due on a loaded machine.
BREACH_TIMEOUT = 90_000

TARGETS = """
[targets]
wait_minutes = 1
service_minutes = 1
warn_before_minutes = 1
"""

#: Contrast of a mark's words on its badge, as WCAG counts it.
CONTRAST = """el => {
  const lum = c => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
      v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  if (!el.isConnected) return null;  // drawn again since the locator found it: no style to read
  const style = getComputedStyle(el);
  const [x, y] = [lum(style.color), lum(style.backgroundColor)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}"""


def contrast(locator: Any, timeout: float = 5.0) -> float:
    """The WCAG contrast of what ``locator`` finds, read again if the page redrew the element between
    Playwright finding it and reading its style (a detached element has no computed colours)."""
    deadline = time.monotonic() + timeout
    while True:
        ratio = locator.evaluate(CONTRAST)
        if ratio is not None:
            return float(ratio)
        assert time.monotonic() < deadline, "the element kept being drawn again"


@dataclass
class Hall:
    hub: HubProcess
    creds: Credentials


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[Hall]:
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=2)
    config.write_text(config.read_text(encoding="utf-8") + TARGETS, encoding="utf-8")
    creds = provision(config, 2)
    with running_hub(config, tmp_path) as hub:
        yield Hall(hub, creds)


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def page_with_errors(browser: Any, errors: list[str], name: str) -> Any:
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    return page


def log_in(page: Any, url: str, prefix: str, username: str, password: str, counter: int | None) -> None:
    page.goto(url)
    page.fill(f"#{prefix}login-username", username)
    page.fill(f"#{prefix}login-password", password)
    if counter is not None:
        page.fill(f"#{prefix}login-counter", str(counter))
    page.click(f"#{prefix}login-submit")
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)


def test_a_ticket_is_marked_nearly_due_before_its_breach_and_overdue_after(browser: Any, hall: Hall) -> None:
    hub = hall.hub
    errors: list[str] = []
    # The clerk goes on post at counter 1 first (a counter calls only then, an admin's call too);
    # the console's login below keeps the post (the same clerk at the same counter).
    login(hub.url, hall.creds.clerks[1], 1, CLERK_PASSWORD)
    served = issue(hub, hall.creds.kiosk)
    waiting = issue(hub, hall.creds.kiosk)
    admin_api = login(hub.url, "admin", None, ADMIN_PASSWORD)
    for action, body in (("call", {"ticket_id": served["id"]}), ("start", {})):
        answer = requests.post(
            f"{hub.url}/api/v1/counters/1/{action}", json=body, headers=bearer(admin_api), timeout=20
        )
        assert answer.status_code == 200, answer.text
    plan = requests.get(f"{hub.url}/api/v1/counters/1/next", headers=bearer(admin_api), timeout=20).json()
    wait_due = when(next(p["wait_due_at"] for p in plan["next"] if p["ticket_id"] == waiting["id"]))
    service_due = when(plan["current"]["service_due_at"])
    # Waiting since its issue: due a minute after it; served: a minute after its start.
    assert wait_due == when(waiting["issued_at"]) + timedelta(minutes=1)

    clerk = page_with_errors(browser, errors, "console")
    log_in(clerk, f"{hub.url}/counter/?counter=1", "", hall.creds.clerks[1], CLERK_PASSWORD, 1)
    row = f"#waiting-list tr[data-ticket-id='{waiting['id']}']"
    # Read through locators: the console may draw its lists again meanwhile (the break reasons and
    # the categories arrive after the login), and a handle to the row drawn before would be stale.
    near = clerk.locator(f"{row} .due-mark[data-target='near']")
    current = clerk.locator("#current-target .due-mark[data-target='near']")
    near.wait_for(timeout=TIMEOUT)
    current.wait_for(timeout=TIMEOUT)
    seen_near_at = datetime.now(UTC)
    assert seen_near_at < wait_due and seen_near_at < service_due, "the test came too late to see 'near'"
    assert near.inner_text().split() == ["快超时", "Nearly", "due"]
    assert current.inner_text().split() == ["快超时", "Nearly", "due"]
    assert clerk.get_attribute(row, "data-target") == "near"
    assert contrast(near) >= 7, "the nearly-due mark must read at a glance"
    assert "等候时限" in (near.get_attribute("title") or "") and "Wait target" in near.get_attribute("title")
    assert "办理时限" in (current.get_attribute("title") or "")

    # No event happens from here on: the page's own timer turns the marks at the due time.
    overdue = clerk.locator(f"{row} .due-mark[data-target='overdue']")
    overdue.wait_for(timeout=BREACH_TIMEOUT)
    assert datetime.now(UTC) >= wait_due, "marked overdue before the target was breached"
    assert overdue.inner_text().split() == ["已超时", "Overdue"]
    assert contrast(overdue) >= 7
    clerk.wait_for_selector("#current-target .due-mark[data-target='overdue']", timeout=BREACH_TIMEOUT)
    assert datetime.now(UTC) >= service_due
    assert clerk.get_attribute(row, "data-target") == "overdue"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    clerk.screenshot(path=str(ARTIFACTS / "console-targets.png"))

    # The admin page: the same marks on the next-up lists, and the share within target today.
    admin = page_with_errors(browser, errors, "admin")
    log_in(admin, f"{hub.url}/counter/admin.html", "admin-", "admin", ADMIN_PASSWORD, None)
    listed = f"#nextup-list [data-counter='1'] li[data-ticket-id='{waiting['id']}']"
    admin.wait_for_selector(f"{listed} .due-mark[data-target='overdue']", timeout=TIMEOUT)
    admin.wait_for_selector(
        "#nextup-list [data-counter='1'] .nextup-current .due-mark[data-target='overdue']", timeout=TIMEOUT
    )
    # The served ticket was called within its minute: PAY's wait 1 of 1 within target; no service ended yet.
    pay = admin.wait_for_selector("#targets-services-list tr[data-service='PAY']", timeout=TIMEOUT)
    cells = [cell.inner_text() for cell in pay.query_selector_all("td")]
    assert cells[1:] == ["1 分钟", "100%（1/1）", "1 分钟", "—"], cells
    admin.click("#lang-switch")
    admin.wait_for_function(
        "() => document.querySelector(\"#targets-services-list tr[data-service='PAY'] td:nth-child(3)\")"
        ".textContent === '100% (1/1)'",
        timeout=TIMEOUT,
    )
    admin.screenshot(path=str(ARTIFACTS / "admin-targets.png"), full_page=True)
    assert errors == []
