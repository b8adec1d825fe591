"""Is the printer ready? ``DLE EOT 1..4`` and what each answer byte means.

A thermal printer answers ``DLE EOT n`` with one byte at once, even while it
is offline or busy printing (it is a real-time command). Bits 1 and 4 of a
valid answer are always 1 and bit 7 is 0: ``0x12`` means all is well.

| n | bit | meaning |
|---|---|---|
| 1 (printer) | 3 (0x08) | offline |
| 2 (offline cause) | 2 (0x04) | cover open |
| 2 | 5 (0x20) | paper out stopped printing |
| 2 | 6 (0x40) | an error occurred |
| 3 (error) | 3/5/6 (0x68) | cutter / unrecoverable / auto-recoverable error |
| 4 (paper sensor) | 2,3 (0x0C) | paper near end |
| 4 | 5,6 (0x60) | paper out |

A printer that does not answer in time is ``unknown``, never "fine"; a
transport that cannot carry an answer back (a file, a USB printer without an
IN endpoint) is ``unknown`` without asking, so nothing blocks on it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from enum import StrEnum

from .link import LinkClosed, LinkTimeout, PrinterLink

DLE_EOT = b"\x10\x04"
#: ``(answer & VALID_MASK) == VALID_BITS`` for a well-formed answer byte.
VALID_MASK = 0x93
VALID_BITS = 0x12

OFFLINE_BIT = 0x08  # n=1
COVER_OPEN_BIT = 0x04  # n=2
PAPER_STOP_BIT = 0x20  # n=2
ERROR_OCCURRED_BIT = 0x40  # n=2
ERROR_BITS = 0x08 | 0x20 | 0x40  # n=3: cutter, unrecoverable, auto-recoverable
NEAR_END_BITS = 0x0C  # n=4
PAPER_OUT_BITS = 0x60  # n=4


class PrinterState(StrEnum):
    ONLINE = "online"
    PAPER_NEAR_END = "paper_near_end"  # prints; staff should change the roll
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    ERROR = "error"
    UNKNOWN = "unknown"  # no answer, or a transport that cannot answer
    DISCONNECTED = "disconnected"  # no transport: cannot open, or the connection broke

    @property
    def ready(self) -> bool:
        """Whether a ticket sent now will come out of the printer."""
        return self in (PrinterState.ONLINE, PrinterState.PAPER_NEAR_END)


def is_valid_answer(byte: int | None) -> bool:
    return byte is not None and 0 <= byte <= 0xFF and (byte & VALID_MASK) == VALID_BITS


def parse_status(answers: bytes | Sequence[int | None]) -> PrinterState:
    """The printer's state from its answers to ``DLE EOT 1``, ``2``, ``3`` and ``4``, in that order.

    A missing (``None``) or malformed answer, or fewer than four, is ``unknown``.
    When several things are wrong, the one staff must fix first wins: an open
    cover, then the paper, then an error, then "offline" with no stated cause.
    """
    if len(answers) < 4 or not all(is_valid_answer(b) for b in answers[:4]):
        return PrinterState.UNKNOWN
    printer, cause, error, paper = (int(b) for b in answers[:4])  # type: ignore[arg-type]
    if cause & COVER_OPEN_BIT:
        return PrinterState.COVER_OPEN
    if cause & PAPER_STOP_BIT or paper & PAPER_OUT_BITS:
        return PrinterState.PAPER_OUT
    if error & ERROR_BITS or cause & ERROR_OCCURRED_BIT:
        return PrinterState.ERROR
    if printer & OFFLINE_BIT:
        return PrinterState.OFFLINE
    if paper & NEAR_END_BITS:
        return PrinterState.PAPER_NEAR_END
    return PrinterState.ONLINE


def link_of(printer: object) -> PrinterLink | None:
    """The printer's link (printers from :func:`.connectors.open_printer` have one), or None."""
    link = getattr(printer, "link", None)
    return link if isinstance(link, PrinterLink) else None


def can_query_status(printer: object) -> bool:
    """Whether the printer's transport can carry an answer back (network, serial, USB with an IN endpoint)."""
    link = link_of(printer)
    return link is not None and link.answers


def query_status(printer: object, timeout: float = 2.0) -> PrinterState:
    """Ask ``DLE EOT 1..4`` and read one byte each, all within ``timeout`` seconds.

    ``disconnected`` when there is no printer, or its connection is closed or
    breaks while asking (the caller should reopen it); ``unknown`` when the
    printer stays silent or its transport cannot answer.
    """
    if printer is None:
        return PrinterState.DISCONNECTED
    link = link_of(printer)
    if link is None or not link.answers:
        return PrinterState.UNKNOWN
    return ask_status(link, time.monotonic() + timeout)


def ask_status(link: PrinterLink, deadline: float) -> PrinterState:
    """The status query itself, the same over every transport.

    Stale bytes (a late answer to an earlier query) are discarded first, and
    each query waits for its own answer before the next is sent, so answers
    never shift by one. The last byte of an answer counts (a USB packet may
    carry more than one).
    """
    answers: list[int] = []
    try:
        link.drain()
        for n in (1, 2, 3, 4):
            link.send(DLE_EOT + bytes((n,)))
            answers.append(link.recv(deadline)[-1])
    except LinkTimeout:
        return PrinterState.UNKNOWN
    except (LinkClosed, OSError):
        return PrinterState.DISCONNECTED
    return parse_status(answers)
