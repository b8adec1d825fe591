"""One hall, several hub processes: the hall's committed events relayed to every process through Redis.

Why a relay: each process's screens, LED displays, voice, snapshot cache and
estimated-wait model listen to the event bus of *their* process, but a call
can be made on any process. So in a cluster the bus does not hand an event to
its listeners when the core publishes it; it sends it to Redis, and every
process (the one that published it too) hands what it hears to its listeners.

Ordering: one Lua script both counts the hall's version up (``INCRBY`` on
``<channel>:hall:version``) and ``PUBLISH``-es the event with that version on
``<channel>:hall:events``. Redis runs a script whole, without another command
in between, and delivers a channel's messages to each subscriber in the order
they were published; so every process hears every event in version order, and
the versions that screens compare (docs/contract.md, "Versions and deltas")
mean the same on every process.

Healing: Redis pub/sub keeps nothing for a subscriber that was away.
- A process that cannot reach Redis when it publishes (the event is committed
  all the same) counts the next event it publishes two up instead of one:
  every screen of the hall sees a version skipped and fetches the snapshot.
- A process whose subscription broke subscribes again and reads the hall's
  version: if it moved meanwhile, it takes that version without the events
  (:meth:`EventBus.skip_to`), drops its cached snapshot, and its screens see the
  versions skipped at the next event and fetch the snapshot.
- Events heard twice (a version not above the last one) are dropped.

What another process's event teaches the estimated wait is learnt from the
event itself (:class:`RemotePace`): the legs and calls as the event carries
them. Events missed in a gap are not learnt (the model is an estimate, and
the next legs move it on).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import redis

from .core import events as ev
from .core.estimate import join_lag
from .core.events import EventBus, HallEvent, Listener
from .core.queue import QueueCore
from .startup import StartupError

log = logging.getLogger(__name__)

#: Count the hall's version up and publish the event with it, as one step (see the module's docstring).
RELAY_SCRIPT = """
local v = redis.call('INCRBY', KEYS[1], tonumber(ARGV[2]))
redis.call('PUBLISH', KEYS[2], v .. ' ' .. ARGV[1])
return v
"""
#: Seconds between attempts to subscribe again after Redis went away.
RETRY_SECONDS = 1.0


def version_key(channel: str) -> str:
    return f"{channel}:hall:version"


def events_channel(channel: str) -> str:
    return f"{channel}:hall:events"


def encode(event: HallEvent, sender: str) -> str:
    """The text another process hears of ``event`` after its version (:meth:`HallRelay.hear`): the
    payload as JSON, so what a listener elsewhere reads is only what JSON carries (no datetimes)."""
    return json.dumps(
        {"name": event.name, "payload": event.payload, "from": sender},
        ensure_ascii=False,
        separators=(",", ":"),
    )


class HallRelay(EventBus):
    """The event bus of one process in a cluster: publish through Redis, deliver what Redis relays.

    ``remote``: listeners of the events other processes published only (what
    this process's core did not see happen: the pace model). ``gaps``: called
    when events were missed (the snapshot cache drops what it holds).
    """

    def __init__(self, redis_url: str, channel: str, name: str) -> None:
        super().__init__()
        self.name = name
        self.channel = channel
        self.redis_url = redis_url
        self.redis = redis.Redis.from_url(
            redis_url, socket_connect_timeout=5, socket_timeout=5, health_check_interval=10
        )
        self._relay = self.redis.register_script(RELAY_SCRIPT)
        self.remote: list[Listener] = []
        self.gaps: list[Callable[[], None]] = []
        self._missed = False
        self._closed = False
        self._pubsub: Any = None

    # -- sending ------------------------------------------------------------------------------

    def publish(self, event: HallEvent) -> HallEvent:
        """Send a committed event to every process of the hall (this one hears it back, numbered)."""
        body = encode(event, self.name)
        step = 2 if self._missed else 1  # a skipped version: every screen fetches the snapshot
        try:
            keys = [version_key(self.channel), events_channel(self.channel)]
            version = int(self._relay(keys=keys, args=[body, step]))
        except redis.RedisError as error:
            self._missed = True
            log.error("cluster: %s not relayed, Redis is unavailable (%s)", event.name, error)
            return event
        self._missed = False
        return replace(event, version=version)

    # -- hearing --------------------------------------------------------------------------------

    def start(self, spawn: Callable[..., Any]) -> None:
        """Subscribe now (before the hub serves, so no event is missed) and hear on a task of ``spawn``."""
        try:
            self._subscribe()
        except redis.RedisError as error:
            raise StartupError(
                f"cannot reach Redis at {self.redis_url} (cluster.redis_url): {error}; "
                "start it or fix the URL"
            ) from None
        spawn(self._listen)

    def close(self) -> None:
        self._closed = True
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # already broken: nothing to tidy
                log.debug("cluster: closing the subscription failed", exc_info=True)
        self.redis.close()

    def _subscribe(self) -> None:
        """Subscribe, then read the hall's version: an event published after the read is heard."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(events_channel(self.channel))
        self._pubsub = pubsub
        hall = int(self.redis.get(version_key(self.channel)) or 0)
        if hall > self.version:
            if self.version:  # not the first subscription: events were missed meanwhile
                log.warning("cluster: versions %d..%d missed while away from Redis", self.version + 1, hall)
                self._gap()
            self.skip_to(hall)

    def _listen(self) -> None:
        while not self._closed:
            try:
                pubsub = self._pubsub
                if pubsub is None:
                    self._subscribe()
                    continue
                message = pubsub.get_message(timeout=1.0)
                if message is not None:
                    self.hear(message["data"])
            except (redis.RedisError, OSError, ValueError) as error:
                if self._closed:
                    return  # closed under the read (ValueError: redis-py's buffer, closed meanwhile)
                log.error("cluster: lost the hall's events from Redis (%s); subscribing again", error)
                self._pubsub = None
                time.sleep(RETRY_SECONDS)

    def hear(self, data: bytes | str) -> None:
        """One relayed message (``<version> <json>``): hand it to the listeners in the hall's order."""
        text = data.decode() if isinstance(data, bytes) else data
        head, _, body = text.partition(" ")
        version = int(head)
        if version <= self.version:
            return  # heard already
        message = json.loads(body)
        event = HallEvent(message["name"], message["payload"], version)
        if version > self.version + 1:
            self._gap()
        if self.deliver(event) and message.get("from") != self.name:
            for listener in list(self.remote):
                try:
                    listener(event)
                except Exception:  # a listener's bug must not stop the others
                    log.exception("cluster: listener %r failed on %s", listener, event.name)

    def _gap(self) -> None:
        for callback in list(self.gaps):
            try:
                callback()
            except Exception:
                log.exception("cluster: a resync after missed events failed")


class RemotePace:
    """Teaches this process's pace model what another process's call or leg did, from its event.

    The process that made the change told its own model directly (the core's
    ``_pace_call`` and friends); here the same calls are made from what the
    event carries: the call and its time, the leg it ended (its service is
    what the model knows the counter was serving), the counter's new state.
    Who joins a queue out of line is heard where it happens: a priority or
    appointment ticket issued, a priority given, a transfer or a re-queue (how
    far back it goes: :func:`~server.core.estimate.join_lag`, the rule the
    acting process applied, from the event's ``queue_at``; an event of a process
    from before ``queue_at`` was sent counts a transfer from its ``issued_at``,
    and a re-queue not at all). A visitor handed back at a post's end is no join
    (the acting process does not count it either). Another process's calls count
    as made while a walk-in waited (the event does not say).
    """

    def __init__(self, core: QueueCore) -> None:
        self.core = core

    def __call__(self, event: HallEvent) -> None:
        payload = event.payload
        views = payload.get("counters") or []
        at = _when((payload.get("ticket") or {}).get("called_at")) if event.name == ev.TICKET_CALLED else None
        at = at or self.core.clock()
        if event.name == ev.TICKET_CALLED:
            self._call(payload, views, at)
        elif event.name == ev.TICKET_ISSUED:
            self._joined(payload, None, at)
        elif event.name == ev.TICKET_CHANGED:
            kind = payload.get("event")
            if kind in ("transferred", "priority") or (kind == "requeued" and payload.get("post") is None):
                self._joined(payload, kind, at)
            for view in views:
                if kind in ("finished", "no_show", "transferred"):
                    self._leg_ended(view["number"], payload.get("ticket") or {}, at)
                elif kind in ("cancelled", "requeued") and view.get("current") is None:
                    self.core.pace.freed(view["number"], at)
                if payload.get("post") is not None:
                    self._state(view, at)
        elif event.name == ev.COUNTER_CHANGED:
            finished = payload.get("finished")
            for view in views:
                if finished:
                    self._leg_ended(view["number"], finished, at)
                self._state(view, at)

    def _call(self, payload: dict[str, Any], views: list[dict[str, Any]], at: datetime) -> None:
        number = int(payload["counter"]["number"])
        ticket = payload["ticket"]
        finished = payload.get("finished")
        if finished:
            self._leg_ended(number, finished, at)
        for view in views:
            self._state(view, at)
        self.core.pace.called(number, ticket["service"], at, True)

    def _joined(self, payload: dict[str, Any], kind: str | None, at: datetime) -> None:
        """A ticket another process issued, sent on, re-queued or gave a priority, if it joined out of
        line: a transfer or re-queue with the lag the acting process gave it (``join_lag``)."""
        ticket = payload.get("ticket") or {}
        service = ticket.get("service")
        if not isinstance(service, str) or ticket.get("status") not in ("waiting", "transferred"):
            return
        if kind in ("transferred", "requeued"):
            place = _when(payload.get("queue_at"))
            if place is None:  # an event of an older process
                if kind == "requeued":
                    return  # its place is not said
                place = _when(ticket.get("issued_at"))  # a transfer keeps when its visitor came
            lag = join_lag(
                at,
                place,
                priority=bool(ticket.get("priority")),
                appointment=bool(ticket.get("appointment")),
                sent_to_counter=ticket.get("target_counter") is not None,
            )
            self.core.pace.joined(service, lag)
        elif kind == "priority":
            # Whether it jumped the line as the acting process counted it (a change between two
            # categories does not); an older process's event does not say: a priority now counts.
            if payload.get("joined_line", bool(ticket.get("priority"))):
                self.core.pace.joined(service)
        elif ticket.get("priority") or (kind is None and ticket.get("appointment")):
            self.core.pace.joined(service)

    def _leg_ended(self, number: int, ticket: dict[str, Any], at: datetime) -> None:
        known = self.core.pace.counter(number)
        service = (known.serving if known else None) or ticket.get("service")
        if service:
            self.core.pace.leg_ended(number, service, at, _when(ticket.get("called_at")))

    def _state(self, view: dict[str, Any], at: datetime) -> None:
        status = view.get("status")
        self.core.pace.counter_set(int(view["number"]), status == "open", status != "closed", at)


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
