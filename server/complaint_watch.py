"""The hub's watch over complaints: staff told the moment one becomes overdue; old phones erased.

A :class:`~server.deadline_watch.DeadlineWatch`: each round sends
``complaint_changed {"action": "overdue"}`` to the staff room for the open
complaints whose deadline fell since its last look (the category only: no
id, text or phone), and erases the contact phone of complaints closed more
than ``[complaints] contact_retention_days`` ago (audited).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .core.complaint_book import ComplaintBook
from .deadline_watch import DeadlineWatch


class ComplaintWatch(DeadlineWatch):
    """Complaints that came due, by category; phones past retention erased."""

    what = "complaints"

    def __init__(
        self,
        book: ComplaintBook,
        tell_staff: Callable[[dict[str, Any]], None],
        spawn: Callable[..., object],
        every: float | None = None,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(book.clock, tell_staff, spawn, every, on_store_failure)
        self.book = book

    def news(self, after: datetime, upto: datetime) -> list[dict[str, Any]]:
        came = sorted(set(self.book.came_due(after, upto)))
        return [{"action": "overdue", "category": category, "status": "open"} for category in came]

    def erase(self) -> int:
        return self.book.erase_contacts()
