"""The hub's watch over cases: staff told the moment a step becomes overdue; old contacts erased.

A :class:`~server.deadline_watch.DeadlineWatch`: each round sends
``case_changed {"action": "overdue"}`` to the staff room for the active steps
whose deadline fell since its last look (consoles then read their overdue list
at once; they also look again at the next deadline they were told, and every
minute), and erases the contact name and phone of cases closed more than
``[cases] contact_retention_days`` ago (audited).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .core.case_book import CaseBook
from .deadline_watch import DeadlineWatch


class CaseWatch(DeadlineWatch):
    """Steps that came due, by kind and service (no code, no name); contacts past retention erased."""

    what = "cases"

    def __init__(
        self,
        book: CaseBook,
        tell_staff: Callable[[dict[str, Any]], None],
        retention_days: int,
        spawn: Callable[..., object],
        every: float | None = None,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(book.clock, tell_staff, spawn, every, on_store_failure)
        self.book = book
        self.retention_days = retention_days

    def news(self, after: datetime, upto: datetime) -> list[dict[str, Any]]:
        came = sorted(set(self.book.came_due(after, upto)))
        return [
            {"action": "overdue", "kind": kind, "service": service, "status": "open"}
            for kind, service in came
        ]

    def erase(self) -> int:
        return self.book.erase_contacts(self.retention_days)
