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

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.bus import BusState, DeviceState, SerialBus

from .base import BusDisplays
from .framed import FramedDisplays
from .frames import FRAME_PRESETS, FrameFormat, FrameFormatError, merged_spec
from .keypad import ACTIONS, EVALUATION_PAD, KEYPAD, RATINGS, KeypadListener
from .modbus import ModbusDisplays, RegisterMap
from .vfd import COMMAND_SETS, VfdDisplay

log = logging.getLogger(__name__)

__all__ = [
    "BUS_SETTINGS",
    "DISPLAY_PROTOCOLS",
    "SERIAL_KINDS",
    "SerialDevices",
    "check_serial_device",
]

SERIAL_KINDS = ("led_display", KEYPAD, EVALUATION_PAD)
#: Settings of the port itself: every device on one port must agree on those it gives.
BUS_SETTINGS = {
    "baudrate": 9600,
    "bytesize": 8,
    "parity": "N",
    "stopbits": 1,
    "reply_timeout": 0.2,
    "retries": 2,
    "faulty_retry_interval": 10.0,
    "max_retry_interval": 2.0,
}
#: Protocols that are not a framed format.
DISPLAY_PROTOCOLS = ("modbus", *(f"vfd-{c}" for c in COMMAND_SETS))

_DISPLAY_KEYS = {
    "port", "protocol", "address", "frame", "registers", "brightness", "encoding", "width",
}  # fmt: skip
_PAD_KEYS = {"port", "protocol", "address", "frame", "mode", "poll_interval", "keys", "ratings"}


@dataclass(frozen=True)
class _Spec:
    name: str
    kind: str
    counter: int | None
    settings: Mapping[str, Any]


@dataclass
class _PadGroup:
    listener: KeypadListener | None = None
    specs: dict[int, _Spec] = field(default_factory=dict)


def _frame_format(
    settings: Mapping[str, Any], default: str, extra: Mapping[str, Mapping] | None
) -> FrameFormat:
    protocol = settings.get("protocol", default)
    own = settings.get("frame")
    known = {**FRAME_PRESETS, **(extra or {})}
    if isinstance(protocol, str) and protocol not in known:  # the key is protocol, not frame
        raise FrameFormatError(f"protocol: unknown format {protocol!r}; expected one of {sorted(known)}")
    spec = merged_spec(protocol, extra)
    if own is not None:
        if not isinstance(own, Mapping):
            raise FrameFormatError("frame: a table of frame settings")
        spec = {**spec, **own}
    return FrameFormat(spec, name=str(protocol))


def _codes(table: Any, allowed: Iterable[str], key: str) -> dict[int, str]:
    """``{"1" = "call_next"}`` (TOML keys are strings) → ``{1: "call_next"}``, checked."""
    if not isinstance(table, Mapping):
        raise ValueError(f"{key}: a table of code = name")
    out: dict[int, str] = {}
    for code, name in table.items():
        try:
            number = int(str(code), 0)
        except ValueError:
            raise ValueError(f"{key}.{code}: the code is a number 1-255") from None
        if not 1 <= number <= 255 or name not in allowed:
            raise ValueError(f"{key}.{code}: code 1-255 naming one of {list(allowed)}, got {name!r}")
        out[number] = name
    return out


def check_serial_device(
    kind: str,
    settings: Mapping[str, Any],
    counter: int | None = None,
    frame_formats: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Raise ValueError (naming the key) when a device's settings cannot work; the hub's config check."""
    if kind not in SERIAL_KINDS:
        raise ValueError(f"kind: one of {list(SERIAL_KINDS)}, got {kind!r}")
    allowed = (_DISPLAY_KEYS if kind == "led_display" else _PAD_KEYS) | set(BUS_SETTINGS)
    unknown = set(settings) - allowed
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown setting; expected some of {sorted(allowed)}")
    port = settings.get("port")
    if not isinstance(port, str) or not port:
        raise ValueError(
            "port: a device path ('/dev/ttyUSB0'), 'socket://host:port' or 'rfc2217://host:port'"
        )
    for key, default in BUS_SETTINGS.items():
        if key in settings and not isinstance(settings[key], type(default) | int):
            raise ValueError(f"{key}: expected a {type(default).__name__}, got {settings[key]!r}")
    address = settings.get("address", counter)
    if kind == "led_display":
        protocol = settings.get("protocol")
        if not isinstance(protocol, str):
            raise ValueError("protocol: a frame format name, 'modbus', 'vfd-cd5220' or 'vfd-epson'")
        if protocol.startswith("vfd-"):
            if protocol not in DISPLAY_PROTOCOLS:
                raise ValueError(f"protocol: {protocol!r}; VFDs are 'vfd-cd5220' or 'vfd-epson'")
            return
        if not isinstance(address, int):
            raise ValueError("address: the display's bus address (a number; defaults to its counter)")
        if protocol in ("modbus", "modbus-rtu"):
            RegisterMap(settings.get("registers"))
            if not 1 <= address <= 247:
                raise ValueError(f"address: a Modbus unit id is 1-247, got {address}")
            return
        if protocol not in {*FRAME_PRESETS, *(frame_formats or {})}:
            raise ValueError(
                f"protocol: unknown format {protocol!r}; expected one of {known_protocols(frame_formats)}"
            )
        try:
            fmt = _frame_format(settings, protocol, frame_formats)
            fmt.encode_address(address)
        except FrameFormatError as exc:
            raise ValueError(str(exc)) from None
        except ValueError as exc:
            raise ValueError(f"address: {exc}") from None
        return
    if not isinstance(address, int):
        raise ValueError("address: the keypad's bus address (a number)")
    try:
        fmt = _frame_format(settings, "keypad-a5", frame_formats)
        fmt.encode_address(address)
    except FrameFormatError as exc:
        raise ValueError(str(exc)) from None
    except ValueError as exc:
        raise ValueError(f"address: {exc}") from None
    if fmt.payload_size != 1:
        raise ValueError(f"protocol: format {fmt.name} is not a keypad format (payload_size 1)")
    mode = settings.get("mode", "unsolicited")
    if mode not in ("unsolicited", "poll"):
        raise ValueError(f"mode: 'unsolicited' or 'poll', got {mode!r}")
    if mode == "poll" and "poll" not in fmt.commands:
        raise ValueError(f"mode: format {fmt.name} has no 'poll' command")
    if "keys" in settings:
        _codes(settings["keys"], ACTIONS, "keys")
    if "ratings" in settings:
        _codes(settings["ratings"], RATINGS, "ratings")


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
    ) -> None:
        self.frame_formats = dict(frame_formats or {})
        self.on_key = on_key
        self.on_rating = on_rating
        self._on_device = on_device
        self._on_bus = on_bus
        self._bus_options = dict(bus_options or {})
        self.specs: dict[str, _Spec] = {}
        for raw in devices:
            if raw.get("kind") not in SERIAL_KINDS:
                continue
            spec = _Spec(
                str(raw["name"]), str(raw["kind"]), raw.get("counter"), dict(raw.get("settings") or {})
            )
            try:
                check_serial_device(spec.kind, spec.settings, spec.counter, self.frame_formats)
            except ValueError as exc:
                raise ValueError(f"device {spec.name}: settings.{exc}") from None
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
            port = spec.settings["port"]
            options = given.setdefault(port, {})
            for key in BUS_SETTINGS:
                if key not in spec.settings:
                    continue
                value = spec.settings[key]
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
        display_groups: dict[tuple, list[_Spec]] = {}
        pad_groups: dict[tuple, _PadGroup] = {}
        self._make_buses()
        for spec in self.specs.values():
            s = spec.settings
            port = s["port"]
            if spec.kind == "led_display":
                protocol = s["protocol"]
                detail = json.dumps(
                    {k: s.get(k) for k in ("frame", "registers", "brightness", "encoding", "width")},
                    sort_keys=True,
                )
                key = (
                    (port, protocol, detail)
                    if not protocol.startswith("vfd-")
                    else (port, protocol, spec.name)
                )
                display_groups.setdefault(key, []).append(spec)
            else:
                detail = json.dumps(
                    {k: s.get(k) for k in ("frame", "mode", "poll_interval", "keys", "ratings")}
                )
                key = (port, s.get("protocol", "keypad-a5"), detail)
                group = pad_groups.setdefault(key, _PadGroup())
                address = s["address"]
                if address in group.specs:
                    raise ValueError(
                        f"device {spec.name}: address {address} on {port} is also {group.specs[address].name}"
                    )
                group.specs[address] = spec
        vfd_ports: dict[str, str] = {}
        for (port, protocol, _), specs in display_groups.items():
            bus = self.buses[port]
            settings = specs[0].settings
            addresses: dict[int, str] = {}
            for spec in specs:
                address = spec.settings.get("address", spec.counter if spec.counter is not None else 1)
                if address in addresses:
                    raise ValueError(
                        f"device {spec.name}: address {address} on {port} is also {addresses[address]}"
                    )
                addresses[address] = spec.name
            driver: BusDisplays
            if protocol.startswith("vfd-"):
                if port in vfd_ports:
                    raise ValueError(f"device {specs[0].name}: {port} already has VFD {vfd_ports[port]}")
                vfd_ports[port] = specs[0].name
                driver = VfdDisplay(
                    bus,
                    addresses,
                    command_set=protocol.removeprefix("vfd-"),
                    width=settings.get("width", 20),
                    encoding=settings.get("encoding", "ascii"),
                )
            elif protocol in ("modbus", "modbus-rtu"):
                counters = {
                    spec.settings.get("address", spec.counter): spec.counter
                    for spec in specs
                    if spec.counter is not None
                }
                driver = ModbusDisplays(
                    bus,
                    addresses,
                    settings.get("registers"),
                    counters=counters,
                    brightness=settings.get("brightness"),
                    encoding=settings.get("encoding", "ascii"),
                )
            else:
                driver = FramedDisplays(bus, _frame_format(settings, protocol, self.frame_formats), addresses)
            for address, name in addresses.items():
                self.displays[name] = (driver, address)
        for (port, _protocol, _), group in pad_groups.items():
            settings = next(iter(group.specs.values())).settings
            listener = KeypadListener(
                self.buses[port],
                _frame_format(settings, "keypad-a5", self.frame_formats),
                {a: spec.kind for a, spec in group.specs.items()},
                names={a: spec.name for a, spec in group.specs.items()},
                keys=_codes(settings["keys"], ACTIONS, "keys") if "keys" in settings else None,
                ratings=_codes(settings["ratings"], RATINGS, "ratings") if "ratings" in settings else None,
                mode=settings.get("mode", "unsolicited"),
                poll_interval=float(settings.get("poll_interval", 0.2)),
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
