"""Lobby screens and voice zones set on the admin page in a real browser (issue 14).

An admin changes a lobby screen's layout on the admin page; the lobby page
already open with that screen's display token redraws in the new layout within
a second (``body[data-layout]``). The admin adds a voice zone with its counters
and puts the screen in it; removing that zone while the screen is in it is
refused with the hub's words on the page; a bad screen name is marked on the
form in both languages and nothing is sent. A supervisor reads the sections
without any button to change them.

Playwright drives the system's headless Chromium against a real hub process;
every wait is on what a page shows, with a deadline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.conftest import Site, launch_chromium
from tests.support import (
    ADMIN_PASSWORD,
    ARTIFACTS,
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
#: "Within a second": how long the open lobby page may take to redraw after the save is answered.
LIVE_MS = 1_000
SUPERVISOR = "sup1"

#: The lobby screen of the display token ``provision`` makes ("test-display"); zone A hears counter 1.
SCREENS = """
[[zones]]
code = "A"
name_zh = "一楼"
name_en = "Floor 1"
counters = [1]

[[devices]]
name = "test-display"
kind = "lobby_screen"
settings = { layout = "landscape" }
"""


@dataclass
class Hall:
    hub: HubProcess
    site: Site
    #: A second admin's token (the browser's admin login would end the first one's REST session).
    admin: str


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    folder = tmp_path_factory.mktemp("screens")
    config = write_site(folder / "site.toml", f"sqlite:///{folder / 'qcall.db'}", 3)
    config.write_text(config.read_text(encoding="utf-8") + SCREENS, encoding="utf-8")
    site = Site(config, provision(config, 3), 3)
    with running_hub(config, folder) as hub:
        token = login(hub.url, "admin", None, ADMIN_PASSWORD)
        for user, role in (("manager2", "admin"), (SUPERVISOR, "supervisor")):
            add_user(hub.url, token, user, role, ADMIN_PASSWORD)
        yield Hall(hub, site, login(hub.url, "manager2", None, ADMIN_PASSWORD))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as launched:
        yield launched


def admin_page(browser: Any, hub: HubProcess, user: str) -> Any:
    page = browser.new_page(viewport={"width": 1600, "height": 1400})
    page.goto(f"{hub.url}/counter/admin.html")
    page.fill("#admin-login-username", user)
    page.fill("#admin-login-password", ADMIN_PASSWORD)
    page.click("#admin-login-submit")
    page.wait_for_selector("#admin-view:not([hidden])", timeout=TIMEOUT)
    page.wait_for_selector("html[lang='zh-CN']", state="attached", timeout=TIMEOUT)
    page.wait_for_selector("#settings-layout:not([hidden])", timeout=TIMEOUT)
    return page


def section(hall: Hall, name: str) -> dict[str, Any]:
    answer = requests.get(
        f"{hall.hub.url}/api/v1/admin/settings/{name}", headers=bearer(hall.admin), timeout=10
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def screen_settings(hall: Hall) -> dict[str, Any]:
    devices = section(hall, "devices")["value"]
    settings: dict[str, Any] = next(d for d in devices if d["name"] == "test-display").get("settings", {})
    return settings


def saved(page: Any, panel: str, version: int) -> None:
    """The section's banner says the save was answered (the version it got)."""
    page.wait_for_function(
        "([sel, v]) => { const el = document.querySelector(sel);"
        " return !!el && !el.hidden && el.classList.contains('ok') && el.textContent.includes(v); }",
        arg=[f"#{panel}-message", f"第 {version} 版"],
        timeout=TIMEOUT,
    )


def edit_screen(page: Any) -> None:
    page.click("#scr-list tr[data-key='test-display'] button[data-act='edit']")
    page.wait_for_selector("#scr-form:not([hidden])", timeout=TIMEOUT)


def test_an_admin_sets_a_screens_layout_and_the_open_lobby_redraws_within_a_second(chromium, hall) -> None:
    hub, site = hall.hub, hall.site
    errors: list[str] = []
    lobby = chromium.new_page(viewport={"width": 1920, "height": 1080})
    lobby.on("pageerror", lambda exc: errors.append(f"lobby: {exc}"))
    lobby.goto(f"{hub.url}/display/lobby?token={site.creds.display}")
    lobby.wait_for_selector("body[data-live='connected'][data-layout='landscape']", timeout=TIMEOUT)

    page = admin_page(chromium, hub, "admin")
    page.on("pageerror", lambda exc: errors.append(f"admin: {exc}"))
    row = "#scr-list tr[data-key='test-display']"
    page.wait_for_selector(f"{row} [data-state='online']", timeout=TIMEOUT)  # the lobby page is connected
    assert "横屏 Landscape" in page.inner_text(row) and "全厅 Whole hall" in page.inner_text(row)

    edit_screen(page)
    options = page.eval_on_selector_all("#scr-layout option", "els => els.map(e => e.textContent)")
    assert options == ["横屏 Landscape", "竖屏 Portrait", "窗口列表 Counter list", "诊室 Clinic rooms"]
    assert page.input_value("#scr-name") == "test-display" and page.is_editable("#scr-name") is False
    page.select_option("#scr-layout", "portrait")
    page.fill("#scr-recent", "4")
    page.click("#scr-save")
    saved(page, "scr", 1)
    lobby.wait_for_selector("body[data-layout='portrait'][data-recent='4']", timeout=LIVE_MS)
    page.wait_for_selector(f"{row} td[data-layout='portrait']", timeout=TIMEOUT)
    assert screen_settings(hall) == {"layout": "portrait", "recent": 4}
    lobby.screenshot(path=str(ARTIFACTS / "screens-admin-portrait.png"))
    assert errors == []


def test_an_admin_adds_a_zone_and_puts_the_screen_in_it(chromium, hall) -> None:
    errors: list[str] = []
    page = admin_page(chromium, hall.hub, "admin")
    page.on("pageerror", lambda exc: errors.append(f"admin: {exc}"))
    page.wait_for_selector("#zon-list tr[data-key='A']", timeout=TIMEOUT)

    # A code another zone has and no names: each marked on the form in both languages, nothing sent.
    page.click("#zon-new")
    page.fill("#zon-code", "A")
    page.click("#zon-save")
    taken = page.wait_for_selector("#zon-form .field-error[data-error-for='code']", timeout=TIMEOUT)
    assert "重复" in taken.inner_text() and "the same as another" in taken.inner_text()
    for key in ("name_zh", "name_en"):
        unnamed = page.wait_for_selector(f"#zon-form .field-error[data-error-for='{key}']", timeout=TIMEOUT)
        assert "必须填写" in unnamed.inner_text() and "required" in unnamed.inner_text()
    assert section(hall, "zones")["version"] == 0

    # A zone without a counter: marked on the form in both languages, nothing sent.
    page.fill("#zon-code", "B")
    page.fill("#zon-name-zh", "二楼")
    page.fill("#zon-name-en", "Floor 2")
    page.click("#zon-save")
    mark = page.wait_for_selector("#zon-form .field-error[data-error-for='counters']", timeout=TIMEOUT)
    assert "至少选择一个窗口" in mark.inner_text() and "at least one counter" in mark.inner_text()
    assert section(hall, "zones")["version"] == 0
    page.check("#zon-counters input[value='2']")
    page.check("#zon-counters input[value='3']")
    page.click("#zon-save")
    saved(page, "zon", 1)
    page.wait_for_selector("#zon-list tr[data-key='B']", timeout=TIMEOUT)
    zones = section(hall, "zones")["value"]
    assert zones[1] == {"code": "B", "name_zh": "二楼", "name_en": "Floor 2", "counters": [2, 3]}

    # The screen's zone select offers the new zone at once; the screen is put in it.
    version = section(hall, "devices")["version"]
    edit_screen(page)
    options = page.eval_on_selector_all("#scr-zone option", "els => els.map(e => e.value)")
    assert options == ["", "A", "B"]
    page.select_option("#scr-zone", "B")
    page.click("#scr-save")
    saved(page, "scr", version + 1)
    page.wait_for_selector("#scr-list tr[data-key='test-display'] td[data-zone='B']", timeout=TIMEOUT)
    assert screen_settings(hall)["zone"] == "B"

    # Zone B cannot go while the screen is in it: the hub's words are on the page, nothing saved.
    remove = "#zon-list tr[data-key='B'] button[data-act='remove']"
    page.click(remove)
    page.click(remove)  # the second tap confirms
    banner = page.wait_for_selector("#zon-message.error", timeout=TIMEOUT).inner_text()
    assert "没有保存" in banner and "Not saved" in banner and "unknown zone 'B'" in banner, banner
    assert [z["code"] for z in section(hall, "zones")["value"]] == ["A", "B"]

    # A screen name a device token cannot have, an empty one, another screen's: each marked in both
    # languages, nothing sent.
    version = section(hall, "devices")["version"]
    page.click("#scr-new")
    page.fill("#scr-name", "lobby 2f!")
    page.click("#scr-save")
    mark = page.wait_for_selector("#scr-form .field-error[data-error-for='name']", timeout=TIMEOUT)
    assert "字母" in mark.inner_text() and "letters" in mark.inner_text()
    for name, words in (("", ("必须填写", "required")), ("test-display", ("重复", "the same as another"))):
        page.fill("#scr-name", name)
        page.click("#scr-save")
        mark = page.wait_for_selector(
            f"#scr-form .field-error[data-error-for='name']:has-text('{words[0]}')", timeout=TIMEOUT
        )
        assert words[1] in mark.inner_text(), (name, mark.inner_text())
    assert section(hall, "devices")["version"] == version
    assert errors == []


def test_a_supervisor_reads_the_screens_and_zones_without_changing_them(chromium, hall) -> None:
    page = admin_page(chromium, hall.hub, SUPERVISOR)
    page.wait_for_selector("#scr-list tr[data-key='test-display']", timeout=TIMEOUT)
    page.wait_for_selector("#zon-list tr[data-key='A']", timeout=TIMEOUT)
    assert page.is_hidden("#scr-new") and page.is_hidden("#zon-new")
    assert page.query_selector_all("#scr-list button, #zon-list button") == []
    assert "只有管理员可以修改" in page.inner_text("#scr-provenance")
