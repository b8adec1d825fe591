"""The hall's settings edited on the admin page in a real browser, applied live, audited.

An admin adds a service and a counter serving it on the admin page; a kiosk and a
lobby page already open show them within a second, without a restart; the audit
section shows both changes as before → after. Bad input is marked on the form in
both languages and nothing is saved. A staff login sees none of the admin console's
sections, and every admin route answers its token 403.

Playwright drives the system's headless Chromium against a real hub process; every
wait is on what a page shows, with a deadline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import Site, launch_chromium
from tests.support import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    CLERK_PASSWORD,
    ROOT,
    HubProcess,
    add_user,
    bearer,
    login,
    provision,
    running_hub,
    write_site,
)

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
#: "Within a second": what a screen already open may take to show a saved change.
LIVE_MS = 1_000


#: A second admin, for the REST side of the tests: a login ends the same user's earlier sessions
#: (``[hub] single_session``), so the browser's admin and the checks must be two users.
OTHER_ADMIN = "manager2"


@dataclass
class Hall:
    hub: HubProcess
    site: Site
    #: OTHER_ADMIN's token.
    admin: str


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    """One hub for the module: the test site (PAY, ASK; counters 1–3) on SQLite, and a second admin."""
    folder = tmp_path_factory.mktemp("settings")
    config = write_site(folder / "site.toml", f"sqlite:///{folder / 'qcall.db'}", 3)
    site = Site(config, provision(config, 3), 3)
    with running_hub(config, folder) as hub:
        add_user(hub.url, login(hub.url, "admin", None, ADMIN_PASSWORD), OTHER_ADMIN, "admin", ADMIN_PASSWORD)
        yield Hall(hub, site, login(hub.url, OTHER_ADMIN, None, ADMIN_PASSWORD))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as launched:
        yield launched


def live(page: Any) -> None:
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)


def admin_page(browser: Any, hub: HubProcess, user: str, password: str, counter: int | None = None) -> Any:
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(f"{hub.url}/counter/admin.html")
    page.fill("#admin-login-username", user)
    page.fill("#admin-login-password", password)
    if counter is not None:
        page.fill("#admin-login-counter", str(counter))
    page.click("#admin-login-submit")
    page.wait_for_selector("#admin-view:not([hidden])", timeout=TIMEOUT)
    # The page follows the browser's language until the snapshot names the site's (zh first).
    page.wait_for_selector("html[lang='zh-CN']", state="attached", timeout=TIMEOUT)
    return page


def section(hub: HubProcess, token: str, name: str) -> dict[str, Any]:
    answer = requests.get(f"{hub.url}/api/v1/admin/settings/{name}", headers=bearer(token), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def field_error(page: Any, form: str, key: str) -> str:
    """The message under the form's input `key` (both languages), waited for."""
    return page.wait_for_selector(
        f"{form} .field-error[data-error-for='{key}']", timeout=TIMEOUT
    ).inner_text()


def test_an_admin_adds_a_service_and_a_counter_and_every_screen_follows(chromium, hall) -> None:
    hub, site, admin_token = hall.hub, hall.site, hall.admin
    errors: list[str] = []

    kiosk = chromium.new_page(viewport={"width": 1080, "height": 1920})
    kiosk.on("pageerror", lambda exc: errors.append(f"kiosk: {exc}"))
    kiosk.goto(f"{hub.url}/kiosk/?token={site.creds.kiosk}")
    live(kiosk)
    kiosk.wait_for_selector(".service-btn[data-service='PAY']", timeout=TIMEOUT)
    lobby = chromium.new_page(viewport={"width": 1920, "height": 1080})
    lobby.on("pageerror", lambda exc: errors.append(f"lobby: {exc}"))
    lobby.goto(f"{hub.url}/display/lobby?token={site.creds.display}")
    live(lobby)
    lobby.wait_for_selector("#counters li[data-counter='3']", state="attached", timeout=TIMEOUT)

    page = admin_page(chromium, hub, "admin", ADMIN_PASSWORD)
    page.on("pageerror", lambda exc: errors.append(f"admin: {exc}"))
    page.wait_for_selector("#settings-layout:not([hidden])", timeout=TIMEOUT)
    page.wait_for_selector("#svc-list tr[data-key='ASK']", timeout=TIMEOUT)
    assert "配置文件" in page.inner_text("#svc-provenance")

    # Empty names and a code already taken: marked on the form in both languages, nothing sent.
    page.click("#svc-new")
    page.fill("#svc-code", "PAY")
    page.fill("#svc-prefix", "C")
    page.click("#svc-save")
    names = field_error(page, "#svc-form", "name_zh")
    assert "必须填写" in names and "required" in names
    code = field_error(page, "#svc-form", "code")
    assert "重复" in code and "the same as another" in code
    assert section(hub, admin_token, "services")["version"] == 0
    # A ticket prefix another service has (PAY's A): marked, nothing sent.
    page.fill("#svc-code", "TAX")
    page.fill("#svc-prefix", "A")
    page.click("#svc-save")
    prefix = field_error(page, "#svc-form", "prefix")
    assert "重复" in prefix and "the same as another" in prefix
    page.fill("#svc-prefix", "C")
    assert section(hub, admin_token, "services")["version"] == 0

    # A name the hub refuses (over its 40 characters; the input's own limit lifted): the hub's field
    # problem `services[2].name_zh` is shown under that input, both languages; nothing saved.
    page.fill("#svc-code", "TAX")
    page.evaluate("document.querySelector('#svc-name-zh').removeAttribute('maxlength')")
    page.fill("#svc-name-zh", "税" * 41)
    page.fill("#svc-name-en", "Tax")
    page.click("#svc-save")
    refused = page.wait_for_selector(
        "#svc-form .field-error[data-error-for='name_zh']:has-text('at most 40')", timeout=TIMEOUT
    ).inner_text()
    assert "中文名称" in refused and "Name (Chinese)" in refused
    assert "「中文名称」有误：最多 40 个字符" in refused, refused  # the hub's own Chinese, not its English
    assert "没有保存" in page.inner_text("#svc-message") and "Not saved" in page.inner_text("#svc-message")
    assert section(hub, admin_token, "services")["version"] == 0

    # The good service: saved, and the kiosk already open offers it within a second.
    page.fill("#svc-name-zh", "税务办理")
    page.fill("#svc-daily-limit", "200")
    page.fill("#svc-wait-target", "15")
    page.click("#svc-save")
    page.wait_for_selector("#svc-message.ok", timeout=TIMEOUT)
    kiosk.wait_for_selector(".service-btn[data-service='TAX']", timeout=LIVE_MS)
    assert "税务办理" in kiosk.inner_text(".service-btn[data-service='TAX']")
    stored = section(hub, admin_token, "services")
    assert stored["version"] == 1 and stored["stored"] and stored["changed_by"] == "admin"
    assert [s["code"] for s in stored["value"]] == ["PAY", "ASK", "TAX"]
    assert stored["value"][2]["daily_limit"] == 200 and stored["value"][2]["wait_target_minutes"] == 15
    page.wait_for_selector("#svc-list tr[data-key='TAX']", timeout=TIMEOUT)

    # A counter serving no service: refused on the form before anything is sent.
    page.click("#ctr-new")
    assert page.input_value("#ctr-number") == "4"
    page.fill("#ctr-name-zh", "4号窗口")
    page.fill("#ctr-name-en", "Counter 4")
    page.click("#ctr-save")
    none = field_error(page, "#ctr-form", "services")
    assert "至少选择一项业务" in none and "at least one service" in none
    assert section(hub, admin_token, "counters")["version"] == 0
    # Another counter's number, and no names: each marked, nothing sent.
    page.fill("#ctr-number", "1")
    page.fill("#ctr-name-zh", "")
    page.fill("#ctr-name-en", "")
    page.click("#ctr-save")
    taken = field_error(page, "#ctr-form", "number")
    assert "重复" in taken and "the same as another" in taken
    for key in ("name_zh", "name_en"):
        unnamed = field_error(page, "#ctr-form", key)
        assert "必须填写" in unnamed and "required" in unnamed
    assert section(hub, admin_token, "counters")["version"] == 0
    page.fill("#ctr-number", "4")
    page.fill("#ctr-name-zh", "4号窗口")
    page.fill("#ctr-name-en", "Counter 4")

    # Counter 4 serving TAX, then PAY (moved below TAX): the lobby already open shows it within a second.
    page.check("#ctr-services li[data-code='TAX'] input")
    page.check("#ctr-services li[data-code='PAY'] input")
    page.click("#ctr-services li[data-code='TAX'] button[data-move='up']")
    page.click("#ctr-services li[data-code='TAX'] button[data-move='up']")
    page.click("#ctr-save")
    page.wait_for_selector("#ctr-message.ok", timeout=TIMEOUT)
    lobby.wait_for_selector("#counters li[data-counter='4']", state="attached", timeout=LIVE_MS)
    counters = section(hub, admin_token, "counters")["value"]
    assert counters[-1]["number"] == 4 and counters[-1]["services"] == ["TAX", "PAY"]

    # The new counter takes tickets of the new service: a TAX ticket at the kiosk, called at counter 4.
    kiosk.click(".service-btn[data-service='TAX']")
    number = kiosk.wait_for_selector("#ticket-number", state="visible", timeout=TIMEOUT).inner_text()
    assert number.strip().startswith("C")
    add_user(hub.url, admin_token, "clerk4", "staff")
    clerk4 = login(hub.url, "clerk4", 4)
    call_next = f"{hub.url}/api/v1/counters/4/call-next"
    called = requests.post(call_next, json={}, headers=bearer(clerk4), timeout=10)
    assert called.status_code == 200, called.text
    assert called.json()["ticket"]["number"] == number.strip()
    lobby.wait_for_selector(f"#counters li[data-counter='4']:has-text('{number.strip()}')", timeout=TIMEOUT)

    # The audit section: both changes, newest first, as before → after in words, not raw JSON.
    page.wait_for_selector("#audit-layout:not([hidden])", timeout=TIMEOUT)
    page.wait_for_selector("#audit-list tr[data-action='settings.counters']", timeout=TIMEOUT)
    rows = page.query_selector_all("#audit-list tr")
    actions = [r.get_attribute("data-action") for r in rows]
    assert actions.index("settings.counters") < actions.index("settings.services")
    services_row = page.inner_text("#audit-list tr[data-action='settings.services']")
    assert "admin" in services_row and "新增" in services_row and "TAX 税务办理" in services_row
    counters_row = page.inner_text("#audit-list tr[data-action='settings.counters']")
    assert "4 4号窗口" in counters_row and "{" not in counters_row
    page.select_option("#audit-action", "settings.services")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#audit-list tr')]"
        ".every(r => r.dataset.action === 'settings.services')",
        timeout=TIMEOUT,
    )

    # An edit reads as one field's before → after.
    page.click("#svc-list tr[data-key='TAX'] button[data-act='edit']")
    assert page.is_editable("#svc-code") is False  # a code is fixed once made
    page.fill("#svc-name-en", "Taxes")
    page.click("#svc-save")
    page.wait_for_selector("#svc-message.ok", timeout=TIMEOUT)
    kiosk.wait_for_selector(
        ".service-btn[data-service='TAX']:has-text('Taxes')", state="attached", timeout=LIVE_MS
    )
    page.wait_for_selector("#audit-list tr[data-action='settings.services'] .changed", timeout=TIMEOUT)
    change = page.inner_text("#audit-list tr[data-action='settings.services'] .changed")
    assert re.search(r"TAX · name_en: Tax\s*→\s*Taxes", change), change

    # Removing TAX while counter 4 serves it: the site's rules refuse it, the problem named on the page.
    page.click("#svc-list tr[data-key='TAX'] button[data-act='remove']")
    page.click("#svc-list tr[data-key='TAX'] button[data-act='remove'].confirming")
    refusal = page.wait_for_selector("#svc-message.error", timeout=TIMEOUT).inner_text()
    assert "没有保存" in refusal and "Not saved" in refusal and "counters[3].services" in refusal
    assert "counters[3].services：没有业务 'TAX'" in refusal and "unknown service 'TAX'" in refusal, refusal
    # Counter 4 no longer serves TAX; TAX's ticket is still at counter 4: refused (409 in_use), said.
    page.click("#ctr-list tr[data-key='4'] button[data-act='edit']")
    page.uncheck("#ctr-services li[data-code='TAX'] input")
    page.click("#ctr-save")
    page.wait_for_selector("#ctr-message.ok", timeout=TIMEOUT)
    page.click("#svc-list tr[data-key='TAX'] button[data-act='remove']")
    page.click("#svc-list tr[data-key='TAX'] button[data-act='remove'].confirming")
    refusal = page.wait_for_selector("#svc-message.error:has-text('不能删除')", timeout=TIMEOUT).inner_text()
    assert "cannot be removed" in refusal and "TAX" in refusal
    assert "没有保存：业务 TAX 不能删除：今天还有 1 个号" in refusal, refusal
    assert page.query_selector("#svc-list tr[data-key='TAX']") is not None
    assert section(hub, admin_token, "services")["version"] == 2

    # What the page offers instead, closing TAX for today, needs the hours enforced: said, nothing saved.
    page.click("#svc-list tr[data-key='TAX'] button[data-act='stop']")
    said = page.wait_for_selector("#svc-message.error:has-text('未按营业时间')", timeout=TIMEOUT).inner_text()
    assert "does not limit tickets by its opening hours" in said
    assert section(hub, admin_token, "hours")["version"] == 0

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "admin-settings.png"), full_page=True)
    # On a 1366×768 office screen every settings panel fits its width (no sideways scrolling).
    page.set_viewport_size({"width": 1366, "height": 768})
    page.screenshot(path=str(ARTIFACTS / "admin-settings-1366.png"), full_page=True)
    cut = page.evaluate(
        "[...document.querySelectorAll('.settings-panel, .audit-panel')]"
        ".filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.id)"
    )
    assert cut == []
    assert errors == []


def test_hours_and_a_special_date(chromium, hall) -> None:
    """The week's ranges (a gap is the lunch break) and a closing date, with a bad range refused first."""
    hub, admin_token = hall.hub, hall.admin
    errors: list[str] = []
    page = admin_page(chromium, hub, "admin", ADMIN_PASSWORD)
    page.on("pageerror", lambda exc: errors.append(f"admin: {exc}"))
    page.wait_for_selector("#hrs-save:not([hidden])", timeout=TIMEOUT)

    page.fill("#hrs-mon", "12:00-08:30")
    page.click("#hrs-save")
    version = section(hub, admin_token, "hours")["version"]
    bad = field_error(page, "#hrs-form", "mon")
    assert "星期一" in bad and "Monday" in bad and "08:30-12:00" in bad
    assert section(hub, admin_token, "hours")["version"] == version

    # Tickets within opening hours, every day around the clock (the other tests need an open hall).
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        page.fill(f"#hrs-{day}", "00:00-24:00")
    page.fill("#hrs-mon", "00:00-12:00, 12:00-24:00")
    page.check("#hrs-enforce")
    page.fill("#hrs-holidays", "cn")
    page.click("#hrs-save")
    page.wait_for_selector("#hrs-message.ok", timeout=TIMEOUT)
    hours = section(hub, admin_token, "hours")["value"]
    assert hours["mon"] == ["00:00-12:00", "12:00-24:00"] and hours["holidays"] == "CN" and hours["enforce"]

    # No new TAX tickets today (the one at counter 4 is still served): the kiosk shuts the button at once.
    kiosk = chromium.new_page(viewport={"width": 1080, "height": 1920})
    kiosk.on("pageerror", lambda exc: errors.append(f"kiosk: {exc}"))
    kiosk.goto(f"{hub.url}/kiosk/?token={hall.site.creds.kiosk}")
    kiosk.wait_for_selector(".service-btn[data-service='TAX'][data-shut='false']", timeout=TIMEOUT)
    page.click("#svc-list tr[data-key='TAX'] button[data-act='stop']")
    page.wait_for_selector("#svc-message.ok:has-text('不再取号')", timeout=TIMEOUT)
    kiosk.wait_for_selector(".service-btn[data-service='TAX'][data-shut='true']", timeout=LIVE_MS)
    day = page.get_attribute("#hrx-list tr[data-key$=' TAX']", "data-key").split()[0]
    stopped = [x for x in section(hub, admin_token, "hours")["value"]["exceptions"] if x["date"] == day]
    assert len(stopped) == 1 and stopped[0]["hours"] == [] and stopped[0]["services"] == ["TAX"]

    # A closing date far ahead, then a make-up working day with its own hours.
    page.click("#hrx-new")
    page.fill("#hrx-date", "2030-10-08")
    page.fill("#hrx-name-zh", "设备检修")
    page.fill("#hrx-name-en", "Maintenance")
    page.click("#hrx-save")
    page.wait_for_selector("#hrx-list tr[data-key='2030-10-08']", timeout=TIMEOUT)
    page.click("#hrx-new")
    page.fill("#hrx-date", "2030-10-12")
    page.select_option("#hrx-mode", "hours")
    page.fill("#hrx-hours", "09:00-12:00")
    page.select_option("#hrx-working-day", "yes")
    page.click("#hrx-save")
    page.wait_for_selector("#hrx-list tr[data-key='2030-10-12']", timeout=TIMEOUT)
    stored = section(hub, admin_token, "hours")
    dates = {x["date"]: x for x in stored["value"]["exceptions"]}
    assert dates["2030-10-08"]["hours"] == [] and dates["2030-10-08"]["name_en"] == "Maintenance"
    assert dates["2030-10-12"]["hours"] == ["09:00-12:00"] and dates["2030-10-12"]["working_day"] is True
    assert stored["value"]["mon"] == ["00:00-12:00", "12:00-24:00"]  # the week kept by the dates' saves

    # Newest first: the make-up day's save, the closing's, TAX stopped, then the week's ranges.
    hours_rows = "#audit-list tr[data-action='settings.hours']"
    page.wait_for_selector(f"{hours_rows}:has-text('2030-10-12')", timeout=TIMEOUT)
    rows = [r.inner_text() for r in page.query_selector_all(hours_rows)]
    assert len(rows) == 4 and "2030-10-08" in rows[1] and "TAX" in rows[2]
    assert re.search(r"mon: .* → 00:00-12:00, 12:00-24:00", rows[3]), rows[3]
    assert errors == []


def test_a_stale_form_is_refused_and_shows_what_is_there_now(chromium, hall) -> None:
    """Two managers at once: the second save, based on the old version, is refused (409) and said."""
    hub, admin_token = hall.hub, hall.admin
    errors: list[str] = []
    page = admin_page(chromium, hub, "admin", ADMIN_PASSWORD)
    page.on("pageerror", lambda exc: errors.append(f"admin: {exc}"))
    page.wait_for_selector("#cat-panel", timeout=TIMEOUT)
    page.wait_for_selector("#cat-new:not([hidden])", timeout=TIMEOUT)
    page.click("#cat-new")
    page.fill("#cat-code", "elderly")
    page.fill("#cat-weight", "10")
    page.click("#cat-save")  # no names yet: marked, nothing sent
    assert "必须填写" in field_error(page, "#cat-form", "name_en")
    page.fill("#cat-name-zh", "老年人")
    page.fill("#cat-name-en", "Elderly")
    # Meanwhile another admin saves the priority section over REST.
    before = section(hub, admin_token, "priority")
    veteran = {"code": "veteran", "name_zh": "军人", "name_en": "Veteran", "weight": 20, "grant": "staff"}
    other: list[Any] = [veteran]
    saved = requests.put(
        f"{hub.url}/api/v1/admin/settings/priority",
        json={"value": other, "version": before["version"]},
        headers=bearer(admin_token),
        timeout=10,
    )
    assert saved.status_code == 200, saved.text
    # The page hears it (settings_changed) and shows the other admin's category under the open form...
    page.wait_for_selector("#cat-list tr[data-key='veteran']", timeout=TIMEOUT)
    assert page.is_visible("#cat-form")
    # ...but the form was opened on the version before it: its save is refused, not laid over it.
    page.click("#cat-save")
    message = page.wait_for_selector("#cat-message.error", timeout=TIMEOUT).inner_text()
    assert "没有保存" in message and "while you were editing" in message
    assert page.is_hidden("#cat-form")
    assert page.query_selector("#cat-list tr[data-key='elderly']") is None
    assert [p["code"] for p in section(hub, admin_token, "priority")["value"]] == ["veteran"]
    # A code the other admin's category has: marked on the form, nothing sent.
    page.click("#cat-new")
    page.fill("#cat-code", "veteran")
    page.fill("#cat-name-zh", "退役军人")
    page.fill("#cat-name-en", "Veteran")
    page.fill("#cat-weight", "10")
    page.click("#cat-save")
    taken = field_error(page, "#cat-form", "code")
    assert "重复" in taken and "the same as another" in taken
    assert section(hub, admin_token, "priority")["version"] == before["version"] + 1
    page.click("#cat-cancel")

    # In English, every section redraws in English words (the hall's data keeps its own names).
    page.click("#lang-switch")
    page.wait_for_selector("#cat-title:has-text('Priority categories')", timeout=TIMEOUT)
    assert "staff only" in page.inner_text("#cat-list tr[data-key='veteran']")
    assert page.inner_text("#svc-new") == "Add a service"
    assert "Services changed" in page.inner_text("#audit-list")
    page.click("#lang-switch")
    assert errors == []


def admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) under /api/v1/admin the hub serves (tests/test_openapi.py keeps the
    OpenAPI document equal to the app's url_map), path parameters filled with a plausible value."""
    document = json.loads((ROOT / "server" / "api" / "openapi.json").read_text(encoding="utf-8"))
    routes = []
    for path, item in document["paths"].items():
        if not path.startswith("/admin/"):
            continue
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                concrete = re.sub(r"\{name\}", "services", path)
                concrete = re.sub(r"\{[a-z_]+\}", "1", concrete)
                routes.append((method.upper(), f"/api/v1{concrete}"))
    return routes


def test_a_staff_login_cannot_open_the_admin_console(chromium, hall) -> None:
    hub, site = hall.hub, hall.site
    errors: list[str] = []
    clerk = admin_page(chromium, hub, site.creds.clerks[2], CLERK_PASSWORD, counter=2)
    clerk.on("pageerror", lambda exc: errors.append(f"clerk: {exc}"))
    clerk.wait_for_selector("#queue-counters-list tr[data-counter='2']", timeout=TIMEOUT)
    for hidden in ("#settings-layout", "#audit-layout", "#svc-form", "#ctr-form"):
        assert clerk.is_hidden(hidden), hidden

    routes = admin_routes()
    assert ("PUT", "/api/v1/admin/settings/services") in routes and len(routes) >= 10
    staff = login(hub.url, site.creds.clerks[1], 1)
    for token in (staff, site.creds.kiosk, site.creds.display):
        for method, path in routes:
            body: Any = {"value": [], "version": 0} if method == "PUT" else ({} if method != "GET" else None)
            url = f"{hub.url}{path}"
            answer = requests.request(method, url, json=body, headers=bearer(token), timeout=10)
            assert answer.status_code == 403, (method, path, answer.status_code, answer.text)
            assert answer.json()["code"] == "forbidden"
    assert clerk.query_selector_all("#svc-list tr") == []

    # A supervisor reads the settings without a button to change them, and has no audit section.
    add_user(hub.url, hall.admin, "sue", "supervisor")
    supervisor = admin_page(chromium, hub, "sue", CLERK_PASSWORD)
    supervisor.on("pageerror", lambda exc: errors.append(f"supervisor: {exc}"))
    supervisor.wait_for_selector("#svc-list tr[data-key='PAY']", timeout=TIMEOUT)
    assert "只有管理员可以修改" in supervisor.inner_text("#svc-provenance")
    assert supervisor.query_selector_all("#settings-layout button:visible") == []
    assert supervisor.is_hidden("#audit-layout")
    assert errors == []
