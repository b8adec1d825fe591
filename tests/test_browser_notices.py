"""Notices in a real browser (issue 14, part 2): an admin posts a notice that ends soon; a lobby screen
and a kiosk already open show it within a second and drop it at its end without a reload; the audit
log has the change; a refusal is shown on the form in both languages and nothing is saved.

The hub is a real process on the real clock (its notice watch looks twice a second). Every wait is on
what a page shows, with a deadline. Screenshots: ``test-artifacts/e2e/notices-*.png``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.support import (
    ADMIN_PASSWORD,
    ARTIFACTS,
    Credentials,
    HubProcess,
    bearer,
    login,
    provision,
    running_hub,
    write_site,
)
from tests.test_browser_targets import CONTRAST

pytestmark = pytest.mark.browser
TIMEOUT = 15_000  # ms
#: How long a page may take to show or drop a notice (the issue says within a second; slack for a busy CI).
PROMPT = 2.0
ZONE = ZoneInfo("Asia/Shanghai")  # the test site's


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[tuple[HubProcess, Credentials]]:
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=2)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('notice_en = "Test notice"\n', 'notice_en = "Test notice"\nhotline = "95598"\n')
    )
    creds = provision(config, 2)
    with running_hub(config, tmp_path) as hub:
        yield hub, creds


def connected(page: Any) -> None:
    page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)


def test_a_notice_posted_on_the_admin_page_shows_and_expires_on_the_lobby_and_the_kiosk(
    browser: Any, hall: tuple[HubProcess, Credentials]
) -> None:
    hub, creds = hall
    errors: list[str] = []
    lobby = browser.new_page(viewport={"width": 1920, "height": 1080})
    kiosk = browser.new_page(viewport={"width": 1080, "height": 1920})
    admin = browser.new_page(viewport={"width": 1600, "height": 1400})
    for page in (lobby, kiosk, admin):
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    lobby.goto(f"{hub.url}/display/lobby?token={creds.display}")
    kiosk.goto(f"{hub.url}/kiosk/?token={creds.kiosk}")
    connected(lobby)
    connected(kiosk)
    # Before any notice: the hall's fixed line, the hotline and the phone page's QR in the corner.
    lobby.wait_for_selector("#content-zone .cz-hall", timeout=TIMEOUT)
    assert lobby.locator("[data-testid='hotline']").inner_text() == "95598"
    lobby.wait_for_function(
        "() => { const i = document.querySelector('.cz-qr img'); return i && i.naturalWidth > 0; }"
    )
    assert kiosk.locator("#notices-open").is_hidden()
    for page in (lobby, kiosk):
        page.evaluate("window.__notReloaded = true")
    calls_box = lobby.locator("#current-call").bounding_box()

    admin.goto(f"{hub.url}/counter/admin.html")
    admin.fill("#admin-login-username", "admin")
    admin.fill("#admin-login-password", ADMIN_PASSWORD)
    admin.click("#admin-login-submit")
    admin.wait_for_selector("#notices-layout:not([hidden])", timeout=TIMEOUT)
    admin.wait_for_selector("#notice-default-end:not(:empty)", timeout=TIMEOUT)
    assert "3" in admin.locator("#notice-default-end").inner_text()  # the default end is shown

    # A refusal: no title in either language. Shown on the form in both languages; nothing saved.
    admin.click("#notice-submit")
    message = admin.locator("#notice-message")
    message.wait_for(state="visible", timeout=TIMEOUT)
    assert "请填写标题" in message.inner_text() and "a title is needed" in message.inner_text()
    assert admin.locator("#notice-title-zh").get_attribute("aria-invalid") == "true"

    # A notice that ends 8 s from now (hall time, as the form takes it).
    end = datetime.now(ZONE) + timedelta(seconds=8)
    admin.fill("#notice-title-zh", "今日停水通知")
    admin.fill("#notice-title-en", "Water off today")
    admin.fill("#notice-body-zh", "14:00–16:00 大厅饮水机暂停使用。")
    admin.fill("#notice-body-en", "The drinking fountain is off from 14:00 to 16:00.")
    admin.fill("#notice-ends", end.strftime("%Y-%m-%dT%H:%M:%S"))
    admin.click("#notice-submit")
    admin.wait_for_selector("#notice-message:not(.error)", timeout=TIMEOUT)
    posted = time.monotonic()
    card = lobby.locator("#content-zone .cz-card[data-kind='notice']")
    card.wait_for(state="visible", timeout=TIMEOUT)
    kiosk.wait_for_selector("#notices-open:not([hidden])", timeout=TIMEOUT)
    shown_in = time.monotonic() - posted
    assert shown_in < PROMPT, f"the notice took {shown_in:.2f} s to show"
    assert "今日停水通知" in card.inner_text() and "Water off today" in card.inner_text()
    assert "今日停水通知" in kiosk.locator("#notices-open").inner_text()
    assert card.locator(".cz-title .cz-zh").evaluate(CONTRAST) >= 4.5
    assert card.locator(".cz-body.cz-en").evaluate(CONTRAST) >= 4.5
    assert lobby.locator("#current-call").bounding_box() == calls_box  # the calls keep their size and place
    admin.wait_for_selector("#notices-list tr[data-state='current']", timeout=TIMEOUT)

    # The kiosk's strip opens the notices in large text; closing leaves the service buttons.
    kiosk.click("#notices-open")
    kiosk.wait_for_selector("#notices-view:not([hidden]) .nv-item", timeout=TIMEOUT)
    assert "The drinking fountain" in kiosk.locator("#notices-view").inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lobby.screenshot(path=str(ARTIFACTS / "notices-lobby.png"))
    kiosk.screenshot(path=str(ARTIFACTS / "notices-kiosk.png"))
    admin.screenshot(path=str(ARTIFACTS / "notices-admin.png"), full_page=True)

    # At its end it leaves both pages, without a reload.
    card.wait_for(state="detached", timeout=TIMEOUT)
    gone_lobby = datetime.now(ZONE)
    kiosk.wait_for_selector("#notices-open", state="hidden", timeout=TIMEOUT)
    kiosk.wait_for_selector("#notices-view", state="hidden", timeout=TIMEOUT)
    gone_kiosk = datetime.now(ZONE)
    for gone in (gone_lobby, gone_kiosk):
        late = (gone - end).total_seconds()
        assert -0.5 < late < PROMPT, f"the notice left {late:.2f} s after its end"
    lobby.wait_for_selector("#content-zone .cz-hall", timeout=TIMEOUT)
    for page in (lobby, kiosk):
        assert page.evaluate("window.__notReloaded") is True
    admin.wait_for_selector("#notices-list tr[data-state='current']", state="detached", timeout=TIMEOUT)

    # The audit log has the change, with who and the notice after it.
    token = login(hub.url, "admin", None, ADMIN_PASSWORD)
    answer = requests.get(
        f"{hub.url}/api/v1/admin/audit?action=notice.create", headers=bearer(token), timeout=20
    )
    entries = answer.json()["entries"]
    assert [(e["actor"], e["detail"]["after"]["title_en"]) for e in entries] == [("admin", "Water off today")]
    assert entries[0]["detail"]["before"] is None
    assert errors == []
