"""Caller keypads and evaluation pads: virtual pads on a pty, the real bus worker and listener.

A :class:`~drivers.twins.virtual_bus.VirtualKeypad` writes key frames into the
pty the way a keypad on the RS-485 line does; the driver's
:class:`~drivers.bus.SerialBus` reads them and its
:class:`~drivers.signs.keypad.KeypadListener` must deliver exactly the good
ones. A bad frame is followed by a good one and the test waits for the good
one: the bytes are in order on one line, so once the good frame arrived the bad
one has been judged — no sleeping to prove that something did not happen.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.bus import SerialBus
from drivers.signs.framed import FramedDisplays
from drivers.signs.frames import FRAME_PRESETS, FrameFormat
from drivers.signs.keypad import ACTIONS, KeypadListener
from drivers.signs.site import SerialDevices, check_serial_device
from drivers.twins.virtual_bus import VirtualFramedDisplays, VirtualKeypad, VirtualSerialBus

WAIT = 5.0


def keypad_format() -> FrameFormat:
    return FrameFormat(FRAME_PRESETS["keypad-a5"], name="keypad-a5")


class Calls:
    """on_key / on_rating calls in a queue (the listener runs them on the bus's thread)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, int, str]] = queue.Queue()

    def on_key(self, address: int, action: str) -> None:
        self.queue.put(("key", address, action))

    def on_rating(self, address: int, rating: str) -> None:
        self.queue.put(("rating", address, rating))

    def next(self) -> tuple[str, int, str]:
        return self.queue.get(timeout=WAIT)

    def empty(self) -> bool:
        return self.queue.empty()


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[VirtualSerialBus]:
    bus = VirtualSerialBus(link=tmp_path / "ttyRS485")
    yield bus
    bus.stop()


@pytest.fixture
def bus_factory() -> Iterator:
    made: list[SerialBus] = []

    def make(path: str, **options) -> SerialBus:
        """A bus on ``path``, connected (bytes a pad sends before the port opens are discarded)."""
        options.setdefault("reply_timeout", 0.1)
        connected = threading.Event()
        options["on_bus"] = lambda _name, state, _detail: connected.set() if state == "connected" else None
        bus = SerialBus(path, **options)
        made.append(bus)
        assert connected.wait(WAIT)
        return bus

    yield make
    for bus in made:
        bus.close()


PADS = {2: "keypad", 3: "keypad", 9: "evaluation_pad"}


def listen(
    twin: VirtualSerialBus, bus_factory, mode: str = "unsolicited", **kwargs
) -> tuple[KeypadListener, Calls]:
    calls = Calls()
    bus = bus_factory(twin.path)
    listener = KeypadListener(
        bus, keypad_format(), PADS, on_key=calls.on_key, on_rating=calls.on_rating, mode=mode, **kwargs
    )
    return listener, calls


def test_every_key_of_a_configured_keypad_is_delivered(twin: VirtualSerialBus, bus_factory) -> None:
    pad = twin.add(VirtualKeypad(2))
    twin.start()
    listener, calls = listen(twin, bus_factory)
    for action in ACTIONS:
        pad.press(action)
        assert calls.next() == ("key", 2, action)
    assert listener.rejected == type(listener.rejected)([], maxlen=listener.rejected.maxlen)
    assert listener.accepted == len(ACTIONS)


def test_evaluation_rating_is_delivered(twin: VirtualSerialBus, bus_factory) -> None:
    pad = twin.add(VirtualKeypad(9))
    twin.start()
    _listener, calls = listen(twin, bus_factory)
    for rating in ("very_satisfied", "satisfied", "dissatisfied"):
        pad.rate(rating)
        assert calls.next() == ("rating", 9, rating)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"address": 7}, "unknown address"),
        ({"corrupt": True}, "checksum"),
        ({"code": 99}, "unknown key code 99"),
        ({"command": "rating", "code": 1}, "a rating from a keypad"),
        ({"address": 9}, "a key from an evaluation pad"),
    ],
)
def test_bad_frames_are_rejected_logged_and_never_delivered(
    twin: VirtualSerialBus, bus_factory, caplog: pytest.LogCaptureFixture, bad: dict, reason: str
) -> None:
    pad = twin.add(VirtualKeypad(2))
    twin.start()
    listener, calls = listen(twin, bus_factory)
    caplog.set_level(logging.WARNING, logger="drivers.signs.keypad")
    pad.send_frame(bad.get("code", 1), bad.get("command", "key"), address=bad.get("address"),
                   corrupt=bad.get("corrupt", False))  # fmt: skip
    pad.press("recall")  # the next good frame on the line
    assert calls.next() == ("key", 2, "recall")
    assert calls.empty()  # the bad frame was not delivered
    assert [r.reason for r in listener.rejected] == [reason]
    assert any(reason in rec.getMessage() and rec.levelno == logging.WARNING for rec in caplog.records)


def test_keypads_polled_on_a_half_duplex_line(twin: VirtualSerialBus, bus_factory) -> None:
    pad2 = twin.add(VirtualKeypad(2, mode="poll"))
    rater = twin.add(VirtualKeypad(9, mode="poll"))
    twin.add(VirtualKeypad(3, mode="poll"))
    twin.start()
    listener, calls = listen(twin, bus_factory, mode="poll", poll_interval=0.05)
    assert twin.wait_for(lambda: pad2.polls >= 2 and rater.polls >= 2, WAIT)  # asked, answered "nothing"
    pad2.press("call_next")
    assert calls.next() == ("key", 2, "call_next")
    rater.rate("dissatisfied")
    assert calls.next() == ("rating", 9, "dissatisfied")
    assert listener.rejected.maxlen and not listener.rejected
    health = listener.bus.health().devices
    assert {health[f"{kind}@{a}"].state.value for a, kind in PADS.items()} == {"ok"}


def test_a_polled_keypad_that_never_answers_is_faulty(twin: VirtualSerialBus, bus_factory) -> None:
    twin.add(VirtualKeypad(2, mode="poll"))
    twin.add(VirtualKeypad(9, mode="poll"))
    twin.start()  # nothing at address 3
    faulty = threading.Event()
    calls = Calls()
    bus = bus_factory(
        twin.path,
        retries=0,
        on_device=lambda d, s, _: faulty.set() if (d, s) == ("keypad@3", "faulty") else None,
    )
    KeypadListener(bus, keypad_format(), PADS, on_key=calls.on_key, mode="poll", poll_interval=0.05)
    assert faulty.wait(WAIT)


def test_keypads_and_displays_share_one_port(twin: VirtualSerialBus, bus_factory) -> None:
    """Display frames go out while keypads talk: every key arrives, every display ends right."""
    stx = FrameFormat(FRAME_PRESETS["generic-stx"], name="generic-stx")
    leds = twin.add(VirtualFramedDisplays(stx, [1, 2, 3]))
    pad = twin.add(VirtualKeypad(3))
    twin.start()
    calls = Calls()
    bus = bus_factory(twin.path)
    displays = FramedDisplays(bus, stx, [1, 2, 3])
    KeypadListener(bus, keypad_format(), PADS, on_key=calls.on_key)
    keys = ["call_next", "start", "finish", "recall", "no_show"] * 4
    for n, action in enumerate(keys):
        displays.show(1 + n % 3, f"A{n:03d}")
        pad.press(action)
    assert [calls.next()[2] for _ in keys] == keys
    final = {1 + n % 3: f"A{n:03d}" for n in range(len(keys))}
    assert twin.wait_for(lambda: leds.texts == final, WAIT), leds.texts
    assert twin.rejected == []


def test_site_keypad_bound_to_counter_2(twin: VirtualSerialBus, tmp_path: Path) -> None:
    """The hub's view: a keypad named in the site's devices reports its counter, not just its address."""
    twin.add(VirtualFramedDisplays(FrameFormat(FRAME_PRESETS["generic-stx"]), [2]))
    pad = twin.add(VirtualKeypad(12))
    rater = twin.add(VirtualKeypad(22))
    stranger = twin.add(VirtualKeypad(13))
    twin.start()
    port = {"port": twin.path, "reply_timeout": 0.1}
    devices = [
        {
            "name": "led-2",
            "kind": "led_display",
            "counter": 2,
            "settings": {**port, "protocol": "generic-stx"},
        },
        {"name": "keys-2", "kind": "keypad", "counter": 2, "settings": {**port, "address": 12}},
        {"name": "eval-2", "kind": "evaluation_pad", "counter": 2, "settings": {**port, "address": 22}},
    ]
    got: queue.Queue = queue.Queue()
    connected = threading.Event()
    with SerialDevices(
        devices,
        on_key=lambda *a: got.put(("key", *a)),
        on_rating=lambda *a: got.put(("rating", *a)),
        on_bus=lambda port, state, detail: connected.set() if state == "connected" else None,
    ) as site:
        assert connected.wait(WAIT)
        stranger.press("call_next")  # address 13: not configured
        pad.press("call_next")
        assert got.get(timeout=WAIT) == ("key", "keys-2", 2, "call_next")
        rater.rate("very_satisfied")
        assert got.get(timeout=WAIT) == ("rating", "eval-2", 2, "very_satisfied")
        assert got.empty()
        assert site.listeners[0].rejected[0].reason == "unknown address"
        assert site.health()["devices"]["keys-2"]["state"] == "ok"


@pytest.mark.parametrize(
    ("kind", "settings", "problem"),
    [
        ("keypad", {"port": "/dev/ttyUSB0"}, "address"),
        ("keypad", {"port": "/dev/ttyUSB0", "address": 300}, "address"),
        ("keypad", {"port": "/dev/ttyUSB0", "address": 1, "mode": "shout"}, "mode"),
        ("keypad", {"port": "/dev/ttyUSB0", "address": 1, "keys": {"1": "dance"}}, "keys.1"),
        ("keypad", {"port": "/dev/ttyUSB0", "address": 1, "protocol": "generic-stx"}, "keypad format"),
        ("led_display", {"protocol": "generic-stx", "address": 1}, "port"),
        ("led_display", {"port": "COM1", "protocol": "nope", "address": 1}, "unknown format"),
        ("led_display", {"port": "COM1", "protocol": "modbus", "address": 0}, "1-247"),
        ("led_display", {"port": "COM1", "protocol": "modbus", "address": 1, "registers": {"txt": 1}}, "txt"),
        ("led_display", {"port": "COM1", "protocol": "vfd-ibm"}, "vfd"),
        ("led_display", {"port": "COM1", "protocol": "generic-stx", "colour": 1}, "colour"),
    ],
)
def test_settings_are_checked_with_the_key_named(kind: str, settings: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_serial_device(kind, settings, counter=1 if "address" in settings else None)
