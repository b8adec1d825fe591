"""show() → the frame decoded at the virtual display; key press → on_key. Over real ptys, no hub.

For each display protocol a :class:`~drivers.twins.serial_bus.VirtualSerialBus`
(a pty) carries three virtual displays; the driver (``SerialBus`` + the
protocol's display driver, as :class:`~drivers.display.site.SerialDevices` builds
them) opens the pty by a symlink, as it would open ``/dev/ttyUSB0``. Each of
``--shows`` shows (after ``--warmup``) goes to the next address in turn, and
waits until the twin has decoded it before the next:

* **show latency** = from just before ``show()`` until the twin's bus thread
  has parsed the frame, checked its checksum and stored the text (the bench
  thread wakes on the twin's condition), ``time.monotonic()`` in this process;
* **show call** = how long ``show()`` itself took (the hub's cost);
* **acked** = shows whose display the driver saw acknowledge (health ``ok``).

Then ``--keys`` key presses from a virtual keypad on the framed bus: press →
``on_key`` called in the driver. And ``show()`` with the port gone (the pty
unplugged): only the call's own time.

A pty moves bytes at memory speed whatever the baud rate: these figures are
the driver's and the twin's own cost. On a real 9600-baud line add the wire
time, about 1.04 ms a byte: a 14-byte generic-stx frame and its ACK ≈ 16 ms.

    .venv/bin/python bench/display_latency.py [--shows 200] [--keys 200]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import emit, loadavg, log, ms, percentile

from drivers.display.frames import FRAME_PRESETS, FrameFormat
from drivers.display.site import SerialDevices
from drivers.twins.serial_bus import (
    VirtualFramedDisplays,
    VirtualKeypad,
    VirtualModbusDisplays,
    VirtualSerialBus,
    VirtualVfd,
)

TARGET_P99_MS = 100.0
ADDRESSES = (1, 2, 3)


def figures(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": ms(percentile(values, 50)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(max(values)) if values else float("nan"),
    }


def protocol_setup(protocol: str, twin: VirtualSerialBus) -> tuple[list[dict], Callable[[int], str]]:
    """The site devices for ``protocol`` on ``twin`` and a reader of what display ``counter`` shows."""
    port = {"port": twin.path, "reply_timeout": 0.2}
    if protocol.startswith("vfd-"):
        vfd = twin.add(VirtualVfd(protocol.removeprefix("vfd-")))
        devices = [
            {"name": "vfd-1", "kind": "led_display", "counter": 1, "settings": {**port, "protocol": protocol}}
        ]
        return devices, lambda counter: vfd.lines[0]
    if protocol == "modbus":
        units = twin.add(VirtualModbusDisplays(ADDRESSES))
        settings = {**port, "protocol": "modbus", "registers": {"text": 0, "text_registers": 4}}
        devices = [
            {"name": f"led-{a}", "kind": "led_display", "counter": a, "settings": settings} for a in ADDRESSES
        ]
        return devices, lambda counter: units.text(counter, 0, 4)
    leds = twin.add(VirtualFramedDisplays(FrameFormat(FRAME_PRESETS[protocol], name=protocol), ADDRESSES))
    devices = [
        {"name": f"led-{a}", "kind": "led_display", "counter": a, "settings": {**port, "protocol": protocol}}
        for a in ADDRESSES
    ]
    return devices, lambda counter: leds.texts.get(counter, "")


def connected_site(devices: list[dict], **callbacks: Any) -> SerialDevices:
    ready = threading.Event()
    site = SerialDevices(
        devices,
        on_bus=lambda _port, state, _detail: ready.set() if state == "connected" else None,
        **callbacks,
    )
    if not ready.wait(10):
        raise RuntimeError("the bus did not connect")
    return site


def bench_protocol(protocol: str, folder: Path, shows: int, warmup: int) -> dict[str, Any]:
    twin = VirtualSerialBus(link=folder / f"tty-{protocol}")
    devices, shown = protocol_setup(protocol, twin)
    counters = sorted({d["counter"] for d in devices})
    twin.start()
    site = connected_site(devices)
    latencies: list[float] = []
    calls: list[float] = []
    missing = 0
    try:
        for n in range(warmup + shows):
            counter = counters[n % len(counters)]
            text = f"A{n % 1000:03d}"
            started = time.monotonic()
            site.show(counter, text)
            called = time.monotonic()
            ok = twin.wait_for(lambda c=counter, t=text: shown(c) == t, 5.0)
            done = time.monotonic()
            if n < warmup:
                continue
            if not ok:
                missing += 1
                continue
            latencies.append(done - started)
            calls.append(called - started)
        health = site.health()
        states = sorted({d["state"] for d in health["devices"].values()})
        return {
            "shows": shows,
            "missing": missing,
            "show": figures(latencies),
            "show_call": figures(calls),
            "display_states": states,
            "rejected_by_twin": len(twin.rejected),
        }
    finally:
        site.close()
        twin.stop()


def bench_keys(folder: Path, keys: int, warmup: int) -> dict[str, Any]:
    twin = VirtualSerialBus(link=folder / "tty-keys")
    leds = twin.add(VirtualFramedDisplays(FrameFormat(FRAME_PRESETS["generic-stx"]), ADDRESSES))
    pad = twin.add(VirtualKeypad(12))
    twin.start()
    got: queue.Queue[float] = queue.Queue()
    port = {"port": twin.path, "reply_timeout": 0.2}
    devices = [
        {
            "name": "led-2",
            "kind": "led_display",
            "counter": 2,
            "settings": {**port, "protocol": "generic-stx"},
        },
        {"name": "keys-2", "kind": "keypad", "counter": 2, "settings": {**port, "address": 12}},
    ]
    site = connected_site(devices, on_key=lambda *_: got.put(time.monotonic()))
    latencies: list[float] = []
    missing = 0
    try:
        for n in range(warmup + keys):
            started = time.monotonic()
            pad.press("call_next")
            try:
                arrived = got.get(timeout=5.0)
            except queue.Empty:
                missing += 0 if n < warmup else 1
                continue
            if n >= warmup:
                latencies.append(arrived - started)
        # The port gone: show() costs the caller nothing more.
        twin.unplug()
        gone: list[float] = []
        for n in range(200):
            started = time.monotonic()
            site.show(2, f"B{n:03d}")
            gone.append(time.monotonic() - started)
        del leds
        return {
            "keys": keys,
            "missing": missing,
            "key": figures(latencies),
            "show_call_port_gone": figures(gone),
        }
    finally:
        site.close()
        twin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shows", type=int, default=200)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--protocols", default="generic-stx,aa55-gb2312,modbus,vfd-cd5220", help="comma-separated"
    )
    args = parser.parse_args()
    result: dict[str, Any] = {"benchmark": "display_latency", "loadavg_1m_before": loadavg()}
    with tempfile.TemporaryDirectory(prefix="qcall-display-bench-") as tmp:
        folder = Path(tmp)
        protocols: dict[str, Any] = {}
        for protocol in args.protocols.split(","):
            log(f"{protocol}: {args.shows} shows")
            protocols[protocol] = bench_protocol(protocol, folder, args.shows, args.warmup)
        result["protocols"] = protocols
        log(f"keypad: {args.keys} presses")
        result["keypad"] = bench_keys(folder, args.keys, args.warmup)
    worst = max(p["show"]["p99_ms"] for p in protocols.values())
    result["target_show_p99_ms"] = TARGET_P99_MS
    result["target_met"] = worst <= TARGET_P99_MS and all(p["missing"] == 0 for p in protocols.values())
    emit(result)


if __name__ == "__main__":
    main()
