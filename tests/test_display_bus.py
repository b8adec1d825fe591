"""The bus survives its port: a pulled USB-serial adapter, a lost Ethernet converter.

Driver level, through :class:`~drivers.signs.site.SerialDevices` (what the
hub holds): the twins' ptys disappear mid-run (the symlink the driver opens
goes away), ``show()`` calls go on meanwhile and must neither block nor raise,
and when a new pty appears at the same path every display must show the
*current* state within 5 s. The twins come back blank (the displays lost power
too), so only the driver's re-send can make them right.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial
import serial.rfc2217

from drivers.bus import BusState, DeviceState, SerialBus
from drivers.signs.framed import FramedDisplays
from drivers.signs.frames import FRAME_PRESETS, FrameFormat
from drivers.signs.site import SerialDevices
from drivers.twins.virtual_bus import (
    VirtualFramedDisplays,
    VirtualKeypad,
    VirtualModbusDisplays,
    VirtualSerialBus,
    VirtualVfd,
)

WAIT = 5.0
RETURN_WITHIN = 5.0  # the acceptance bound: every display right within 5 s of the port's return


class BusEvents:
    """on_bus / on_device callbacks, an Event per (name, state) and a count of each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str], threading.Event] = {}
        self.log: list[tuple[str, str, str]] = []

    def event(self, name: str, state: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault((name, state), threading.Event())

    def on_bus(self, port: str, state: BusState, detail: str) -> None:
        with self._lock:
            self.log.append((port, state.value, detail))
        self.event(port, state.value).set()

    def on_device(self, name: str, state: DeviceState, detail: str) -> None:
        self.event(name, state.value).set()

    def reset(self, name: str, state: str) -> None:
        self.event(name, state).clear()


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[dict[str, VirtualSerialBus]]:
    made = {name: VirtualSerialBus(link=tmp_path / f"tty{name}") for name in ("LED", "MODBUS", "VFD")}
    yield made
    for twin in made.values():
        twin.stop()


def _site_devices(led_port: str, modbus_port: str, vfd_port: str) -> list[dict]:
    """Three framed LED displays and a keypad on one bus, a Modbus display, a VFD."""

    def led(counter: int) -> dict:
        return {
            "name": f"led-{counter}",
            "kind": "led_display",
            "counter": counter,
            "settings": {"port": led_port, "protocol": "generic-stx", "reply_timeout": 0.1},
        }

    return [
        led(1),
        led(2),
        led(3),
        {"name": "keys-1", "kind": "keypad", "counter": 1, "settings": {"port": led_port, "address": 21}},
        {
            "name": "modbus-4",
            "kind": "led_display",
            "counter": 4,
            "settings": {
                "port": modbus_port,
                "protocol": "modbus",
                "registers": {"text": 0, "text_registers": 4},
            },
        },
        {
            "name": "vfd-5",
            "kind": "led_display",
            "counter": 5,
            "settings": {"port": vfd_port, "protocol": "vfd-cd5220"},
        },
    ]


class _Screens:
    """What the twins' displays show, checked against the state each counter should show."""

    def __init__(
        self,
        twins: dict[str, VirtualSerialBus],
        leds: VirtualFramedDisplays,
        units: VirtualModbusDisplays,
        vfd: VirtualVfd,
    ) -> None:
        self.twins, self.leds, self.units, self.vfd = twins, leds, units, vfd

    def _checks(self, state: dict[int, str]) -> dict[str, tuple[VirtualSerialBus, Callable[[], bool]]]:
        return {
            "led": (self.twins["LED"], lambda: self.leds.texts == {c: state[c] for c in (1, 2, 3)}),
            "modbus": (self.twins["MODBUS"], lambda: self.units.text(4, 0, 4) == state[4]),
            "vfd": (self.twins["VFD"], lambda: self.vfd.lines[0] == state[5]),
        }

    def everything_shows(self, state: dict[int, str]) -> dict[str, bool]:
        return {name: twin.snapshot(check) for name, (twin, check) in self._checks(state).items()}

    def wait_all(self, state: dict[int, str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for twin, check in self._checks(state).values():
            if not twin.wait_for(check, max(0.0, deadline - time.monotonic())):
                return False
        return True


def _show_with_the_ports_gone(site: SerialDevices, state: dict[int, str]) -> float:
    """50 ``show()`` calls (``state`` follows them); the longest one took how many seconds."""
    slowest = 0.0
    for n in range(1, 51):
        counter = 1 + n % 5
        state[counter] = f"B{n:03d}"
        started = time.monotonic()
        site.show(counter, state[counter])
        slowest = max(slowest, time.monotonic() - started)
    return slowest


def test_unplug_and_replug_every_display_shows_the_current_state(
    twins: dict[str, VirtualSerialBus],
) -> None:
    stx = FrameFormat(FRAME_PRESETS["generic-stx"], name="generic-stx")
    leds = twins["LED"].add(VirtualFramedDisplays(stx, [1, 2, 3]))
    twins["LED"].add(VirtualKeypad(21))
    units = twins["MODBUS"].add(VirtualModbusDisplays([4]))
    vfd = twins["VFD"].add(VirtualVfd("cd5220"))
    for twin in twins.values():
        twin.start()
    led_port, modbus_port, vfd_port = (twins[n].path for n in ("LED", "MODBUS", "VFD"))
    devices = _site_devices(led_port, modbus_port, vfd_port)
    screens = _Screens(twins, leds, units, vfd)
    events = BusEvents()

    with SerialDevices(devices, on_bus=events.on_bus, on_device=events.on_device) as site:
        state = {c: f"A{c:03d}" for c in range(1, 6)}
        for counter, text in state.items():
            assert site.show(counter, text) == site.displays_of(counter)
        assert screens.wait_all(state, WAIT), screens.everything_shows(state)
        for port in (led_port, modbus_port, vfd_port):
            assert events.event(port, "connected").wait(WAIT)
            events.reset(port, "connected")

        for twin in twins.values():
            twin.unplug()
        assert not Path(led_port).exists()
        for port in (led_port, modbus_port, vfd_port):
            assert events.event(port, "disconnected").wait(WAIT), port
        assert events.event("led-2", "disconnected").wait(WAIT)

        # Calls while the port is gone: they return at once and never raise.
        slowest = _show_with_the_ports_gone(site, state)
        assert slowest < 0.1, f"a show() took {slowest * 1000:.1f} ms with the port gone"
        health = site.health()
        assert {b["state"] for b in health["buses"].values()} == {"disconnected"}
        assert health["devices"]["led-1"]["state"] == "disconnected"

        for name in ("led-1", "led-2", "led-3", "modbus-4"):
            events.reset(name, "ok")
        events.reset("vfd-5", "unconfirmed")
        for twin in twins.values():
            twin.replug(power_cycle=True)  # a new pty at the same path; the displays come back blank
        returned = time.monotonic()
        assert screens.wait_all(state, RETURN_WITHIN), screens.everything_shows(state)
        took = time.monotonic() - returned
        assert took < RETURN_WITHIN
        for port in (led_port, modbus_port, vfd_port):
            assert events.event(port, "connected").wait(WAIT)
        for name in ("led-1", "led-2", "led-3", "modbus-4"):
            assert events.event(name, "ok").wait(WAIT), name  # acknowledged again
        # The driver writes the frames (the twin shows them) before it marks the VFD: wait for the mark.
        assert events.event("vfd-5", "unconfirmed").wait(WAIT)
        assert site.health()["devices"]["vfd-5"]["state"] == "unconfirmed"
        assert twins["LED"].wait_for(lambda: len(leds.texts) == 3, WAIT)
        assert vfd.inits >= 2  # ESC @ again after the reconnect
        assert twins["LED"].rejected == [] and twins["MODBUS"].rejected == []
        assert site.contents()["led-3"] == state[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat")
def test_ethernet_converter_lost_and_back(tmp_path: Path) -> None:
    """``socket://`` through socat standing in for a serial-over-Ethernet converter in front of the bus."""
    stx = FrameFormat(FRAME_PRESETS["generic-stx"], name="generic-stx")
    twin = VirtualSerialBus(link=tmp_path / "ttyCONV")
    leds = twin.add(VirtualFramedDisplays(stx, [1, 2]))
    twin.start()
    port = _free_port()

    def converter() -> subprocess.Popen:
        return subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr", f"FILE:{twin.path},raw,echo=0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    events = BusEvents()
    proc = converter()
    bus = None
    try:
        bus = SerialBus(f"socket://127.0.0.1:{port}", name="conv", on_bus=events.on_bus, reply_timeout=0.2)
        displays = FramedDisplays(bus, stx, [1, 2])
        displays.show(1, "A001")
        displays.show(2, "A002")
        assert twin.wait_for(lambda: leds.texts == {1: "A001", 2: "A002"}, WAIT), leds.texts
        events.reset("conv", "connected")

        proc.terminate()  # the converter loses power
        proc.wait(WAIT)
        assert events.event("conv", "disconnected").wait(WAIT)
        started = time.monotonic()
        displays.show(2, "A003")
        displays.show(1, "A004")
        assert time.monotonic() - started < 0.1
        twin.snapshot(leds.texts.clear)  # the displays blank out with the converter

        proc = converter()
        assert twin.wait_for(lambda: leds.texts == {1: "A004", 2: "A003"}, RETURN_WITHIN), leds.texts
        assert events.event("conv", "connected").wait(WAIT)
    finally:
        if bus is not None:
            bus.close()
        proc.terminate()
        proc.wait(WAIT)
        twin.stop()


class _PtyPort(serial.Serial):
    """pyserial on a pty for the RFC 2217 server below: a pty has no modem lines to set or read."""

    def _update_dtr_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass

    cts = dsr = cd = property(lambda self: True)
    ri = property(lambda self: False)


def _rfc2217_server(listener: socket.socket, path: str, stop: threading.Event) -> None:
    """One client, pyserial's own RFC 2217 PortManager between the socket and the pty."""
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    port = _PtyPort(path, timeout=0.05)

    class Network:
        def write(self, data: bytes) -> None:
            conn.sendall(data)

    manager = serial.rfc2217.PortManager(port, Network())

    def to_network() -> None:
        while not stop.is_set():
            try:
                data = port.read(port.in_waiting or 1)
                if data:
                    conn.sendall(b"".join(manager.escape(data)))
            except (OSError, serial.SerialException):
                return

    reader = threading.Thread(target=to_network, daemon=True)
    reader.start()
    try:
        while not stop.is_set():
            data = conn.recv(4096)
            if not data:
                return
            port.write(b"".join(manager.filter(data)))
    except OSError:
        return
    finally:
        stop.set()
        reader.join(WAIT)
        conn.close()
        port.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")  # setDaemon() in pyserial 3.5
def test_rfc2217_port(tmp_path: Path) -> None:
    """``rfc2217://`` (no descriptor to select on: the bus reads in short slices)."""
    stx = FrameFormat(FRAME_PRESETS["generic-stx"])
    twin = VirtualSerialBus(link=tmp_path / "ttyRFC")
    leds = twin.add(VirtualFramedDisplays(stx, [1, 2]))
    pad = twin.add(VirtualKeypad(7))
    twin.start()
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    server = threading.Thread(target=_rfc2217_server, args=(listener, twin.path, stop), daemon=True)
    server.start()
    events = BusEvents()
    keys: list[tuple] = []
    key_seen = threading.Event()
    try:
        url = f"rfc2217://127.0.0.1:{listener.getsockname()[1]}"
        led = {"kind": "led_display", "settings": {"port": url, "protocol": "generic-stx"}}
        with SerialDevices(
            [
                {"name": "led-1", "counter": 1, **led},
                {"name": "led-2", "counter": 2, **led},
                {"name": "keys-1", "kind": "keypad", "counter": 1, "settings": {"port": url, "address": 7}},
            ],
            on_bus=events.on_bus,
            on_device=events.on_device,
            on_key=lambda *a: (keys.append(a), key_seen.set()),
        ) as site:
            site.show(1, "A001")
            site.show(2, "A002")
            assert twin.wait_for(lambda: leds.texts == {1: "A001", 2: "A002"}, WAIT), leds.texts
            assert events.event("led-2", "ok").wait(WAIT)
            pad.press("finish")
            assert key_seen.wait(WAIT)
            assert keys == [("keys-1", 1, "finish")]
    finally:
        stop.set()
        listener.close()
        twin.stop()
        server.join(WAIT)
