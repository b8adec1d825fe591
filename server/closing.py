"""The closing watch: after each closing, the tickets still waiting are closed or carried over.

The rule is the core's (:meth:`~server.core.queue.QueueCore.at_closing`, which
takes the hub's clock, so tests and the simulated day use a fake one); this
task only asks it every :data:`CHECK_SECONDS` (a
:class:`~server.periodic.Periodic`), as ``[hours] at_closing`` says. A hall
whose hours are not enforced has no closing, and runs no task.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from .core.model import Ticket, TicketStatus
from .core.queue import QueueCore
from .periodic import Periodic

log = logging.getLogger(__name__)

#: How often the hub looks for a closing that has passed: tickets end at most this late.
CHECK_SECONDS = 30.0
#: How far ahead the holiday library must know the country's calendar before the hub warns.
KNOWN_AHEAD = timedelta(days=60)


class ClosingWatch(Periodic[list[Ticket]]):
    """Asks the core every :data:`CHECK_SECONDS` to end the day of services past their closing."""

    def __init__(
        self,
        core: QueueCore,
        carry_over: bool,
        spawn: Callable[..., object],
        every: float = CHECK_SECONDS,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__("closing the day's queues", self._close, [], every, spawn, on_store_failure)
        self.core = core
        self.carry_over = carry_over

    @property
    def needed(self) -> bool:
        """Only a hall whose hours are enforced has closings."""
        return self.core.hall.calendar.enforce_hours

    def start(self) -> None:
        self.warn_unknown_holidays()
        super().start()

    def warn_unknown_holidays(self) -> list[int]:
        """Warn (the log) when the holiday library does not know this year's or the coming weeks' public
        holidays and make-up days (chinese-calendar learns a year when the State Council publishes
        it): those days follow the weekdays until the library is updated. The years not known."""
        calendar = self.core.hall.calendar
        today = calendar.local(self.core.clock()).date()
        years = sorted({d.year for d in (today, today + KNOWN_AHEAD) if not calendar.workdays.known(d)})
        if years:
            log.warning(
                "hours.holidays = %r: the holiday library has no data for %s; those days follow the weekdays "
                "(no public holidays, no make-up days) until it is updated (pip install -U chinese-calendar "
                "holidays)",
                calendar.workdays.country,
                ", ".join(map(str, years)),
            )
        return years

    def _close(self) -> list[Ticket]:
        ended = self.core.at_closing(self.carry_over)
        if ended:
            # Counts per service only: no ticket id in the log.
            carried = Counter(t.service for t in ended if t.status is not TicketStatus.CANCELLED)
            closed = Counter(t.service for t in ended if t.status is TicketStatus.CANCELLED)
            log.info(
                "at closing: %s carried over, %s closed (%s)",
                sum(carried.values()),
                sum(closed.values()),
                ", ".join(f"{s}: {carried[s]}+{closed[s]}" for s in sorted(carried | closed)),
            )
        return ended
