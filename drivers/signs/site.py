"""A site's serial devices from its settings: the one object the hub holds.

The hub builds :class:`SerialDevices` from the ``[[devices]]`` of kind
``led_display``, ``keypad`` and ``evaluation_pad`` (plain dicts: ``name``,
``kind``, ``counter``, ``settings``). Devices with the same ``port`` share one
:class:`~drivers.bus.SerialBus`; displays of one protocol on a bus share one
driver; keypads and evaluation pads of one frame format on a bus share one
:class:`~drivers.signs.keypad.KeypadListener`.

Nothing here waits on a port, and nothing imports the hub: the hub calls
``show(counter, text)`` and gets its answers through callbacks, all of them run
on a bus's worker thread (hand them over to the hub's own loop):

* ``on_key(name, counter, action)``    a keypad bound to ``counter`` pressed ``action``
* ``on_rating(name, counter, rating)``  an evaluation pad at ``counter`` sent ``rating``
* ``on_device(name, state, detail)``    a display's or a keypad's health changed
* ``on_bus(port, state, detail)``       a port was (re)connected or lost
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError

from drivers.bus import BusState, DeviceState, SerialBus
from drivers.validation import first_problem

from .base import BusDisplays
from .framed import FramedDisplays
from .frames import FRAME_PRESETS
from .keypad import EVALUATION_PAD, KEYPAD, KeypadListener
from .modbus import ModbusDisplays
from .sign_settings import (
    BusSettings,
    DisplaySettings,
    FramedDisplaySettings,
    ModbusDisplaySettings,
    PadSettings,
    VfdSettings,
    frame_format,
)
from .vfd import COMMAND_SETS, VfdDisplay

log = logging.getLogger(__name__)

__all__ = [
    "BUS_SETTINGS",
    "DISPLAY_PROTOCOLS",
    "SERIAL_KINDS",
    "DisplayProtocol",
    "SerialDevices",
    "check_serial_device",
    "device_settings",
]

SERIAL_KINDS = ("led_display", KEYPAD, EVALUATION_PAD)
#: Settings of the port itself, with their defaults: every device on one port must agree on those it gives.
BUS_SETTINGS: dict[str, Any] = {
    key: field.default for key, field in BusSettings.model_fields.items() if key != "port"
}


@dataclass(frozen=True)
class _Spec:
    name: str
    kind: str
    counter: int | None
    settings: BusSettings


@dataclass(frozen=True)
class DisplayGroup:
    """Displays of one protocol on one port that share a driver: what a protocol's ``build`` gets."""

    protocol: str
    settings: DisplaySettings  # the first display's (the group's displays agree on all but the address)
    addresses: dict[int, str]  # bus address → display name
    counters: dict[int, int]  # bus address → counter, for displays bound to one


class DisplayProtocol(NamedTuple):
    """A display protocol: the model of its settings, and how to build the driver of a group."""

    settings: type[DisplaySettings]
    build: Callable[[SerialBus, DisplayGroup, Mapping[str, Mapping[str, Any]]], BusDisplays]
    #: True: one display per port (no addresses on the line), so each display is its own group.
    alone_on_port: bool = False


def _framed(
    bus: SerialBus, group: DisplayGroup, frame_formats: Mapping[str, Mapping[str, Any]]
) -> BusDisplays:
    settings = group.settings
    assert isinstance(settings, FramedDisplaySettings)
    return FramedDisplays(bus, frame_format(group.protocol, settings.frame, frame_formats), group.addresses)


def _modbus(bus: SerialBus, group: DisplayGroup, _formats: Mapping[str, Mapping[str, Any]]) -> BusDisplays:
    settings = group.settings
    assert isinstance(settings, ModbusDisplaySettings)
    return ModbusDisplays(
        bus,
        group.addresses,
        settings.registers,
        counters=group.counters,
        brightness=settings.brightness,
        encoding=settings.encoding,
    )


def _vfd(bus: SerialBus, group: DisplayGroup, _formats: Mapping[str, Mapping[str, Any]]) -> BusDisplays:
    settings = group.settings
    assert isinstance(settings, VfdSettings)
    return VfdDisplay(
        bus,
        group.addresses,
        command_set=group.protocol.removeprefix("vfd-"),
        width=settings.width,
        encoding=settings.encoding,
    )


#: The display protocols that are not a frame format; every frame format name (a preset or the
#: site's own, ``frame_formats``) is a framed protocol, :data:`FRAMED`.
DISPLAY_PROTOCOLS: dict[str, DisplayProtocol] = {
    "modbus": DisplayProtocol(ModbusDisplaySettings, _modbus),
    "modbus-rtu": DisplayProtocol(ModbusDisplaySettings, _modbus),
    **{f"vfd-{c}": DisplayProtocol(VfdSettings, _vfd, alone_on_port=True) for c in COMMAND_SETS},
}
FRAMED = DisplayProtocol(FramedDisplaySettings, _framed)


def display_protocol(
    protocol: object, frame_formats: Mapping[str, Mapping[str, Any]] | None = None
) -> DisplayProtocol:
    """The protocol a display's ``protocol`` key names; ``ValueError("protocol: …")`` when none."""
    if not isinstance(protocol, str):
        raise ValueError("protocol: a frame format name, 'modbus', 'vfd-cd5220' or 'vfd-epson'")
    found = DISPLAY_PROTOCOLS.get(protocol)
    if found is not None:
        return found
    if protocol in FRAME_PRESETS or protocol in (frame_formats or {}):
        return FRAMED
    if protocol.startswith("vfd-"):
        raise ValueError(f"protocol: {protocol!r}; VFDs are 'vfd-cd5220' or 'vfd-epson'")
    raise ValueError(
        f"protocol: unknown format {protocol!r}; expected one of {known_protocols(frame_formats)}"
    )


def device_settings(
    kind: str,
    settings: Mapping[str, Any],
    counter: int | None = None,
    frame_formats: Mapping[str, Mapping[str, Any]] | None = None,
) -> BusSettings:
    """A serial device's checked settings model; ``ValueError("key: what is wrong")`` (one line)."""
    if kind not in SERIAL_KINDS:
        raise ValueError(f"kind: one of {list(SERIAL_KINDS)}, got {kind!r}")
    if not isinstance(settings, Mapping):
        raise ValueError(f"settings: a table of keys, got {type(settings).__name__}")
    model: type[BusSettings] = (
        display_protocol(settings.get("protocol"), frame_formats).settings
        if kind == "led_display"
        else PadSettings
    )
    context = {"frame_formats": frame_formats or {}, "counter": counter}
    try:
        return model.model_validate(dict(settings), context=context)
    except ValidationError as exc:
        raise ValueError(first_problem(exc)) from None


def check_serial_device(
    kind: str,
    settings: Mapping[str, Any],
    counter: int | None = None,
    frame_formats: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Raise ValueError (naming the key) when a device's settings cannot work; the hub's config check."""
    device_settings(kind, settings, counter, frame_formats)


@dataclass
class _PadGroup:
    listener: KeypadListener | None = None
    specs: dict[int, _Spec] = field(default_factory=dict)


class SerialDevices:
    """Every serial display, keypad and evaluation pad of a site (see the module's docstring)."""

    def __init__(
        self,
        devices: Iterable[Mapping[str, Any]],
        *,
        frame_formats: Mapping[str, Mapping[str, Any]] | None = None,
        on_key: Callable[[str, int | None, str], Any] | None = None,
        on_rating: Callable[[str, int | None, str], Any] | None = None,
        on_device: Callable[[str, DeviceState, str], Any] | None = None,
        on_bus: Callable[[str, BusState, str], Any] | None = None,
        bus_options: Mapping[str, Any] | None = None,
        ratings: Mapping[int, str] | None = None,
    ) -> None:
        """``ratings``: the code table of evaluation pads that set no ``ratings`` of their own (the
        hub's levels: :data:`~.keypad.DEFAULT_RATINGS` for three, :data:`~.keypad.FIVE_LEVEL_RATINGS`
        for five); None, three levels."""
        self.frame_formats = dict(frame_formats or {})
        self.default_ratings = dict(ratings) if ratings is not None else None
        self.on_key = on_key
        self.on_rating = on_rating
        self._on_device = on_device
        self._on_bus = on_bus
        self._bus_options = dict(bus_options or {})
        self.specs: dict[str, _Spec] = {}
        for raw in devices:
            if raw.get("kind") not in SERIAL_KINDS:
                continue
            name, kind, counter = str(raw["name"]), str(raw["kind"]), raw.get("counter")
            try:
                checked = device_settings(kind, raw.get("settings") or {}, counter, self.frame_formats)
            except ValueError as exc:
                raise ValueError(f"device {name}: settings.{exc}") from None
            spec = _Spec(name, kind, counter, checked)
            if spec.name in self.specs:
                raise ValueError(f"device {spec.name}: the name is used twice")
            self.specs[spec.name] = spec
        self.buses: dict[str, SerialBus] = {}
        self.displays: dict[str, tuple[BusDisplays, int]] = {}  # name → (driver, address)
        self.listeners: list[KeypadListener] = []
        try:
            self._build()
        except Exception:
            self.close()
            raise

    # -- what the hub calls ----------------------------------------------------------

    def show(self, counter: int, text: str) -> list[str]:
        """Show ``text`` on every display bound to ``counter``; the names of those displays."""
        names = self.displays_of(counter)
        for name in names:
            self.show_on(name, text)
        return names

    def show_on(self, name: str, text: str) -> None:
        """Show ``text`` on display ``name`` (a display bound to no counter, a hall-wide one)."""
        driver, address = self.displays[name]
        driver.show(address, text)

    def clear(self, counter: int | None = None) -> None:
        """Blank the displays of ``counter``, or every display."""
        for name, (driver, address) in self.displays.items():
            if counter is None or self.specs[name].counter == counter:
                driver.clear(address)

    def displays_of(self, counter: int) -> list[str]:
        return [n for n in self.displays if self.specs[n].counter == counter]

    def contents(self) -> dict[str, str]:
        """What each display was last told to show."""
        return {name: driver.text(address) for name, (driver, address) in self.displays.items()}

    def health(self) -> dict[str, Any]:
        """``{"buses": {port: {...}}, "devices": {name: {kind, counter, port, state, detail, since}}}``."""
        buses: dict[str, Any] = {}
        devices: dict[str, Any] = {}
        for port, bus in self.buses.items():
            health = bus.health()
            buses[port] = {
                "state": health.state.value,
                "detail": health.detail,
                "reconnects": health.reconnects,
            }
            for name, device in health.devices.items():
                spec = self.specs.get(name)
                if spec is None:
                    continue
                devices[name] = {
                    "kind": spec.kind,
                    "counter": spec.counter,
                    "port": port,
                    "state": device.state.value,
                    "detail": device.detail,
                    "since": device.since,
                }
        return {"buses": buses, "devices": devices}

    def retry_now(self) -> None:
        """Staff fixed a cable: re-open lost ports and re-try faulty displays now."""
        for bus in self.buses.values():
            bus.retry_now()

    def close(self) -> None:
        for bus in self.buses.values():
            bus.close()

    def __enter__(self) -> SerialDevices:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- building ----------------------------------------------------------------------

    def _make_buses(self) -> None:
        """One bus per port; the devices on a port must agree on the port's settings they give."""
        given: dict[str, dict[str, Any]] = {}
        for spec in self.specs.values():
            port = spec.settings.port
            options = given.setdefault(port, {})
            for key, value in spec.settings.bus_given().items():
                if key in options and options[key] != value:
                    raise ValueError(
                        f"port {port}: devices disagree on {key} ({options[key]!r} and {value!r})"
                    )
                options[key] = value
        for port, options in given.items():
            merged = {**BUS_SETTINGS, **self._bus_options, **options}
            self.buses[port] = SerialBus(
                port, name=port, on_bus=self._on_bus, on_device=self._on_device, start=False, **merged
            )

    def _build(self) -> None:
        display_groups: dict[tuple[str, str, str], list[_Spec]] = {}
        pad_groups: dict[tuple[str, str, str], _PadGroup] = {}
        self._make_buses()
        for spec in self.specs.values():
            s = spec.settings
            if isinstance(s, DisplaySettings):
                alone = display_protocol(s.protocol, self.frame_formats).alone_on_port
                key = (s.port, s.protocol, spec.name if alone else s.driver_key())
                display_groups.setdefault(key, []).append(spec)
            else:
                assert isinstance(s, PadSettings)
                group = pad_groups.setdefault((s.port, s.protocol, s.driver_key()), _PadGroup())
                if s.address in group.specs:
                    raise ValueError(
                        f"device {spec.name}: address {s.address} on {s.port} is also "
                        f"{group.specs[s.address].name}"
                    )
                group.specs[s.address] = spec
        alone_on: dict[str, str] = {}
        for (port, protocol, _), specs in display_groups.items():
            kind = display_protocol(protocol, self.frame_formats)
            addresses: dict[int, str] = {}
            counters: dict[int, int] = {}
            for spec in specs:
                assert isinstance(spec.settings, DisplaySettings)
                address = spec.settings.address_for(spec.counter)
                if address in addresses:
                    raise ValueError(
                        f"device {spec.name}: address {address} on {port} is also {addresses[address]}"
                    )
                addresses[address] = spec.name
                if spec.counter is not None:
                    counters[address] = spec.counter
            if kind.alone_on_port:
                if port in alone_on:
                    raise ValueError(f"device {specs[0].name}: {port} already has VFD {alone_on[port]}")
                alone_on[port] = specs[0].name
            first = specs[0].settings
            assert isinstance(first, DisplaySettings)
            driver = kind.build(
                self.buses[port], DisplayGroup(protocol, first, addresses, counters), self.frame_formats
            )
            for address, name in addresses.items():
                self.displays[name] = (driver, address)
        for (port, protocol, _), group in pad_groups.items():
            settings = next(iter(group.specs.values())).settings
            assert isinstance(settings, PadSettings)
            listener = KeypadListener(
                self.buses[port],
                frame_format(protocol, settings.frame, self.frame_formats),
                {a: spec.kind for a, spec in group.specs.items()},
                names={a: spec.name for a, spec in group.specs.items()},
                keys=settings.key_codes(),
                ratings=settings.rating_codes() or self.default_ratings,
                mode=settings.mode,
                poll_interval=settings.poll_interval,
                on_key=self._keypad_callback(group, "key"),
                on_rating=self._keypad_callback(group, "rating"),
            )
            group.listener = listener
            self.listeners.append(listener)
        for bus in self.buses.values():
            bus.start()

    def _keypad_callback(self, group: _PadGroup, what: str) -> Callable[[int, str], None]:
        def called(address: int, value: str) -> None:
            spec = group.specs[address]
            callback = self.on_key if what == "key" else self.on_rating
            if callback is not None:
                callback(spec.name, spec.counter, value)

        return called


def known_protocols(frame_formats: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Every protocol name a display's settings may give."""
    return sorted({*FRAME_PRESETS, *(frame_formats or {}), *DISPLAY_PROTOCOLS})
