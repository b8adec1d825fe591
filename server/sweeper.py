"""The hub's periodic appointment sweep: no-shows marked and old names erased without cron.

A booking not checked in by the end of its late window becomes ``no_show``,
and the names kept for calling by name are erased after the retention period
(:meth:`AppointmentBook.sweep`, :meth:`AppointmentBook.erase_names`, the same
two calls as ``python -m server appointments sweep``, audited the same way).
Before this task that happened only when the day's list was read or when the
command ran from cron; now a serving hub does it every :data:`SWEEP_SECONDS`
(a :class:`~server.periodic.Periodic`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .core.appointments import AppointmentBook
from .periodic import Periodic

log = logging.getLogger(__name__)

#: Seconds between two sweeps. A booking becomes ``no_show`` at most this long after its
#: late window closed (the day's list and a check-in see it at once anyway: the list sweeps
#: before it reads, and the check-in judges by the clock); a minute is plenty, and each sweep
#: is two small UPDATEs.
SWEEP_SECONDS = 60.0


class AppointmentSweeper(Periodic[tuple[int, int]]):
    """Every ``every`` seconds: mark no-shows and erase names past retention."""

    def __init__(
        self,
        book: AppointmentBook,
        spawn: Callable[..., object],
        every: float | None = None,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            "the appointment sweep",
            self._sweep,
            (0, 0),
            SWEEP_SECONDS if every is None else every,
            spawn,
            on_store_failure,
        )
        self.book = book

    def sweep_once(self) -> tuple[int, int]:
        """One sweep: how many bookings became ``no_show``, how many names were erased."""
        return self.once()

    def _sweep(self) -> tuple[int, int]:
        marked = self.book.sweep()
        erased = self.book.erase_names()
        if marked or erased:
            # Counts only: no code, phone or name in the log.
            log.info("appointments: %d booking(s) marked no_show, %d name(s) erased", marked, erased)
        return marked, erased
