"""The hub's watch over complaints: staff told the moment one becomes overdue; old phones erased.

A complaint is overdue from the end of its deadline's working day (midnight,
hall time: :func:`server.core.due.deadline`, the cases' rule); nothing happens
in the hub at that instant, so every :data:`WATCH_SECONDS` this task asks the
store which open complaints' deadlines fell since its last look and sends
``complaint_changed {"action": "overdue"}`` to the staff room (the category
only: no id, text or phone). Its time is the hub's clock (a fake one in
tests); a failed round is logged and tried again (:class:`~server.periodic.Periodic`). It also
erases the contact phone of complaints closed more than ``[complaints] contact_retention_days`` ago.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .core.complaint_book import ComplaintBook
from .periodic import Periodic

log = logging.getLogger(__name__)

#: Seconds between two looks: a complaint turns overdue on the staff pages at most this late.
WATCH_SECONDS = 30.0


class ComplaintWatch(Periodic[tuple[int, int]]):
    """Each round: tell staff of complaints that came due since their last look, erase old phones."""

    def __init__(
        self,
        book: ComplaintBook,
        tell_staff: Callable[[dict[str, Any]], None],
        spawn: Callable[..., object],
        every: float | None = None,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            "the complaint watch",
            self._watch,
            (0, 0),
            WATCH_SECONDS if every is None else every,
            spawn,
            on_store_failure,
        )
        self.book = book
        self.tell_staff = tell_staff
        #: The end of the last look: a deadline after it and up to now is news.
        self.since: datetime = book.clock()

    def _watch(self) -> tuple[int, int]:
        now = self.book.clock()
        came = self.book.came_due(self.since, now)
        self.since = now
        for category in sorted(set(came)):
            self.tell_staff({"action": "overdue", "category": category, "status": "open"})
        erased = self.book.erase_contacts()
        if came or erased:
            # Counts only: no id, text or phone in the log.
            log.info("complaints: %d became overdue, %d phone(s) erased", len(came), erased)
        return len(came), erased
