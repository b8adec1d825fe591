"""The one display interface: ``show(address, text)``, ``clear()``, ``health()``.

A :class:`BusDisplays` is every display of one protocol on one
:class:`~drivers.bus.SerialBus`, each known by its bus address. Subclasses
only turn text into frames (the protocol); the bus moves them (the
transport). Nothing here waits on the port: ``show`` hands the frames to the
bus and returns.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterable, Mapping

from drivers.bus import DeviceHealth, DeviceState, Frame, SerialBus

__all__ = ["BusDisplays", "Display", "addresses_by_name"]


class Display(abc.ABC):
    """What the hub may call on any display driver (a serial bus, a browser counter screen...)."""

    @abc.abstractmethod
    def show(self, address: int, text: str) -> None:
        """Show ``text`` on the display at ``address``; returns at once, never raises on I/O."""

    @abc.abstractmethod
    def clear(self, address: int | None = None) -> None:
        """Blank one display, or all of them."""

    @abc.abstractmethod
    def health(self) -> dict[int, DeviceHealth]:
        """Each display's health, by address."""


def addresses_by_name(addresses: Iterable[int] | Mapping[int, str], protocol: str) -> dict[int, str]:
    """``[3, 4]`` → ``{3: "protocol@3", 4: "protocol@4"}``; a mapping is taken as it is."""
    if isinstance(addresses, Mapping):
        return {int(a): str(n) for a, n in addresses.items()}
    return {int(a): f"{protocol}@{a}" for a in addresses}


class BusDisplays(Display):
    """Displays of one protocol on one bus; ``addresses`` maps each address to its device name."""

    protocol = "abstract"

    def __init__(self, bus: SerialBus, addresses: Iterable[int] | Mapping[int, str]) -> None:
        self.bus = bus
        self.names = addresses_by_name(addresses, self.protocol)
        if not self.names:
            raise ValueError(f"{self.protocol}: at least one display address")
        self._lock = threading.Lock()
        self._texts: dict[int, str] = {}
        for address, name in self.names.items():
            self.check_address(address)
            bus.add_device(name)

    # -- the protocol: subclasses --------------------------------------------------------

    def check_address(self, address: int) -> None:
        """Raise ValueError when the protocol cannot address ``address``."""

    @abc.abstractmethod
    def frames_for(self, address: int, text: str) -> list[Frame]:
        """The frames that make the display at ``address`` show ``text``."""

    def clear_frames(self, address: int) -> list[Frame]:
        return self.frames_for(address, "")

    def init_frames(self, address: int) -> list[Frame] | None:
        """Frames sent before the state after every (re)connect (None: nothing)."""
        return None

    # -- the interface ---------------------------------------------------------------------

    def show(self, address: int, text: str) -> None:
        name = self._name(address)
        frames = self.frames_for(address, text)
        with self._lock:
            self._texts[address] = text
        self.bus.set_state(name, frames, init=self.init_frames(address))

    def clear(self, address: int | None = None) -> None:
        for each in [address] if address is not None else list(self.names):
            name = self._name(each)
            with self._lock:
                self._texts[each] = ""
            self.bus.set_state(name, self.clear_frames(each), init=self.init_frames(each))

    def health(self) -> dict[int, DeviceHealth]:
        devices = self.bus.health().devices
        return {
            address: devices.get(name) or DeviceHealth(DeviceState.UNKNOWN, "", 0.0)
            for address, name in self.names.items()
        }

    def text(self, address: int) -> str:
        """What the display at ``address`` was last told to show."""
        with self._lock:
            return self._texts.get(address, "")

    def _name(self, address: int) -> str:
        try:
            return self.names[address]
        except KeyError:
            raise ValueError(
                f"{self.protocol}: no display at address {address} on {self.bus.name}; "
                f"expected one of {sorted(self.names)}"
            ) from None
