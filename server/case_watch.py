"""The hub's watch over cases: staff told the moment a step becomes overdue; old contacts erased.

A step is overdue from the end of its last working day (midnight, hall time);
nothing happens in the hub at that moment, so every :data:`WATCH_SECONDS` this
task asks the store which active steps' deadlines fell since its last look and
sends ``case_changed {"action": "overdue"}`` to the staff room: consoles then
read their overdue list at once (they also look again at the next deadline
they were told, and every minute). It also erases the contact name and phone
of cases closed more than ``[cases] contact_retention_days`` ago (audited).
Its time is the hub's clock (a fake one in tests); a failed round (the store
is down) is logged and tried again (:class:`~server.periodic.Periodic`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .core.case_book import CaseBook
from .periodic import Periodic

log = logging.getLogger(__name__)

#: Seconds between two looks: a step turns overdue on the staff pages at most this late.
WATCH_SECONDS = 30.0


class CaseWatch(Periodic[tuple[int, int]]):
    """Every ``every`` seconds: tell staff of steps that came due, erase contacts past retention."""

    def __init__(
        self,
        book: CaseBook,
        tell_staff: Callable[[dict[str, Any]], None],
        retention_days: int,
        spawn: Callable[..., object],
        every: float | None = None,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            "the case watch",
            self._watch,
            (0, 0),
            WATCH_SECONDS if every is None else every,
            spawn,
            on_store_failure,
        )
        self.book = book
        self.tell_staff = tell_staff
        self.retention_days = retention_days
        #: The end of the last look: a deadline after it and up to now is news.
        self.since: datetime = book.clock()

    def watch_once(self) -> tuple[int, int]:
        """One look: how many steps came due since the last, how many contacts were erased."""
        return self.once()

    def _watch(self) -> tuple[int, int]:
        now = self.book.clock()
        came = self.book.came_due(self.since, now)
        self.since = now
        for kind, service in sorted(set(came)):
            self.tell_staff({"action": "overdue", "kind": kind, "service": service, "status": "open"})
        erased = self.book.erase_contacts(self.retention_days)
        if came or erased:
            # Counts only: no code, name or phone in the log.
            log.info("cases: %d step(s) became overdue, %d contact(s) erased", len(came), erased)
        return len(came), erased
