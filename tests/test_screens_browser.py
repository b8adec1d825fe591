"""The counter's own screens in a real browser: the screen above a counter and the evaluation pad.

Playwright drives the system's headless Chromium against a real hub process,
as in ``test_browser_e2e.py``. Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import ARTIFACTS, Credentials, HubProcess, bearer, login, provision, write_site

pytestmark = pytest.mark.browser

PAD_DEVICE = '\n[[devices]]\nname = "pad-1"\nkind = "evaluation_pad"\ncounter = 1\n'


@dataclass
class PadHall:
    hub: HubProcess
    creds: Credentials
    pad: str


@pytest.fixture
def pad_hall(tmp_path: Path) -> Iterator[PadHall]:
    """A hall whose counter 1 has an evaluation pad, with the pad's token made before the hub starts."""
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=2)
    config.write_text(config.read_text(encoding="utf-8") + PAD_DEVICE, encoding="utf-8")
    creds = provision(config, 2)
    made = bootstrap(load_config(config))
    pad = made.accounts.create_device_token("pad", "pad-1", utc_now())
    made.store.engine.dispose()
    hub = HubProcess(config, tmp_path)
    hub.start()
    try:
        yield PadHall(hub, creds, pad)
    finally:
        hub.stop()


def _live(page: object) -> None:
    """Wait until the page has its socket up and has drawn the snapshot."""
    page.wait_for_selector("body[data-live='connected']", timeout=15_000)


def _issue(url: str, kiosk: str, service: str = "PAY") -> dict:
    answer = requests.post(
        f"{url}/api/v1/tickets", json={"service": service}, headers=bearer(kiosk), timeout=10
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _act(url: str, clerk: str, action: str, counter: int = 1) -> requests.Response:
    return requests.post(f"{url}/api/v1/counters/{counter}/{action}", headers=bearer(clerk), timeout=10)


def test_counter_screen(browser, hub, site) -> None:
    """Free with "—", then the called number, blinking, with the line and who is next."""
    errors: list[str] = []
    screen = browser.new_page(viewport={"width": 1920, "height": 1080})
    screen.on("pageerror", lambda exc: errors.append(str(exc)))
    screen.goto(f"{hub.url}/display/counter?token={site.creds.display}&counter=1")
    _live(screen)
    assert "token=" not in screen.url, "the screen must drop its token from the address bar"
    assert "counter=1" in screen.url
    assert screen.inner_text("#counter-number").strip() == "—"
    # Nobody is logged in at counter 1: closed, and it says so; a login opens it.
    assert screen.get_attribute("#counter-state", "data-state") == "closed"
    assert "未开放" in screen.inner_text("#counter-state") and "Closed" in screen.inner_text("#counter-state")
    assert "其他窗口" in screen.inner_text("#line-zh") and "another counter" in screen.inner_text("#line-en")
    assert screen.inner_text("#counter-name-zh") == "1号窗口"
    assert screen.inner_text("#counter-name-en") == "Counter 1"
    clerk = login(hub.url, site.creds.clerks[1], 1)
    screen.wait_for_selector("#counter-state[data-state='free']", timeout=5_000)
    assert "空闲" in screen.inner_text("#counter-state") and "Free" in screen.inner_text("#counter-state")

    first = _issue(hub.url, site.creds.kiosk)
    second = _issue(hub.url, site.creds.kiosk)
    called = _act(hub.url, clerk, "call-next")
    assert called.status_code == 200 and called.json()["ticket"]["id"] == first["id"]

    screen.wait_for_selector("#counter-state[data-state='called']", timeout=5_000)
    screen.wait_for_function(
        "n => document.querySelector('#counter-number').textContent.trim() === n", arg=first["number"]
    )
    screen.wait_for_selector("#stage.flash", timeout=5_000)
    assert f"请 {first['number']} 号 到 1号窗口" in screen.inner_text("#line-zh")
    assert f"Number {first['number']} to Counter 1" in screen.inner_text("#line-en")
    screen.wait_for_function(
        "n => document.querySelector('#next-numbers').textContent.includes(n)", arg=second["number"]
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screen.screenshot(path=str(ARTIFACTS / "counter-screen.png"))

    assert _act(hub.url, clerk, "start").status_code == 200
    screen.wait_for_selector("#counter-state[data-state='serving']", timeout=5_000)

    # Another counter's call does not touch this screen.
    other = login(hub.url, site.creds.clerks[2], 2)
    assert _act(hub.url, other, "call-next", counter=2).json()["ticket"]["id"] == second["id"]
    screen.wait_for_function("() => !document.querySelector('#next-numbers li')")
    assert screen.inner_text("#counter-number").strip() == first["number"]
    assert screen.get_attribute("#counter-state", "data-state") == "serving"

    assert _act(hub.url, clerk, "finish").status_code == 200
    assert _act(hub.url, clerk, "pause").status_code == 200
    screen.wait_for_selector("#counter-state[data-state='paused']", timeout=5_000)
    assert screen.inner_text("#counter-number").strip() == "—"

    portrait = browser.new_page(viewport={"width": 1080, "height": 1920})
    portrait.on("pageerror", lambda exc: errors.append(str(exc)))
    portrait.goto(f"{hub.url}/display/counter?token={site.creds.display}&counter=1")
    _live(portrait)
    portrait.wait_for_selector("#counter-state[data-state='paused']")
    assert errors == []
    assert "Traceback" not in hub.log()


def test_evaluation_pad(browser, pad_hall) -> None:
    """Idle, asked after the finish, one tap stores the rating; call-next's finish asks too."""
    hub, creds = pad_hall.hub, pad_hall.creds
    errors: list[str] = []
    posts: list[str] = []
    pad = browser.new_page(viewport={"width": 1280, "height": 800}, has_touch=True)
    pad.on("pageerror", lambda exc: errors.append(str(exc)))
    pad.on("request", lambda req: posts.append(req.url) if req.method == "POST" else None)
    pad.goto(f"{hub.url}/display/pad?token={pad_hall.pad}&counter=1")
    _live(pad)
    assert "token=" not in pad.url
    pad.wait_for_selector("#pad-idle", state="visible")
    assert "欢迎" in pad.inner_text("#pad-idle") and "Welcome" in pad.inner_text("#pad-idle")
    pad.wait_for_function("() => document.querySelector('#counter-name-zh').textContent === '1号窗口'")
    assert pad.is_hidden("#pad-prompt")

    ticket = _issue(hub.url, creds.kiosk)
    clerk = login(hub.url, creds.clerks[1], 1)
    assert _act(hub.url, clerk, "call-next").status_code == 200
    assert pad.is_hidden("#pad-prompt"), "a call is not a finish"
    assert _act(hub.url, clerk, "finish").status_code == 200

    pad.wait_for_selector("#pad-prompt", state="visible", timeout=5_000)
    for rating in ("very_satisfied", "satisfied", "dissatisfied"):
        box = pad.locator(f".rate-btn[data-rating='{rating}']").bounding_box()
        assert box is not None and box["height"] >= 180, f"{rating} button is too small: {box}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pad.screenshot(path=str(ARTIFACTS / "pad.png"))

    # A double tap sends one rating.
    pad.dblclick(".rate-btn[data-rating='very_satisfied']")
    pad.wait_for_selector("#pad-thanks", state="visible", timeout=5_000)
    assert "谢谢您的评价" in pad.inner_text("#pad-thanks") and "Thank you" in pad.inner_text("#pad-thanks")
    assert [url for url in posts if url.endswith("/evaluation")] == [
        f"{hub.url}/api/v1/counters/1/evaluation"
    ]
    shown = requests.get(f"{hub.url}/api/v1/tickets/{ticket['id']}", timeout=10).json()
    assert shown["evaluation"] == "very_satisfied"
    assert [e["kind"] for e in shown["history"]].count("evaluated") == 1
    pad.screenshot(path=str(ARTIFACTS / "pad-thanks.png"))
    pad.wait_for_selector("#pad-idle", state="visible", timeout=10_000)

    # Call-next ends the last service too, and the pad asks about it; the hub
    # saying there is nothing to rate gets a polite line, not an error.
    second, third = _issue(hub.url, creds.kiosk), _issue(hub.url, creds.kiosk)
    assert _act(hub.url, clerk, "call-next").json()["ticket"]["id"] == second["id"]
    assert _act(hub.url, clerk, "call-next").json()["ticket"]["id"] == third["id"]
    pad.wait_for_selector("#pad-prompt", state="visible", timeout=5_000)
    pad.route(
        "**/api/v1/counters/1/evaluation",
        lambda route: route.fulfill(
            status=409,
            content_type="application/json",
            body='{"error": "this service has been rated already", "code": "nothing_to_evaluate"}',
        ),
    )
    pad.tap(".rate-btn[data-rating='satisfied']")
    pad.wait_for_selector("#pad-message", state="visible", timeout=5_000)
    assert "暂无可评价的服务" in pad.inner_text("#pad-message")
    assert "Nothing to rate right now" in pad.inner_text("#pad-message")
    assert requests.get(f"{hub.url}/api/v1/tickets/{second['id']}", timeout=10).json()["evaluation"] is None
    assert errors == []
    assert "Traceback" not in hub.log()
