"""Ticket printing: what goes on paper, how it is laid out, how it reaches the printer.

See ``docs/printing.md``. Transport (:mod:`.connectors`, :mod:`.link`) is kept
apart from protocol (:mod:`.layout`, :mod:`.status`); a printer's settings are
defined once (:mod:`.printer_settings`) for the hub and the device agent;
:mod:`.spooler` keeps the hub from ever waiting on a printer.
"""

import importlib
from typing import Any

#: Where each name of the package lives. Loaded on first use (PEP 562): the hub
#: reads printer settings at start, but python-escpos and Pillow (the transports
#: and the layout) only load when a printer is used.
_WHERE = {
    "LinkedPrinter": "connectors",
    "PrinterConnectionError": "connectors",
    "open_printer": "connectors",
    "LayoutOptions": "layout_options",
    "render_bytes": "layout",
    "render_png": "layout",
    "write_ticket": "layout",
    "LinkClosed": "link",
    "LinkTimeout": "link",
    "PrinterLink": "link",
    "PRINTER_SETTINGS": "printer_settings",
    "BasePrinterSettings": "printer_settings",
    "PrinterSettings": "printer_settings",
    "VirtualPrinterSettings": "printer_settings",
    "parse_printer_settings": "printer_settings",
    "PrintJob": "spooler",
    "PrintSpooler": "spooler",
    "PrinterState": "status",
    "can_query_status": "status",
    "parse_status": "status",
    "query_status": "status",
    "PrintTicket": "ticket",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


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
