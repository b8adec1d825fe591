"""The hardware at each counter: LED displays, caller keypads, evaluation pads.

Displays follow the hall's events (a call shows its number above the counter;
a counter that is free goes blank). A keypad is the counter's console in
hardware: its keys are the same actions, applied to the counter it is bound to
in the config and to no other. An evaluation pad rates the service just
finished at its counter. The serial drivers never block the hub: they keep
each display's state and send it when the bus is up.

Each serial port (a bus: its displays, keypads and pads) is opened by one hub
process only, the holder of its lease (:mod:`.leases`), when several serve the
hall: the displays follow every process's calls (the hall's events reach every
process), and a key pressed reaches the core through the process on its bus.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from drivers.signs import SerialDevices, device_settings

from ..config import SiteConfig
from ..core.errors import QueueError
from ..core.queue import QueueCore
from .board import DeviceBoard
from .leases import LeaseKeeper, bus_device
from .listeners import CounterChanged, TicketCalled, listener

log = logging.getLogger(__name__)

#: The driver's device states in the words of the admin page.
STATES = MappingProxyType(
    {"ok": "online", "unconfirmed": "online", "faulty": "faulty", "disconnected": "disconnected"}
)
#: What a display test shows (every segment of a four-digit display lit), and for how long.
TEST_TEXT = "8888"
TEST_SECONDS = 5.0
#: Keypad keys that map straight onto a core action at the keypad's counter.
KEY_ACTIONS = ("call_next", "recall", "start", "finish", "no_show", "pause", "resume")


class CounterDevices:
    """Keeps the counters' displays in step with the hall and turns key presses into actions."""

    def __init__(
        self,
        config: SiteConfig,
        core: QueueCore,
        board: DeviceBoard,
        spawn: Callable[..., Any],
        frame_formats: dict[str, Any] | None = None,
        leases: LeaseKeeper | None = None,
    ) -> None:
        """Open the serial ports (each when its lease is taken, with ``leases``) and follow the hall;
        ``spawn`` runs a key press on the hub's loop."""
        self.core = core
        self.board = board
        self.spawn = spawn
        self.frame_formats = frame_formats
        #: The devices on each port, as the driver takes them.
        self.ports: dict[str, list[dict[str, Any]]] = {}
        for d in config.serial_devices():
            device = {"name": d.name, "kind": d.kind, "counter": d.counter, "settings": d.settings}
            self.ports.setdefault(str(d.settings["port"]), []).append(device)
        #: The ports this process drives, each with its devices.
        self.buses: dict[str, SerialDevices] = {}
        core.bus.subscribe(listener({TicketCalled: [self.show_call], CounterChanged: [self.blank_if_free]}))
        for port in self.ports:
            if leases is None:
                self.buses[port] = self._open(port)
            else:
                self._check(port)  # a bad site file stops the hub at start, not when the lease is taken
                leases.want(bus_device(port), self._gained, self._lost)
        self.show_current()

    def _check(self, port: str) -> None:
        """What opening ``port`` would refuse: a device's settings, devices disagreeing on the port's."""
        given: dict[str, Any] = {}
        for device in self.ports[port]:
            try:
                checked = device_settings(
                    device["kind"], device["settings"], device["counter"], self.frame_formats or {}
                )
            except ValueError as exc:
                raise ValueError(f"device {device['name']}: settings.{exc}") from None
            for key, value in checked.bus_given().items():
                if key in given and given[key] != value:
                    raise ValueError(f"port {port}: devices disagree on {key} ({given[key]!r} and {value!r})")
                given[key] = value

    def _open(self, port: str) -> SerialDevices:
        return SerialDevices(
            self.ports[port],
            frame_formats=self.frame_formats,
            on_key=self.key_pressed,
            on_rating=self.rated,
            on_device=self.device_changed,
            # A pad without its own ``ratings`` table: its keys are the site's levels, best first.
            ratings={i + 1: level.code for i, level in enumerate(self.core.hall.satisfaction.levels)},
        )

    def _gained(self, device: str, generation: int) -> None:
        """This process drives the bus now: open the port, show what each counter is doing."""
        port = device.removeprefix("bus:")
        serial = self._open(port)
        self.buses[port] = serial
        self._show_current_on(serial)

    def _lost(self, device: str) -> None:
        """Another process drives the bus now (or soon): let go of the port."""
        serial = self.buses.pop(device.removeprefix("bus:"), None)
        if serial is not None:
            serial.close()

    def close(self) -> None:
        """Close the serial ports (each bus's worker stops and lets go of its port)."""
        buses, self.buses = list(self.buses.values()), {}
        for serial in buses:
            serial.close()
        if buses:
            log.info("stopping: serial ports closed")

    def _show(self, counter: int, text: str) -> list[str]:
        return [name for serial in list(self.buses.values()) for name in serial.show(counter, text)]

    def _clear(self, counter: int) -> None:
        for serial in list(self.buses.values()):
            serial.clear(counter)

    # -- the hall → the displays --------------------------------------------

    def show_call(self, event: TicketCalled) -> None:
        """A called (or recalled) number goes up above its counter."""
        self._show(event.counter, event.number)

    def blank_if_free(self, event: CounterChanged) -> None:
        """After finish, no-show, transfer, pause or resume: a counter with nobody at it goes blank."""
        if event.free and event.counter in self.core.hall.counters:
            self._clear(event.counter)

    def show_current(self) -> None:
        """At start: every display shows what its counter is doing now."""
        for serial in list(self.buses.values()):
            self._show_current_on(serial)

    def _show_current_on(self, serial: SerialDevices) -> None:
        for number in self.core.hall.counters:
            if not serial.displays_of(number):
                continue
            current = self.core.counter_view(number)["current"]
            if current:
                serial.show(number, current["number"])
            else:
                serial.clear(number)

    def test_display(self, counter: int, seconds: float = TEST_SECONDS) -> list[str]:
        """All segments lit ("8888") on the counter's displays, then back to what the counter shows.

        Returns the displays written to (none: the counter has no display on the bus).
        """
        shown = self._show(counter, TEST_TEXT)
        if shown:
            self.spawn(self._restore_after, counter, seconds)
        return shown

    def _restore_after(self, counter: int, seconds: float) -> None:
        time.sleep(seconds)  # a greenlet under gevent: the loop goes on meanwhile
        current = self.core.counter_view(counter)["current"]
        if current:
            self._show(counter, current["number"])
        else:
            self._clear(counter)

    # -- keypads and pads → the hall (called on a bus worker: hand over) ----

    def key_pressed(self, name: str, counter: int | None, action: str) -> None:
        self.spawn(self._act, name, counter, action)

    def rated(self, name: str, counter: int | None, rating: str) -> None:
        self.spawn(self._rate, name, counter, rating)

    def _act(self, name: str, counter: int | None, action: str) -> None:
        if counter is None or action not in KEY_ACTIONS:
            log.warning("keypad %s: %s is not available on a keypad (use the console)", name, action)
            return
        try:
            # The keys are the console's: what they do is the clerk's on post there (legs, 首问负责,
            # reports per clerk), never a device's; nobody on post: refused as the console would be.
            clerk = self.core.clerk_on_post(counter)
            getattr(self.core, action)(counter, clerk)
            log.info("keypad %s at counter %s: %s by %s (via: keypad %s)", name, counter, action, clerk, name)
        except QueueError as exc:
            log.info("keypad %s at counter %s: %s refused: %s", name, counter, action, exc.message)

    def _rate(self, name: str, counter: int | None, rating: str) -> None:
        if counter is None:
            return
        try:
            self.core.evaluate(counter, rating, source=name)
        except QueueError as exc:
            log.info("evaluation pad %s at counter %s: %s", name, counter, exc.message)

    def device_changed(self, name: str, state: Any, detail: str) -> None:
        value = getattr(state, "value", str(state))
        self.board.report(name, STATES.get(value, value), detail)
