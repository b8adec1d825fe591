"""Two lobby screens in two zones each read out only their zone's calls (issue 14, voice zones).

A real hub process with ``[[zones]]`` (zone A: counters 1 and 3, zone B:
counters 2 and 4, counter 5 in both), real espeak-ng, and two lobby pages in
headless Chromium started with the autoplay flag (as a kiosk-mode TV is,
docs/voice.md), each opened with the device token of a screen of one zone.
Five calls are made at counters 1, 2, 3, 4, 5, one after the other, so the
zones' calls interleave. Each page must play exactly its zone's calls, in
call order, each once, never two at once — read from the page's own audio
log — while still *showing* every call of the hall. A socket with a token of
no zone hears the whole hall: all five.

Skipped without espeak-ng on a developer's machine, failing when ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.conftest import launch_chromium
from tests.support import (
    ARTIFACTS,
    Credentials,
    HubProcess,
    bearer,
    issue,
    lobby_voice_toml,
    login,
    provision,
    write_site,
)
from tests.test_lobby_audio import AUTOPLAY, Announcements, assert_one_at_a_time, played_steps

pytestmark = pytest.mark.browser

WAIT_MS = 60_000

ZONES = """
[[zones]]
code = "A"
name_zh = "一楼"
name_en = "Floor 1"
counters = [1, 3, 5]

[[zones]]
code = "B"
name_zh = "二楼"
name_en = "Floor 2"
counters = [2, 4, 5]

[[devices]]
name = "screen-a"
kind = "lobby_screen"
settings = { zone = "A" }

[[devices]]
name = "screen-b"
kind = "lobby_screen"
settings = { zone = "B" }
"""


@dataclass
class ZonedHall:
    hub: HubProcess
    creds: Credentials
    screens: dict[str, str]  # zone → the device token of its lobby screen


@pytest.fixture
def zoned_hall(tmp_path: Path) -> Iterator[ZonedHall]:
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but espeak-ng is not installed (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is not installed")
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=5)
    config.write_text(
        config.read_text(encoding="utf-8") + ZONES + lobby_voice_toml(tmp_path / "voice"), encoding="utf-8"
    )
    creds = provision(config, 5)
    made = bootstrap(load_config(config))
    screens = {
        zone: made.accounts.create_device_token("display", f"screen-{zone.lower()}", utc_now())
        for zone in ("A", "B")
    }
    made.store.engine.dispose()
    hub = HubProcess(config, tmp_path)
    hub.start()
    try:
        yield ZonedHall(hub, creds, screens)
    finally:
        hub.stop()


def open_lobby(browser: Any, hall: ZonedHall, zone: str, errors: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("pageerror", lambda exc: errors.append(f"{zone}: {exc}"))
    page.goto(f"{hall.hub.url}/display/lobby?token={hall.screens[zone]}")
    page.wait_for_selector("body[data-live='connected'][data-sound='on']", timeout=WAIT_MS)
    return page


def played_numbers(page: Any) -> list[str]:
    """The numbers this page started playing, in order (its own audio log)."""
    return [e["number"] for e in page.evaluate("window.qcallLobbyAudio.log") if e["what"] == "playing"]


def heard_numbers(page: Any) -> set[str]:
    """Every number the page was handed an announcement of (queued, played, skipped or ignored)."""
    return {e["number"] for e in page.evaluate("window.qcallLobbyAudio.log")}


def test_two_lobby_screens_in_two_zones_each_play_only_their_zones_calls_in_order(
    zoned_hall: ZonedHall,
) -> None:
    hall = zoned_hall
    errors: list[str] = []
    with launch_chromium([AUTOPLAY]) as browser:
        pages = {zone: open_lobby(browser, hall, zone, errors) for zone in ("A", "B")}
        whole_hall = Announcements(hall.hub, hall.creds.display)  # a token of no zone: the whole hall
        try:
            tickets = [issue(hall.hub, hall.creds.kiosk) for _ in range(5)]
            for counter, ticket in zip((1, 2, 3, 4, 5), tickets, strict=True):
                clerk = login(hall.hub.url, hall.creds.clerks[counter], counter)
                answer = requests.post(
                    f"{hall.hub.url}/api/v1/counters/{counter}/call-next", headers=bearer(clerk), timeout=20
                )
                assert answer.status_code == 200 and answer.json()["ticket"]["id"] == ticket["id"], (
                    answer.text
                )
            said = [whole_hall.next_announcement() for _ in tickets]
        finally:
            whole_hall.close()
        numbers = [t["number"] for t in tickets]
        assert [a["number"] for a in said] == numbers, "the whole hall's room hears every call, in order"
        assert {a["zone"] for a in said} == {None}

        expected = {"A": [numbers[0], numbers[2], numbers[4]], "B": [numbers[1], numbers[3], numbers[4]]}
        for zone, page in pages.items():
            page.wait_for_function(
                "n => window.qcallPlayed.length >= n && !document.body.hasAttribute('data-playing-seq')",
                arg=len(expected[zone]),
                timeout=WAIT_MS,
            )
        for zone, page in pages.items():
            assert played_numbers(page) == expected[zone], (zone, page.evaluate("window.qcallLobbyAudio.log"))
            assert heard_numbers(page) == set(expected[zone]), f"zone {zone} was sent another zone's call"
            steps = played_steps(page)
            assert [s for s, what in steps if what == "ended"] == page.evaluate("window.qcallPlayed"), steps
            assert len(set(page.evaluate("window.qcallPlayed"))) == 3, "each once"
            assert_one_at_a_time(steps)
            # only the sound is zoned: every screen still shows every call of the hall
            assert page.inner_text("#current-number").strip() == numbers[4]
            recent = page.inner_text("#recent-calls")  # the calls before it, the other zone's among them
            assert all(number in recent for number in numbers[1:4]), (zone, recent)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pages["A"].screenshot(path=str(ARTIFACTS / "lobby-zone-a.png"))
    assert errors == []
