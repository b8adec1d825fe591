"""Which waiting ticket a counter calls next, and why.

The calling policy is one replaceable function so that green-channel priority,
appointments and waiting-time targets can change the order without touching
the queue core: give :class:`~server.core.queue.QueueCore` another function.

Halls argue about queue order more than anything else, so the order must be
explainable: :func:`explain` runs the policy forward for a counter and gives
each ticket the reason for its place. The default policy, :class:`FairPolicy`:

1. **transfer** — a ticket transferred to this very counter (the visitor already waited once);
2. **priority** — higher effective priority first: a category's weight (``priority:<category>``),
   or the **age bonus**: a ticket that waited longer than ``age_bonus`` ranks as if it had
   priority ``age_bonus_weight`` (whichever is higher);
3. **appointment due** — among equal priority, an appointment due now (from
   ``appointment_window`` before its ``due_at`` on; one the hall is late for stays due) before
   walk-ins, the earliest due first;
4. the counter's services in its order of preference, then **first come**, first served.

**The priority cap**: after ``priority_cap`` priority calls in a row at a counter
(tickets with a priority of their own, whatever put them first), the next call
is a normal ticket whenever one waits for that counter (``priority cap``). So no
normal visitor starves behind a stream of green-channel visitors. The run is
kept per counter in the store (``counter_states.priority_run``), so a restart
does not reset it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .model import Counter, Ticket

# Reasons for a ticket's place, as the console and the admin page show them.
TRANSFER = "transfer"
PRIORITY = "priority"
APPOINTMENT_DUE = "appointment due"
AGE_BONUS = "age bonus"
FIRST_COME = "first come"
PRIORITY_CAP = "priority cap"


@dataclass(frozen=True)
class CallContext:
    """What a policy knows besides the tickets: the time, and the counter's priority calls in a row."""

    now: datetime
    priority_run: int = 0


#: ``policy(counter, callable_tickets, context) -> ticket or None``. The tickets are
#: the callable tickets of the counter's services (the heads of each queue, and the
#: head of the normal tickets) or sent to that counter, in no particular order; the
#: policy must not modify them. A policy may also have a ``reason(counter, ticket,
#: tickets, context) -> str`` method, which :func:`explain` uses.
CallingPolicy = Callable[[Counter, Sequence[Ticket], CallContext], Ticket | None]


def queue_order(ticket: Ticket) -> tuple[int, datetime, int]:
    """The order within one service as the store keeps it: higher priority first, then earlier."""
    return (-ticket.priority, ticket.queue_at, ticket.seq)


def next_run(run: int, called: Ticket) -> int:
    """A counter's priority calls in a row after it called ``called``: a normal ticket ends the run."""
    return run + 1 if called.priority > 0 else 0


@dataclass(frozen=True)
class FairRules:
    """The site's ``[calling]`` settings; the defaults are first come, first served by priority."""

    #: At most this many priority calls in a row at one counter while a normal ticket waits; None: no cap.
    priority_cap: int | None = None
    #: A ticket that waited longer ranks as priority ``age_bonus_weight``; None: no age bonus.
    age_bonus: timedelta | None = None
    age_bonus_weight: int = 1
    #: An appointment whose ``due_at`` is within this of now goes before walk-ins; None: off.
    appointment_window: timedelta | None = None


class FairPolicy:
    """Priority first, but nobody starves: the default calling policy (see the module's docstring)."""

    def __init__(self, rules: FairRules | None = None) -> None:
        self.rules = rules or FairRules()

    def __call__(self, counter: Counter, tickets: Sequence[Ticket], context: CallContext) -> Ticket | None:
        if not tickets:
            return None
        rank = _rank(counter)
        pool = self._pool(tickets, context)
        return min(pool, key=lambda t: self._key(counter, t, context.now, rank))

    def reason(
        self, counter: Counter, ticket: Ticket, tickets: Sequence[Ticket], context: CallContext
    ) -> str:
        """Why ``ticket`` is the one this policy calls from ``tickets`` now (it must be its choice)."""
        if ticket.target_counter == counter.number:
            return TRANSFER
        if ticket.priority <= 0 and self._capped(tickets, context):
            rank = _rank(counter)
            uncapped = min(tickets, key=lambda t: self._key(counter, t, context.now, rank))
            if uncapped.priority > 0:
                return PRIORITY_CAP
        effective = self.effective_priority(ticket, context.now)
        if ticket.priority > 0 and ticket.priority >= effective:
            return f"{PRIORITY}:{ticket.category}" if ticket.category else PRIORITY
        if effective > ticket.priority:
            return AGE_BONUS
        if self.appointment_due(ticket, context.now):
            return APPOINTMENT_DUE
        return FIRST_COME

    def effective_priority(self, ticket: Ticket, now: datetime) -> int:
        """The ticket's priority, raised to the age bonus's once it waited long enough."""
        bonus = self.rules.age_bonus
        if bonus is not None and now - ticket.queue_at >= bonus:
            return max(ticket.priority, self.rules.age_bonus_weight)
        return ticket.priority

    def appointment_due(self, ticket: Ticket, now: datetime) -> bool:
        """An appointment due now: from ``window`` before its ``due_at`` on.

        It stays due after its slot: the visitor checked in in time (a late one
        gets a walk-in ticket with no ``due_at``), and a hall running late must
        not send them behind the walk-ins who came after them (the simulated
        hospital day showed exactly that: 1.7 hours for a booked surgery patient).
        """
        window = self.rules.appointment_window
        return window is not None and ticket.due_at is not None and ticket.due_at - now <= window

    def _capped(self, tickets: Sequence[Ticket], context: CallContext) -> bool:
        cap = self.rules.priority_cap
        return cap is not None and context.priority_run >= cap and any(t.priority <= 0 for t in tickets)

    def _pool(self, tickets: Sequence[Ticket], context: CallContext) -> Sequence[Ticket]:
        if self._capped(tickets, context):
            return [t for t in tickets if t.priority <= 0]
        return tickets

    def _key(
        self, counter: Counter, ticket: Ticket, now: datetime, rank: Mapping[str, int]
    ) -> tuple[int, int, int, int, datetime, int]:
        sent_here = 0 if ticket.target_counter == counter.number else 1
        due_at = ticket.due_at if self.appointment_due(ticket, now) else None
        return (
            sent_here,
            -self.effective_priority(ticket, now),
            0 if due_at is not None else 1,
            rank.get(ticket.service, len(rank)),
            due_at or ticket.queue_at,  # appointments due: by their slot; everyone else: first come
            ticket.seq,
        )


def _rank(counter: Counter) -> dict[str, int]:
    return {code: i for i, code in enumerate(counter.services)}


#: The policy of a hall without ``[calling]`` rules: transfers to this counter, then
#: priority, then the counter's preference, then first come, first served.
preference_policy = FairPolicy()


@dataclass(frozen=True)
class Placed:
    """A ticket's place in the order a counter would call next, and the reason for it."""

    ticket: Ticket
    reason: str


def explain(
    policy: CallingPolicy, counter: Counter, tickets: Sequence[Ticket], context: CallContext, limit: int
) -> list[Placed]:
    """The first ``limit`` tickets ``policy`` would call at ``counter``, in order, each with its reason.

    The policy is run forward as if the counter called again and again and
    nobody new arrived: the run of priority calls grows as it would, so the
    priority cap shows where it would bite. A policy without a ``reason``
    method gets ``"policy"`` for every place.
    """
    reason_of = getattr(policy, "reason", None)
    remaining = list(tickets)
    run = context.priority_run
    placed: list[Placed] = []
    while remaining and len(placed) < limit:
        now_context = replace(context, priority_run=run)
        chosen = policy(counter, remaining, now_context)
        if chosen is None:
            break
        reason = reason_of(counter, chosen, remaining, now_context) if reason_of else "policy"
        placed.append(Placed(chosen, str(reason)))
        remaining.remove(chosen)
        run = next_run(run, chosen)
    return placed
