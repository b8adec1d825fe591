"""The hub's limits sweep: closed windows of the shared limits and expired pairing codes deleted.

The phone's limits and the pairing codes live in the hub's database
(server/store/limits.py) so every process of a cluster sees the same. A window
whose end has passed already counts as empty and an expired code is already
refused, so the sweep changes no answer: it keeps the two tables small. It
runs on every process (a second run finds nothing to delete).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .periodic import Periodic
from .store.limits import SqlLimits

log = logging.getLogger(__name__)

#: Seconds between two sweeps: each is two DELETEs on small indexed tables.
SWEEP_SECONDS = 300.0


class LimitsSweep(Periodic[int]):
    """Every ``every`` seconds: delete closed limit windows and expired pairing codes."""

    def __init__(
        self,
        store: SqlLimits,
        spawn: Callable[..., object],
        clock: Callable[[], float] = time.time,
        every: float = SWEEP_SECONDS,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__("the limits sweep", self._sweep, 0, every, spawn, on_store_failure)
        self.store = store
        self.clock = clock

    def _sweep(self) -> int:
        gone = self.store.sweep(self.clock())
        if gone:
            log.debug("limits: %d closed window(s) and expired code(s) deleted", gone)
        return gone
