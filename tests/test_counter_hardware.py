"""Issue #4 at hub level: a real hub process drives counter displays, keypads and a pad on a virtual bus.

The virtual RS-485 bus (a pty behind a symlink) runs in the test process; the
site file names the symlink as every serial device's ``port``, so the hub opens
it with pyserial as it would open ``/dev/serial/by-id/…``. On the bus: generic-stx
LED displays at addresses 1-3 (counters 1-3), the caller keypad of counter 2 at
address 32 and the evaluation pad of counter 1 at address 41.

Everything waits on a condition with a deadline, never on a sleep.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from drivers.signs.frames import FRAME_PRESETS, FrameFormat
from drivers.twins.virtual_bus import VirtualFramedDisplays, VirtualKeypad, VirtualSerialBus
from tests.support import (
    ADMIN_PASSWORD,
    ROOT,
    Credentials,
    HubProcess,
    bearer,
    free_port,
    login,
    provision,
    write_site,
)
from tests.waiting import wait_until

COUNTERS = 3
KEYPAD = 32  # the caller keypad of counter 2
PAD = 41  # the evaluation pad of counter 1
WAIT = 10.0
#: How often wait_until asks the hub (a poll interval, not synchronisation: the deadline decides).
POLL = 0.02
DISPLAYS = [f"led-{n}" for n in range(1, COUNTERS + 1)]


def serial_devices_toml(port: str, protocol: str = "generic-stx") -> str:
    """The ``[[devices]]`` of the hall's bus: three LED displays, a keypad, an evaluation pad."""
    port = json.dumps(port)  # a TOML basic string
    blocks = [
        f'[[devices]]\nname = "led-{n}"\nkind = "led_display"\ncounter = {n}\n'
        f'settings = {{ port = {port}, protocol = "{protocol}", address = {n} }}\n'
        for n in range(1, COUNTERS + 1)
    ]
    blocks.append(
        f'[[devices]]\nname = "keys-2"\nkind = "keypad"\ncounter = 2\n'
        f"settings = {{ port = {port}, address = {KEYPAD} }}\n"
    )
    blocks.append(
        f'[[devices]]\nname = "eval-1"\nkind = "evaluation_pad"\ncounter = 1\n'
        f"settings = {{ port = {port}, address = {PAD} }}\n"
    )
    return "\n" + "\n".join(blocks)


class Shows:
    """Every frame a virtual display accepted, with the monotonic time the twin decoded it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.seen: list[tuple[float, int, str]] = []

    def __call__(self, address: int, text: str) -> None:
        now = time.monotonic()
        with self._cond:
            self.seen.append((now, address, text))
            self._cond.notify_all()

    def wait(self, address: int, text: str, since: float, timeout: float = WAIT) -> float:
        """The time ``text`` was first decoded at ``address`` after ``since``."""

        def first() -> float | None:
            return next((t for t, a, x in self.seen if a == address and x == text and t >= since), None)

        with self._cond:
            assert self._cond.wait_for(lambda: first() is not None, timeout), (
                f"display {address} never showed {text!r}; saw {self.seen[-10:]}"
            )
            return first()  # type: ignore[return-value]

    def count(self, address: int) -> int:
        with self._cond:
            return sum(1 for _, a, _ in self.seen if a == address)


class Hall:
    """A running hub with the virtual bus and what the tests ask of it."""

    def __init__(
        self, hub: HubProcess, bus: VirtualSerialBus, leds: VirtualFramedDisplays, creds: Credentials
    ):
        self.hub = hub
        self.bus = bus
        self.leds = leds
        self.shows: Shows = leds.on_show  # type: ignore[assignment]
        self.creds = creds
        self.api = hub.url + "/api/v1"
        self.keypad, self.pad = (d for d in bus.devices if isinstance(d, VirtualKeypad))
        self.admin = bearer(login(hub.url, "admin", None, ADMIN_PASSWORD))
        self._clerks: dict[int, dict[str, str]] = {}

    def clerk(self, counter: int) -> dict[str, str]:
        if counter not in self._clerks:
            self._clerks[counter] = bearer(login(self.hub.url, f"clerk{counter}", counter))
        return self._clerks[counter]

    def issue(self, service: str = "PAY") -> dict[str, Any]:
        answer = requests.post(
            f"{self.api}/tickets", json={"service": service}, headers=bearer(self.creds.kiosk), timeout=10
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def act(self, counter: int, action: str) -> requests.Response:
        answer = requests.post(
            f"{self.api}/counters/{counter}/{action}", headers=self.clerk(counter), timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer

    def call_next(self, counter: int) -> str:
        return self.act(counter, "call-next").json()["ticket"]["number"]

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return requests.get(f"{self.api}/tickets/{ticket_id}", timeout=10).json()

    def device_states(self) -> dict[str, str]:
        answer = requests.get(f"{self.api}/devices", headers=self.admin, timeout=10)
        answer.raise_for_status()
        return {d["name"]: d["state"] for d in answer.json()["devices"]}

    def wait_devices(self, names: list[str], state: str, timeout: float = WAIT) -> None:
        wait_until(
            lambda: all(self.device_states().get(n) == state for n in names),
            f"{names} {state} (now {self.device_states()})",
            timeout,
            every=POLL,
        )

    def wait_texts(self, expected: dict[int, str], timeout: float = WAIT) -> bool:
        return self.bus.wait_for(
            lambda: all(self.leds.texts.get(a) == t for a, t in expected.items()), timeout
        )


@pytest.fixture
def make_hall(tmp_path: Path) -> Iterator[Callable[..., Hall]]:
    """``make_hall(silent=[…], site=…)``: the site (``site``: more of its TOML), the virtual bus (displays at
    ``silent`` never answer), the hub."""
    started: list[tuple[HubProcess, VirtualSerialBus]] = []

    def make(silent: tuple[int, ...] = (), site: str = "") -> Hall:
        bus = VirtualSerialBus(link=tmp_path / "ttyRS485")
        stx = FrameFormat(FRAME_PRESETS["generic-stx"], name="generic-stx")
        leds = bus.add(VirtualFramedDisplays(stx, range(1, COUNTERS + 1), silent=silent, on_show=Shows()))
        bus.add(VirtualKeypad(KEYPAD))
        bus.add(VirtualKeypad(PAD))
        config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", COUNTERS)
        config.write_text(
            config.read_text(encoding="utf-8") + site + serial_devices_toml(bus.path), encoding="utf-8"
        )
        creds = provision(config, COUNTERS)
        bus.start()
        hub = HubProcess(config, tmp_path)
        started.append((hub, bus))
        hub.start()
        hall = Hall(hub, bus, leds, creds)
        # The hub opened the port and blanked every free counter's display (show_current).
        assert hall.wait_texts(dict.fromkeys(range(1, COUNTERS + 1), "")), hall.leds.texts
        return hall

    yield make
    for hub, bus in started:
        hub.stop()
        bus.stop()


def test_a_call_at_counter_3_shows_on_display_3_within_100_ms(make_hall: Callable[..., Hall]) -> None:
    hall = make_hall()
    hall.wait_devices(DISPLAYS, "online")
    others = {1: hall.shows.count(1), 2: hall.shows.count(2)}
    for _ in range(10):
        hall.issue()
    latencies = []
    for i in range(10):
        if i:
            hall.act(3, "finish")
            assert hall.wait_texts({3: ""}, WAIT), "finishing the ticket blanks display 3"
        before = time.monotonic()
        number = hall.call_next(3)
        latencies.append(hall.shows.wait(3, number, since=before) - before)
    print(f"call -> display 3 latencies (ms): {[round(t * 1000, 1) for t in latencies]}")
    assert max(latencies) < 1.0, latencies
    assert statistics.median(latencies) < 0.1, latencies
    hall.act(3, "finish")
    assert hall.wait_texts({3: ""}, WAIT)
    # Displays 1 and 2 got nothing: their counters did nothing.
    assert {1: hall.shows.count(1), 2: hall.shows.count(2)} == others
    assert hall.leds.texts[1] == hall.leds.texts[2] == ""
    assert hall.bus.rejected == []


def test_unplugged_bus_never_holds_up_calls_and_replug_restores_every_display(
    make_hall: Callable[..., Hall],
) -> None:
    hall = make_hall()
    for _ in range(5):
        hall.issue()
    showing = {n: hall.call_next(n) for n in (1, 2, 3)}
    assert hall.wait_texts(showing), hall.leds.texts
    hall.wait_devices(DISPLAYS, "online")

    hall.bus.unplug()
    for n in (1, 2):  # the adapter is gone: the calls still go through at once
        before = time.monotonic()
        showing[n] = hall.call_next(n)
        took = time.monotonic() - before
        print(f"call-next at counter {n} with the bus unplugged: {took * 1000:.1f} ms")
        assert took < 1.0
    hall.wait_devices(DISPLAYS, "disconnected")

    hall.bus.replug()  # a new pty at the same path; the displays come back blank
    replugged = time.monotonic()
    assert hall.wait_texts(showing, 5.0), f"after replug: {hall.leds.texts}, expected {showing}"
    print(f"every display current {time.monotonic() - replugged:.2f} s after replug")
    hall.wait_devices(DISPLAYS, "online")
    assert hall.bus.rejected == []


def test_keypad_of_counter_2_calls_and_bad_frames_are_rejected(make_hall: Callable[..., Hall]) -> None:
    hall = make_hall()
    first, second = hall.issue(), hall.issue()

    hall.keypad.send_frame(1, "key", address=99)  # call_next from a keypad nobody configured
    hall.keypad.send_frame(1, "key", corrupt=True)  # call_next with a wrong checksum
    warnings = wait_until(
        lambda: (
            [
                line
                for line in hall.hub.log().splitlines()
                if "WARNING" in line and "keypad frame rejected" in line
            ]
            if "checksum" in hall.hub.log()
            else None
        ),
        "the hub to log the rejected keypad frames",
        WAIT,
        every=POLL,
    )
    assert any("unknown address" in w and "address 99" in w for w in warnings), warnings
    assert any("checksum" in w for w in warnings), warnings
    assert hall.ticket(first["id"])["status"] == "waiting"
    assert hall.ticket(second["id"])["status"] == "waiting"

    # Nobody is logged in at counter 2: its keypad's call is refused, and the hub says why.
    hall.keypad.press("call_next")
    wait_until(
        lambda: "keypad keys-2 at counter 2: call_next refused: counter 2 is closed" in hall.hub.log(),
        "the hub to log the keypad's refused call at a closed counter",
        WAIT,
        every=POLL,
    )
    assert hall.ticket(first["id"])["status"] == "waiting"
    hall.clerk(2)  # the clerk of counter 2 logs in: the keypad now calls for them

    hall.keypad.press("call_next")
    called = wait_until(
        lambda: (t := hall.ticket(first["id"]))["status"] == "called" and t,
        "the keypad's call_next to call the first ticket",
        WAIT,
        every=POLL,
    )
    assert called["counter"] == 2
    view = requests.get(f"{hall.api}/counters/2", headers=hall.admin, timeout=10).json()
    assert view["counter"]["current"]["id"] == first["id"]
    assert hall.wait_texts({2: first["number"]}), hall.leds.texts
    assert hall.leds.texts[1] == hall.leds.texts[3] == ""

    # Bytes keep their order on the line: once the good recall is acted on, the bad call_next
    # before it has been judged; the second ticket is still waiting.
    hall.keypad.send_frame(1, "key", address=99)
    hall.keypad.press("recall")
    wait_until(lambda: hall.ticket(first["id"])["call_count"] == 2, "the keypad's recall", WAIT, every=POLL)
    assert hall.ticket(second["id"])["status"] == "waiting"

    # The keys are the console's: start and finish on them are the clerk's on post (legs, 首问负责),
    # never a device's; the device shows in the hub's log line.
    hall.keypad.press("start")
    wait_until(
        lambda: hall.ticket(first["id"])["status"] == "serving", "the keypad's start", WAIT, every=POLL
    )
    hall.keypad.press("finish")
    wait_until(lambda: hall.ticket(first["id"])["status"] == "done", "the keypad's finish", WAIT, every=POLL)
    journey = requests.get(f"{hall.api}/tickets/{first['id']}/legs", headers=hall.admin, timeout=10).json()
    assert journey["owner"] == "clerk2"
    assert [(leg["counter"], leg["staff"], leg["outcome"]) for leg in journey["legs"]] == [
        (2, "clerk2", "done")
    ]
    assert "keypad keys-2 at counter 2: finish by clerk2 (via: keypad keys-2)" in hall.hub.log()
    assert "keypad:" not in json.dumps(journey)
    finished = datetime.fromisoformat(journey["legs"][0]["finished_at"])
    month = finished.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")  # the site's zone
    report = requests.get(f"{hall.api}/reports/monthly?month={month}", headers=hall.admin, timeout=20).json()
    clerks = json.dumps(report["sections"]["clerk"])
    assert "clerk2" in clerks and "keypad" not in clerks, clerks


def test_serial_evaluation_pad_rates_the_finished_ticket(make_hall: Callable[..., Hall]) -> None:
    hall = make_hall()
    ticket = hall.issue()
    assert hall.call_next(1) == ticket["number"]
    hall.act(1, "finish")
    hall.pad.rate("very_satisfied")
    shown = wait_until(
        lambda: (t := hall.ticket(ticket["id"]))["evaluation"] and t,
        "the rating to be stored",
        WAIT,
        every=POLL,
    )
    assert shown["evaluation"] == "very_satisfied"
    evaluated = [e for e in shown["history"] if e["kind"] == "evaluated"]
    assert evaluated == [evaluated[0]] and evaluated[0]["counter"] == 1
    assert evaluated[0]["detail"] == {
        "rating": "very_satisfied",
        "score": 100,
        "satisfied": True,
        "leg": 1,
        "source": "eval-1",
    }


def test_on_a_five_level_site_the_pads_keys_are_the_five_levels(make_hall: Callable[..., Hall]) -> None:
    """Without a ``ratings`` table of its own, key 3 of a serial pad is the third of five: 基本满意."""
    hall = make_hall(site="\n[satisfaction]\nlevels = 5\n")
    ticket = hall.issue()
    assert hall.call_next(1) == ticket["number"]
    hall.act(1, "finish")
    hall.pad.send_frame(3, "rating")
    shown = wait_until(
        lambda: (t := hall.ticket(ticket["id"]))["evaluation"] and t,
        "the rating to be stored",
        WAIT,
        every=POLL,
    )
    assert shown["evaluation"] == "basically_satisfied"
    assert shown["history"][-1]["detail"]["score"] == 60


def test_a_display_that_never_acks_is_faulty(make_hall: Callable[..., Hall]) -> None:
    hall = make_hall(silent=(2,))
    hall.issue()
    number = hall.call_next(2)
    assert hall.wait_texts({2: number})  # the frame arrived; the display just never answers
    hall.wait_devices(["led-2"], "faulty")
    states = hall.device_states()
    assert states["led-1"] == states["led-3"] == "online", states


def test_a_broken_serial_setting_stops_the_hub_with_one_line(tmp_path: Path) -> None:
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", COUNTERS)
    config.write_text(
        config.read_text(encoding="utf-8") + serial_devices_toml(str(tmp_path / "ttyNone"), protocol="nope"),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "server", "--config", str(config), "run", "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "devices[0].settings.protocol" in lines[0], lines[0]
    assert "nope" in lines[0] and "modbus" in lines[0]
