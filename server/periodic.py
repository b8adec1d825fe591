"""A periodic task of the hub: one piece of work every few seconds, until the hub closes.

The hub has two: the appointment sweep (:mod:`server.sweeper`) and the no-show
watch (:mod:`server.no_shows`). Both take their time from the hub's clock (a
fake one in tests and in the simulated day); the interval is only how often to
look. The task runs on the live push's loop (a greenlet when serving, a thread
for the CLI's offline push); :meth:`Periodic.close` ends it, and
:meth:`~server.hub.Hub.close` closes every one before the store goes.

A failure of one round (the store is down) is logged and told to the store's
health; the next round tries again: the task never dies of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .store.health import store_failure

log = logging.getLogger(__name__)

Result = TypeVar("Result")


class Periodic(Generic[Result]):
    """``work()`` every ``every`` seconds once started, until :meth:`close`.

    ``name`` says what failed in the log. ``work`` returns what one round did
    (its own logging says it); a failed round returns ``failed``.
    """

    def __init__(
        self,
        name: str,
        work: Callable[[], Result],
        failed: Result,
        every: float,
        spawn: Callable[..., object],
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        #: Whether this process does the work now (see :meth:`only_while`); always, unless told.
        self.on_duty: Callable[[], bool] = _always
        self.work = work
        self.failed = failed
        self.every = every
        self.spawn = spawn
        self.on_store_failure = on_store_failure
        self._stop = threading.Event()
        self.task: object = None

    def only_while(self, on_duty: Callable[[], bool]) -> None:
        """Do the work only while ``on_duty()`` holds: a hall-wide duty of a cluster, leased to one
        process (bootstrap's ``hall_duty``); the rounds of the others do nothing."""
        self.on_duty = on_duty

    def start(self) -> None:
        self.task = self.spawn(self.run)

    def run(self) -> None:
        """The task: a round after each interval until :meth:`close`."""
        while not self._stop.wait(self.every):
            self.once()

    def once(self) -> Result:
        """One round, now (the task's own, or a test's or the simulated day's at its fake time).

        Nothing (``failed``) while another process of the cluster holds this duty.
        """
        if not self.on_duty():
            return self.failed
        try:
            return self.work()
        except Exception as error:
            detail = store_failure(error)
            if detail is None:
                log.exception("%s failed", self.name)
            else:
                log.error("%s failed: the store is unavailable (%s)", self.name, detail)
                if self.on_store_failure is not None:
                    self.on_store_failure(detail)
            return self.failed

    def close(self, timeout: float = 5.0) -> None:
        """End the task: at once if it is waiting, else after the round it is in (before the store goes)."""
        self._stop.set()
        join = getattr(self.task, "join", None)  # a thread or a greenlet: both can be waited for
        if join is not None:
            join(timeout)


def _always() -> bool:
    return True
