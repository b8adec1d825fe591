"""Priority and appointments on the console and the public screens, in a real browser (issue 11, item 8).

A real hub process whose site has priority categories and appointments, and
calls patients by name (masked). The counter console shows the current
ticket's category and, for an appointment, its slot; its priority dialog
changes a category with a reason and says the hub's refusals in both
languages. The lobby and the counter screen show "优先" and "预约" beside
numbers, the masked name of the current call, and never a category, a booked
name or a phone. Every wait is on what a page shows or on the hub's answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    CLERK_PASSWORD,
    ELDERLY_TOML,
    Credentials,
    HubProcess,
    appointment_site,
    bearer,
    login,
    provision,
    running_hub,
    slot_now,
)

pytestmark = pytest.mark.browser
TIMEOUT = 15_000  # ms

CATEGORIES = (
    ELDERLY_TOML
    + """
[[priority]]
code = "emergency"
name_zh = "急诊"
name_en = "Emergency"
weight = 100
grant = "staff"
"""
)
BOOKED_NAME, MASKED, PHONE = "张小明", "张*明", "13812345678"


@dataclass
class Hall:
    hub: HubProcess
    creds: Credentials
    admin: str

    def api(self, method: str, path: str, token: str, body: Any = None, status: int = 200) -> Any:
        answer = requests.request(
            method, f"{self.hub.url}/api/v1{path}", headers=bearer(token), json=body, timeout=20
        )
        assert answer.status_code == status, answer.text
        return answer.json()

    def issue(self, **extra: Any) -> dict[str, Any]:
        return self.api("POST", "/tickets", self.creds.kiosk, {"service": "PAY", **extra}, 201)

    def checked_in(self) -> dict[str, Any]:
        """A booking due now with a name and a phone, checked in at the kiosk."""
        day, start = slot_now()
        body = {"service": "PAY", "date": day, "start": start, "name": BOOKED_NAME, "phone": PHONE}
        code = self.api("POST", "/appointments", self.admin, body, 201)["appointment"]["code"]
        ticket = self.api("POST", "/appointments/check-in", self.creds.kiosk, {"code": code}, 201)
        assert ticket["appointment"] is True
        return ticket


@pytest.fixture
def hall(tmp_path: Path, sqlite_url: str) -> Iterator[Hall]:
    config = appointment_site(tmp_path / "site.toml", sqlite_url, counters=2)
    config.write_text(config.read_text(encoding="utf-8") + CATEGORIES, encoding="utf-8")
    creds = provision(config, 2)
    with running_hub(config, tmp_path) as hub:
        yield Hall(hub, creds, login(hub.url, "admin", None, ADMIN_PASSWORD))


def page(browser: Any, errors: list[str], name: str, width: int = 1366, height: int = 900) -> Any:
    new = browser.new_page(viewport={"width": width, "height": height})
    new.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    return new


def console(browser: Any, errors: list[str], hall: Hall, counter: int) -> Any:
    clerk = page(browser, errors, f"console {counter}")
    clerk.context.add_init_script(
        "localStorage.setItem('qcall.counter.lang', 'zh')"
    )  # a clerk reading Chinese
    clerk.goto(f"{hall.hub.url}/counter/?counter={counter}")
    clerk.fill("#login-username", hall.creds.clerks[counter])
    clerk.fill("#login-password", CLERK_PASSWORD)
    clerk.fill("#login-counter", str(counter))
    clerk.click("#login-submit")
    clerk.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
    return clerk


def lobby_calls(lobby: Any, number: str) -> None:
    lobby.wait_for_function(
        "n => document.querySelector('#current-number').textContent === n", arg=number, timeout=TIMEOUT
    )


def current_is(clerk: Any, number: str) -> None:
    clerk.wait_for_function(
        "n => document.querySelector('#current-number').textContent.trim() === n", arg=number, timeout=TIMEOUT
    )


def test_the_console_shows_the_current_category_and_its_dialog_changes_it_with_a_reason(
    browser: Any, hall: Hall
) -> None:
    errors: list[str] = []
    elderly = hall.issue(category="elderly")
    normal = hall.issue()
    clerk = console(browser, errors, hall, 1)

    # The green-channel ticket is called first; the console names its category in both languages.
    clerk.click("#btn-call-next:enabled")
    current_is(clerk, elderly["number"])
    badge = clerk.wait_for_selector("#current-category[data-category='elderly']", timeout=TIMEOUT)
    assert "老年人" in badge.inner_text() and "Elderly" in badge.inner_text()
    assert clerk.is_hidden("#current-appointment")
    clerk.wait_for_selector("#current-journey li[data-leg='1']", timeout=TIMEOUT)  # the journey still shows

    # The dialog: the ticket's category chosen, a reason required, in both languages.
    clerk.click("#btn-current-priority:enabled")
    clerk.wait_for_selector("#priority-dialog[open]", timeout=TIMEOUT)
    assert clerk.inner_text("#priority-number") == elderly["number"]
    assert clerk.is_checked(".prio-choice[data-category='elderly'] input")
    choices = [c.get_attribute("data-category") for c in clerk.query_selector_all(".prio-choice")]
    assert choices == ["elderly", "emergency", ""]
    assert "无优先" in clerk.inner_text(".prio-choice[data-category='']")
    clerk.click(".prio-choice[data-category='emergency']")
    clerk.click("#priority-confirm")
    need = clerk.wait_for_selector("#priority-error[data-code='need_reason']:not([hidden])").inner_text()
    assert "原因" in need and "reason" in need
    clerk.fill("#priority-reason", "胸痛，分诊为急诊 / chest pain, triaged")
    clerk.click("#priority-confirm")
    clerk.wait_for_selector("#priority-dialog:not([open])", state="attached", timeout=TIMEOUT)
    badge = clerk.wait_for_selector("#current-category[data-category='emergency']", timeout=TIMEOUT)
    assert "急诊" in badge.inner_text() and "Emergency" in badge.inner_text()
    ledger = hall.api("GET", f"/tickets/{elderly['id']}/priority", hall.admin)
    last = ledger["ledger"][-1]
    assert (last["action"], last["actor"], last["from_category"], last["to_category"]) == (
        "change",
        "clerk1",
        "elderly",
        "emergency",
    )
    assert last["reason"] == "胸痛，分诊为急诊 / chest pain, triaged"

    # A refusal of the hub, from a waiting ticket's row: "none" for a normal ticket changes nothing (409).
    row = f"#waiting-list tr[data-ticket-id='{normal['id']}']"
    clerk.click(f"{row} .btn-priority:not(.btn-confirm)")
    clerk.wait_for_selector("#priority-dialog[open]", timeout=TIMEOUT)
    assert clerk.query_selector("input[name='priority-category']:checked") is None
    clerk.click(".prio-choice[data-category='']")
    clerk.fill("#priority-reason", "核对 / check")
    clerk.click("#priority-confirm")
    refused = clerk.wait_for_selector("#priority-error[data-code='invalid_transition']:not([hidden])")
    text = refused.inner_text()
    assert "无法更改" in text and "Cannot change" in text
    assert clerk.is_visible("#priority-dialog")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    clerk.screenshot(path=str(ARTIFACTS / "console-priority-dialog.png"))
    clerk.click("#priority-cancel")
    clerk.wait_for_selector("#priority-dialog:not([open])", state="attached", timeout=TIMEOUT)

    # An appointment's ticket: "预约 Appointment" and its slot time on the current ticket.
    booked = hall.checked_in()
    clerk.click(f"#waiting-list tr[data-ticket-id='{booked['id']}'] .btn-call-this:enabled")
    current_is(clerk, booked["number"])
    appointment = clerk.wait_for_selector("#current-appointment:not([hidden])", timeout=TIMEOUT).inner_text()
    assert "预约" in appointment and "Appointment" in appointment
    assert booked["slot_start"] in appointment
    clerk.wait_for_selector("#current-category[data-category='']", timeout=TIMEOUT)
    assert "无优先" in clerk.inner_text("#current-category")
    clerk.screenshot(path=str(ARTIFACTS / "console-appointment.png"))
    # The console's other actions still work: the no-show button, then the current is free.
    clerk.click("#btn-no-show:enabled")
    clerk.wait_for_selector("#current-number.none", timeout=TIMEOUT)
    assert clerk.is_hidden("#current-marks")
    assert errors == []
    assert "Traceback" not in hall.hub.log()


def test_the_console_draws_the_journey_line_after_a_reload_as_it_does_live(browser: Any, hall: Hall) -> None:
    """Reloaded with a ticket called: "第1站 电费缴纳 · 1号窗口 …", never "Leg 1: PAY … in progress"."""
    errors: list[str] = []
    ticket = hall.issue()
    clerk = console(browser, errors, hall, 1)
    clerk.click("#btn-call-next:enabled")
    current_is(clerk, ticket["number"])
    line = "#current-journey li[data-leg='1']"
    clerk.wait_for_selector(f"{line}:has-text('电费缴纳')", timeout=TIMEOUT)
    live = clerk.inner_text(line)
    for _ in range(3):  # the legs' answer and the hall's snapshot come in either order
        clerk.reload()
        clerk.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
        current_is(clerk, ticket["number"])
        clerk.wait_for_selector(f"{line}:has-text('电费缴纳')", timeout=TIMEOUT)
        assert clerk.inner_text(line) == live, (clerk.inner_text(line), live)
    assert live.startswith("第1站") and "PAY" not in live and "1号窗口" in live, live
    assert errors == []


def test_the_lobby_and_counter_screen_mark_priority_and_appointments_with_no_personal_data(
    browser: Any, hall: Hall
) -> None:
    errors: list[str] = []
    lobby = page(browser, errors, "lobby", 1920, 1080)
    lobby.goto(f"{hall.hub.url}/display/lobby?token={hall.creds.display}")
    lobby.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
    screen = page(browser, errors, "counter screen", 1280, 720)
    screen.goto(f"{hall.hub.url}/display/counter?counter=1&token={hall.creds.display}")
    screen.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)

    booked = hall.checked_in()
    elderly = hall.issue(category="elderly")
    # The next number of PAY is the green-channel one (it goes first): marked on both screens.
    pay = "#services li[data-service='PAY']"
    lobby.wait_for_selector(f"{pay} .next .mark[data-mark='priority']", timeout=TIMEOUT)
    assert elderly["number"] in lobby.inner_text(f"{pay} .next")
    screen.wait_for_selector("#next-numbers li:first-child .mark[data-mark='priority']", timeout=TIMEOUT)
    assert screen.query_selector("#next-numbers li:nth-child(2) .mark[data-mark='appointment']") is not None

    # First call: the priority ticket, with its mark and no name (a clerk is on post at counter 1;
    # the admin calls there).
    login(hall.hub.url, hall.creds.clerks[1], 1)
    hall.api("POST", "/counters/1/call-next", hall.admin)
    lobby_calls(lobby, elderly["number"])
    lobby.wait_for_selector("#current-marks:not([hidden]) .mark[data-mark='priority']", timeout=TIMEOUT)
    assert lobby.query_selector("#current-marks .mark[data-mark='appointment']") is None
    assert lobby.is_hidden("#current-name")
    screen.wait_for_selector("#counter-marks:not([hidden]) .mark[data-mark='priority']", timeout=TIMEOUT)

    # Second call: the appointment, marked "预约 Appt.", its name masked by the hub (call_by_name).
    hall.api("POST", "/counters/1/call-next", hall.admin)
    lobby_calls(lobby, booked["number"])
    marks = lobby.wait_for_selector("#current-marks .mark[data-mark='appointment']", timeout=TIMEOUT)
    assert "预约" in marks.inner_text() and "Appt." in marks.inner_text()
    assert lobby.inner_text("#current-name") == MASKED
    assert lobby.query_selector("#current-marks .mark[data-mark='priority']") is None
    lobby.wait_for_selector("#counters li[data-counter='1'] .mark[data-mark='appointment']", timeout=TIMEOUT)
    recent = lobby.wait_for_selector("#recent-calls li:first-child", timeout=TIMEOUT)
    assert elderly["number"] in recent.inner_text() and recent.query_selector(".mark[data-mark='priority']")
    screen.wait_for_selector("#counter-marks .mark[data-mark='appointment']", timeout=TIMEOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lobby.screenshot(path=str(ARTIFACTS / "lobby-marks.png"))
    screen.screenshot(path=str(ARTIFACTS / "counter-screen-marks.png"))

    # A screen that connects now gets the same from the snapshot.
    lobby.reload()
    lobby.wait_for_selector("#current-marks .mark[data-mark='appointment']", timeout=TIMEOUT)
    assert lobby.inner_text("#current-name") == MASKED

    # No category, booked name or phone anywhere on either screen.
    for shown in (lobby.content(), screen.content()):
        for secret in ("elderly", "老年人", "Elderly", BOOKED_NAME, PHONE, "5678"):
            assert secret not in shown, secret

    # Every mark readable: contrast of its text (Chinese and English) on its badge ≥ 4.5:1.
    ratios = lobby.evaluate(
        """() => {
          const lum = c => {
            const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
              v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
            });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
          };
          const ratio = (a, b) => {
            const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
            return (x + 0.05) / (y + 0.05);
          };
          return [...document.querySelectorAll('.mark, .mark .en')].map(el => {
            const badge = el.closest('.mark');
            return ratio(getComputedStyle(el).color, getComputedStyle(badge).backgroundColor);
          });
        }"""
    )
    assert len(ratios) >= 6 and min(ratios) >= 4.5, ratios
    assert errors == []
    assert "Traceback" not in hall.hub.log()
