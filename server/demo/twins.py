"""The demo's virtual hardware: printers, and LED displays and keypads on a virtual RS-485 bus.

Every serial port named in the sample becomes a pty with virtual devices on
it, so the hub's real serial drivers talk to something that decodes their
frames. Every printer is a virtual ESC/POS printer on a local TCP port,
handed to the print service as its transport (the way OctoPrint plugs its
virtual printer in as a transport): the print service itself never knows it
is a demo. The demo pages show what each display shows and what was printed,
and press keypad keys. One :class:`DemoHardware` per demo app, kept in
``app.extensions["qcall_demo"]``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.printing.connectors import open_printer
from drivers.signs.frames import FrameFormat, merged_spec
from drivers.twins.virtual_bus import VirtualFramedDisplays, VirtualKeypad, VirtualSerialBus
from drivers.twins.virtual_printer import VirtualPrinter

from ..config import PrinterSettings, SiteConfig

log = logging.getLogger(__name__)


@dataclass
class DemoHardware:
    """The twins, by the device names of the site."""

    #: Where the virtual printers save each printed ticket as ``<printer>/ticket-NNNNN.png``.
    prints: Path
    buses: list[VirtualSerialBus] = field(default_factory=list)
    displays: dict[str, tuple[VirtualFramedDisplays, int]] = field(default_factory=dict)
    keypads: dict[str, VirtualKeypad] = field(default_factory=dict)
    #: Which of ``keypads`` are evaluation pads (they rate; the others call).
    evaluation_pads: set[str] = field(default_factory=set)
    printers: dict[str, VirtualPrinter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def contents(self) -> dict[str, str]:
        return {name: twin.texts.get(address, "") for name, (twin, address) in self.displays.items()}

    def printer_transport(self, name: str, settings: PrinterSettings) -> Callable[[], Any]:
        """The print service's transport factory: a virtual printer for ``name``, reached over TCP."""
        with self._lock:
            twin = self.printers.get(name)
            if twin is None:
                twin = self._start_printer(name, settings)
        reach = {"connector": "network", "host": "127.0.0.1", "port": twin.port}
        return lambda: open_printer(reach)

    def _start_printer(self, name: str, settings: PrinterSettings) -> VirtualPrinter:
        folder = self.prints / name
        folder.mkdir(parents=True, exist_ok=True)
        count = len(list(folder.glob("ticket-*.png")))

        def save(document: Any) -> None:
            nonlocal count
            count += 1
            document.to_png(folder / f"ticket-{count:05d}.png")

        twin = VirtualPrinter(paper_mm=settings.paper_mm, on_document=save)
        twin.start()
        self.printers[name] = twin
        log.info("virtual printer %s listening on 127.0.0.1:%d", name, twin.port)
        return twin

    def stop(self) -> None:
        """After the hub closed: the printers and buses go away."""
        for twin in self.printers.values():
            twin.stop()
        for bus in self.buses:
            bus.stop()


def start_virtual_buses(config: SiteConfig, hardware: DemoHardware, folder: Path) -> None:
    """Put every serial device of the site on a virtual bus (a pty in ``folder``); point the config at it."""
    serial = config.serial_devices()
    folder.mkdir(parents=True, exist_ok=True)
    for index, port in enumerate(sorted({d.settings["port"] for d in serial})):
        bus = VirtualSerialBus(link=folder / f"demo-bus-{index}")
        on_port = [d for d in serial if d.settings["port"] == port]
        by_protocol: dict[str, list[Any]] = {}
        for device in on_port:
            if device.kind == "led_display":
                by_protocol.setdefault(device.settings["protocol"], []).append(device)
        for protocol, displays in by_protocol.items():
            spec = merged_spec(protocol, config.serial.frame_formats)
            addresses = {d.name: d.settings.get("address", d.counter) for d in displays}
            twin = bus.add(VirtualFramedDisplays(FrameFormat(spec, name=protocol), addresses.values()))
            hardware.displays.update({name: (twin, address) for name, address in addresses.items()})
        for device in on_port:
            if device.kind in ("keypad", "evaluation_pad"):
                hardware.keypads[device.name] = bus.add(VirtualKeypad(device.settings["address"]))
                if device.kind == "evaluation_pad":
                    hardware.evaluation_pads.add(device.name)
        bus.start()
        for device in on_port:
            device.settings = {**device.settings, "port": bus.path}
        hardware.buses.append(bus)
