"""The estimated wait (预计等待): a model of each service's pace, kept in memory, fed by the core.

Why a model and not a rule: "five minutes a person" is wrong everywhere but
where a service happens to take five minutes at a single counter. The model
knows what the core knows, as it happens:

- **how long a visitor keeps a counter**: each leg a counter ends (finished,
  no-show, transferred on) is a sample from its first call to its end — the
  walk to the counter included, because the counter waits for it too — kept as
  an exponentially weighted mean per counter and service, and per service
  across counters. Until a counter has ``min_samples`` of a service, the
  service's mean stands in; until the service has them, the configured minutes.
  After that the counter's own mean is *weighed against* the service's, by how
  many legs it rests on: service times spread about as much as their mean, so a
  mean of n legs misses by about 1/√n, while clerks differ from each other by
  about a fifth (``CLERKS_DIFFER``) — n legs weigh n against 1/0.2² = 25. A
  counter with twenty legs that happened to be long no longer doubles every
  estimate it takes part in;
- **whether the visitor called is at the counter yet**: the clerk's start ends
  the walk (call → start, a weighted mean per service). A counter whose visitor
  has arrived is done in a leg less the walk (never less than ``LEAST_LEFT`` of
  the leg: a start pressed late);
- **how much the legs spread** (variance over mean squared, per service, from
  the legs and from the services alone, start → end; ``SPREAD_SAMPLES`` legs
  before it counts): exponential legs have no memory, so what is left of one is
  a whole one; legs that spread less are done sooner the longer they have run.
  Each busy counter's leg is taken as an Erlang of that spread, known to have
  run since the call (or, once the visitor is in, since the start), and the
  first call is the median (or mean) of the first of them to end; a sum of
  legs that spread less is less skewed, so its median is nearer its mean;
- **which counters are open now**: open (not paused) and staffed (someone
  called, paused or resumed there); busy or free;
- **how a counter that serves several services splits its time**: by the
  policy's preference order. A counter gives a waiting newcomer's service all
  of its time except the share its *more preferred* services took recently
  (a decayed share of its time: idle time and less preferred services count
  as free, since it would serve the newcomer's queue instead), and never less
  than 5 % (saturated by its first service, it is slow for the second, not closed);
- **what waits for the other services now** (the store's kept counts per
  service, read once per issue batch): under the preference order a shared
  counter takes a less preferred service only when the queues it prefers are
  empty, so a newcomer's shared counter counts from when those queues are
  worked off — each by its counters' *spare* time (idle, or spent on services
  they prefer less: what the queue's own arrivals leave over) — not from now.
  The decayed shares say how a counter splits its time on average; the counts
  say where it stands today (a burst of its first service keeps it away now);
- **the age bonus** (the calling policy's): a ticket that waited ``age_bonus``
  goes before younger tickets of the services a counter prefers, so a shared
  counter is back for the newcomer's queue by then at the latest;
- **who will go first without being ahead now**: how many tickets join the
  service's queue out of line (a priority or an appointment issued, a transfer
  or a re-queue into it, ``joined``) per call made while a walk-in waited,
  which slows a walk-in's queue — each for the part of the newcomer's wait its
  place in time covers: a transfer keeps the time its visitor came, so one
  whose visitor came after the newcomer goes after it (a priority goes before
  every walk-in);
- **the end of arrivals**: after the hall's last ticket (``arrivals_end``) no
  walk-in arrives, so nobody new jumps the line but the visitors already in the
  hall who are sent on (transfers: their own share), and a shared counter whose
  preferred queues are empty gets no more of them — it stays with the
  newcomer's service at its full pace;
- **breaks**: where a hall stays open at noon its clerks take their break in
  turn, each at about the same time every day, once a day. Each counter's break
  time of day is learnt from its breaks (a weighted mean and spread, from the
  second day on) — until then the hall's (every counter's breaks as one
  counter's: the first day's second break already says when the hall eats);
  an open counter that had no break yet today (none for
  ``SAME_DAY``) is expected to stop at its usual time — the mean start given
  that it has not started yet — for the hall's usual break, and after two
  spreads past its usual time it is not expected any more;
- **tickets past the age bonus**: they rank as a priority, above a young
  newcomer and above the younger tickets of every service at each of their
  counters, so all their counters work them off at full pace. How many: a
  queue's tickets beyond what its counters' usual pace takes in over the bonus
  (its length over that pace is about its head's age). A counter that prefers a
  walk-in's service is kept from it until the tickets past the bonus of the
  services it prefers less are called (at most the bonus: by then the newcomer
  is past it too; not where the newcomer's own queue is past it, whose head then
  ranks as theirs do);
- **appointments**: a ticket with a due time is not called before its window,
  then before the walk-ins of every service — but after the tickets past the
  age bonus of every service its counters serve, its own included: what is left
  of them when its window opens (the hospital's clinics' appointments waited
  behind its walk-ins past the bonus: seed 7, 0.41 → 0.31 of the old rule's
  error);

An estimate is the time until ``ahead + 1 − free counters`` calls were made —
its median, not its mean (Gamma's: ``k − 1/3 + 8/(405 k)``), since the median
misses by the least on average and a wait is skewed by the odd long service.
The first of those calls comes when a busy counter is done with the visitor it
has now, at the pace of *that* visitor's service; the rest at the counters'
pace for the newcomer's service (``_drain``: each counter from when it can
call, a break as its calls stopping and starting again). Tickets that join out
of line slow a walk-in's queue by how many join per call; no wait when a free
counter is left for it. It costs a few dictionary reads per counter of the
service and per service it prefers (never a look at the tickets waiting), twice
where tickets join out of line (once to know the wait they cover), and where the
legs spread less than exponential ones a search over the busy counters' legs
for the first call (its median searched to a tenth of a second within the
last doubling of its horizon, its mean by Simpson's rule in four steps a
doubling: about 0.2 and 0.5 ms with ten busy counters), so it is made for
every ticket inside the issue batch.

The model is fed from one thread (the hub's loop, after each commit) and read
from two (the loop, and the dispenser's commit thread): it never iterates over
a dictionary it changes, and every value it replaces is replaced whole, so a
reader sees an old or a new value, never half of one (a service's mean and
mean square are two values: a reader may see one a leg newer than the other,
which only moves the spread, clamped, by that leg). It takes no lock.

What it does not know: a clerk who walked away without pausing, the priority
cap, the ages of the tickets waiting (the tickets past the age bonus are counted
from the queues' lengths), the due times of the other appointments (an earlier
one goes first), visitors who give up, breaks taken before the hub
started (the legs it learns from at start do not say them), and the hall's closed
hours (the wait is counted as if the counters went on calling until their
queues are empty, as a hall that serves everyone who took a ticket does).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Concatenate, ParamSpec

from .model import Counter

P = ParamSpec("P")


@dataclass(frozen=True)
class PaceRules:
    """The site's ``[estimate]`` settings."""

    #: Seconds a visitor keeps a counter, before anything was measured.
    default_seconds: float = 300.0
    #: Per service: seconds before anything was measured (overrides ``default_seconds``).
    service_seconds: Mapping[str, float] = field(default_factory=dict)
    #: How many recent legs the weighted means remember (weight 2 / (n + 1) for the newest).
    recent_legs: int = 50
    #: Samples a counter needs of a service before its own mean is used.
    min_samples: int = 5
    #: Legs longer than this are left out (a ticket left open over lunch is no service time).
    longest_leg: timedelta = timedelta(hours=2)
    #: An idle gap longer than this counts as this long (a night is not a counter's free time).
    longest_idle: timedelta = timedelta(minutes=30)
    #: The calling policy's window for appointments (None: appointments wait like walk-ins).
    appointment_window: timedelta | None = None
    #: The calling policy's age bonus: a ticket that waited this long goes before younger tickets
    #: of the services a counter prefers (None: no age bonus).
    age_bonus: timedelta | None = None

    @property
    def weight(self) -> float:
        return 2.0 / (self.recent_legs + 1)


@dataclass(frozen=True)
class Mean:
    """An exponentially weighted mean and how many samples it has seen."""

    value: float
    samples: int

    def add(self, sample: float, weight: float) -> Mean:
        """The mean with ``sample``: a plain average until ``weight`` is the larger (the first
        samples would otherwise weigh for long), then exponentially weighted."""
        step = max(weight, 1.0 / (self.samples + 1))
        return Mean(self.value + step * (sample - self.value), self.samples + 1)


EMPTY = Mean(0.0, 0)


@dataclass(frozen=True)
class CounterPace:
    """What the model knows of one counter now (replaced whole on every change)."""

    open: bool = True
    staffed: bool = False
    #: The first call of the leg it is on now; None when free.
    busy_since: datetime | None = None
    #: The service of the leg it is on now (how long until it is free comes from that service's pace).
    serving: str | None = None
    #: The visitor it called is at the counter (the clerk started the service): the walk is behind it.
    started: bool = False
    #: When the clerk started the service of the leg it is on now (None: not yet, or free).
    started_at: datetime | None = None
    #: When it last became free while open; None while busy, paused or unknown.
    free_since: datetime | None = None
    #: When it was paused (a break), None while open.
    paused_at: datetime | None = None
    #: The idle time before the leg it is on now (capped), added to its shares when the leg ends.
    idle_before: float = 0.0
    #: Decayed seconds spent per service, and idle, over its recent legs.
    busy: Mapping[str, float] = field(default_factory=dict)
    idle: float = 0.0
    #: ``sum(busy) + idle``, kept with them.
    total: float = 0.0
    #: When its breaks start, as seconds of the (UTC) day, and their mean squared spread around it.
    break_at: Mean = EMPTY
    break_spread: Mean = EMPTY
    #: When its last break started.
    last_break: datetime | None = None

    @property
    def available(self) -> bool:
        return self.open and self.staffed

    def share(self, service: str) -> float:
        """The recent share of this counter's time that ``service`` took."""
        return self.busy.get(service, 0.0) / self.total if self.total > 0 else 0.0


@dataclass(frozen=True)
class _Server:
    """One staffed counter as a server of a service (cached per change of the model)."""

    #: The services the counter prefers to this one.
    before: tuple[str, ...]
    #: Calls a second of the service while its preferred services take their usual share of the counter.
    rate: float
    #: Calls a second of the service when the counter gives it all its time.
    full: float
    #: When it was paused (a break); None while open.
    paused_at: datetime | None = None
    #: Its usual break: (mean, spread) in seconds of the day, and when its last one started; None:
    #: not known yet.
    usual_break: tuple[float, float, datetime | None] | None = None
    #: The services it prefers less (their tickets past the age bonus go before a young newcomer).
    after: tuple[str, ...] = ()
    #: The visitor it has now, to say when it is done (``_Leg``); None while paused.
    leg: _Leg | None = None

    @property
    def frees(self) -> float:
        """Calls a second of the service it makes as it finishes the visitor it has now (its share at
        the pace of that visitor's service); 0 while paused."""
        return 0.0 if self.leg is None else self.leg.share / self.leg.mean


@dataclass(frozen=True)
class _Leg:
    """What is left of the leg a counter is on (a free one: a whole leg of the newcomer's service)."""

    #: Since when the part left has run: the visitor's start at the counter, else the call; None: free.
    since: datetime | None
    #: The mean seconds of that part (the whole leg, or the service alone once the visitor is in).
    mean: float
    #: How its lengths spread, as an Erlang distribution's shape (1: exponential, no memory).
    shape: int
    #: The share of the counter's time the newcomer's service gets (its chance of the next call).
    share: float


@dataclass(frozen=True)
class _Pace:
    """A service's counters as the model saw them after its last change (cached per change)."""

    #: Each open or paused staffed counter.
    servers: tuple[_Server, ...]
    idle: int
    #: Calls a second the open counters could give to a backlog of the service beyond what its own
    #: arrivals take (their idle time and the time their less preferred services take).
    spare: float
    #: Calls a second all its counters give it at their usual shares (how fast its queue is worked off).
    rate: float = 0.0


def _changes(method: Callable[Concatenate[PaceModel, P], None]) -> Callable[Concatenate[PaceModel, P], None]:
    """A method that changes the model: the version counts up once it is done (even if it returns early)."""

    def changing(self: PaceModel, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(self, *args, **kwargs)
        finally:
            self.version += 1

    changing.__doc__ = method.__doc__
    changing.__name__ = method.__name__
    return changing


@dataclass(frozen=True)
class _Station:
    """A counter as a server of one service: its number and the services it prefers to it."""

    counter: int
    before: tuple[str, ...]
    after: tuple[str, ...] = ()


class PaceModel:
    """Each service's pace, from what the core tells it (see the module's docstring)."""

    def __init__(self, counters: Mapping[int, Counter], rules: PaceRules | None = None) -> None:
        self.rules = rules or PaceRules()
        self._services_of: dict[int, tuple[str, ...]] = {}
        self._stations: dict[str, tuple[_Station, ...]] = {}
        self._counters: dict[int, CounterPace] = {}
        self._lay_out(counters)
        self._times: dict[tuple[int, str], Mean] = {}
        self._service_times: dict[str, Mean] = {}
        #: Per service: how long a called visitor takes to reach the counter (call → start).
        self._walks: dict[str, Mean] = {}
        #: Per service: the mean of its legs' squares (how much they spread), and of the services alone
        #: (start → end) and their squares: what is left of a leg once the visitor is at the counter.
        self._leg_squares: dict[str, Mean] = {}
        self._served: dict[str, Mean] = {}
        self._served_squares: dict[str, Mean] = {}
        #: Per service: how many joined its queue out of line per call made while a walk-in waited.
        self._jumps: dict[str, Mean] = {}
        #: Per service: how many joined its queue out of line since its last call.
        self._joined: dict[str, int] = {}
        #: Per service: how far back in time the last ``LAGS_KEPT`` that joined out of line took their
        #: place (seconds; None: before everyone).
        self._lags: dict[str, tuple[float | None, ...]] = {}
        #: The share of them that were transfers (they go on after the last ticket: the visitors are in).
        self._carried: dict[str, Mean] = {}
        #: How long a counter's pause (a break) lasts, over the whole hall.
        self._pauses = EMPTY
        #: When the hall's counters start their breaks (every counter's breaks, as one counter's).
        self._hall_break = CounterPace()
        #: Counted up after every change; what a service's pace read from the model is cached against.
        self.version = 0
        self._cache: dict[str, tuple[int, _Pace]] = {}

    def _lay_out(self, counters: Mapping[int, Counter]) -> None:
        """Which counters serve which services, in their order; a new counter starts unmeasured."""
        self._services_of = {number: tuple(c.services) for number, c in counters.items()}
        stations: dict[str, list[_Station]] = {}
        for number, counter in counters.items():
            for rank, service in enumerate(counter.services):
                stations.setdefault(service, []).append(
                    _Station(number, tuple(counter.services[:rank]), tuple(counter.services[rank + 1 :]))
                )
        self._stations = {service: tuple(found) for service, found in stations.items()}
        self._counters = {number: self._counters.get(number, CounterPace()) for number in counters}

    @_changes
    def reshape(self, counters: Mapping[int, Counter]) -> None:
        """The hall's counters changed (settings saved from the admin page): keep what was learned of
        the counters that stay and of every service, forget the counters that are gone."""
        self._lay_out(counters)
        self._cache.clear()

    # -- what happened (the core, after each commit) -------------------------------------

    @_changes
    def counter_set(self, number: int, open_: bool, staffed: bool, at: datetime) -> None:
        """A counter opened, paused, resumed or got its clerk."""
        pace = self._counters.get(number)
        if pace is None:
            return
        free_since = pace.free_since
        paused_at = pace.paused_at
        if not open_:
            free_since = None  # a break is not idle time
            paused_at = paused_at or at
        else:
            if paused_at is not None:
                length = (at - paused_at).total_seconds()
                if 0 < length <= self.rules.longest_leg.total_seconds():
                    self._pauses = self._pauses.add(length, self.rules.weight)
                    pace = _learn_break(pace, paused_at)
                    self._hall_break = _learn_break(self._hall_break, paused_at)
            paused_at = None
            if pace.busy_since is None and free_since is None:
                free_since = at
        self._counters[number] = replace(
            pace, open=open_, staffed=staffed, free_since=free_since, paused_at=paused_at
        )

    def joined(self, service: str, lag: float | None = None) -> None:
        """A ticket joined ``service``'s queue out of line: a priority or an appointment issued, a
        transfer or a re-queue into it. ``lag``: how many seconds before now its place in the queue's
        time is (a transfer keeps the time its visitor came): it goes before the walk-ins who came
        after that; None: before every walk-in (a priority, an appointment, one sent to a counter)."""
        self._joined[service] = self._joined.get(service, 0) + 1
        self._lags[service] = (*self._lags.get(service, ())[1 - LAGS_KEPT :], lag)

    @_changes
    def called(self, number: int, service: str, at: datetime, stood: bool, carried: bool = False) -> None:
        """``number`` called a ticket of ``service``; ``stood``: a walk-in of the service was waiting
        (only then is a call one that a newcomer waits for); ``carried``: a transfer (a visitor already
        in). How many joined the queue out of line since the service's last call is a sample of how
        many go before a waiting newcomer for each call it waits for: every one of them jumps the line
        after it took its ticket. (Counting the calls that went to such tickets instead counted those
        that already stood in the queue when the newcomer came, and were among the people ahead it
        was told: the utility hall's new connections were said a fifth too long.)"""
        pace = self._counters.get(number)
        if pace is None:
            return
        weight = self.rules.weight
        joined = self._joined.get(service, 0)
        if joined:
            self._joined[service] = 0
        if stood:
            self._jumps[service] = self._jumps.get(service, EMPTY).add(float(joined), weight)
        self._carried[service] = self._carried.get(service, EMPTY).add(1.0 if carried else 0.0, weight)
        if pace.busy_since is not None:
            return  # a call over a leg the model did not see end: keep the first call
        idle = 0.0
        if pace.free_since is not None:
            gap = max(0.0, (at - pace.free_since).total_seconds())
            idle = min(gap, self.rules.longest_idle.total_seconds())
        self._counters[number] = replace(
            pace,
            busy_since=at,
            serving=service,
            started=False,
            started_at=None,
            free_since=None,
            idle_before=idle,
        )

    @_changes
    def started(self, number: int, at: datetime) -> None:
        """The visitor ``number`` called reached it: the walk (call → start) is a sample of its service's,
        and what is left of the leg is the service alone."""
        pace = self._counters.get(number)
        if pace is None or pace.busy_since is None or pace.started:
            return
        if pace.serving is not None:
            seconds = (at - pace.busy_since).total_seconds()
            if 0 <= seconds <= self.rules.longest_leg.total_seconds():
                walk = self._walks.get(pace.serving, EMPTY)
                self._walks[pace.serving] = walk.add(seconds, self.rules.weight)
        self._counters[number] = replace(pace, started=True, started_at=at)

    @_changes
    def leg_ended(self, number: int, service: str, at: datetime, called_at: datetime | None = None) -> None:
        """``number`` ended its leg of ``service`` (finished, no-show, transferred on): a sample.

        ``called_at``: the leg's call as the ticket knows it, for a leg whose call the model
        did not see (the hub restarted meanwhile).
        """
        pace = self._counters.get(number)
        if pace is None:
            return
        start = pace.busy_since or called_at
        weight = self.rules.weight
        if start is not None:
            seconds = (at - start).total_seconds()
            if 0 < seconds <= self.rules.longest_leg.total_seconds():
                key = (number, service)
                self._times[key] = self._times.get(key, EMPTY).add(seconds, weight)
                self._service_times[service] = self._service_times.get(service, EMPTY).add(seconds, weight)
                self._leg_squares[service] = _add(self._leg_squares, service, seconds * seconds, weight)
                if pace.started_at is not None and pace.started_at >= start:
                    served = (at - pace.started_at).total_seconds()
                    self._served[service] = _add(self._served, service, served, weight)
                    self._served_squares[service] = _add(self._served_squares, service, served**2, weight)
                keep = 1.0 - weight
                busy = {code: spent * keep for code, spent in pace.busy.items()}
                busy[service] = busy.get(service, 0.0) + weight * seconds
                idle = pace.idle * keep + weight * pace.idle_before
                pace = replace(pace, busy=busy, idle=idle, total=sum(busy.values()) + idle)
        self._counters[number] = _free(pace, at)

    @_changes
    def freed(self, number: int, at: datetime) -> None:
        """``number`` let its visitor go without a service to learn from (cancelled, re-queued)."""
        pace = self._counters.get(number)
        if pace is not None:
            self._counters[number] = _free(pace, at)

    # -- what it says ---------------------------------------------------------------------

    def wait_seconds(
        self,
        service: str,
        ahead: int,
        now: datetime,
        *,
        priority: int = 0,
        due_at: datetime | None = None,
        waiting: Mapping[str, int] | None = None,
        arrivals_end: datetime | None = None,
    ) -> float | None:
        """Seconds until a ticket of ``service`` with ``ahead`` people before it is called.

        None when no counter serving it is open and staffed now: nobody can say.
        ``priority``: a ticket with a priority of its own is not overtaken. ``due_at``: an
        appointment, called first once its window opens. ``waiting``: how many wait for each
        service now (a shared counter first empties the queues it prefers). ``arrivals_end``: when
        the hall stops issuing walk-in tickets (no one arrives to go first or to keep a shared
        counter away after it).

        Tickets that join the queue out of line slow a walk-in's: by how many join per call, each
        counted for the share of the wait its place in time puts it before the newcomer (``_overtaking``:
        a transfer keeps the time its visitor came, so one that came after the newcomer goes after it).
        """
        asked = (service, ahead, now, priority, due_at, waiting, arrivals_end)
        joins = self._joins(service) if priority <= 0 and due_at is None else 0.0
        alone = self._wait(*asked, 0.0)
        if joins <= 0 or alone is None or alone <= 0:
            return alone
        return self._wait(*asked, joins * self._overtaking(service, alone))

    def _joins(self, service: str) -> float:
        """How many join ``service``'s queue out of line per call, weighed against ``JOIN_PRIOR`` calls
        at none: from a handful of calls the figure is noise (two that joined before the second call
        of a day's fault repairs said its queue would move at a tenth of its pace)."""
        return _weighed(self._jumps.get(service, EMPTY))

    def joining(self, service: str) -> tuple[float, int, tuple[float | None, ...]]:
        """Who joins ``service``'s queue out of line (tests and the admin's eyes): how many per call a
        walk-in waited for, how many since its last call, and how far back the last ones went."""
        return (
            self._jumps.get(service, EMPTY).value,
            self._joined.get(service, 0),
            self._lags.get(service, ()),
        )

    def _overtaking(self, service: str, wait: float) -> float:
        """The share of the tickets joining ``service`` out of line during a wait of ``wait`` seconds that
        go before the newcomer: one whose place in time is ``lag`` seconds before it joined overtakes
        the newcomer only while the newcomer has waited less than that (a priority: always)."""
        lags = self._lags.get(service, ())
        if not lags:
            return 1.0
        return sum(1.0 if lag is None else min(lag, wait) / wait for lag in lags) / len(lags)

    def _wait(
        self,
        service: str,
        ahead: int,
        now: datetime,
        priority: int,
        due_at: datetime | None,
        waiting: Mapping[str, int] | None,
        arrivals_end: datetime | None,
        jumps: float,
    ) -> float | None:
        """``wait_seconds`` with ``jumps`` tickets going before the newcomer for each call it waits for."""
        pace = self._pace_of(service)
        slower = after = 1.0
        booked = None  # what waits, as an appointment sees it (only tickets past the age bonus go first)
        end = math.inf if arrivals_end is None else max(0.0, (arrivals_end - now).total_seconds())
        if priority <= 0 and due_at is None:
            slower = 1.0 - min(0.9, jumps)
            after = 1.0 - min(0.9, _weighed(self._carried.get(service, EMPTY)))
        else:
            # A priority of its own, or an appointment due, goes before the counters' preference.
            booked = waiting if due_at is not None and priority <= 0 else None
            waiting = None
            end = math.inf if due_at is not None else end
        aged = self._aged(service, waiting)  # the age bonus, when queues past it count
        window = self.rules.appointment_window
        opens = 0.0
        if due_at is not None and window is not None:
            opens = max(0.0, (due_at - window - now).total_seconds())
        servers: list[tuple[float, float]] = []
        available = False
        freeing = 0.0
        first = False
        legs: list[_Leg] = []
        for server in pace.servers:
            start = 0.0
            if server.paused_at is not None:
                back = self._back_in(server.paused_at, now)
                if back is None:
                    continue
                start = back
            available = available or start == 0
            start = max(start, self._held(server, service, (waiting, aged), (booked, opens)))
            if server.paused_at is None:
                freeing += server.frees
                first = first or start == 0
                if server.leg is not None:
                    legs.append(server.leg)
            own = self._calls(server, start, (slower, after), end)
            servers += own
            if server.usual_break is not None:
                servers += self._break_ahead(server.usual_break, now, own)
        if not available:
            return None
        if due_at is not None and window is not None:
            if opens == 0 and pace.idle:
                return 0.0
            return opens + _drain(servers, 1.0)
        need = ahead + 1 - pace.idle
        if need <= 0:
            return 0.0
        # The next call comes when a busy counter is done with the visitor it has now: at the pace of
        # *that* visitor's service (a counter busy with a quick enquiry frees sooner than its own) —
        # any of them, once one is free of the queues it prefers (counting only the free ones made the
        # utility hall's week worse: 0.611 against 0.583 of the old rule's error, seed 7).
        freeing *= slower if first else 0.0
        legs = legs if freeing > 0 else []
        return self._until_called(service, need, servers, (freeing, legs, slower), now)

    def _until_called(
        self,
        service: str,
        need: int,
        servers: list[tuple[float, float]],
        freeing: tuple[float, list[_Leg], float],
        now: datetime,
    ) -> float:
        """Seconds until the median of ``need`` calls were made: the first as the busy counters are
        done with their visitors (``freeing``: their rate, their legs, the share of calls left after
        those that jump the line; none: no counter can call now), the rest by ``servers``."""
        frees, legs, slower = freeing
        calls = _median_calls(need, self.spread(service))
        if frees <= 0:
            return _drain(servers, calls)
        head = None
        if any(leg.shape > 1 for leg in legs):
            # Legs that spread less than exponential ones remember: a counter far into its visitor's
            # service is done sooner than one that just called. The first call, from each leg's time so far.
            head = _first_call(legs, now, slower, need == 1, self.rules.longest_leg.total_seconds())
            if head is not None and need == 1:
                return head
        if head is None:
            head = min(calls, 1.0) / frees
        if calls <= 1:
            return head
        return head + _drain([(max(0.0, start - head), rate) for start, rate in servers], calls - 1)

    def _held(
        self,
        server: _Server,
        service: str,
        walk_in: tuple[Mapping[str, int] | None, float | None],
        booked: tuple[Mapping[str, int] | None, float],
    ) -> float:
        """Seconds a counter is kept from a newcomer's service by other tickets that go first.

        A walk-in (``walk_in``: what waits, and the age bonus when queues past it count) waits for
        the queues the counter prefers and for the tickets past the age bonus of those it prefers
        less. An appointment (``booked``: what waits, and seconds until its window opens) goes
        before walk-ins of every service, but after the tickets past the age bonus (they rank as a
        priority): what is left of them when its window opens.
        """
        waiting, aged = walk_in
        held = 0.0
        if waiting is not None and server.before:
            if aged is None and self.rules.age_bonus is not None:
                # The newcomer's queue is past the age bonus: its head goes before the younger
                # tickets of the services the counter prefers; only theirs past it go first.
                held = self._past_bonus(server.before, waiting, self.rules.age_bonus.total_seconds())
            else:
                held = self._blocked(server.before, waiting)
        if aged is not None and waiting is not None and server.after:
            held = max(held, self._past_bonus(server.after, waiting, aged))
        seen, opens = booked
        bonus = self.rules.age_bonus
        if seen is not None and bonus is not None:
            codes = (*server.before, service, *server.after)
            held = max(held, self._past_bonus(codes, seen, bonus.total_seconds()) - opens)
        return held

    def _calls(
        self,
        server: _Server,
        start: float,
        slowed: tuple[float, float],
        end: float,
    ) -> list[tuple[float, float]]:
        """A counter's calls of the service: (from, calls a second) — its pace cut by the tickets that
        jump the line (``slowed``: before and after the last ticket, at ``end``)."""
        slower, after = slowed
        rate = server.rate * slower
        own = [(start, rate)]
        if end < math.inf and server.full * after > rate:
            # No one arrives after the last ticket: nobody jumps the line but the transfers, and a
            # shared counter whose preferred queues are empty stays with this one.
            own.append((max(start, end), server.full * after - rate))
        return own

    def _aged(self, service: str, waiting: Mapping[str, int] | None) -> float | None:
        """The age bonus in seconds, when queues past it may take a newcomer's counters: not where the
        newcomer's own queue has waited that long (then its head ranks as theirs do)."""
        bonus = self.rules.age_bonus
        if bonus is None or waiting is None:
            return None
        limit = bonus.total_seconds()
        return None if self._head_age(service, waiting) > limit else limit

    def _head_age(self, service: str, waiting: Mapping[str, int]) -> float:
        """About how long the head of a service's queue has waited: its length over its counters' pace."""
        count = waiting.get(service, 0)
        if count <= 0:
            return 0.0
        rate = self._pace_of(service).rate
        return count / rate if rate > 0 else LONGEST_BLOCK

    def _past_bonus(self, codes: tuple[str, ...], waiting: Mapping[str, int], limit: float) -> float:
        """Seconds until the tickets past the age bonus (``limit``) of ``codes`` are called: they rank
        above a young newcomer, and above the younger tickets of every service at each of their
        counters, so all their counters work them off at full pace. How many: a queue's tickets
        beyond those its counters' usual pace took in the last ``limit`` seconds (its length over
        that pace is about its head's age, as in ``_head_age``); never longer than ``limit``, when
        the newcomer is past the bonus too."""
        longest = 0.0
        for code in codes:
            count = waiting.get(code, 0)
            if count <= 0:
                continue
            queue = self._pace_of(code)
            aged = count - queue.rate * limit
            if aged > 0:
                full = sum(server.full for server in queue.servers if server.paused_at is None)
                longest = max(longest, aged / full if full > 0 else limit)
        return min(longest, limit)

    def _blocked(self, before: tuple[str, ...], waiting: Mapping[str, int]) -> float:
        """Seconds until a counter is done with the queues it prefers to a service: each of them
        waits, and is worked off by its counters' spare time (what its own arrivals leave them)."""
        longest = 0.0
        for code in before:
            count = waiting.get(code, 0)
            if count > 0:
                spare = self._pace_of(code).spare
                longest = max(longest, count / spare if spare > 0 else LONGEST_BLOCK)
        bonus = self.rules.age_bonus
        if bonus is not None:
            # Once the newcomer's queue has waited that long, it goes before younger tickets of the
            # services the counter prefers: the counter is back for it by then at the latest.
            longest = min(longest, bonus.total_seconds())
        return min(longest, LONGEST_BLOCK)

    def _break_ahead(
        self, usual: tuple[float, float, datetime | None], now: datetime, calls: list[tuple[float, float]]
    ) -> list[tuple[float, float]]:
        """An open counter's break still to come today, as its calls stopping and starting again: at the
        expected start of its usual break (its start given that it has not come yet), for a usual
        break's length. None once it had one today, or long after its usual time."""
        mean, spread, last = usual
        if last is not None and (now - last).total_seconds() < SAME_DAY:
            return []
        day_second = now.hour * 3600 + now.minute * 60 + now.second
        late = (day_second - mean + HALF_DAY) % DAY - HALF_DAY  # how far past its usual time now is
        sd = max(spread, BREAK_SPREAD)
        behind = late / sd
        if behind > 2.0:
            return []
        # The mean of a normal start time beyond now: mean + sd · φ(a) / (1 − Φ(a)), a = behind.
        tail = 0.5 * math.erfc(behind / math.sqrt(2))
        begins = -late + sd * math.exp(-behind * behind / 2) / math.sqrt(2 * math.pi) / tail
        begins = max(0.0, begins)
        ends = begins + self._pauses.value
        out: list[tuple[float, float]] = []
        for start, rate in calls:
            if start < ends:
                out.append((max(begins, start), -rate))
                out.append((ends, rate))
        return out

    def servers(self, service: str, now: datetime) -> tuple[list[tuple[float, float]], int]:
        """The counters that will call tickets of ``service``: (seconds from now until it calls, tickets
        it calls a second while the service has a queue) each, and how many are free now.

        An open, staffed counter calls from now on; a paused one from the end of a usual break
        (the hall's measured pauses), unless it has been away twice that long (gone for the day).
        """
        pace = self._pace_of(service)
        found: list[tuple[float, float]] = []
        for server in pace.servers:
            if server.paused_at is None:
                found.append((0.0, server.rate))
                continue
            start = self._back_in(server.paused_at, now)
            if start is not None:
                found.append((start, server.rate))
        return found, pace.idle

    def _pace_of(self, service: str) -> _Pace:
        """What the counters of ``service`` are now, computed once per change of the model (a burst of
        tickets between two calls reads it from the cache)."""
        version = self.version  # read first: a change made meanwhile leaves this entry stale
        cached = self._cache.get(service)
        if cached is not None and cached[0] == version:
            return cached[1]
        servers: list[_Server] = []
        idle = 0
        spare = 0.0
        aging = self.rules.age_bonus is not None  # the shares of less preferred services count
        for station in self._stations.get(service, ()):
            pace = self._counters.get(station.counter)
            if pace is None or not pace.staffed:
                continue
            seconds = self.service_seconds(station.counter, service)
            free = self._left_for(pace, station)
            after = station.after if aging else ()
            if not pace.open:
                if pace.paused_at is not None:
                    servers.append(
                        _Server(
                            station.before,
                            free / seconds,
                            1.0 / seconds,
                            pace.paused_at,
                            after=after,
                        )
                    )
                continue
            left = self._left_of_leg(station.counter, pace, service)
            servers.append(
                _Server(
                    station.before,
                    free / seconds,
                    1.0 / seconds,
                    None,
                    self._usual_break(pace),
                    after=after,
                    leg=self._leg_now(pace, service, left, free),
                )
            )
            if pace.busy_since is None:
                idle += 1
            spare += max(0.0, free - pace.share(service)) / seconds
        found = _Pace(tuple(servers), idle, spare, sum(server.rate for server in servers))
        self._cache[service] = (version, found)
        return found

    def _leg_now(self, pace: CounterPace, service: str, left: float, share: float) -> _Leg:
        """The leg a counter is on, as ``_first_call`` reads it: ``left`` seconds on average (the leg
        less the walk once the visitor is at the counter: ``_left_of_leg``) with the spread of the
        services alone, from the start; before the start, the whole leg's spread, from the call; a
        free counter: a whole leg of ``service`` from now."""
        if pace.busy_since is None:
            return _Leg(None, left, _shape(self.spread(service)), share)
        on = pace.serving or service
        if pace.started and pace.started_at is not None:
            return _Leg(
                pace.started_at, left, _shape(self._spread_of(self._served, self._served_squares, on)), share
            )
        return _Leg(pace.busy_since, left, _shape(self.spread(on)), share)

    def spread(self, service: str) -> float:
        """How much a service's legs spread: their variance over their mean squared (1: as exponential
        ones, also the most counted with; until ``SPREAD_SAMPLES`` legs are measured, 1)."""
        return self._spread_of(self._service_times, self._leg_squares, service)

    def _spread_of(self, means: Mapping[str, Mean], squares: Mapping[str, Mean], service: str) -> float:
        mean = means.get(service, EMPTY)
        square = squares.get(service, EMPTY)
        if square.samples < SPREAD_SAMPLES or mean.value <= 0:
            return 1.0
        return min(1.0, max(1.0 / MAX_SHAPE, square.value / mean.value**2 - 1.0))

    def _usual_break(self, pace: CounterPace) -> tuple[float, float, datetime | None] | None:
        """A counter's usual break: its own once it had ``BREAK_SAMPLES``, before that the hall's (when
        the hall's counters break, from all their breaks), with its own last break."""
        own = _own_break(pace)
        if own is not None:
            return own
        hall = _own_break(self._hall_break)
        return None if hall is None else (hall[0], hall[1], pace.last_break)

    def _left_of_leg(self, number: int, pace: CounterPace, service: str) -> float:
        """Seconds until a counter is done with the visitor it has now (a free one: a whole leg of
        ``service``): the leg of *that* visitor's service, less the walk once the visitor is at the
        counter. For the counter's pace (``frees``) what is left of a service is a whole one, as for
        exponential service times; ``_first_call`` reads how long it has run besides, where the
        services spread less."""
        on = pace.serving if pace.busy_since is not None and pace.serving else service
        seconds = self.service_seconds(number, on)
        if not pace.started or pace.busy_since is None:
            return seconds
        walk = self._walks.get(on, EMPTY)
        if walk.samples < self.rules.min_samples:
            return seconds
        return max(seconds - walk.value, LEAST_LEFT * seconds)

    @staticmethod
    def _left_for(pace: CounterPace, station: _Station) -> float:
        """The share of a counter's time a service gets: what its more preferred services leave, and
        never less than ``MIN_SHARE`` (a counter saturated by its first service is slow for the second,
        not closed to it)."""
        return max(MIN_SHARE, 1.0 - sum(pace.share(code) for code in station.before))

    def _back_in(self, paused_at: datetime, now: datetime) -> float | None:
        """Seconds until a counter paused at ``paused_at`` is back, from the hall's usual break; None:
        not expected."""
        if self._pauses.samples == 0:
            return None
        away = (now - paused_at).total_seconds()
        usual = self._pauses.value
        if away > 2 * usual:
            return None
        return max(0.0, usual - away)

    def service_seconds(self, counter: int, service: str) -> float:
        """How long a visitor of ``service`` keeps ``counter``: its own mean weighed against the
        service's (or the configured minutes until the service has enough samples), by its legs."""
        enough = self.rules.min_samples
        shared = self._service_times.get(service, EMPTY)
        if shared.samples >= enough:
            pooled = shared.value
        else:
            pooled = self.rules.service_seconds.get(service, self.rules.default_seconds)
        own = self._times.get((counter, service), EMPTY)
        if own.samples < enough:
            return pooled
        # A mean of n legs whose lengths spread as much as their mean misses by about 1/√n; clerks
        # differ by about CLERKS_DIFFER: the counter's own mean weighs n against 1/CLERKS_DIFFER².
        legs = min(own.samples, self.rules.recent_legs)
        trust = legs / (legs + CLERKS_DIFFER**-2)
        return trust * own.value + (1 - trust) * pooled

    def counter(self, number: int) -> CounterPace | None:
        """What the model knows of a counter (tests and the admin's eyes)."""
        return self._counters.get(number)

    def warm(
        self, legs: Iterable[WarmLeg], states: Iterable[tuple[int, bool, bool, bool]], now: datetime
    ) -> int:
        """Learn from recent legs (oldest first) and the counters' states at start; the legs used.

        ``states``: (counter, open, staffed, busy). Replayed as the calls and ends happened,
        so the shares and idle gaps come out as if the hub had been running. The store's legs do not
        say who joined out of line or whether a walk-in waited: each jumped leg (a priority, an
        appointment, a transfer) counts as one that joined just before its call, going before every
        walk-in, and every call as one a walk-in waited for — the share of jumped calls, which counts
        the ones already standing in line too (a little long), until live calls take over.
        """
        moments: list[tuple[datetime, int, WarmLeg]] = []
        for leg in legs:
            moments.append((leg.called_at, 0, leg))
            if leg.started_at is not None:
                moments.append((leg.started_at, 1, leg))
            moments.append((leg.ended_at, 2, leg))
        moments.sort(key=lambda m: (m[0], m[1]))
        for number in self._counters:
            self._counters[number] = replace(self._counters[number], staffed=True)
        for at, kind, leg in moments:
            if kind == 0:
                if leg.jumped:  # as far as the store says: it joined out of line just before
                    self.joined(leg.service)
                self.called(leg.counter, leg.service, at, True, leg.carried)
            elif kind == 1:
                self.started(leg.counter, at)
            else:
                self.leg_ended(leg.counter, leg.service, at, leg.called_at)
        for number, pace in list(self._counters.items()):
            # Who is open now is the store's word (a counter without a row: nobody there yet).
            self._counters[number] = replace(
                pace, staffed=False, busy_since=None, free_since=None, idle_before=0.0
            )
        for number, open_, staffed, busy in states:
            self.counter_set(number, open_, staffed, now)
            if busy:  # serving someone since before the start: from now, as far as it knows
                self._counters[number] = replace(self._counters[number], busy_since=now, free_since=None)
        self.version += 1
        return sum(1 for _, kind, _ in moments if kind == 2)


@dataclass(frozen=True)
class WarmLeg:
    """A leg ended before the hub started, as the store keeps it."""

    counter: int
    service: str
    called_at: datetime
    ended_at: datetime
    jumped: bool = False
    #: A transfer (``jumped`` too).
    carried: bool = False
    #: When the visitor reached the counter (None: never, as a no-show).
    started_at: datetime | None = None


#: The least share of a leg counted as left once the visitor is at the counter (a walk measured longer
#: than the legs, as by a clerk who presses start late, never makes a counter free at once).
LEAST_LEFT = 0.2
#: Simpson's rule's steps on each doubling of the first call's horizon (an even number).
SIMPSON_STEPS = 4
#: Seconds to which the first call's median is searched (a visitor reads the estimate in minutes).
MEDIAN_TOLERANCE = 0.1
#: Calls at none joined out of line that a service's figure of those who did is weighed against.
JOIN_PRIOR = 10
#: How many of the tickets that joined a queue out of line are remembered for how far back they went.
LAGS_KEPT = 50
#: Legs a service must have ended before their spread is counted with (a spread of a few is noise).
SPREAD_SAMPLES = 30
#: The least spread counted with: 1/MAX_SHAPE (an Erlang of ten phases, about a tenth).
MAX_SHAPE = 10
#: How far into an Erlang's tail (in its scale, per phase) a leg's time so far is read.
ERLANG_FAR = 30.0
#: The least share of a counter's time a service it serves is counted with.
MIN_SHARE = 0.05
#: How much one clerk's pace differs from another's at the same service, as a share (a fifth).
CLERKS_DIFFER = 0.2
#: Breaks a counter must have had before its usual break is expected (one a day: two days).
BREAK_SAMPLES = 2
#: How much the newest break weighs in a counter's usual break time (about the last ten days).
BREAK_WEIGHT = 0.2
#: The least spread of a usual break's start counted with (seconds): a clerk is never exact.
BREAK_SPREAD = 15 * 60.0
#: A counter that had a break less than this long ago had today's (seconds).
SAME_DAY = 14 * 3600.0
DAY = 86400.0
HALF_DAY = DAY / 2
#: The longest a counter is counted away from a service by the queues it prefers (seconds; a day's work:
#: beyond it, the estimate says "not today" whatever the figure).
LONGEST_BLOCK = 12 * 3600.0


def _learn_break(pace: CounterPace, started: datetime) -> CounterPace:
    """The counter's usual break with one more, which started at ``started`` (its time of the day)."""
    second = started.hour * 3600 + started.minute * 60 + started.second
    mean = pace.break_at
    if mean.samples == 0:
        return replace(pace, break_at=Mean(float(second), 1), last_break=started)
    off = (second - mean.value + HALF_DAY) % DAY - HALF_DAY
    spread = pace.break_spread.add(off * off, BREAK_WEIGHT)
    moved = mean.add(mean.value + off, BREAK_WEIGHT)
    return replace(
        pace, break_at=Mean(moved.value % DAY, moved.samples), break_spread=spread, last_break=started
    )


def _own_break(pace: CounterPace) -> tuple[float, float, datetime | None] | None:
    """A counter's usual break (mean, spread, its last one), once it had ``BREAK_SAMPLES`` of them."""
    if pace.break_at.samples < BREAK_SAMPLES:
        return None
    return pace.break_at.value, math.sqrt(pace.break_spread.value), pace.last_break


def _drain(servers: list[tuple[float, float]], need: float) -> float:
    """Seconds until ``need`` tickets were called by ``servers`` ((start, rate) each), as a fluid:
    each calls at its rate from its start on. At least one starts now."""
    served = elapsed = rate = 0.0
    for start, more in sorted(servers):
        if rate > 0 and served + rate * (start - elapsed) >= need:
            break
        served += rate * (start - elapsed)
        elapsed = start
        rate += more
    return elapsed + (need - served) / rate


def _median_calls(need: int, spread: float = 1.0) -> float:
    """The median of the calls' count that stands for ``need`` calls: a wait of ``need`` services is
    skewed (a long one now and then), so its median is shorter than its mean, and the median is what
    misses by the least on average. ``need`` legs whose lengths spread by ``spread`` (variance over
    mean squared; 1: exponential) add up to about a Gamma of shape need / spread, whose median is
    ≈ shape − 1/3 + 8/(405 shape) of its scale: in legs, need − spread/3 + 8 spread²/(405 need)."""
    return need - spread / 3 + 8 * spread * spread / (405 * need)


def _free(pace: CounterPace, at: datetime) -> CounterPace:
    """A counter done with its visitor at ``at``: free from then on while open."""
    return replace(
        pace,
        busy_since=None,
        started=False,
        started_at=None,
        idle_before=0.0,
        free_since=at if pace.open else None,
    )


def _weighed(mean: Mean) -> float:
    """A share of calls weighed against ``JOIN_PRIOR`` calls at none."""
    return mean.value * mean.samples / (mean.samples + JOIN_PRIOR)


def _add(means: Mapping[str, Mean], service: str, sample: float, weight: float) -> Mean:
    return means.get(service, EMPTY).add(sample, weight)


def _shape(spread: float) -> int:
    """The Erlang shape whose spread is nearest ``spread`` (1/shape; 1: exponential)."""
    return max(1, min(MAX_SHAPE, round(1.0 / spread)))


def _survival(x: float, shape: int) -> float:
    """P(an Erlang(shape, 1) length > x)."""
    term = total = 1.0
    for j in range(1, shape):
        term *= x / j
        total += term
    return math.exp(-x) * total


def _first_call(
    legs: list[_Leg], now: datetime, slower: float, median: bool, stale: float = math.inf
) -> float | None:
    """Seconds until the first counter is done with its visitor and calls the newcomer's service: the
    median (``median``) or the mean. Each leg is an Erlang of its mean and shape, known to have run
    since its ``since``; it frees the counter for the service at its share (cut by ``slower``: calls
    that jump the line). A leg that has run longer than ``stale`` seconds (a clerk who left without
    pausing, a start never pressed) says nothing of its end: it counts as a whole exponential one
    from now. None when the counters' shares leave even odds of no call at all from the visitors
    they have now: the caller then counts the first call at the counters' pace (``0.69 / rate``), as
    for exponential legs. The mean leaves out the chance of no such call (it is the mean given one)."""
    parts: list[tuple[float, float, int, float]] = []  # (elapsed in scale units, scale, shape, chance)
    for leg in legs:
        shape = leg.shape
        scale = leg.mean / shape
        if scale <= 0:
            continue
        run = 0.0 if leg.since is None else max(0.0, (now - leg.since).total_seconds())
        if run > stale:
            shape, scale, run = 1, leg.mean, 0.0
        elapsed = min(run / scale, ERLANG_FAR * shape)  # far in its tail: as far as floats go
        parts.append((elapsed, scale, shape, min(1.0, leg.share * slower)))
    never = 1.0
    for _, _, _, chance in parts:
        never *= 1.0 - chance
    if not parts or never >= 0.5:
        return None
    survive = [(e, scale, shape, chance, _survival(e, shape)) for e, scale, shape, chance in parts]

    def waiting(t: float) -> float:
        """P(no call of the service by t seconds)."""
        p = 1.0
        for e, scale, shape, chance, before in survive:
            p *= 1.0 - chance * (1.0 - _survival(e + t / scale, shape) / before)
        return p

    # From the shortest part of a leg on, doubling: the first call may be decided by a short leg long
    # before the longest ends, and a leg far into its tail still ends within a few of its lengths.
    edges = [0.0, min(scale for _, scale, _, _, _ in survive) / 4]
    for _ in range(64):
        if waiting(edges[-1]) <= (0.5 if median else 0.001 + never):
            break
        edges.append(edges[-1] * 2)
    else:
        if median:
            return None  # even odds never reached on any horizon floats hold: the caller's pace
    if median:
        # Halving the doubling's last step, to a tenth of a second: an estimate is read in minutes (at
        # most 64 halvings: past 2^49 seconds floats are too coarse for a tenth).
        low, high = edges[-2], edges[-1]
        for _ in range(64):
            if high - low <= MEDIAN_TOLERANCE:
                break
            mid = (low + high) / 2
            low, high = (mid, high) if waiting(mid) > 0.5 else (low, mid)
        return (low + high) / 2
    # The mean: the integral of P(no call by t) − P(never), Simpson's rule on each doubling.
    total = 0.0
    start = waiting(0.0) - never  # each step's end is the next one's start: worked out once
    for a, b in itertools.pairwise(edges):
        h = (b - a) / SIMPSON_STEPS
        inner = [waiting(a + i * h) - never for i in range(1, SIMPSON_STEPS + 1)]
        end = inner.pop()
        total += (h / 3) * (start + end + sum((4 if i % 2 else 2) * v for i, v in enumerate(inner, 1)))
        start = end
    return total / (1.0 - never)


def minutes(seconds: float | None) -> int | None:
    """Whole minutes as a visitor reads an estimate: the nearest (under half a minute: 0, "very soon")."""
    return None if seconds is None else math.floor(seconds / 60 + 0.5)


def join_lag(
    now: datetime,
    queue_at: datetime | None,
    *,
    priority: bool,
    appointment: bool,
    sent_to_counter: bool,
) -> float | None:
    """How far back in its queue's time a ticket that joins the queue out of line now takes its place,
    in seconds: :meth:`PaceModel.joined`'s ``lag``; None: before every walk-in.

    One rule for every model of a hall: the process that moved the ticket reads the parts from its
    :class:`~server.core.model.Ticket`, every other process of a cluster from the event it hears
    (server/cluster.py: the public view and the event's ``queue_at``). Two copies of it had drifted:
    another process counted a transferred appointment from its issue time while the one that moved
    it counted it before everyone. A priority of its own, an appointment (its ``due_at`` goes with it
    through a transfer: it ranks before the walk-ins of its priority wherever it is sent) and a ticket
    sent to one counter go before every walk-in; any other keeps its place in the queue's time,
    ``queue_at`` (when its visitor came, for a transfer; the place it was given, for a re-queue). An
    unknown place (``queue_at`` None) counts as before every walk-in: it is a jump all the same, and
    None is the one lag that claims no place.
    """
    if priority or appointment or sent_to_counter or queue_at is None:
        return None
    return max(0.0, (now - queue_at).total_seconds())
