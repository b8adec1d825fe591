"""The core's events as types, and listeners as a map from type to handlers.

The core publishes :class:`~server.core.events.HallEvent` (a Socket.IO event
name and a JSON payload, ready for the screens). The devices do not want JSON:
a display shows a counter's number, the voice says a call. So the payload is
read here, once, into small frozen dataclasses, and every device service
declares what it listens to as ``{EventType: [handler, ...]}`` (the handler
map of cosmicpython's message bus). A device never compares event-name
strings, and a payload key renamed in the core breaks in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..core import events as ev
from ..core.events import HallEvent, Listener

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketCalled:
    """A ticket was called (or recalled) to a counter; committed."""

    ticket_id: str
    number: str
    counter: int
    counter_name_zh: str
    counter_name_en: str
    recall: bool
    #: The call's words per language (``[calls]`` phrasing of its service and counter kind),
    #: as (language, template) pairs; empty: the voice's own templates.
    templates: tuple[tuple[str, str], ...] = ()
    #: The booked name, masked by the core (张*明), where the site calls by name; else None.
    name: str | None = None


@dataclass(frozen=True)
class CounterChanged:
    """A counter's state changed (start, finish, no-show, transfer, pause, resume): it may be free now.

    ``free``: nobody is at the counter now, as the event's counter view says (read
    from the event, so a display needs no database read on the request path).
    """

    counter: int
    free: bool


DeviceEvent = TicketCalled | CounterChanged
#: What a device service listens to: an event type and the handlers it runs, in order.
Handlers = Mapping[type, Sequence[Callable[[Any], None]]]


def _ticket_called(event: HallEvent) -> TicketCalled:
    payload = event.payload
    counter = payload["counter"]
    return TicketCalled(
        ticket_id=payload["ticket"]["id"],
        number=payload["ticket"]["number"],
        counter=counter["number"],
        counter_name_zh=counter["name_zh"],
        counter_name_en=counter["name_en"],
        recall=bool(payload.get("recall")),
        templates=tuple(sorted((payload.get("templates") or {}).items())),
        name=payload.get("name") or None,
    )


def _counter_changed(event: HallEvent) -> CounterChanged | None:
    """From the counter views an event carries (``counters``); None for an event without one (evaluated)."""
    views = event.payload.get("counters") or []
    if not views:
        return None
    view = views[0]
    return CounterChanged(counter=view["number"], free=view.get("current") is None)


#: How each core event the devices care about is read; the rest are for screens only.
READERS: Mapping[str, Callable[[HallEvent], DeviceEvent | None]] = MappingProxyType(
    {
        ev.TICKET_CALLED: _ticket_called,
        ev.TICKET_RECALLED: _ticket_called,
        ev.TICKET_CHANGED: _counter_changed,
        ev.COUNTER_CHANGED: _counter_changed,
    }
)


def typed(event: HallEvent) -> DeviceEvent | None:
    """The typed form of a core event, or None for an event no device listens to."""
    reader = READERS.get(event.name)
    return reader(event) if reader else None


def listener(handlers: Handlers) -> Listener:
    """A bus listener that runs the handlers of the event's type; subscribe it to the core's bus."""

    def handle(event: HallEvent) -> None:
        message = typed(event)
        if message is None:
            return
        for handler in handlers.get(type(message), ()):
            handler(message)

    return handle
