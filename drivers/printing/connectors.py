"""How bytes reach a printer: one plain settings dict in, an open python-escpos printer out.

The transport is all that differs between a network, serial, USB or file
printer; the ticket's bytes (:mod:`.layout`) and the status queries
(:mod:`.status`) are the same for all of them.

    open_printer({"connector": "network", "host": "192.168.1.50"})
    open_printer({"connector": "serial", "port": "/dev/ttyUSB0", "baudrate": 19200})
    open_printer({"connector": "usb", "vendor_id": 0x0416, "product_id": 0x5011})
    open_printer({"connector": "file", "path": "/dev/usb/lp0"})
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from typing import Any

from escpos.escpos import Escpos
from escpos.printer import File

#: Keys a printer's settings may carry that are not about the connection (the layout's, the hub's).
NOT_CONNECTION_KEYS = frozenset(
    {"name", "agent", "paper_mm", "chinese", "qr", "number_size", "logo", "footer_zh", "footer_en"}
)

#: Per connector: required keys, then optional keys with their defaults.
CONNECTORS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "network": (("host",), {"port": 9100, "timeout": 5.0, "profile": None}),
    "serial": (
        ("port",),
        {
            "baudrate": 9600,
            "bytesize": 8,
            "parity": "N",
            "stopbits": 1,
            "timeout": 5.0,
            "xonxoff": False,
            "dsrdtr": False,
            "profile": None,
        },
    ),
    "usb": (
        ("vendor_id", "product_id"),
        {"in_ep": 0x82, "out_ep": 0x01, "timeout": 5.0, "status": True, "profile": None},
    ),
    "file": (("path",), {"timeout": None, "profile": None}),
}


class PrinterConnectionError(ConnectionError):
    """The printer's settings are fine but the printer cannot be reached (yet)."""


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The connection settings with defaults filled in; a ``ValueError`` naming the key when wrong.

    Unknown keys are refused (a misspelt ``baud`` would otherwise print at
    9600 without a word), except the layout's and the hub's own keys.
    """
    if not isinstance(settings, dict):
        raise ValueError(f"printer settings: a table of keys, got {type(settings).__name__}")
    connector = settings.get("connector")
    if connector is None:
        raise ValueError(f"connector: missing; one of {', '.join(CONNECTORS)}")
    if connector not in CONNECTORS:
        raise ValueError(f"connector: unknown connector {connector!r}; one of {', '.join(CONNECTORS)}")
    required, optional = CONNECTORS[connector]
    for key in required:
        if settings.get(key) is None:
            raise ValueError(f"{key}: a {connector} printer needs {key!r}")
    allowed = {"connector", *required, *optional, *NOT_CONNECTION_KEYS}
    for key in settings:
        if key not in allowed:
            raise ValueError(f"{key}: not a setting of a {connector} printer")
    values = {key: settings[key] for key in required}
    values.update({key: settings.get(key, default) for key, default in optional.items()})
    for key, value in list(values.items()):
        if value is None and key in optional:
            values[key] = optional[key]
    _check_types(connector, values)
    return values


def _check_types(connector: str, v: dict[str, Any]) -> None:
    def number(key: str, positive: bool = True) -> None:
        value = v[key]
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float) or (positive and value <= 0):
            raise ValueError(f"{key}: a positive number, got {value!r}")

    def text(key: str) -> None:
        if not isinstance(v[key], str) or not v[key]:
            raise ValueError(f"{key}: a non-empty string, got {v[key]!r}")

    def integer(key: str, low: int, high: int) -> None:
        value = v[key]
        if isinstance(value, str):
            try:
                value = v[key] = int(value, 0)  # "0x0416" in a settings file
            except ValueError:
                raise ValueError(f"{key}: a whole number from {low} to {high}, got {v[key]!r}") from None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{key}: a whole number from {low} to {high}, got {value!r}")

    number("timeout")
    if connector == "network":
        text("host")
        integer("port", 1, 65535)
    elif connector == "serial":
        if not isinstance(v["port"], str) or not v["port"]:
            raise ValueError(
                f"port: a serial printer's port is a device path such as '/dev/ttyUSB0', got {v['port']!r}"
            )
        integer("baudrate", 50, 4_000_000)
        integer("bytesize", 5, 8)
        integer("stopbits", 1, 2)
        if v["parity"] not in ("N", "E", "O", "M", "S"):
            raise ValueError(f"parity: one of N, E, O, M, S, got {v['parity']!r}")
    elif connector == "usb":
        integer("vendor_id", 0, 0xFFFF)
        integer("product_id", 0, 0xFFFF)
        integer("out_ep", 0, 0xFF)
        if v["in_ep"] is not None:
            integer("in_ep", 0, 0xFF)
    elif connector == "file":
        text("path")


def open_printer(settings: dict[str, Any]) -> Escpos:
    """An open python-escpos printer for ``settings``.

    Raises ``ValueError`` (naming the key) for bad settings, and
    :class:`PrinterConnectionError` when the printer cannot be reached.
    """
    values = check_settings(settings)
    printer = _BUILDERS[settings["connector"]](values)
    try:
        printer.open()
    except Exception as exc:  # escpos's DeviceNotFoundError, pyusb's NoBackendError, ...
        raise PrinterConnectionError(f"{settings['connector']} printer: {exc}".strip()) from exc
    if settings["connector"] == "network":
        # The status query that confirms a job is 3 bytes: with Nagle on it waits for the
        # printer's delayed ACK of the ticket (40 ms on Linux) before it leaves.
        with contextlib.suppress(OSError, AttributeError):
            printer.device.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return printer


def _network(v: dict[str, Any]) -> Escpos:
    from escpos.printer import Network

    return Network(host=v["host"], port=v["port"], timeout=v["timeout"], profile=v["profile"])


def _serial(v: dict[str, Any]) -> Escpos:
    from escpos.printer import Serial

    return Serial(
        devfile=v["port"],
        baudrate=v["baudrate"],
        bytesize=v["bytesize"],
        parity=v["parity"],
        stopbits=v["stopbits"],
        timeout=v["timeout"],
        xonxoff=bool(v["xonxoff"]),
        dsrdtr=bool(v["dsrdtr"]),
        profile=v["profile"],
    )


def _usb(v: dict[str, Any]) -> Escpos:
    from escpos.printer import Usb

    printer = Usb(
        idVendor=v["vendor_id"],
        idProduct=v["product_id"],
        timeout=int(v["timeout"] * 1000),  # pyusb counts milliseconds
        in_ep=v["in_ep"],
        out_ep=v["out_ep"],
        profile=v["profile"],
    )
    printer.qcall_status = bool(v["status"]) and bool(v["in_ep"])  # type: ignore[attr-defined]
    return printer


class AppendingFile(File):
    """A file or device-file printer that appends.

    python-escpos opens with ``"wb"``: reopening after a fault would erase the
    tickets already in a spool file.
    """

    def open(self, raise_not_found: bool = True) -> None:
        if self._device:
            self.close()
        self.device = open(self.devfile, "ab")  # noqa: SIM115 (closed by close())


def _file(v: dict[str, Any]) -> Escpos:
    return AppendingFile(devfile=v["path"], profile=v["profile"])


_BUILDERS: dict[str, Callable[[dict[str, Any]], Escpos]] = {
    "network": _network,
    "serial": _serial,
    "usb": _usb,
    "file": _file,
}
