"""The hub's event bus: the core publishes, adapters (Socket.IO, drivers) listen.

Events are published only after the store has committed, so a listener never
tells a client about something a crash could take back.

Each event gets the hall's next *version* when it is published: one number
for the whole hall, counted up by one per event. Screens are sent what an
event changed rather than the whole hall, so they need to know when they
missed one (a version skipped) and must fetch the snapshot again; the
snapshot says which version it reflects. For that the numbers must follow the
order in which every listener hears the events, so stamping and delivering
happen under one lock: listeners run on the request path and never block.

A hall served by several processes (``[cluster]``) numbers its events in
one place for all of them (server/cluster.py): there the bus's ``publish``
sends the event away, and what comes back, numbered, is handed to the
listeners with :meth:`EventBus.deliver`, in the hall's order, in every process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, final

log = logging.getLogger(__name__)

TICKET_ISSUED = "ticket_issued"
TICKET_CALLED = "ticket_called"
TICKET_RECALLED = "ticket_recalled"
TICKET_CHANGED = "ticket_changed"
COUNTER_CHANGED = "counter_changed"


@final  # the bus stamps a copy by building a HallEvent (not a subclass)
@dataclass(frozen=True)
class HallEvent:
    """``name`` is the Socket.IO event name; ``payload`` is JSON-ready.

    ``version`` is 0 until the bus publishes the event, then the hall's version
    after this event (see the module's docstring).
    """

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    version: int = 0


Listener = Callable[[HallEvent], None]


class EventBus:
    """Synchronous fan-out, in version order. A failing listener is logged and never stops the others."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._version = 0
        # Reentrant: a listener that publishes (none does today) must not deadlock its own thread.
        self._lock = threading.RLock()

    @property
    def version(self) -> int:
        """The version of the last event published (0 before the first)."""
        return self._version

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, event: HallEvent) -> HallEvent:
        """Stamp ``event`` with the next version and hand it to every listener; returns it stamped."""
        with self._lock:
            self._version += 1
            # Built directly: dataclasses.replace walks the fields each time (every ticket publishes).
            stamped = HallEvent(event.name, event.payload, self._version)
            for listener in list(self._listeners):
                try:
                    listener(stamped)
                except Exception:  # a listener's bug must not undo a committed call
                    log.exception("listener %r failed on %s", listener, stamped.name)
        return stamped

    def deliver(self, event: HallEvent) -> bool:
        """Hand an event the hall already numbered to every listener; False (and nothing done) if this
        bus has passed its version already (a message heard twice)."""
        with self._lock:
            if event.version <= self._version:
                return False
            self._version = event.version
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:  # a listener's bug must not stop the others
                    log.exception("listener %r failed on %s", listener, event.name)
        return True

    def skip_to(self, version: int) -> None:
        """Take the hall's version without its events (missed): screens see the versions skipped."""
        with self._lock:
            self._version = max(self._version, version)

    def close(self) -> None:
        """Let go of what the bus holds (nothing here; a relayed bus closes its connection)."""
