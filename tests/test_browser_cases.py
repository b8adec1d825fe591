"""Cases in a real browser: the kiosk looks a case up and takes a number for its next step; a console
shows the overdue step, the case on the called ticket, and the list emptied when the step is done.

The case (the test site's 业扩报装: application, then a 3-day site survey) is
opened the week before through the hub's own core with a clock set back
(Friday 20 November 2026), so by the hub's real clock its survey (23, 24 and
25 November) is overdue. The pages are waited on
by what they show, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.appointments import Actor
from server.core.posts import PostEnd
from tests.support import ARTIFACTS, CLERK_PASSWORD, HubProcess, running_hub
from tests.test_cases_api import case_site

pytestmark = pytest.mark.browser

#: Friday 20 November 2026, 10:00 and 15:00 in Shanghai.
OPENED = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
ACCEPTED = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


@dataclass
class Prepared:
    hub: HubProcess
    code: str
    code_shown: str
    kiosk: str


#: Four more steps for the layout test: six in all, as the walk-through's case had.
MORE_STEPS = "".join(
    f'\n[[case_kinds.steps]]\ncode = "STEP{n}"\nname_zh = "第{n}步"\nname_en = "Step {n}"\nworking_days = 2\n'
    for n in range(3, 7)
)


@pytest.fixture
def prepared(tmp_path: Path, sqlite_url: str) -> Iterator[Prepared]:
    yield from prepare(tmp_path, sqlite_url, "")


@pytest.fixture
def prepared_long(tmp_path: Path, sqlite_url: str) -> Iterator[Prepared]:
    yield from prepare(tmp_path, sqlite_url, MORE_STEPS)


def prepare(tmp_path: Path, sqlite_url: str, more: str) -> Iterator[Prepared]:
    config = case_site(tmp_path / "site.toml", sqlite_url)
    config.write_text(config.read_text(encoding="utf-8") + more, encoding="utf-8")
    now = [OPENED]
    made = bootstrap(load_config(config), clock=lambda: now[0])
    made.accounts.add_user("weiming", "staff", CLERK_PASSWORD, OPENED)
    made.accounts.add_user("duty", "supervisor", CLERK_PASSWORD, OPENED)
    kiosk = made.accounts.create_device_token("kiosk", "kiosk-1", OPENED)
    ticket = made.core.issue("NEW").ticket
    made.core.take_post(4, "weiming", "setup")  # a counter calls only with a clerk on post
    made.core.call_ticket(4, ticket.id, "weiming")
    made.core.start(4, "weiming")
    case = made.cases.open("NEW_CONNECTION", ticket.id, 4, Actor("weiming"), "张三明", "13800138000")
    made.core.finish(4, "weiming")
    made.core.end_post(4, "setup", PostEnd.LOGOUT)
    now[0] = ACCEPTED
    made.cases.complete_step(case.code, 1, Actor("weiming"), 4)
    made.close()
    with running_hub(config, tmp_path) as hub:
        yield Prepared(hub, case.code, f"{case.code[:5]}-{case.code[5:]}", kiosk)


def test_the_kiosk_shows_progress_and_a_console_the_overdue_step(browser, prepared: Prepared) -> None:
    hub, code = prepared.hub, prepared.code
    errors: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    # -- the kiosk: 查询办理进度 on the check-in keypad -------------------------------------
    kiosk = browser.new_page(viewport={"width": 1080, "height": 1920})
    kiosk.on("pageerror", lambda exc: errors.append(str(exc)))
    kiosk.goto(f"{hub.url}/kiosk/?token={prepared.kiosk}")
    kiosk.wait_for_selector("body[data-live='connected']", timeout=15_000)
    kiosk.click("#case-open")
    assert kiosk.is_hidden(".checkin-modes")  # no appointment code/phone choice here

    # A code nobody has (one character off: the check character catches it): both languages, on the keypad.
    typo = code[:9] + ("2" if code[9] != "2" else "3")
    for key in typo:
        kiosk.click(f"#checkin-keypad .key[data-key='{key}']")
    kiosk.click("#checkin-submit")
    message = kiosk.wait_for_selector("#checkin-message:not([hidden])", timeout=10_000).inner_text()
    assert "请核对" in message and "please check" in message
    kiosk.click("#checkin-keypad .key[data-key='clear']")

    for key in code:
        kiosk.click(f"#checkin-keypad .key[data-key='{key}']")
    assert kiosk.inner_text("#checkin-entry").strip() == prepared.code_shown
    kiosk.click("#checkin-submit")
    kiosk.wait_for_selector("#case-view:not([hidden])", timeout=10_000)
    steps = kiosk.eval_on_selector_all(
        "#case-steps .case-step", "els => els.map(e => e.getAttribute('data-status'))"
    )
    assert steps == ["done", "active"]
    shown = kiosk.inner_text("#case-view")
    assert "业扩报装" in shown and "New connection" in shown and prepared.code_shown in shown
    assert "现场勘查" in shown and "2026-11-25" in shown and "2026-11-20" in shown
    for private in ("张三明", "13800138000", "weiming"):
        assert private not in kiosk.inner_text("body"), private
    kiosk.screenshot(path=str(ARTIFACTS / "kiosk-case-progress.png"))

    # A number for the next step: a NEW ticket, linked to the case.
    kiosk.click("#case-ticket")
    kiosk.wait_for_selector("#ticket-view:not([hidden])", timeout=10_000)
    assert kiosk.inner_text("#ticket-number").strip() == "C001"
    assert kiosk.is_hidden("#case-view")

    # -- the phone page: the same progress by its link -------------------------------------
    # A phone set to another zone (a visitor back from abroad): "updated" is the hall's time.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, timezone_id="America/New_York")
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    looked = datetime.now(UTC)
    phone.goto(f"{hub.url}/case/?code={prepared.code_shown.lower()}")
    phone.wait_for_selector("#case:not([hidden])", timeout=10_000)
    assert phone.get_attribute("#case", "data-status") == "open"
    assert "现场勘查" in phone.inner_text("#case-steps") and "张三明" not in phone.inner_text("body")
    updated = phone.inner_text("#case-updated").strip()
    hall_zone = ZoneInfo("Asia/Shanghai")
    assert any(
        updated.startswith((looked + timedelta(minutes=m)).astimezone(hall_zone).strftime("%H:%M"))
        for m in (0, 1)
    ), (updated, looked)

    # -- the console: the overdue step, then the case on the called ticket -------------------
    console = browser.new_page(viewport={"width": 1600, "height": 1100}, locale="zh-CN")
    console.on("pageerror", lambda exc: errors.append(str(exc)))
    console.goto(f"{hub.url}/counter/")
    console.fill("#login-username", "weiming")
    console.fill("#login-password", CLERK_PASSWORD)
    console.fill("#login-counter", "4")
    console.click("#login-submit")
    # The console keeps the language its login page showed (the browser's: Chinese here).
    console.wait_for_selector("html[lang='zh-CN']", timeout=15_000)
    console.wait_for_function(
        "code => { const r = document.querySelector(`#case-overdue-list tr[data-code='${code}']`);"
        " return r && r.innerText.includes('现场勘查'); }",
        arg=code,
        timeout=15_000,
    )
    row = console.wait_for_selector(f"#case-overdue-list tr[data-code='{code}']", timeout=15_000)
    assert "现场勘查" in row.inner_text() and "逾期" in row.inner_text() and "2026-11-25" in row.inner_text()
    # Marked by words as well as colour, and readable: white on the mark's dark red.
    # Read in one step of the page (the list may be drawn again between finding a mark and reading it:
    # a detached element has no computed style), until it is drawn with its colours or the wait fails.
    colours = console.wait_for_function(
        "() => { const e = document.querySelector('#case-overdue-list .mark-overdue');"
        " if (!e || !e.isConnected) return null; const s = getComputedStyle(e);"
        " return s.color ? [s.color, s.backgroundColor] : null; }",
        timeout=15_000,
    ).json_value()
    assert colours == ["rgb(255, 255, 255)", "rgb(166, 27, 27)"]
    console.screenshot(path=str(ARTIFACTS / "console-case-overdue.png"))

    console.click("#btn-call-next")
    box = console.wait_for_selector(f"#case-box[data-code='{code}']:not([hidden])", timeout=10_000)
    assert "首问负责" in box.inner_text() or "Owner" in box.inner_text()
    assert console.get_attribute("#case-steps li[data-step='2']", "class") == "overdue"
    console.screenshot(path=str(ARTIFACTS / "console-case-panel.png"))
    # Complete the survey, the last step: the first tap arms the button, the second does it.
    console.click("#btn-case-complete")
    console.wait_for_selector("#btn-case-complete.confirming")
    console.click("#btn-case-complete")
    console.wait_for_selector(
        "#case-box[data-status='done'] #case-steps li[data-step='2'][data-status='done']"
    )
    console.wait_for_selector("#case-overdue-empty:not([hidden])", timeout=10_000)
    assert console.query_selector(f"#case-overdue-list tr[data-code='{code}']") is None

    # -- opening a case with a bad phone: the dialog says the hub's words, not "请求有误" -----------
    walk_in = requests.post(
        f"{hub.url}/api/v1/tickets",
        json={"service": "NEW"},
        headers={"Authorization": f"Bearer {prepared.kiosk}"},
        timeout=10,
    )
    assert walk_in.status_code == 201, walk_in.text
    console.click("#btn-call-next")  # finishes C001, calls the walk-in (no case yet)
    console.wait_for_selector("#btn-case-open:not([hidden])", timeout=10_000).click()
    console.click("#case-open-form .case-kind-choice input[name='case-kind']")
    console.fill("#case-contact-phone", "138-abc")
    console.click("#case-open-confirm")
    said = console.wait_for_selector("#case-open-error:not([hidden])", timeout=10_000).inner_text()
    assert "电话号码只能有数字、空格、+、-、括号，5–24 位" in said, said
    assert "请求有误" not in said and "138-abc" not in said and "^" not in said
    console.screenshot(path=str(ARTIFACTS / "console-case-open-bad-phone.png"))

    assert errors == []
    assert "Traceback" not in hub.log()


def test_the_admin_page_lists_cases_for_a_supervisor_and_marks_the_overdue(
    browser, prepared: Prepared
) -> None:
    """The hall manager (值班长) on the admin page: every open case with its active step, owner and last
    day; the overdue one marked in words and colour; "只看逾期" leaves the one still in time out."""
    hub = prepared.hub
    api = f"{hub.url}/api/v1"
    # A second case opened now, by the hub's real clock: its first step is not overdue.
    clerk = requests.post(
        f"{api}/auth/login",
        json={"username": "weiming", "password": CLERK_PASSWORD, "counter": 4},
        timeout=10,
    )
    assert clerk.status_code == 200, clerk.text
    staff = {"Authorization": f"Bearer {clerk.json()['token']}"}
    kiosk = {"Authorization": f"Bearer {prepared.kiosk}"}
    ticket = requests.post(f"{api}/tickets", json={"service": "NEW"}, headers=kiosk, timeout=10).json()
    for path, body in (("call", {"ticket_id": ticket["id"]}), ("start", {})):
        answer = requests.post(f"{api}/counters/4/{path}", json=body, headers=staff, timeout=10)
        assert answer.status_code == 200, answer.text
    opened = requests.post(
        f"{api}/cases", json={"counter": 4, "kind": "NEW_CONNECTION"}, headers=staff, timeout=10
    )
    assert opened.status_code == 201, opened.text
    fresh = opened.json()["case"]["code"]

    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    refused: list[str] = []  # no section of the page asks for what a supervisor may not read
    page.on("response", lambda r: refused.append(r.url) if r.status == 403 else None)
    page.goto(f"{hub.url}/counter/admin.html")
    page.fill("#admin-login-username", "duty")
    page.fill("#admin-login-password", CLERK_PASSWORD)
    page.click("#admin-login-submit")
    page.wait_for_selector("#admin-view:not([hidden])", timeout=15_000)
    # The hall's snapshot sets the site's first language unless one was chosen on this browser before:
    # once it came (the queue drawn), Chinese is asked for if the page is not in it.
    page.wait_for_selector("#queue-services-list tr", timeout=15_000)
    page.wait_for_selector("#cases-list .case-overdue", timeout=15_000)
    if page.get_attribute("html", "lang") != "zh-CN":
        page.click("#lang-switch")
    page.wait_for_function("document.querySelector('#cases-list .case-overdue').textContent === '逾期'")
    late = page.wait_for_selector(f"#cases-list tr[data-code='{prepared.code}']", timeout=15_000)
    page.wait_for_selector(f"#cases-list tr[data-code='{fresh}']", timeout=15_000)
    assert late.get_attribute("data-overdue") == "true"
    cells = [c.inner_text() for c in late.query_selector_all("td")]
    assert cells[0] == prepared.code_shown and cells[3] == "weiming" and cells[5] == "逾期", cells
    assert cells[4] == "2026-11-25", cells  # the survey's last working day
    badge = late.query_selector(".case-overdue")
    assert badge is not None
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    row = page.query_selector(f"#cases-list tr[data-code='{fresh}']")
    assert row is not None and row.get_attribute("data-overdue") == "false"
    assert row.query_selector_all("td")[5].inner_text() == "办理中"
    assert "2 件，逾期 1 件" in page.inner_text("#cases-count")

    assert "显示前" not in page.inner_text("#cases-count")  # two cases: the list is whole, not cut

    with page.expect_response(lambda r: "/api/v1/cases?overdue=1" in r.url) as asked:
        page.check("#cases-overdue-only")  # the hub is asked for the overdue ones, not the 500 filtered
    assert asked.value.status == 200
    page.wait_for_selector(f"#cases-list tr[data-code='{fresh}']", state="detached", timeout=15_000)
    assert [r.get_attribute("data-code") for r in page.query_selector_all("#cases-list tr")] == [
        prepared.code
    ]

    page.click("#lang-switch")
    page.wait_for_selector("html[lang='en']", state="attached", timeout=15_000)
    assert page.inner_text(f"#cases-list tr[data-code='{prepared.code}'] .case-overdue") == "Overdue"
    assert "Cases" in page.inner_text("#cases-title")
    page.screenshot(path=str(ARTIFACTS / "admin_cases_supervisor.png"), full_page=False)
    # The targets read as a supervisor: no refusal where the share within target stands.
    page.wait_for_selector("#targets-services-list tr", timeout=15_000)
    assert page.is_hidden("#targets-error")
    assert errors == [] and refused == [], refused

    # The supervisor's screen: the overdue case is an alert, in both languages at once.
    screen = browser.new_page(viewport={"width": 1600, "height": 1000})
    screen.on("pageerror", lambda exc: errors.append(str(exc)))
    screen.goto(f"{hub.url}/counter/supervisor.html")
    screen.fill("#sup-login-username", "duty")
    screen.fill("#sup-login-password", CLERK_PASSWORD)
    screen.click("#sup-login-submit")
    alert = screen.wait_for_selector("#alerts-list li[data-kind='case_overdue']", timeout=15_000)
    words = alert.inner_text()
    assert prepared.code_shown in words and "1 件事项逾期" in words and "1 case(s) overdue" in words, words
    assert alert.get_attribute("data-level") == "alarm"
    assert errors == []


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768), (1080, 1920)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_kiosks_case_result_keeps_its_buttons_on_screen(browser, prepared_long: Prepared, size) -> None:
    """The walk-through's bug: at 1920x1080 "返回 / 为下一步取号" lay below the screen in an inner
    scroller. The steps scroll on their own now; the buttons stay on screen, big enough to tap."""
    width, height = size
    kiosk = browser.new_page(viewport={"width": width, "height": height})
    kiosk.goto(f"{prepared_long.hub.url}/kiosk/?token={prepared_long.kiosk}")
    kiosk.wait_for_selector("body[data-live='connected']", timeout=15_000)
    kiosk.click("#case-open")
    for key in prepared_long.code:
        kiosk.click(f"#checkin-keypad .key[data-key='{key}']")
    kiosk.click("#checkin-submit")
    kiosk.wait_for_selector("#case-view:not([hidden])", timeout=10_000)
    assert kiosk.locator("#case-steps .case-step").count() == 6
    for selector in ("#case-back", "#case-ticket", "#case-steps .case-step >> nth=0"):
        box = kiosk.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (selector, size, box)
        assert box["y"] >= 0 and box["y"] + box["height"] <= height + 0.5, (selector, size, box)
        if selector.startswith("#case-") and "steps" not in selector:
            assert box["height"] >= 64, (selector, size, box)
    kiosk.screenshot(path=str(ARTIFACTS / f"kiosk-case-{width}x{height}.png"))
