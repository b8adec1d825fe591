"""The no-show watch: calls nobody answered become no-shows by the services' rules.

The rule itself is the core's (:meth:`~server.core.queue.QueueCore.expire_calls`,
which takes ``now`` so tests use a fake clock); this task only asks it every
few seconds. A hall whose services set no ``no_show_after_seconds`` runs no
task at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .core.queue import QueueCore

log = logging.getLogger(__name__)

#: How often called tickets are looked at: a no-show is declared at most this late.
CHECK_SECONDS = 5.0


class NoShowWatch:
    """Asks the core to expire overdue calls every :data:`CHECK_SECONDS`, forever."""

    def __init__(self, core: QueueCore, every: float = CHECK_SECONDS) -> None:
        self.core = core
        self.every = every

    @property
    def needed(self) -> bool:
        return self.core.hall.rules.watches_calls

    def run(self, sleep: Callable[[float], Any]) -> None:
        while True:
            sleep(self.every)
            try:
                expired = self.core.expire_calls()
            except Exception:  # a database hiccup: try again next round
                log.exception("checking called tickets for no-shows failed")
                continue
            for ticket in expired:
                log.info("ticket %s: no answer at counter %s, a no-show", ticket.number, ticket.counter)
