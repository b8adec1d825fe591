"""One watch for everything due in working days: staff told the moment a deadline passes, old contacts erased.

A case's step and a complaint are overdue from the end of their deadline's
working day (midnight, hall time: :mod:`server.core.due`). Nothing happens in
the hub at that instant, so every ``every`` seconds a watch asks its book
what came due since its last look (:meth:`DeadlineWatch.news`) and sends each
payload to the staff room; then it erases the contacts kept past their
retention (:meth:`DeadlineWatch.erase`). Its time is the hub's clock (a fake
one in tests); a failed round is logged and tried again
(:class:`~server.periodic.Periodic`). :mod:`server.case_watch` and
:mod:`server.complaint_watch` say what is news and what is erased.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .core.calendar import Clock
from .periodic import Periodic

log = logging.getLogger(__name__)

#: Seconds between two looks: something turns overdue on the staff pages at most this late.
WATCH_SECONDS = 30.0


class DeadlineWatch(Periodic[tuple[int, int]]):
    """Each round: tell staff what came due since the last look, then erase old contacts."""

    #: What is watched, for the log line ("cases", "complaints"): counts only, never a code or a phone.
    what = "deadlines"

    def __init__(
        self,
        clock: Clock,
        tell_staff: Callable[[dict[str, Any]], None],
        spawn: Callable[..., object],
        every: float | None = None,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            f"the {self.what} watch",
            self._watch,
            (0, 0),
            WATCH_SECONDS if every is None else every,
            spawn,
            on_store_failure,
        )
        self.clock = clock
        self.tell_staff = tell_staff
        #: The end of the last look: a deadline after it and up to now is news.
        self.since: datetime = clock()

    def news(self, after: datetime, upto: datetime) -> list[dict[str, Any]]:
        """One payload per kind of thing whose deadline fell in (``after``, ``upto``], each once."""
        raise NotImplementedError

    def erase(self) -> int:
        """Erase the contacts kept past their retention; how many."""
        return 0

    def watch_once(self) -> tuple[int, int]:
        """One look now: how many payloads were sent, how many contacts erased."""
        return self.once()

    def _watch(self) -> tuple[int, int]:
        now = self.clock()
        told = self.news(self.since, now)
        self.since = now
        for payload in told:
            self.tell_staff(payload)
        erased = self.erase()
        if told or erased:
            log.info("%s: %d came due, %d contact(s) erased", self.what, len(told), erased)
        return len(told), erased
