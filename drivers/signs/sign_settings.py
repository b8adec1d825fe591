"""The settings of a serial display, keypad or evaluation pad: one model per protocol.

The hub's config check (:func:`~drivers.signs.site.check_serial_device`) and
:class:`~drivers.signs.site.SerialDevices` both read a device's ``settings``
through these models, so a key is accepted or refused the same way in both.
Checks that depend on the site (a frame format of its own, the device's
counter as its default address) read the validation context:
``{"frame_formats": {...}, "counter": n}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ValidationInfo, model_validator

from drivers.validation import DriverSettings

from .frames import FRAME_PRESETS, FrameFormat, FrameFormatError, merged_spec
from .keypad import ACTIONS, RATINGS
from .modbus import RegisterMap


def _port(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a device path ('/dev/ttyUSB0'), 'socket://host:port' or 'rfc2217://host:port'")
    return value


def _seconds(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"seconds, more than 0, got {value!r}")
    return float(value)


Seconds = Annotated[float, BeforeValidator(_seconds)]


class BusSettings(DriverSettings):
    """The port a device hangs on; every device on one port must agree on the keys it gives."""

    port: Annotated[str, BeforeValidator(_port)]
    baudrate: int = 9600
    bytesize: int = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: int = 1
    #: Seconds a device has to answer after its frame left the wire.
    reply_timeout: Seconds = 0.2
    #: Frames sent again before a device is faulty.
    retries: int = 2
    faulty_retry_interval: Seconds = 10.0
    #: The longest back-off between attempts to re-open a lost port.
    max_retry_interval: Seconds = 2.0

    def bus_given(self) -> dict[str, Any]:
        """The port's settings this device gives (the others are the bus's defaults)."""
        return self.model_dump(include=(set(BusSettings.model_fields) - {"port"}) & self.model_fields_set)

    def driver_key(self) -> str:
        """The settings that shape the driver (not the port, not the address), as one comparable string.

        Displays of one protocol on one port share a driver when these agree.
        """
        skip = {*BusSettings.model_fields, "address"}
        return json.dumps(self.model_dump(exclude=skip), sort_keys=True)


def _context(info: ValidationInfo) -> tuple[Mapping[str, Mapping[str, Any]], int | None]:
    context = info.context if isinstance(info.context, Mapping) else {}
    return context.get("frame_formats") or {}, context.get("counter")


def frame_format(
    protocol: str, own: Mapping[str, Any] | None, frame_formats: Mapping[str, Mapping[str, Any]] | None
) -> FrameFormat:
    """The frame format ``protocol`` (a preset or the site's), with the device's ``frame`` keys over it."""
    known = {**FRAME_PRESETS, **(frame_formats or {})}
    if protocol not in known:  # the key is protocol, not frame
        raise FrameFormatError(f"protocol: unknown format {protocol!r}; expected one of {sorted(known)}")
    spec = merged_spec(protocol, frame_formats)
    if own is not None:
        spec = {**spec, **own}
    return FrameFormat(spec, name=protocol)


def _address(value: int | None, counter: int | None, what: str) -> int:
    address = value if value is not None else counter
    if address is None:
        raise ValueError(f"address: {what}")
    return address


class DisplaySettings(BusSettings):
    """An LED (or VFD) display: its protocol and its address on the bus (default: its counter)."""

    protocol: str
    address: int | None = None

    def address_for(self, counter: int | None) -> int:
        """The bus address: the ``address`` key, else the counter, else 1."""
        if self.address is not None:
            return self.address
        return counter if counter is not None else 1


class FramedDisplaySettings(DisplaySettings):
    """A display speaking a framed binary protocol (``generic-stx``, ``aa55-gb2312``, a site's own)."""

    #: Frame keys over the named format's (docs/displays.md, "Framed binary protocols").
    frame: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _format_fits(self, info: ValidationInfo) -> FramedDisplaySettings:
        formats, counter = _context(info)
        address = _address(
            self.address, counter, "the display's bus address (a number; defaults to its counter)"
        )
        try:
            fmt = frame_format(self.protocol, self.frame, formats)
        except FrameFormatError as exc:
            raise ValueError(str(exc)) from None
        try:
            fmt.encode_address(address)
        except ValueError as exc:
            raise ValueError(f"address: {exc}") from None
        return self


class ModbusDisplaySettings(DisplaySettings):
    """A Modbus RTU display unit (function 16 to its registers)."""

    protocol: Literal["modbus", "modbus-rtu"]
    #: Which registers take the text, the number, the counter, the brightness.
    registers: dict[str, Any] | None = None
    brightness: int | None = None
    encoding: str = "ascii"

    @model_validator(mode="after")
    def _unit(self, info: ValidationInfo) -> ModbusDisplaySettings:
        _, counter = _context(info)
        RegisterMap(self.registers)
        address = _address(
            self.address, counter, "the display's bus address (a number; defaults to its counter)"
        )
        if not 1 <= address <= 247:
            raise ValueError(f"address: a Modbus unit id is 1-247, got {address}")
        return self


class VfdSettings(DisplaySettings):
    """A two-line VFD customer display (one per port, no address, no answers)."""

    protocol: Literal["vfd-cd5220", "vfd-epson"]
    width: int = 20
    encoding: str = "ascii"

    @model_validator(mode="after")
    def _width(self) -> VfdSettings:
        if not 1 <= self.width <= 40:
            raise ValueError(f"width: 1-40 characters, got {self.width}")
        return self


def _codes(table: Mapping[str, Any], allowed: Iterable[str], key: str) -> dict[int, str]:
    """``{"1" = "call_next"}`` (TOML keys are strings) → ``{1: "call_next"}``, checked."""
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


class PadSettings(BusSettings):
    """A caller keypad or an evaluation pad: its address, frame format and how it is heard."""

    address: int
    protocol: str = "keypad-a5"
    frame: dict[str, Any] | None = None
    mode: Literal["unsolicited", "poll"] = "unsolicited"
    poll_interval: Seconds = 0.2
    #: ``{ "1" = "call_next", … }``: key codes remapped.
    keys: dict[str, Any] | None = None
    #: ``{ "1" = "very_satisfied", … }``: rating codes remapped.
    ratings: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _format_fits(self, info: ValidationInfo) -> PadSettings:
        formats, _ = _context(info)
        try:
            fmt = frame_format(self.protocol, self.frame, formats)
        except FrameFormatError as exc:
            raise ValueError(str(exc)) from None
        try:
            fmt.encode_address(self.address)
        except ValueError as exc:
            raise ValueError(f"address: {exc}") from None
        if fmt.payload_size != 1:
            raise ValueError(f"protocol: format {fmt.name} is not a keypad format (payload_size 1)")
        if self.mode == "poll" and "poll" not in fmt.commands:
            raise ValueError(f"mode: format {fmt.name} has no 'poll' command")
        self.key_codes()
        self.rating_codes()
        return self

    def key_codes(self) -> dict[int, str] | None:
        """The ``keys`` table as ``{code: action}``; None: the format's defaults."""
        return None if self.keys is None else _codes(self.keys, ACTIONS, "keys")

    def rating_codes(self) -> dict[int, str] | None:
        """The ``ratings`` table as ``{code: rating}``; None: the format's defaults."""
        return None if self.ratings is None else _codes(self.ratings, RATINGS, "ratings")
