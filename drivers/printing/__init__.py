"""Ticket printing: what goes on paper, how it is laid out, how it reaches the printer.

See ``docs/printing.md``. Transport (:mod:`.connectors`, :mod:`.link`) is kept
apart from protocol (:mod:`.layout`, :mod:`.status`); a printer's settings are
defined once (:mod:`.printer_settings`) for the hub and the device agent;
:mod:`.spooler` keeps the hub from ever waiting on a printer.
"""

from .connectors import LinkedPrinter, PrinterConnectionError, open_printer
from .layout import LayoutOptions, render_bytes, render_png, write_ticket
from .link import LinkClosed, LinkTimeout, PrinterLink
from .printer_settings import (
    PRINTER_SETTINGS,
    BasePrinterSettings,
    PrinterSettings,
    VirtualPrinterSettings,
    parse_printer_settings,
)
from .spooler import PrintJob, PrintSpooler
from .status import PrinterState, can_query_status, parse_status, query_status
from .ticket import PrintTicket

__all__ = [
    "PRINTER_SETTINGS",
    "BasePrinterSettings",
    "LayoutOptions",
    "LinkClosed",
    "LinkTimeout",
    "LinkedPrinter",
    "PrintJob",
    "PrintSpooler",
    "PrintTicket",
    "PrinterConnectionError",
    "PrinterLink",
    "PrinterSettings",
    "PrinterState",
    "VirtualPrinterSettings",
    "can_query_status",
    "open_printer",
    "parse_printer_settings",
    "parse_status",
    "query_status",
    "render_bytes",
    "render_png",
    "write_ticket",
]
