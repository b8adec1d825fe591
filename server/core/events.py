"""The hub's event bus: the core publishes, adapters (Socket.IO, drivers) listen.

Events are published only after the store has committed, so a listener never
tells a client about something a crash could take back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

TICKET_ISSUED = "ticket_issued"
TICKET_CALLED = "ticket_called"
TICKET_RECALLED = "ticket_recalled"
TICKET_CHANGED = "ticket_changed"
COUNTER_CHANGED = "counter_changed"


@dataclass(frozen=True)
class HallEvent:
    """``name`` is the Socket.IO event name; ``payload`` is JSON-ready."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[HallEvent], None]


class EventBus:
    """Synchronous fan-out. A failing listener is logged and never stops the others."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, event: HallEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not undo a committed call
                log.exception("listener %r failed on %s", listener, event.name)
