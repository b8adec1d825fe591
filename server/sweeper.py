"""The hub's periodic appointment sweep: no-shows marked and old names erased without cron.

A booking not checked in by the end of its late window becomes ``no_show``,
and the names kept for calling by name are erased after the retention period
(:meth:`AppointmentBook.sweep`, :meth:`AppointmentBook.erase_names`, the same
two calls as ``python -m server appointments sweep``, audited the same way).
Before this task that happened only when the day's list was read or when the
command ran from cron; now a serving hub does it every :data:`SWEEP_SECONDS`.

Time comes from the book's clock, which is the hub's (a fake one in tests):
the interval is only how often to look. The task runs on the live push's
loop (a greenlet when serving, a thread for the CLI's offline push) and
:meth:`AppointmentSweeper.close` ends it; :meth:`Hub.close` calls it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .core.appointments import AppointmentBook
from .store.health import store_failure

log = logging.getLogger(__name__)

#: Seconds between two sweeps. A booking becomes ``no_show`` at most this long after its
#: late window closed (the day's list and a check-in see it at once anyway: the list sweeps
#: before it reads, and the check-in judges by the clock); a minute is plenty, and each sweep
#: is two small UPDATEs.
SWEEP_SECONDS = 60.0


class AppointmentSweeper:
    """One background task: every ``every`` seconds, mark no-shows and erase names past retention."""

    def __init__(
        self,
        book: AppointmentBook,
        spawn: Callable[..., Any],
        every: float | None = None,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.book = book
        self.spawn = spawn
        self.every = SWEEP_SECONDS if every is None else every
        self.on_store_failure = on_store_failure
        self._stop = threading.Event()
        self.task: Any = None

    def start(self) -> None:
        """Start the task (a serving hub whose site takes appointments)."""
        self.task = self.spawn(self.run)

    def run(self) -> None:
        """The task: sweep after each interval until :meth:`close`."""
        while not self._stop.wait(self.every):
            self.sweep_once()

    def sweep_once(self) -> tuple[int, int]:
        """One sweep: how many bookings became ``no_show``, how many names were erased.

        A failure (the store is down) is logged and the next round tries again:
        the task never dies of it.
        """
        try:
            marked = self.book.sweep()
            erased = self.book.erase_names()
        except Exception as error:
            detail = store_failure(error)
            if detail is None:
                log.exception("the appointment sweep failed")
            else:
                log.error("the appointment sweep failed: the store is unavailable (%s)", detail)
                if self.on_store_failure is not None:
                    self.on_store_failure(detail)
            return 0, 0
        if marked or erased:
            # Counts only: no code, phone or name in the log.
            log.info("appointments: %d booking(s) marked no_show, %d name(s) erased", marked, erased)
        return marked, erased

    def close(self, timeout: float = 5.0) -> None:
        """End the task: at once if it is waiting, else after the sweep it is in (before the store goes)."""
        self._stop.set()
        join = getattr(self.task, "join", None)  # a thread or a greenlet: both can be waited for
        if join is not None:
            join(timeout)
