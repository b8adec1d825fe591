"""Which waiting ticket a counter calls next.

The calling policy is one replaceable function so that green-channel priority,
appointments and waiting-time targets can change the order without touching
the queue core: give :class:`~server.core.queue.QueueCore` another function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from .model import Counter, Ticket

#: ``policy(counter, callable_tickets, now) -> ticket or None``. The tickets are
#: every callable ticket of the counter's services or sent to that counter, in
#: no particular order; the policy must not modify them.
CallingPolicy = Callable[[Counter, Sequence[Ticket], datetime], Ticket | None]


def queue_order(ticket: Ticket) -> tuple[int, datetime, int]:
    """The order within one service: higher priority first, then earlier in the queue."""
    return (-ticket.priority, ticket.queue_at, ticket.seq)


def preference_policy(counter: Counter, tickets: Sequence[Ticket], now: datetime) -> Ticket | None:
    """The default policy of a service hall.

    A ticket transferred to this very counter comes first (the visitor already
    waited once); then priority; then the counter's services in its order of
    preference; then first come, first served.
    """
    if not tickets:
        return None
    rank = {code: i for i, code in enumerate(counter.services)}

    def key(ticket: Ticket) -> tuple[int, int, int, datetime, int]:
        sent_here = 0 if ticket.target_counter == counter.number else 1
        priority, queue_at, seq = queue_order(ticket)
        return (sent_here, priority, rank.get(ticket.service, len(rank)), queue_at, seq)

    return min(tickets, key=key)
