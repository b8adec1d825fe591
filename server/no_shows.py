"""The no-show watch: calls nobody answered become no-shows by the services' rules.

The rule itself is the core's (:meth:`~server.core.queue.QueueCore.expire_calls`,
which takes the hub's clock, so tests and the simulated day use a fake one);
this task only asks it every :data:`CHECK_SECONDS` (a
:class:`~server.periodic.Periodic`). A hall whose services set no
``no_show_after_seconds`` runs no task at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .core.model import Ticket
from .core.queue import QueueCore
from .periodic import Periodic

log = logging.getLogger(__name__)

#: How often called tickets are looked at: a no-show is declared at most this late.
CHECK_SECONDS = 5.0


class NoShowWatch(Periodic[list[Ticket]]):
    """Asks the core to expire overdue calls every :data:`CHECK_SECONDS`."""

    def __init__(
        self,
        core: QueueCore,
        spawn: Callable[..., object],
        every: float = CHECK_SECONDS,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            "checking called tickets for no-shows", self._expire, [], every, spawn, on_store_failure
        )
        self.core = core

    @property
    def needed(self) -> bool:
        return self.core.hall.rules.watches_calls

    def _expire(self) -> list[Ticket]:
        expired = self.core.expire_calls()
        for ticket in expired:
            log.info("ticket %s: no answer at counter %s, a no-show", ticket.number, ticket.counter)
        return expired
