"""The visitor's phone in a real browser: take a ticket at /phone/, turn alerts on, be called, say I'm coming.

Playwright drives the system's headless Chromium (a 360-px-wide phone) against
a real hub process whose ``[phone]`` is on. Notifications are granted through
Playwright's permissions; headless Chromium has no notification centre and no
vibration motor, so an init script records what the page asks of
``Notification`` and ``navigator.vibrate`` and then passes it on to the
browser's own: the page's logic runs unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import ARTIFACTS, CLERK_PASSWORD, HubProcess, provision, running_hub, write_site

pytestmark = pytest.mark.browser

#: Records the page's notifications and vibrations, then hands them to the browser's own APIs.
DEVICE_RECORDER = """
(() => {
  window.__shown = [];
  window.__vibrated = [];
  const Real = window.Notification;
  if (Real) {
    window.Notification = new Proxy(Real, {
      construct(target, args) {
        window.__shown.push({ title: args[0], body: args[1] && args[1].body });
        return Reflect.construct(target, args);
      },
    });
  }
  const vibrate = navigator.vibrate ? navigator.vibrate.bind(navigator) : null;
  navigator.vibrate = (pattern) => {
    window.__vibrated.push(pattern);
    return vibrate ? vibrate(pattern) : true;
  };
})();
"""


@pytest.fixture(scope="module")
def phone_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, Any]]:
    tmp = tmp_path_factory.mktemp("phone-browser")
    path = write_site(tmp / "site.toml", f"sqlite:///{tmp / 'qcall.db'}", 2)
    path.write_text(path.read_text() + "\n[phone]\nenabled = true\n")
    creds = provision(path, 2)
    with running_hub(path, tmp) as process:
        yield process, creds


def test_a_visitor_takes_a_ticket_on_the_phone_is_called_and_says_on_my_way(browser, phone_hub) -> None:
    hub, creds = phone_hub
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    phone_context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True, permissions=["notifications"]
    )
    phone_context.add_init_script(DEVICE_RECORDER)
    phone = phone_context.new_page()
    phone.on("pageerror", lambda exc: errors.append(f"phone: {exc}"))

    phone.goto(f"{hub.url}/phone/")
    take = phone.wait_for_selector("li[data-service='PAY'] .take:enabled", timeout=10_000)
    box = take.bounding_box()
    assert box and box["height"] >= 48 and box["x"] + box["width"] <= 360, box
    assert "取号" in take.inner_text() and "Take a ticket" in take.inner_text()
    card = phone.inner_text("li[data-service='PAY']")
    assert "电费缴纳" in card and "Bill payment" in card and "等候 0 人" in card and "0 waiting" in card
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360, "nothing wider than the phone"
    phone.screenshot(path=str(ARTIFACTS / "phone-take.png"), full_page=True)

    take.tap()
    phone.wait_for_url("**/t/*", timeout=10_000)
    phone.wait_for_selector("#ticket[data-status='waiting']", timeout=10_000)
    assert phone.is_visible("#ticket-estimate")  # the live estimate (no counter open yet: it says so)
    number = phone.inner_text("#ticket-number")

    # Alerts: one tap unlocks the sound and asks for notifications (granted here).
    phone.tap("#alerts-on")
    phone.wait_for_selector("body[data-alerts='on']")
    phone.wait_for_selector("#alerts[data-notifications='granted']")
    assert "提醒已开启" in phone.inner_text("#alerts-state")
    assert not phone.is_visible("#onway"), "on my way is for a called ticket"
    phone.screenshot(path=str(ARTIFACTS / "phone-waiting.png"), full_page=True)

    counter = browser.new_page(viewport={"width": 1366, "height": 768})
    counter.on("pageerror", lambda exc: errors.append(f"counter: {exc}"))
    counter.goto(f"{hub.url}/counter/?counter=1")
    counter.fill("#login-username", creds.clerks[1])
    counter.fill("#login-password", CLERK_PASSWORD)
    counter.fill("#login-counter", "1")
    counter.click("#login-submit")
    counter.wait_for_selector("body[data-live='connected']", timeout=15_000)
    counter.click("#btn-call-next:enabled")
    counter.wait_for_function(
        "n => document.querySelector('#current-number').textContent === n", arg=number, timeout=10_000
    )
    assert not counter.is_visible("#current-onway")

    # The call arrives live: the page shows where to go, buzzes and notifies once.
    phone.wait_for_selector("#ticket[data-status='called']", timeout=10_000)
    phone.wait_for_selector("body[data-alerted='1']", timeout=5_000)
    assert "请到 1号窗口" in phone.inner_text("#go-zh") and "Counter 1" in phone.inner_text("#go-en")
    shown = phone.evaluate("window.__shown")
    title, body = "请到 1号窗口 办理 / Please go to Counter 1", f"您的号码 {number} / Your number {number}"
    assert shown == [{"title": title, "body": body}], shown
    assert len(phone.evaluate("window.__vibrated")) == 1

    # 我在路上: the console shows it at once; the button gives way to the confirmation.
    say = phone.wait_for_selector("#onway-say", state="visible")
    assert (say.bounding_box() or {}).get("height", 0) >= 48
    say.tap()
    phone.wait_for_selector("#onway-said", state="visible", timeout=10_000)
    assert not phone.is_visible("#onway-say")
    counter.wait_for_selector("#current-onway", state="visible", timeout=10_000)
    assert "在路上" in counter.inner_text("#current-onway") and "On the way" in counter.inner_text(
        "#current-onway"
    )
    phone.screenshot(path=str(ARTIFACTS / "phone-called.png"), full_page=True)
    counter.screenshot(path=str(ARTIFACTS / "counter-on-the-way.png"))

    # A recall is a new call: it buzzes again, and "on my way" may be said again.
    counter.click("#btn-recall:enabled")
    phone.wait_for_selector("body[data-alerted='2']", timeout=10_000)
    phone.wait_for_selector("#onway-say", state="visible")
    counter.wait_for_selector("#current-onway", state="hidden", timeout=10_000)

    # Back on /phone/: this phone's ticket is still active, so it is offered instead of a new one.
    phone.goto(f"{hub.url}/phone/")
    phone.wait_for_selector("#mine", state="visible", timeout=10_000)
    assert phone.is_disabled("li[data-service='PAY'] .take")
    phone.click("#mine-link")
    phone.wait_for_selector("#ticket[data-status='called']", timeout=10_000)
    assert errors == []
    assert "Traceback" not in hub.log()
    phone_context.close()
