"""How bytes reach a printer: its settings in, an open python-escpos printer with a link out.

The transport is all that differs between a network, serial, USB or file
printer; the ticket's bytes (:mod:`.layout`) and the status queries
(:mod:`.status`) are the same for all of them. python-escpos opens the
transport (its USB set-up in particular is worth keeping); each printer class
here then wraps what it opened in a :class:`~.link.PrinterLink`, through the
printer's public ``device``, once, so nobody else touches the transport.

    open_printer({"connector": "network", "host": "192.168.1.50"})
    open_printer({"connector": "serial", "port": "/dev/ttyUSB0", "baudrate": 19200, "parity": "E"})
    open_printer({"connector": "usb", "vendor_id": 0x0416, "product_id": 0x5011})
    open_printer({"connector": "file", "path": "/dev/usb/lp0"})
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Mapping
from typing import Any

from escpos.escpos import Escpos
from escpos.printer import File, Network, Serial, Usb

from .link import ClosedLink, FileLink, PrinterLink, SerialLink, SocketLink, UsbLink
from .printer_settings import (
    BasePrinterSettings,
    FilePrinterSettings,
    NetworkPrinterSettings,
    SerialPrinterSettings,
    UsbPrinterSettings,
    parse_printer_settings,
)


class PrinterConnectionError(ConnectionError):
    """The printer's settings are fine but the printer cannot be reached (yet)."""


class LinkedPrinter(Escpos):
    """A python-escpos printer that also offers its transport as a :class:`~.link.PrinterLink`.

    ``link`` is None until :meth:`open`; after :meth:`close` it stays, and
    every call on it fails with ``LinkClosed`` (the status query then says
    ``disconnected``, as it should for a printer whose connection is gone).
    """

    link: PrinterLink | None = None

    def open(self, raise_not_found: bool = True) -> None:
        super().open(raise_not_found)
        self.link = self._make_link()

    def close(self) -> None:
        if self.link is not None:
            self.link = ClosedLink(self.link.answers)
        super().close()

    def _make_link(self) -> PrinterLink:
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        """Every byte of ``data`` to the printer (the spooler's jobs, ``ESC @`` included)."""
        if self.link is None:
            raise PrinterConnectionError("the printer is not open")
        self.link.send(data)


class NetworkPrinter(LinkedPrinter, Network):
    def _make_link(self) -> PrinterLink:
        sock: socket.socket = self.device
        # The status query that confirms a job is 3 bytes: with Nagle on it waits for the
        # printer's delayed ACK of the ticket (40 ms on Linux) before it leaves.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketLink(sock)


class SerialPrinter(LinkedPrinter, Serial):
    def _make_link(self) -> PrinterLink:
        return SerialLink(self.device)


class UsbPrinter(LinkedPrinter, Usb):
    #: Whether to ask the printer's status (the ``status`` setting); False: it is never asked.
    ask_status = True

    def _make_link(self) -> PrinterLink:
        return UsbLink(self.device, self.out_ep, self.in_ep, int(self.timeout), self.ask_status)


class FilePrinter(LinkedPrinter, File):
    """A file or device-file printer that appends.

    python-escpos opens with ``"wb"``: reopening after a fault would erase the
    tickets already in a spool file.
    """

    def open(self, raise_not_found: bool = True) -> None:
        if self.link is not None:
            self.close()
        self.device = open(self.devfile, "ab")  # noqa: SIM115 (closed by close())
        self.link = self._make_link()

    def _make_link(self) -> PrinterLink:
        return FileLink(self.device)


def open_printer(settings: BasePrinterSettings | Mapping[str, Any]) -> LinkedPrinter:
    """An open printer for ``settings`` (a settings model, or a table to validate).

    Raises ``ValueError`` (naming the key) for bad settings, and
    :class:`PrinterConnectionError` when the printer cannot be reached.
    """
    if not isinstance(settings, BasePrinterSettings):
        settings = parse_printer_settings(settings)
    build = _BUILDERS.get(settings.connector)
    if build is None:
        raise ValueError(f"connector: a {settings.connector} printer cannot be opened directly")
    printer = build(settings)
    try:
        printer.open()
    except Exception as exc:  # escpos's DeviceNotFoundError, pyusb's NoBackendError, ...
        raise PrinterConnectionError(f"{settings.connector} printer: {exc}".strip()) from exc
    return printer


def _network(settings: BasePrinterSettings) -> LinkedPrinter:
    assert isinstance(settings, NetworkPrinterSettings)
    return NetworkPrinter(
        host=settings.host, port=settings.port, timeout=settings.timeout, profile=settings.profile
    )


def _serial(settings: BasePrinterSettings) -> LinkedPrinter:
    assert isinstance(settings, SerialPrinterSettings)
    return SerialPrinter(
        devfile=settings.port,
        baudrate=settings.baudrate,
        bytesize=settings.bytesize,
        parity=settings.parity,
        stopbits=settings.stopbits,
        timeout=settings.timeout,
        xonxoff=settings.xonxoff,
        dsrdtr=settings.dsrdtr,
        profile=settings.profile,
    )


def _usb(settings: BasePrinterSettings) -> LinkedPrinter:
    assert isinstance(settings, UsbPrinterSettings)
    printer = UsbPrinter(
        idVendor=settings.vendor_id,
        idProduct=settings.product_id,
        timeout=int(settings.timeout * 1000),  # pyusb counts milliseconds
        in_ep=settings.in_ep,
        out_ep=settings.out_ep,
        profile=settings.profile,
    )
    printer.ask_status = settings.status
    return printer


def _file(settings: BasePrinterSettings) -> LinkedPrinter:
    assert isinstance(settings, FilePrinterSettings)
    return FilePrinter(devfile=settings.path, profile=settings.profile)


_BUILDERS: dict[str, Callable[[BasePrinterSettings], LinkedPrinter]] = {
    "network": _network,
    "serial": _serial,
    "usb": _usb,
    "file": _file,
}
