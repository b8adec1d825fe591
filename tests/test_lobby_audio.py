"""The lobby screen reads out the hall's calls: a queue played in order, and the browser's autoplay rule.

Headless system Chromium (Playwright) against a real hub process. Two kinds
of screen:

- a kiosk-mode TV, started with ``--autoplay-policy=no-user-gesture-required``
  (docs/voice.md): it plays every announcement as it comes;
- a browser as it comes out of the box: it refuses ``audio.play()`` until
  somebody taps the page, so the screen shows its "点击开启声音 / Tap to enable
  sound" button and plays the waiting calls after one tap.

Careful with the second kind: Playwright runs ``page.evaluate`` and every
``wait_for_*`` with CDP's ``userGesture: true``, which gives the page the
user activation a tap would. So until the page has shown that it is blocked,
those tests only listen (console messages, the hub's connection count) and
never evaluate. After that they may: the page tries again only on a real
tap or key press, not because the browser would now let it.

The queue's own rules (duplicates, a file that will not play, announcements
gone stale) are checked with announcements handed to the page directly,
WAVs as data: URLs; the whole path (call → espeak-ng → hub → screen) with a
hub whose ``[voice]`` goes to the lobby, espeak-ng required (skipped without
it on a developer's machine, failing when ``CI=true``).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import shutil
import struct
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

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
from tests.waiting import SocketListener, wait_until

pytestmark = pytest.mark.browser

AUTOPLAY = "--autoplay-policy=no-user-gesture-required"
WAIT_MS = 30_000
WAIT_S = WAIT_MS / 1000
NOT_THERE = "/voice/a-" + "0" * 32 + ".wav"  # a well-formed name no hub has rendered: 404


#: A page script: once the page knows it is blocked, it is handed ITEMS as if from the socket.
HAND_OVER_WHEN_BLOCKED = """(items => {
    const hand = () => {
        const audio = window.qcallLobbyAudio;
        if (!audio || audio.state() !== "blocked") return setTimeout(hand, 50);
        items.forEach(item => audio.announce(item));
    };
    setTimeout(hand, 50);
})(ITEMS)"""


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def autoplay_browser() -> Iterator[object]:
    """Chromium as a kiosk-mode lobby TV is started: sound without a tap."""
    with launch_chromium([AUTOPLAY]) as launched:
        yield launched


def tone_url(seconds: float, hz: float) -> str:
    """A short tone as a WAV data: URL (16-bit mono, 8 kHz)."""
    rate = 8000
    samples = (int(8000 * math.sin(2 * math.pi * hz * n / rate)) for n in range(int(seconds * rate)))
    frames = b"".join(struct.pack("<h", sample) for sample in samples)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return "data:audio/wav;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def announcement(seq: int, url: str, duration: float, number: str) -> dict[str, Any]:
    """An ``announcement`` payload as the hub sends it."""
    return {
        "seq": seq,
        "ticket_id": f"t{seq}",
        "number": number,
        "recall": False,
        "url": url,
        "duration": duration,
        "texts": [["zh", f"请{number}号到1号窗口"]],
    }


def connections(hub: HubProcess) -> int:
    return requests.get(f"{hub.url}/api/v1/health", timeout=10).json()["connections"]


def played_steps(page: object) -> list[tuple[int, str]]:
    """(seq, what) of the page's log, for playing / ended / failed / skipped / duplicate."""
    return [(e["seq"], e["what"].split(":")[0]) for e in page.evaluate("window.qcallLobbyAudio.log")]


def assert_one_at_a_time(steps: list[tuple[int, str]]) -> None:
    """Each announcement that started ended (or failed) before the next one started."""
    playing = None
    for seq, what in steps:
        if what == "playing":
            assert playing is None, f"{seq} started while {playing} was playing: {steps}"
            playing = seq
        elif what in ("ended", "failed") and seq == playing:
            playing = None


def open_lobby(page: object, hub: HubProcess, token: str, errors: list[str]) -> None:
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{hub.url}/display/lobby?token={token}")


# -- the queue, announcements handed to the page ------------------------------------------


def test_queue_plays_in_order_one_at_a_time(autoplay_browser, hub, site) -> None:
    """In order, never two at once; a seq twice plays once; a bad file is passed over; stale ones skipped."""
    errors: list[str] = []
    page = autoplay_browser.new_page(viewport={"width": 1920, "height": 1080})
    open_lobby(page, hub, site.creds.display, errors)
    page.wait_for_selector("body[data-live='connected'][data-sound='on']", timeout=WAIT_MS)
    assert page.is_hidden("#sound-enable")

    page.evaluate(
        """([items, staleAge]) => {
            const audio = window.qcallLobbyAudio;
            items.forEach(([data, age]) => audio.announce(data, age ? staleAge : 0));
        }""",
        [
            [
                [announcement(1, tone_url(0.4, 440), 0.4, "A001"), False],
                [announcement(2, NOT_THERE, 2.0, "A002"), False],  # 404: error, then the next
                [announcement(1, tone_url(0.4, 440), 0.4, "A001"), False],  # the same seq again
                [announcement(3, tone_url(0.3, 660), 0.3, "A003"), False],
                [announcement(4, tone_url(0.3, 550), 0.3, "A004"), True],  # came 3 minutes ago
                [announcement(5, tone_url(0.3, 880), 0.3, "A005"), False],
            ],
            3 * 60 * 1000,
        ],
    )
    page.wait_for_function("() => window.qcallPlayed.join() === '1,3,5'", timeout=WAIT_MS)
    page.wait_for_function("() => !document.body.hasAttribute('data-playing-seq')", timeout=WAIT_MS)
    steps = played_steps(page)
    assert (1, "duplicate, ignored") in steps
    assert (2, "failed") in steps and (2, "playing") not in steps
    assert (4, "skipped") in steps and (4, "playing") not in steps
    assert [seq for seq, what in steps if what == "ended"] == [1, 3, 5]
    assert_one_at_a_time(steps)
    assert page.get_attribute("body", "data-sound") == "on"

    # While one plays, body says which; the next waits for its end.
    page.evaluate(
        "([a, b]) => { window.qcallLobbyAudio.announce(a); window.qcallLobbyAudio.announce(b); }",
        [announcement(6, tone_url(1.5, 440), 1.5, "A006"), announcement(7, tone_url(0.3, 660), 0.3, "A007")],
    )
    page.wait_for_selector("body[data-playing-seq='6']", timeout=WAIT_MS)
    assert page.evaluate("window.qcallPlayed.slice(-1)[0]") == 6
    page.wait_for_function("() => window.qcallPlayed.join() === '1,3,5,6,7'", timeout=WAIT_MS)
    assert_one_at_a_time(played_steps(page))
    assert errors == []


def test_blocked_until_a_tap(browser, hub, site) -> None:
    """No autoplay flag: data-sound="blocked", the button once a call waits; one tap and the queue plays."""
    errors: list[str] = []
    console: list[str] = []
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("console", lambda msg: console.append(msg.text))
    # Handed over by the page's own timer, as the socket would: not from evaluate (a user gesture).
    items = [
        announcement(1, tone_url(0.4, 440), 0.4, "A001"),
        announcement(2, tone_url(0.3, 660), 0.3, "A002"),
    ]
    page.add_init_script(HAND_OVER_WHEN_BLOCKED.replace("ITEMS", json.dumps(items)))
    with page.expect_console_message(lambda m: "A002 queued, sound blocked" in m.text, timeout=WAIT_MS):
        open_lobby(page, hub, site.creds.display, errors)
    assert "qcall lobby: sound blocked" in console
    assert not any(" playing" in line for line in console), console

    # The page waits for a tap now: looking at it cannot start it.
    assert page.get_attribute("body", "data-sound") == "blocked"
    button = page.locator("#sound-enable")
    assert button.is_visible()
    assert "点击开启声音" in button.inner_text() and "Tap to enable sound" in button.inner_text()
    assert page.evaluate("window.qcallPlayed.length") == 0
    _not_over_current_call(page)

    button.click()
    page.wait_for_function("() => window.qcallPlayed.join() === '1,2'", timeout=WAIT_MS)
    assert page.get_attribute("body", "data-sound") == "on"
    assert page.is_hidden("#sound-enable")
    assert_one_at_a_time(played_steps(page))
    assert errors == []


def _not_over_current_call(page: object) -> None:
    """The button sits in a bottom corner, clear of the current call."""
    box = page.locator("#sound-enable").bounding_box()
    call = page.locator("#current-call").bounding_box()
    viewport = page.viewport_size
    assert box["y"] > call["y"] + call["height"], (box, call)
    assert box["y"] + box["height"] <= viewport["height"]
    assert box["height"] >= 60 and box["width"] >= 250, box  # big enough to find and tap


# -- the whole path: a hub whose voice goes to the lobby --------------------------------------


@dataclass
class VoiceHall:
    hub: HubProcess
    creds: Credentials


@pytest.fixture
def voice_hall(tmp_path: Path) -> Iterator[VoiceHall]:
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but espeak-ng is not installed (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is not installed")
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=2)
    config.write_text(
        config.read_text(encoding="utf-8") + lobby_voice_toml(tmp_path / "voice"), encoding="utf-8"
    )
    creds = provision(config, 2)
    hub = HubProcess(config, tmp_path)
    hub.start()
    try:
        yield VoiceHall(hub, creds)
    finally:
        hub.stop()


class Announcements(SocketListener):
    """A display's own Socket.IO connection, keeping every event the hub sends the hall."""

    def __init__(self, hub: HubProcess, token: str) -> None:
        super().__init__(hub.url, {"token": token}, timeout=WAIT_S)
        self.connect()

    def next_announcement(self) -> dict[str, Any]:
        try:
            return self.wait_for("announcement")
        except AssertionError as exc:
            raise AssertionError(f"{exc} (is the hub's voice wired?)") from None


def call_two(hall: VoiceHall, listener: Announcements) -> list[dict[str, Any]]:
    """Two tickets; clerk 1 calls the first, then clerk 2 the second. The two announcements, checked."""
    first = issue(hall.hub, hall.creds.kiosk)
    second = issue(hall.hub, hall.creds.kiosk)
    for counter, ticket in ((1, first), (2, second)):
        clerk = login(hall.hub.url, hall.creds.clerks[counter], counter)
        answer = requests.post(
            f"{hall.hub.url}/api/v1/counters/{counter}/call-next", headers=bearer(clerk), timeout=20
        )
        assert answer.status_code == 200 and answer.json()["ticket"]["id"] == ticket["id"], answer.text
    said = [listener.next_announcement(), listener.next_announcement()]
    assert [a["ticket_id"] for a in said] == [first["id"], second["id"]]
    assert [a["number"] for a in said] == [first["number"], second["number"]]
    assert said[0]["seq"] < said[1]["seq"]
    for a in said:
        wav = requests.get(hall.hub.url + a["url"], timeout=10)  # no auth: a screen fetches it as is
        assert wav.status_code == 200 and wav.content[:4] == b"RIFF", (a["url"], wav.status_code)
        assert a["duration"] > 0.5 and a["texts"][0][0] == "zh"
    return said


def test_kiosk_tv_reads_out_two_calls_in_order(autoplay_browser, voice_hall: VoiceHall) -> None:
    """A TV started with the autoplay flag: both calls, in order, one after the other, no tap."""
    hall = voice_hall
    errors: list[str] = []
    page = autoplay_browser.new_page(viewport={"width": 1920, "height": 1080})
    open_lobby(page, hall.hub, hall.creds.display, errors)
    page.wait_for_selector("body[data-live='connected'][data-sound='on']", timeout=WAIT_MS)
    listener = Announcements(hall.hub, hall.creds.display)
    try:
        said = call_two(hall, listener)
    finally:
        listener.close()
    seqs = [a["seq"] for a in said]
    page.wait_for_function("seqs => window.qcallPlayed.join() === seqs.join()", arg=seqs, timeout=WAIT_MS)
    page.wait_for_function("() => !document.body.hasAttribute('data-playing-seq')", timeout=WAIT_MS)
    steps = played_steps(page)
    assert [s for s, what in steps if what == "ended"] == seqs, steps
    assert_one_at_a_time(steps)
    assert page.get_attribute("body", "data-sound") == "on"
    assert page.is_hidden("#sound-enable")
    assert page.inner_text("#current-number").strip() == said[1]["number"]  # the screen is drawn as ever
    assert errors == []


def test_screen_without_the_flag_plays_after_one_tap(browser, voice_hall: VoiceHall) -> None:
    """An ordinary browser: blocked, the button, one tap, then both calls in order."""
    hall = voice_hall
    errors: list[str] = []
    console: list[str] = []
    listener = Announcements(hall.hub, hall.creds.display)
    try:
        before = connections(hall.hub)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.on("console", lambda msg: console.append(msg.text))
        with page.expect_console_message(lambda m: m.text == "qcall lobby: sound blocked", timeout=WAIT_MS):
            open_lobby(page, hall.hub, hall.creds.display, errors)
        # Connected (in the hall room) without asking the page anything: see the module's docstring.
        wait_until(lambda: connections(hall.hub) > before, "the lobby's socket", timeout=WAIT_S)
        said = call_two(hall, listener)
    finally:
        listener.close()
    seqs = [a["seq"] for a in said]
    last = f"announcement {seqs[1]} {said[1]['number']} queued, sound blocked"
    if not any(line.startswith(f"qcall lobby: {last}") for line in console):
        page.wait_for_event("console", lambda m: last in m.text, timeout=WAIT_MS)
    assert not any(" playing" in line for line in console), console

    assert page.get_attribute("body", "data-sound") == "blocked"
    assert page.locator("#sound-enable").is_visible()
    assert page.evaluate("window.qcallPlayed.length") == 0
    _not_over_current_call(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lobby-sound-blocked.png"))

    page.click("#sound-enable")
    page.wait_for_function("seqs => window.qcallPlayed.join() === seqs.join()", arg=seqs, timeout=WAIT_MS)
    assert page.get_attribute("body", "data-sound") == "on"
    assert page.is_hidden("#sound-enable")
    page.wait_for_function("() => !document.body.hasAttribute('data-playing-seq')", timeout=WAIT_MS)
    assert_one_at_a_time(played_steps(page))
    assert errors == []
