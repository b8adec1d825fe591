"""The demo's virtual counter hardware: LED displays and keypads on a virtual RS-485 bus.

Every serial port named in the sample becomes a pty with virtual devices on it,
so the hub's real serial drivers talk to something that decodes their frames.
The demo pages show what each display shows and press keypad keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.signs.frames import FrameFormat, merged_spec
from drivers.twins.virtual_bus import VirtualFramedDisplays, VirtualKeypad, VirtualSerialBus

from .config import SiteConfig


@dataclass
class DemoHardware:
    """The twins, by the device names of the site."""

    buses: list[VirtualSerialBus] = field(default_factory=list)
    displays: dict[str, tuple[VirtualFramedDisplays, int]] = field(default_factory=dict)
    keypads: dict[str, VirtualKeypad] = field(default_factory=dict)

    def contents(self) -> dict[str, str]:
        return {name: twin.texts.get(address, "") for name, (twin, address) in self.displays.items()}

    def stop(self) -> None:
        for bus in self.buses:
            bus.stop()


#: Set by the demo, read by the demo pages.
HARDWARE: DemoHardware | None = None


def start_virtual_buses(config: SiteConfig, folder: Path) -> DemoHardware:
    """Put every serial device of the site on a virtual bus, and point the config at it."""
    global HARDWARE
    hardware = DemoHardware()
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
        bus.start()
        for device in on_port:
            device.settings = {**device.settings, "port": bus.path}
        hardware.buses.append(bus)
    HARDWARE = hardware
    return hardware
