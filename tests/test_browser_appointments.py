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
    # The burst as the page gets it from a scanner: every key at once (Playwright's typing from this
    # process, starved of CPU on a loaded machine, once left gaps past the kiosk's 60 ms).
    kiosk.evaluate(
        """(text) => { for (const ch of text) document.dispatchEvent(new KeyboardEvent("keydown",
             { key: ch === "\\n" ? "Enter" : ch, bubbles: true, cancelable: true })); }""",
        f"https://hall.example.cn/a/{second['code']}\n",
    )
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


def test_admin_page_books_lists_masked_imports_with_line_errors_and_cancels(
    browser, booked_hub, tmp_path: Path
) -> None:
    from datetime import date, timedelta

    from tests.support import ADMIN_PASSWORD, CLERK_PASSWORD

    hub, site = booked_hub
    today, _ = slot_now()
    tomorrow = (date.fromisoformat(today) + timedelta(days=1)).isoformat()
    errors: list[str] = []
    admin = browser.new_page(viewport={"width": 1600, "height": 1100})
    admin.on("pageerror", lambda exc: errors.append(str(exc)))
    admin.goto(f"{hub.url}/counter/admin.html")
    admin.fill("#admin-login-username", "admin")
    admin.fill("#admin-login-password", ADMIN_PASSWORD)
    admin.click("#admin-login-submit")
    admin.wait_for_selector("#appt-layout:not([hidden])", timeout=15_000)
    # The day shown first is the hub's business day; nothing is booked yet.
    assert admin.input_value("#appt-date") == today
    admin.wait_for_selector("#appt-empty:not([hidden])")

    # 1. A booking the hall refuses (a day in the past): the hub's refusal in both languages.
    admin.select_option("#appt-service", "PAY")
    admin.fill("#appt-new-date", "2020-01-06")
    admin.fill("#appt-start", "10:30")
    admin.fill("#appt-phone", "138 1234 5678")
    admin.click("#appt-create")
    refusal = admin.wait_for_selector("#appt-form-message.error:not([hidden])").inner_text()
    assert "已经过去" in refusal and "in the past" in refusal

    # 2. Booked for tomorrow: the list moves to that day; phone and name masked, nowhere in the clear.
    admin.fill("#appt-new-date", tomorrow)
    admin.fill("#appt-name", "张小明")
    admin.click("#appt-create")
    made = admin.wait_for_selector("#appt-form-message.ok[data-code]:not([hidden])")
    code = made.get_attribute("data-code")
    assert code and code in made.inner_text()
    row = f"#appt-list tr[data-code='{code}']"
    admin.wait_for_selector(row)
    assert admin.input_value("#appt-date") == tomorrow
    text = admin.inner_text(row)
    assert "138****5678" in text and "张*明" in text and "10:30" in text
    assert admin.get_attribute(row, "data-status") == "booked"
    page_text = admin.content()
    assert "13812345678" not in page_text and "张小明" not in page_text
    assert admin.input_value("#appt-phone") == "" and admin.input_value("#appt-name") == ""

    # 3. A CSV with one bad line: refused whole, the line named, both languages; nothing imported.
    csv_file = tmp_path / "bookings.csv"
    csv_file.write_text(
        "code,service,date,start,phone,name\n"
        f"K7M2QX,PAY,{tomorrow},14:00,13900001111,李四\n"
        f",PAY,{tomorrow},2pm,,\n",
        encoding="utf-8",
    )
    admin.set_input_files("#appt-file", str(csv_file))
    admin.click("#appt-import")
    admin.wait_for_selector("#appt-import-lines li")
    message = admin.inner_text("#appt-import-message")
    assert "导入失败" in message and "import refused" in message
    assert admin.inner_text("#appt-import-lines").strip().startswith("line 3:")
    assert "2pm" in message
    staff = login(hub.url, site.creds.clerks[1], 1)
    listed = requests.get(
        f"{hub.url}/api/v1/appointments?date={tomorrow}", headers=bearer(staff), timeout=10
    ).json()
    assert [a["code"] for a in listed["appointments"]] == [code]

    # 4. Cancel: the first tap asks, the second cancels; the row says so, and so does the hub.
    cancel = f"{row} button[data-cancel]"
    admin.click(cancel)
    admin.wait_for_selector(f"{cancel}.confirming")
    admin.click(cancel)
    admin.wait_for_selector(f"{row}[data-status='cancelled']")
    assert admin.query_selector(cancel) is None
    done = admin.inner_text("#appt-list-message")
    assert code in done and "已取消" in done and "cancelled" in done
    listed = requests.get(
        f"{hub.url}/api/v1/appointments?date={tomorrow}", headers=bearer(staff), timeout=10
    ).json()
    assert [a["status"] for a in listed["appointments"]] == ["cancelled"]
    admin.screenshot(path=str(ARTIFACTS / "admin-appointments.png"))

    # Least rights: a clerk sees the day's bookings but no import (the hub refuses it to staff).
    clerk = browser.new_page(viewport={"width": 1366, "height": 900})
    clerk.on("pageerror", lambda exc: errors.append(str(exc)))
    clerk.goto(f"{hub.url}/counter/admin.html")
    clerk.fill("#admin-login-username", site.creds.clerks[2])
    clerk.fill("#admin-login-password", CLERK_PASSWORD)
    clerk.fill("#admin-login-counter", "2")
    clerk.click("#admin-login-submit")
    clerk.wait_for_selector("#appt-form:not([hidden])", timeout=15_000)
    assert clerk.is_hidden("#appt-import-form")
    assert errors == []
    assert "Traceback" not in hub.log()
