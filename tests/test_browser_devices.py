"""Devices and accounts on the admin page, in a real browser, as an admin and a kiosk would live them.

An admin makes a kiosk token on the admin page and a kiosk opened with it shows the services; a
kiosk opened without one shows a pairing code, the admin confirms it on the pairing page, and the
kiosk starts by itself; a test print from the devices panel comes out of the virtual printer; the
demo's board raises no false alarm and speaks one language. One hub for the module (the demo runs
its own); every wait is on what a page shows, with a deadline.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.twins.virtual_printer import VirtualPrinter
from tests.support import ADMIN_PASSWORD, ARTIFACTS, ROOT, HubProcess, free_port, running_hub, wait_for_answer
from tests.test_devices_admin_api import device_site
from tests.waiting import WAIT, wait_until

pytestmark = pytest.mark.browser

TIMEOUT = 15_000


@pytest.fixture(scope="module")
def devices_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, VirtualPrinter]]:
    folder = tmp_path_factory.mktemp("devices-browser")
    twin = VirtualPrinter("127.0.0.1", 0).start()
    try:
        path, _creds = device_site(folder, twin)
        with running_hub(path, folder) as hub:
            yield hub, twin
            assert "Traceback" not in hub.log(), hub.log()[-4000:]
    finally:
        twin.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from tests.conftest import launch_chromium

    with launch_chromium() as launched:
        yield launched


def watched_page(chromium: Any, errors: list[str], who: str, **options: Any) -> tuple[Any, Any]:
    """A new context (``options``: viewport, is_mobile…) and its page, whose uncaught errors go to ``errors``.

    Why one place: every scenario here opens an admin, a kiosk or a phone this way and ends by
    asserting that no page threw; the label says which page did.
    """
    context = chromium.new_context(**options)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"{who}: {exc}"))
    return context, page


def admin_login(page: Any, url: str, password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{url}/counter/admin.html")
    page.fill("#admin-login-username", "admin")
    page.fill("#admin-login-password", password)
    page.click("#admin-login-submit")
    page.wait_for_selector("#admin-view:not([hidden])", timeout=TIMEOUT)
    # The page follows the browser (English here) until the hub's snapshot names the site's language.
    page.wait_for_selector("html[lang='zh-CN']", state="attached", timeout=TIMEOUT)


def shows_services(kiosk: Any) -> None:
    kiosk.wait_for_selector(".service-btn[data-service='PAY']", timeout=TIMEOUT)
    assert kiosk.is_hidden("#setup")


def test_an_admin_issues_a_kiosk_token_and_the_kiosk_opened_with_it_works(
    chromium: Any, devices_hub: Any
) -> None:
    hub, _twin = devices_hub
    errors: list[str] = []
    context, admin = watched_page(chromium, errors, "admin", viewport={"width": 1600, "height": 1200})
    admin_login(admin, hub.url)
    admin.wait_for_selector("#tokens-layout:not([hidden])", timeout=TIMEOUT)
    # A name the rules refuse is said beside its field, in the page's language, and nothing is sent.
    admin.fill("#tokens-new-name", "kiosk one")
    admin.click("#tokens-create")
    said = admin.wait_for_selector("#tokens-new-name-error", timeout=TIMEOUT).inner_text()
    assert "设备名称" in said
    # A name a live token has already (the site's own kiosk): the hub refuses it (409), the page says
    # so beside the field, and no second token of that name is made.
    admin.wait_for_selector("#tokens-list tr[data-name='test-kiosk'][data-live='true']", timeout=TIMEOUT)
    admin.fill("#tokens-new-name", "test-kiosk")
    admin.select_option("#tokens-new-role", "kiosk")
    admin.click("#tokens-create")
    taken = admin.wait_for_selector("#tokens-new-name-error:has-text('同名')", timeout=TIMEOUT).inner_text()
    assert "更换" in taken
    assert admin.is_hidden("#tokens-once-token")
    assert len(admin.query_selector_all("#tokens-list tr[data-name='test-kiosk']")) == 1
    admin.fill("#tokens-new-name", "kiosk-2")
    admin.select_option("#tokens-new-role", "kiosk")
    admin.click("#tokens-create")
    token = admin.wait_for_selector("#tokens-once-token", timeout=TIMEOUT).inner_text().strip()
    assert token.startswith("qd_kiosk_")
    # The audit section has the issue, by whom, and no entry for the refused one.
    admin.click("#audit-reload")
    issued = admin.wait_for_selector(
        "#audit-list tr[data-action='token.create']:has-text('kiosk-2')", timeout=TIMEOUT
    ).inner_text()
    assert "admin" in issued and "创建设备令牌" in issued
    made = [r.inner_text() for r in admin.query_selector_all("#audit-list tr[data-action='token.create']")]
    assert sum("test-kiosk" in r for r in made) == 1, made  # the site's own, made before the hub started
    url = admin.get_attribute("#tokens-once-url", "href")
    assert url and url.endswith(f"/kiosk/?token={token}")
    assert (admin.get_attribute("#tokens-once-qr", "src") or "").startswith("data:image/svg+xml")
    admin.wait_for_selector("#tokens-list tr[data-name='kiosk-2'][data-live='true']", timeout=TIMEOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    admin.screenshot(path=str(ARTIFACTS / "admin-tokens.png"), full_page=True)

    kiosk_context, kiosk = watched_page(chromium, errors, "kiosk", viewport={"width": 1080, "height": 1920})
    kiosk.goto(url)
    shows_services(kiosk)
    # The users section: a short password is refused on the form, in both languages as the page speaks.
    admin.fill("#users-new-name", "clerk9")
    admin.fill("#users-new-password", "short")
    admin.click("#users-add")
    assert "至少" in admin.wait_for_selector("#users-new-password-error", timeout=TIMEOUT).inner_text()
    # No name, then a name another user has: said beside the field, nobody added.
    for name, words in (("", "用户名为"), ("clerk1", "已存在")):
        admin.fill("#users-new-name", name)
        admin.click("#users-generate")
        admin.click("#users-add")
        admin.wait_for_selector(f"#users-new-name-error:has-text('{words}')", timeout=TIMEOUT)
    assert len(admin.query_selector_all("#users-list tr[data-user='clerk1']")) == 1
    assert admin.query_selector("#users-list tr[data-user='']") is None
    admin.fill("#users-new-name", "clerk9")
    admin.click("#users-generate")
    admin.click("#users-add")
    admin.wait_for_selector("#users-list tr[data-user='clerk9'][data-active='true']", timeout=TIMEOUT)
    assert len(admin.inner_text("#users-once-password").strip()) == 12
    context.close()
    kiosk_context.close()
    assert errors == []


def test_a_kiosk_without_a_token_pairs_by_its_code_and_starts_by_itself(
    chromium: Any, devices_hub: Any
) -> None:
    hub, _twin = devices_hub
    errors: list[str] = []
    kiosk_context, kiosk = watched_page(chromium, errors, "kiosk", viewport={"width": 1080, "height": 1920})
    kiosk.goto(f"{hub.url}/kiosk/")
    code = kiosk.wait_for_selector("#pairing-code", timeout=TIMEOUT).get_attribute("data-code")
    assert code and re.fullmatch(r"[A-Z2-9]{6}", code)
    assert (kiosk.get_attribute("#pairing-qr", "src") or "").startswith("data:image/svg+xml")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    kiosk.screenshot(path=str(ARTIFACTS / "kiosk-pairing.png"))

    # A clerk's phone may not pair it.
    phone_context, phone = watched_page(
        chromium, errors, "phone", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    phone.goto(f"{hub.url}/counter/pair.html?code={code}")
    phone.fill("#pair-login-username", "clerk1")
    phone.fill("#pair-login-password", "clerk-password")
    phone.click("#pair-login-submit")
    phone.wait_for_selector("#pair-login-error:not([hidden])", timeout=TIMEOUT)
    assert phone.is_hidden("#pair-view")
    phone.fill("#pair-login-username", "admin")
    phone.fill("#pair-login-password", ADMIN_PASSWORD)
    phone.click("#pair-login-submit")
    phone.wait_for_selector("#pair-devices button[data-name='test-kiosk']", timeout=TIMEOUT)
    phone.screenshot(path=str(ARTIFACTS / "pair-phone.png"))
    phone.click("#pair-devices button[data-name='test-kiosk']")
    assert "test-kiosk" in phone.wait_for_selector("#pair-message.ok", timeout=TIMEOUT).inner_text()

    # Nobody touches the kiosk: it collects its token, keeps it, and shows the services.
    shows_services(kiosk)
    kept = kiosk.evaluate("() => localStorage.getItem('qcall.kiosk.token')")
    assert kept and kept.startswith("qd_kiosk_")
    kiosk.reload()
    shows_services(kiosk)
    phone_context.close()
    kiosk_context.close()
    assert errors == []


def test_a_test_print_from_the_devices_panel_comes_out_of_the_printer(
    chromium: Any, devices_hub: Any
) -> None:
    hub, twin = devices_hub
    errors: list[str] = []
    context, admin = watched_page(chromium, errors, "admin", viewport={"width": 1600, "height": 1200})
    admin_login(admin, hub.url)
    before = len(twin.documents)
    admin.click("button[data-test='printer-1']", timeout=TIMEOUT)
    said = admin.wait_for_selector("[data-test-result='printer-1'].ok", timeout=TIMEOUT).inner_text()
    assert "测试页已送往打印机" in said
    slip = wait_until(lambda: twin.documents[before:], "the test slip printed")[0]
    texts = [line.text.strip() for line in slip.lines]
    assert "TEST" in texts and any("打印测试" in t for t in texts), texts
    # The keypad-less site: no test button on a device nobody can test (none here), and the English page.
    admin.click("#lang-switch")
    assert "The test slip went to the printer." in admin.inner_text("[data-test-result='printer-1']")
    context.close()
    assert errors == []


# -- the demo ------------------------------------------------------------------------------------


def test_the_demo_board_raises_no_false_alarm_and_speaks_one_language(chromium: Any, tmp_path: Path) -> None:
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("QCALL_DATABASE_URL", "QCALL_SECRET_KEY")}
    env.update(QCALL_VAR_DIR=str(var), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    log_path = tmp_path / "demo.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "demo", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    errors: list[str] = []
    try:

        def links() -> dict[str, str] | None:
            assert proc.poll() is None, log_path.read_text(errors="replace")
            pages = [w for w in log_path.read_text(errors="replace").split() if "token=" in w]
            return {"kiosk": pages[0], "lobby": pages[1], "counter": pages[2]} if len(pages) >= 3 else None

        pages = wait_until(links, "the demo prints its links", timeout=60)
        wait_for_answer(proc, log_path, base)
        context = chromium.new_context(viewport={"width": 1600, "height": 1200}, locale="zh-CN")
        opened = []
        for name, url in pages.items():
            page = context.new_page()
            page.on("pageerror", lambda exc, n=name: errors.append(f"{n}: {exc}"))
            page.goto(url)
            page.wait_for_selector("body[data-live='connected']", timeout=TIMEOUT)
            opened.append(page)
        admin = context.new_page()
        admin.on("pageerror", lambda exc: errors.append(f"admin: {exc}"))
        admin_login(admin, base, "demo-admin")
        for name in ("kiosk-1", "lobby-1", "counter-1"):
            admin.wait_for_selector(
                f"#devices-list tr[data-device='{name}'][data-state='online']", timeout=TIMEOUT
            )
        assert admin.query_selector_all("#devices-list tr[data-configured='false']") == []
        assert admin.is_hidden("#device-alert"), admin.inner_text("#device-alert")
        # The Chinese page: no English sentence in any state or detail.
        assert admin.inner_text("#devices-list tr[data-device='lobby-1'] .state") == "正常"
        for cell in admin.query_selector_all("#devices-list .state, #devices-list .dev-detail"):
            assert not re.search(r"[A-Za-z]{3,} [a-z]{2,}", cell.inner_text()), cell.inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        admin.screenshot(path=str(ARTIFACTS / "demo-board.png"), full_page=True)
        # The English page: no Chinese in any state or detail.
        admin.click("#lang-switch")
        online = "#devices-list tr[data-device='lobby-1'] .state:text('Online')"
        admin.wait_for_selector(online, timeout=TIMEOUT)
        for cell in admin.query_selector_all("#devices-list .state, #devices-list .dev-detail"):
            assert not re.search(r"[\u4e00-\u9fff]", cell.inner_text()), cell.inner_text()
        admin.click("#lang-switch")
        # The demo's keypad buttons: a form the hub's own page posts goes through (no cross_origin).
        board = context.new_page()
        board.goto(f"{base}/demo/displays")
        # Each device shows its own keys: the keypad calls, the evaluation pad rates.
        keypad_keys = board.eval_on_selector_all(
            "form[action='/demo/keypad/keys-1'] button", "bs => bs.map(b => b.value)"
        )
        pad_keys = board.eval_on_selector_all(
            "form[action='/demo/keypad/eval-1'] button", "bs => bs.map(b => b.value)"
        )
        assert (keypad_keys, pad_keys) == (
            ["call_next", "recall", "finish"],
            ["very_satisfied", "satisfied", "dissatisfied"],
        )
        board.click("form[action='/demo/keypad/keys-1'] button[value='call_next']")
        board.wait_for_url(f"{base}/demo/displays")
        assert "cross_origin" not in board.content() and board.is_visible(
            "form[action='/demo/keypad/keys-1']"
        )
        board.close()
        # A screen closed after it worked is an alarm; one named outside the site file would not be.
        opened[1].close()
        alert = admin.wait_for_selector("#device-alert:not([hidden])", timeout=TIMEOUT).inner_text()
        assert "lobby-1" in alert and "页面未连接" in alert and "1 台设备异常" in alert
        context.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0, log_path.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert errors == []


def test_an_admin_gives_a_user_a_display_name_on_the_users_form(chromium: Any, devices_hub: Any) -> None:
    """The display name is asked when adding, shown in the list, and changed on the row's small form;
    a name the rules refuse is said beside its field and nothing is sent."""
    hub, _twin = devices_hub
    errors: list[str] = []
    context, admin = watched_page(chromium, errors, "admin", viewport={"width": 1600, "height": 1200})
    admin_login(admin, hub.url)
    admin.wait_for_selector("#users-layout:not([hidden])", timeout=TIMEOUT)
    admin.fill("#users-new-name", "doc1")
    admin.fill("#users-new-display", "张伟 主任医师")
    admin.click("#users-generate")
    admin.click("#users-add")
    row = "#users-list tr[data-user='doc1']"
    admin.wait_for_selector(f"{row} td.users-display:text('张伟 主任医师')", timeout=TIMEOUT)
    admin.click(f"{row} button[data-act='rename']")
    admin.fill("#users-rename-input", "张伟\t主任")
    admin.click("#users-list button[data-act='name'][data-user='doc1']")
    said = admin.wait_for_selector("#users-rename-input-error", timeout=TIMEOUT).inner_text()
    assert "控制字符" in said
    assert admin.get_attribute("#users-rename-input", "aria-invalid") == "true"
    admin.fill("#users-rename-input", "工号 0231")
    admin.click("#users-list button[data-act='name'][data-user='doc1']")
    admin.wait_for_selector(f"{row} td.users-display:text('工号 0231')", timeout=TIMEOUT)
    assert admin.is_hidden("#users-rename-input")
    # The row is drawn from the hub's list, re-read after the change: the name is the hub's.
    assert admin.inner_text(f"{row} td:first-child") == "doc1"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    admin.screenshot(path=str(ARTIFACTS / "admin-users-display-names.png"), full_page=True)
    context.close()
    assert errors == []
