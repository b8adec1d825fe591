"""A complaint in a real browser: recorded on the visitor's phone page, heard by the supervisor's admin page
(pushed, no reload), followed through the return call to its closure.

The ticket was served and finished by weiming at counter 4 before the hub
started (through the hub's own core); the supervisor logs in first, so she is
on duty and owns the complaint the phone then records. The pages are waited on
by what they show, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from server.core.posts import PostEnd
from tests.support import ARTIFACTS, CLERK_PASSWORD, HubProcess, running_hub
from tests.test_cases_api import case_site

pytestmark = pytest.mark.browser


@dataclass
class Served:
    hub: HubProcess
    ticket_id: str
    kiosk: str


def record(page, category: str, text: str, root: str = "#complaint") -> None:  # type: ignore[no-untyped-def]
    """Open the shared form in ``root``, pick ``category``, type ``text``, send, and see the receipt."""
    page.click(f"{root} .qc-open")
    page.click(f"{root} .qc-cat[data-code='{category}']")
    page.fill(f"{root} .qc-text", text)
    page.click(f"{root} .qc-send")
    done = page.wait_for_selector(f"{root} .qc-done:not([hidden])", timeout=10_000).inner_text()
    assert "已收到" in done and "Received" in done


@pytest.fixture
def served(tmp_path: Path, sqlite_url: str) -> Iterator[Served]:
    config = case_site(tmp_path / "site.toml", sqlite_url)
    now = utc_now()
    made = bootstrap(load_config(config))
    made.accounts.add_user("weiming", "staff", CLERK_PASSWORD, now)
    made.accounts.add_user("sun", "supervisor", CLERK_PASSWORD, now)
    kiosk = made.accounts.create_device_token("kiosk", "kiosk-1", now)
    ticket = made.core.issue("NEW").ticket
    made.core.take_post(4, "weiming", "setup")
    made.core.call_ticket(4, ticket.id, "weiming")
    made.core.start(4, "weiming")
    made.core.finish(4, "weiming")
    made.core.end_post(4, "setup", PostEnd.LOGOUT)
    made.close()
    with running_hub(config, tmp_path) as hub:
        yield Served(hub, ticket.id, kiosk)


def test_a_complaint_from_the_phone_to_its_closure(browser, served: Served) -> None:
    hub = served.hub
    errors: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # -- the supervisor on duty opens the admin page first --------------------------------------
    admin = browser.new_page(viewport={"width": 1600, "height": 1100})
    admin.on("pageerror", lambda exc: errors.append(str(exc)))
    admin.goto(f"{hub.url}/counter/admin.html")
    admin.fill("#admin-login-username", "sun")
    admin.fill("#admin-login-password", CLERK_PASSWORD)
    admin.click("#admin-login-submit")
    admin.wait_for_selector("#complaints-layout:not([hidden])", timeout=15_000)
    admin.wait_for_selector("#complaints-empty:not([hidden])", timeout=15_000)

    # -- the visitor's phone: 投诉/意见 under the ticket, both languages, big buttons --------------
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    phone.goto(f"{hub.url}/t/{served.ticket_id}")
    phone.wait_for_selector("#ticket:not([hidden])", timeout=15_000)
    opener = phone.wait_for_selector("#complaint .qc-open")
    assert "投诉" in opener.inner_text() and "Complaint" in opener.inner_text()
    assert opener.bounding_box()["height"] >= 56
    phone.click("#complaint .qc-open")
    phone.click("#complaint .qc-send")  # nothing chosen: told so, in both languages, nothing sent
    said = phone.wait_for_selector("#complaint .qc-error:not([hidden])").inner_text()
    assert "请先选择类别" in said and "Please choose a category" in said
    phone.click("#complaint .qc-cat[data-code='attitude']")
    assert phone.get_attribute("#complaint .qc-cat[data-code='attitude']", "aria-pressed") == "true"
    phone.fill("#complaint .qc-text", "窗口人员态度冷淡")
    # A phone with letters: what a phone number is, in words, never the hub's pattern nor the number.
    phone.fill("#complaint .qc-phone", "138-abc")
    phone.click("#complaint .qc-send")
    phone.wait_for_function(
        "said => (document.querySelector('#complaint .qc-error:not([hidden])') || {}).textContent === said",
        arg="电话号码只能有数字、空格、+、-、括号，5–24 位 / "
        "A phone number has 5–24 digits, spaces, +, - or brackets",
        timeout=10_000,
    )
    phone.screenshot(path=str(ARTIFACTS / "phone-complaint-bad-phone.png"))
    phone.fill("#complaint .qc-phone", "138 0013 8000")
    phone.screenshot(path=str(ARTIFACTS / "phone-complaint-form.png"))
    phone.click("#complaint .qc-send")
    done = phone.wait_for_selector("#complaint .qc-done:not([hidden])", timeout=10_000).inner_text()
    assert "已收到" in done and "Received" in done

    # -- the admin page hears it (pushed) and shows it, the phone masked in the list ------------
    # By selector, not by element: the list is drawn again whenever it is read or the language turns.
    admin.wait_for_selector("#complaints-list tr", timeout=15_000)
    listed = admin.inner_text("#complaints-list tr")
    assert "weiming" in listed and "sun" in listed and "13800138000" not in admin.inner_text("body")
    admin.click("#complaints-list tr")
    admin.wait_for_selector("#complaint-detail:not([hidden])")
    facts = admin.inner_text("#complaint-facts")
    assert "窗口人员态度冷淡" in facts and "13800138000" in facts  # the supervisor reads it whole
    admin.click("#complaint-close-form button")  # closing first: a result is required
    assert "请填写内容" in admin.wait_for_selector("#complaint-message.error:not([hidden])").inner_text()
    admin.fill("#complaint-result", "已批评教育")
    admin.click("#complaint-close-form button")
    admin.wait_for_function(  # the empty result's own words first, then the hub's refusal
        "() => document.querySelector('#complaint-message.error').innerText.includes('回访')", timeout=10_000
    )
    refusal = admin.inner_text("#complaint-message")
    assert "回访" in refusal and "call the visitor back" in refusal
    admin.fill("#complaint-note", "调取录像，情况属实")
    admin.click("#complaint-note-form button")
    admin.wait_for_selector("#complaint-timeline li[data-kind='note']", timeout=10_000)
    admin.check("input[name=complaint-satisfaction][value=satisfied]")
    admin.click("#complaint-call-form button")
    admin.wait_for_selector("#complaint-timeline li[data-kind='return_call']", timeout=10_000)
    admin.fill("#complaint-result", "已批评教育，当事人已道歉")
    admin.click("#complaint-close-form button")
    admin.wait_for_selector("#complaint-timeline li[data-kind='closed']", timeout=10_000)
    assert admin.is_hidden("#complaint-actions")
    admin.wait_for_selector("#complaints-empty:not([hidden])", timeout=10_000)  # no longer open
    admin.wait_for_function(
        "() => document.querySelector('#complaints-figures').innerText.includes('100')", timeout=10_000
    )
    admin.screenshot(path=str(ARTIFACTS / "admin-complaint-closed.png"))

    # -- the kiosk (its token, no ticket) and the console (the clerk's session) record too -------
    kiosk = browser.new_page(viewport={"width": 1080, "height": 1920})
    kiosk.on("pageerror", lambda exc: errors.append(str(exc)))
    kiosk.goto(f"{hub.url}/kiosk/?token={served.kiosk}")
    kiosk.wait_for_selector("body[data-live='connected']", timeout=15_000)
    kiosk.click("#complaint .qc-open")
    assert kiosk.wait_for_selector("#complaint .qc-cat").bounding_box()["height"] >= 72  # bigger keys here
    kiosk.click("#complaint .qc-close")
    record(kiosk, "facilities", "座椅太少")
    kiosk.screenshot(path=str(ARTIFACTS / "kiosk-complaint-done.png"))
    console = browser.new_page(viewport={"width": 1600, "height": 1100})
    console.on("pageerror", lambda exc: errors.append(str(exc)))
    console.goto(f"{hub.url}/counter/")
    console.fill("#login-username", "weiming")
    console.fill("#login-password", CLERK_PASSWORD)
    console.fill("#login-counter", "4")
    console.click("#login-submit")
    console.wait_for_selector("#complaint-console:not([hidden])", timeout=15_000)
    record(console, "suggestion", "建议增加叫号提示", "#complaint-console")
    admin.wait_for_function(
        "() => document.querySelectorAll('#complaints-list tr').length === 2", timeout=15_000
    )
    assert admin.is_hidden("#complaints-empty")

    assert errors == []
    log = hub.log()
    assert "Traceback" not in log and "13800138000" not in log and "态度冷淡" not in log
