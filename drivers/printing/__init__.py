"""Ticket printing: what goes on paper, how it is laid out, how it reaches the printer.

See ``docs/printing.md``. Transport (:mod:`.connectors`) is kept apart from
protocol (:mod:`.layout`, :mod:`.status`); :mod:`.spooler` keeps the hub from
ever waiting on a printer.
"""

from .connectors import PrinterConnectionError, check_settings, open_printer
from .layout import LayoutOptions, render_bytes, render_png, write_ticket
from .spooler import PrintJob, PrintSpooler
from .status import PrinterState, can_query_status, parse_status, query_status
from .ticket import PrintTicket

__all__ = [
    "LayoutOptions",
    "PrintJob",
    "PrintSpooler",
    "PrintTicket",
    "PrinterConnectionError",
    "PrinterState",
    "can_query_status",
    "check_settings",
    "open_printer",
    "parse_status",
    "query_status",
    "render_bytes",
    "render_png",
    "write_ticket",
]
