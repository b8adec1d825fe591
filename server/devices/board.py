"""The board of device states: what the admin page and the kiosks show about hardware.

Drivers and agents report states here; the board remembers the last one of
each device, and tells the screens only when a state changes. A device that
never reported is ``unknown``, never assumed fine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..core.calendar import Clock
from .push import Publish
from .rooms import STAFF

#: States in which a device does its job; anything else is an alert on the admin page.
HEALTHY = frozenset({"online", "paper_near_end"})

DEVICE_STATUS = "device_status"


@dataclass(frozen=True)
class DeviceStatus:
    name: str
    kind: str
    state: str
    detail: str
    since: str

    @property
    def healthy(self) -> bool:
        return self.state in HEALTHY

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


class DeviceBoard:
    """The last known state of every configured device."""

    def __init__(self, devices: dict[str, str], clock: Clock, publish: Publish) -> None:
        self._clock = clock
        self._publish = publish
        self._lock = threading.Lock()
        now = clock().isoformat()
        self._listeners: list[Callable[[DeviceStatus], None]] = []
        self._states = {name: DeviceStatus(name, kind, "unknown", "", now) for name, kind in devices.items()}

    def subscribe(self, listener: Callable[[DeviceStatus], None]) -> None:
        """Be told of every new state after the screens are (the supervisor's feed)."""
        self._listeners.append(listener)

    def register(self, name: str, kind: str) -> None:
        """A device the hub has without a config entry (its own voice)."""
        with self._lock:
            if name not in self._states:
                self._states[name] = DeviceStatus(name, kind, "unknown", "", self._clock().isoformat())

    def report(self, name: str, state: str, detail: str = "") -> DeviceStatus | None:
        """Record a device's state; tell the screens when it changed. Unknown devices are ignored."""
        with self._lock:
            old = self._states.get(name)
            if old is None:
                return None
            if old.state == state and old.detail == detail:
                return old
            new = DeviceStatus(name, old.kind, state, detail, self._clock().isoformat())
            self._states[name] = new
        self._publish(DEVICE_STATUS, new.public(), STAFF)
        for listener in self._listeners:
            listener(new)
        return new

    def get(self, name: str) -> DeviceStatus | None:
        return self._states.get(name)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [status.public() for status in self._states.values()]
