"""The Socket.IO adapter: rooms, the snapshot on (re)connect, and the broadcaster.

Every screen gets the whole snapshot when it connects, so a screen that lost
its network draws itself again from nothing. After that it gets deltas: what
each action changed, stamped with the hall's version, so a screen that sees
a version skipped asks for the snapshot again (the ``snapshot`` client
event). Events leave through one broadcaster task, in the order the core
published them, so a request that issued a ticket does not wait for a
thousand sockets. Everything sent here goes to this process's own sockets
(``ignore_queue``): in a cluster every process hears every event of the hall
(server/cluster.py) and tells its own screens.

Every socket opened with a token or a staff session is remembered under that
credential (:class:`LiveSessions`), so revoking the token, disabling the user,
changing the password or logging in again drops the socket at once instead of
leaving it listening until it happens to reconnect. Changes made by another
process (the CLI) are noticed through the audit log, which every such change
writes: a watcher looks at its newest id every second and re-checks the open
sockets' credentials when it moved (and once a minute anyway, for expiry).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import request, session
from flask_socketio import SocketIO, join_room
from socketio.exceptions import ConnectionRefusedError  # the builtin one loses the message

from . import fanout
from .config import ConfigError
from .core import events as ev
from .core.errors import UnknownTicket
from .core.events import HallEvent
from .devices.agents import DeviceSockets
from .devices.rooms import HALL, STAFF, SUPERVISORS, VISITORS, VOICE_HALL, counter_room, ticket_room
from .hub import Hub
from .session_cookie import SESSION_KEY
from .store.accounts import Principal
from .store.health import store_failure
from .supervisor import SUPERVISOR, SupervisorFeed

log = logging.getLogger(__name__)

#: Seconds between looks at the audit log for changes made outside this process.
WATCH_SECONDS = 1.0
#: Seconds between full re-checks of every open socket's credential (expired sessions).
RECHECK_SECONDS = 60.0
#: Roles that may open the supervisor's page (the ``supervisors`` room).
SUPERVISING = frozenset({"admin", "supervisor"})
#: Events a visitor's phone receives about its own ticket.
VISITOR_EVENTS = frozenset({ev.TICKET_CALLED, ev.TICKET_RECALLED, ev.TICKET_CHANGED})
#: What a phone is told of its ticket; the rest of a core event (counter views, the call) is the hall's.
VISITOR_KEYS = ("ticket", "counter", "service", "recall", "event", "closing")
#: Sent to every phone once per batch: the services whose queue or pace moved (nothing else of the hall).
QUEUE_MOVED = "queue_moved"
#: At most this many events are taken from the queue at once (a burst of tickets is sent in slices).
MAX_BATCH = 500
#: Seconds between two batches at least: in a burst, events gather for this long and cost one read
#: of the services, however many come; a quiet hall's events (seconds apart) are not held at all.
BATCH_GAP = 0.02

#: Sends ``(event, payload, room)`` to this process's sockets in the room.
RoomSend = Callable[[str, dict[str, Any], str], None]


class Broadcaster:
    """Sends the core's events to the rooms as deltas, one batch at a time, off the request path.

    A hall message is what one action changed (docs/contract.md, "Socket.IO"):
    the core's payload (the ticket, the counter's new view, the call), the
    hall version ``v`` and business day ``day``, and the waiting count and
    next numbers of the services the action touched. Those come from one read
    per batch of events drained from the queue, never from a snapshot built
    per event; consecutive ``ticket_issued`` events are merged into one
    message covering versions ``from``..``v``, so a burst of tickets costs the
    screens one message per batch. python-socketio encodes a message once for
    a whole room; each socket then only writes the same text.

    If a batch cannot be sent (the services cannot be read), its hall
    messages are dropped and logged: every screen sees the versions skipped
    at the next message and fetches the snapshot again.

    With ``listeners`` (the open sockets), an event published or a batch drained
    while no socket is open is dropped unread: nobody would receive it, and a screen that connects
    later draws itself from the snapshot it gets on connecting (built from the
    store, with the version of the last event committed before it), so it
    misses nothing. A hub run without a socket (a simulation through the test
    client) then does not read the services once per action for nobody.
    """

    def __init__(
        self,
        socketio: SocketIO,
        hub: Hub,
        listeners: Connections | None = None,
        to_room: RoomSend | None = None,
    ) -> None:
        self.socketio = socketio
        self.hub = hub
        self.listeners = listeners
        # ``to_room(event, payload, room)``: the hub's is server/fanout.py's (one frame built per
        # message, written to each screen at once); else Flask-SocketIO's emit.
        self.to_room: RoomSend = to_room or (
            lambda name, payload, room: socketio.emit(name, payload, to=room, ignore_queue=True)
        )
        self.pending: queue.Queue[HallEvent] = queue.Queue()
        self.last_batch = 0.0  # time.monotonic() when the last batch was taken
        socketio.start_background_task(self._run)

    def enqueue(self, event: HallEvent) -> None:
        """Queue ``event`` for the sending thread; not when no socket is open (see send()).

        Dropped here rather than at the drain, the event costs no wake of that thread: a simulated
        week through the test client spent a tenth of its time handing each event over to it."""
        if self.listeners is not None and self.listeners.count == 0:
            return
        self.pending.put(event)

    def _run(self) -> None:
        while True:
            batch = self._drain()
            try:
                self.send(batch)
            except Exception as error:  # one bad batch must not silence the screens
                names = ",".join(sorted({event.name for event in batch}))
                detail = store_failure(error)
                if detail is None:
                    log.exception("broadcast of %s failed", names)
                    continue
                # The services could not be read: a store outage, already told by /health; one line.
                log.error("broadcast of %s failed: the store is unavailable (%s)", names, detail)
                self.hub.store_health.failed(detail)

    def _drain(self) -> list[HallEvent]:
        """The next event, waiting for it, and whatever else is queued (up to MAX_BATCH).

        An event that comes within BATCH_GAP of the last batch waits out the rest
        of the gap, so that its burst is taken whole.
        """
        batch = [self.pending.get()]
        early = BATCH_GAP - (time.monotonic() - self.last_batch)
        if early > 0:
            self.socketio.sleep(early)
        self.last_batch = time.monotonic()
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self.pending.get_nowait())
            except queue.Empty:
                break
        return batch

    def send(self, batch: list[HallEvent]) -> None:
        """Phones first (they need no read), then one message per action or run of tickets to the hall."""
        if self.listeners is not None and self.listeners.count == 0:
            return  # no socket is open: nobody to tell (one that opens later gets the snapshot)
        for name, payload, room in visitor_messages(batch):
            self.to_room(name, payload, room)
        messages = hall_messages(batch)
        if any(message.services for message in messages):
            now = self.hub.core.service_queues()
            day = now["business_day"]
            services = {s["code"]: s for s in now["services"]}
        else:
            day = self.hub.core.hall.calendar.business_day(self.hub.clock()).isoformat()
            services = {}
        for message in messages:
            message.payload["day"] = day
            if message.services:
                message.payload["services"] = [services[c] for c in sorted(message.services) if c in services]
            self.to_room(message.name, message.payload, HALL)
        moved = sorted({code for message in messages for code in message.services})
        if moved:  # the phones: codes only, one message a batch; each asks for its own ticket if it cares
            self.to_room(QUEUE_MOVED, {"services": moved, "day": day}, VISITORS)


@dataclass
class HallMessage:
    """One message to the hall: its event name, its payload, and the services whose state it must carry."""

    name: str
    payload: dict[str, Any]
    services: set[str] = field(default_factory=set)


def visitor_messages(batch: list[HallEvent]) -> list[tuple[str, dict[str, Any], str]]:
    """``(event, payload, room)`` for the phones: each ticket's own news, without the hall's."""
    out = []
    for event in batch:
        payload = event.payload
        ticket = payload.get("ticket")
        if ticket and event.name in VISITOR_EVENTS:
            mine = {key: payload[key] for key in VISITOR_KEYS if key in payload}
            out.append((event.name, mine, ticket_room(ticket["id"])))
        finished = payload.get("finished")
        if finished:
            # Call-next ended this visitor's service (or made them a no-show): their phone hears it
            # as an event of its own.
            news = {
                "ticket": finished,
                "event": "no_show" if finished.get("status") == "no_show" else "finished",
            }
            out.append((ev.TICKET_CHANGED, news, ticket_room(finished["id"])))
    return out


def hall_messages(batch: list[HallEvent]) -> list[HallMessage]:
    """One message per event, with ``v``; a run of ``ticket_issued`` as one, with ``from`` and ``issued``.

    A merged ``ticket_issued`` carries the newest ticket of the run (and its
    ``waiting_ahead``); the services it carries are those of every ticket in it.
    """
    out: list[HallMessage] = []
    for event in batch:
        message = HallMessage(event.name, dict(event.payload, v=event.version), touched_services(event))
        last = out[-1] if out else None
        if last is not None and event.name == ev.TICKET_ISSUED and last.name == ev.TICKET_ISSUED:
            message.payload["from"] = last.payload.get("from", last.payload["v"])
            message.payload["issued"] = last.payload.get("issued", 1) + 1
            message.services |= last.services
            out[-1] = message
            continue
        out.append(message)
    return out


def touched_services(event: HallEvent) -> set[str]:
    """The services whose queue an action changed: a ticket issued, called, transferred into one,
    cancelled or re-queued (过号重排); and those whose pace it changed (:func:`paced_services`)."""
    paced = paced_services(event)
    service = (event.payload.get("ticket") or {}).get("service")
    if not service:
        return paced
    queue_moved = event.name == ev.TICKET_CHANGED and event.payload.get("event") in QUEUE_CHANGES
    if event.name in (ev.TICKET_ISSUED, ev.TICKET_CALLED) or queue_moved:
        return {service} | paced
    return paced


def paced_services(event: HallEvent) -> set[str]:
    """The services of a counter that paused, resumed, called (its clerk, busy now), ended a leg, or
    whose post began or ended (a visitor handed back as its counter closed): their estimated wait moved."""
    if event.name in (ev.COUNTER_CHANGED, ev.TICKET_CALLED) or (
        event.name == ev.TICKET_CHANGED
        and (event.payload.get("event") in PACE_CHANGES or event.payload.get("post") is not None)
    ):
        return {code for view in event.payload.get("counters") or [] for code in view.get("services", [])}
    return set()


#: ``ticket_changed`` events that change a service's waiting count or next numbers.
#: A transfer adds the ticket to a queue, a cancel or re-queue moves it, a priority change may
#: reorder a queue's next numbers; a closing carries waiting tickets over (or cancels them).
QUEUE_CHANGES = frozenset({"transferred", "cancelled", "requeued", "priority", "carried_over"})
#: ``ticket_changed`` events that end a leg at a counter: a sample of its pace, the counter free.
PACE_CHANGES = frozenset({"finished", "no_show", "transferred"})


class Connections:
    """How many sockets are connected now, for /health and the reconnect test."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def add(self, delta: int) -> None:
        with self._lock:
            self._count += delta

    @property
    def count(self) -> int:
        return self._count


class LiveSessions:
    """Open sockets by the credential they were opened with: a device token or a staff session.

    Keys are the SHA-256 of the token (``Principal.key``), so a session is the
    same key whether the socket came with the bearer token or the cookie.
    """

    def __init__(self, socketio: SocketIO, hub: Hub) -> None:
        self.socketio = socketio
        self.hub = hub
        self._lock = threading.Lock()
        self._by_sid: dict[str, tuple[str, bool, str | None]] = {}  # sid -> (key, is_device, username)
        self._by_key: dict[str, set[str]] = {}
        self._by_user: dict[str, set[str]] = {}

    def add(self, sid: str, principal: Principal) -> None:
        if not principal.key:
            return
        username = None if principal.is_device else principal.name
        with self._lock:
            self._by_sid[sid] = (principal.key, principal.is_device, username)
            self._by_key.setdefault(principal.key, set()).add(sid)
            if username is not None:
                self._by_user.setdefault(username, set()).add(sid)

    def remove(self, sid: str) -> None:
        with self._lock:
            entry = self._by_sid.pop(sid, None)
            if entry is None:
                return
            key, _is_device, username = entry
            _discard(self._by_key, key, sid)
            if username is not None:
                _discard(self._by_user, username, sid)

    def sockets(self, key: str) -> int:
        """How many sockets are open with this credential (for tests and the admin's eyes)."""
        with self._lock:
            return len(self._by_key.get(key, ()))

    def drop(self, keys: Iterable[str]) -> int:
        """Disconnect every socket opened with one of ``keys``; how many were dropped."""
        with self._lock:
            sids = [sid for key in set(keys) for sid in self._by_key.get(key, ())]
        return self._disconnect(sids)

    def drop_user(self, username: str) -> int:
        """Disconnect every socket of this user's sessions (disabled: no session may stay)."""
        with self._lock:
            sids = list(self._by_user.get(username, ()))
        return self._disconnect(sids)

    def recheck(self) -> int:
        """Ask the store which open sockets' credentials still hold; drop the others."""
        with self._lock:
            entries = list(self._by_sid.values())
        if not entries:
            return 0
        devices = [key for key, is_device, _ in entries if is_device]
        sessions = [key for key, is_device, _ in entries if not is_device]
        alive = self.hub.accounts.live_keys(devices, sessions, self.hub.clock())
        return self.drop({key for key, _, _ in entries} - alive)

    def _disconnect(self, sids: list[str]) -> int:
        # Outside the lock: the disconnect handler calls remove().
        for sid in sids:
            try:
                self.socketio.server.disconnect(sid, namespace="/")
            except Exception:  # one broken socket must not keep the others connected
                log.exception("could not drop a socket")
            self.remove(sid)
        return len(sids)

    def watch(self) -> None:
        """Notice changes made by other processes (the CLI) through the audit log, until the hub closes."""
        last = self._newest_audit_id()
        checked = time.monotonic()
        while True:
            self.socketio.sleep(WATCH_SECONDS)
            if self.hub.closed:
                return
            try:
                newest = self._newest_audit_id()
                if newest != last or time.monotonic() - checked >= RECHECK_SECONDS:
                    last = newest
                    checked = time.monotonic()
                    self.recheck()
                    self._settings_saved_elsewhere()
            except Exception:  # a database hiccup: try again next round
                log.exception("re-checking the open sockets' credentials failed")

    def _settings_saved_elsewhere(self) -> None:
        """Apply a ``settings import`` made beside the running hub (it wrote the audit log too)."""
        try:
            self.hub.settings.refresh(self.hub)
        except ConfigError as exc:  # saved sections that no longer fit the file: said once, in one line
            log.error("settings: %s", exc)

    def _newest_audit_id(self) -> int:
        newest = self.hub.audit.recent(1)
        return newest[0].id if newest else 0


def _discard(index: dict[str, set[str]], key: str, sid: str) -> None:
    sids = index.get(key)
    if sids is not None:
        sids.discard(sid)
        if not sids:
            del index[key]


def attach(socketio: SocketIO, hub: Hub, devices: DeviceSockets) -> tuple[Connections, LiveSessions]:
    """Start the broadcaster and the credential watcher, and register the connect handlers."""
    connections = Connections()
    to_room = fanout.of(socketio.server).emit
    hub.core.bus.subscribe(Broadcaster(socketio, hub, connections, to_room).enqueue)
    live = LiveSessions(socketio, hub)
    socketio.start_background_task(live.watch)
    feed = SupervisorFeed(
        hub,
        lambda event, payload, room: socketio.emit(event, payload, to=room, ignore_queue=True),
        socketio.start_background_task,
        socketio.sleep,
        SUPERVISORS,
    )
    hub.core.bus.subscribe(feed.poke)
    hub.devices.subscribe(feed.poke)
    _poke_on_case_changes(hub, feed.poke)
    sockets = Sockets(socketio, hub, devices, connections, live, feed)
    socketio.on("connect")(sockets.connect)
    socketio.on("disconnect")(sockets.disconnect)
    socketio.on("snapshot")(sockets.resync)
    socketio.on(SUPERVISOR)(sockets.supervise_again)
    hub.settings.on_applied(sockets.move_voices)
    return connections, live


class Sockets:
    """Who a new socket is, and the rooms it joins: a visitor's phone, a device, a console.

    Devices (agents, kiosk and screen pages) are handed to :class:`DeviceSockets`
    once authenticated; what they say and hear is the devices package's business.
    """

    def __init__(
        self,
        socketio: SocketIO,
        hub: Hub,
        devices: DeviceSockets,
        connections: Connections,
        live: LiveSessions,
        feed: SupervisorFeed,
    ) -> None:
        self.socketio = socketio
        self.hub = hub
        self.devices = devices
        self.connections = connections
        self.live = live
        self.feed = feed

    def connect(self, auth: Any = None) -> None:
        """Admit the socket (or refuse it with the reason), join its rooms, send the snapshot."""
        auth = auth if isinstance(auth, dict) else {}
        ticket_id = auth.get("ticket")
        if isinstance(ticket_id, str) and ticket_id:
            self._visitor(ticket_id)
            return
        principal = self._principal(auth.get("token"))
        if principal is None or principal.role == "booking":  # a booking system has no business in the hall
            raise ConnectionRefusedError("unauthorized")
        if auth.get("supervise") and principal.role not in SUPERVISING:
            raise ConnectionRefusedError("forbidden")
        sid: str = request.sid  # type: ignore[attr-defined]
        self.connections.add(1)
        self.live.add(sid, principal)
        if principal.role == "agent":
            self.devices.agent_connected(sid, principal.name)
            return
        if auth.get("supervise"):
            self._supervise(sid, principal)
            return
        self._join_hall(sid, principal)
        self.socketio.emit("snapshot", self.hub.snapshots.get(), to=sid, ignore_queue=True)

    def resync(self, *_args: Any) -> None:
        """A screen that missed a version asks for the snapshot again (``snapshot`` from the client).

        Only sockets of the hall room may: a visitor's phone sees its own ticket
        and an agent nothing of the queue. The answer is the cached snapshot,
        so a thousand screens asking at once cost one build.
        """
        sid: str = request.sid  # type: ignore[attr-defined]
        if HALL in self.socketio.server.rooms(sid, namespace="/"):
            self.socketio.emit("snapshot", self.hub.snapshots.get(), to=sid, ignore_queue=True)

    def supervise_again(self, *_args: Any) -> None:
        """A supervisor's page asks for the view again (its minutely refresh: the rota's hours move on).

        Only sockets of the supervisors' room get an answer."""
        sid: str = request.sid  # type: ignore[attr-defined]
        if self.feed.holds(sid):
            self.feed.send_to(sid)

    def disconnect(self, *_args: Any) -> None:
        sid: str = request.sid  # type: ignore[attr-defined]
        self.connections.add(-1)
        self.live.remove(sid)
        self.feed.leave(sid)
        self.devices.disconnected(sid)

    def move_voices(self, _config: Any = None) -> int:
        """After a settings save: every connected screen page into the voice room its zone has now.

        A screen whose zone changed (or whose zone was removed, or given to it) hears its new
        zone's calls at once, without a reconnect. How many sockets moved.
        """
        server = self.socketio.server
        moved = 0
        for sid, name in self.devices.pages().items():
            room = self.hub.voice.room_for(name)
            try:
                rooms = server.rooms(sid, namespace="/")
                if room in rooms:
                    continue
                for old in rooms:
                    if old == VOICE_HALL or old.startswith(VOICE_HALL + ":"):
                        server.leave_room(sid, old, namespace="/")
                server.enter_room(sid, room, namespace="/")
                moved += 1
            except Exception:  # a socket gone meanwhile: its disconnect handler cleans up
                log.exception("could not move a screen to its voice room")
        return moved

    def _visitor(self, ticket_id: str) -> None:
        """A visitor's phone hears about its own ticket only."""
        try:
            self.hub.core.ticket(ticket_id)
        except UnknownTicket:
            raise ConnectionRefusedError("unknown_ticket") from None
        join_room(ticket_room(ticket_id))
        join_room(VISITORS)
        self.connections.add(1)

    def _supervise(self, sid: str, principal: Principal) -> None:
        """A supervisor's page (``auth.supervise``): the supervisors' room only, not the hall's deltas;
        its first view now. Admins and supervisors only (refused above)."""
        join_room(SUPERVISORS)
        self.feed.join(sid)

    def _join_hall(self, sid: str, principal: Principal) -> None:
        join_room(HALL)
        join_room(self.hub.voice.room_for(principal.name if principal.is_device else None))  # zones
        if principal.is_device:
            self.devices.page_connected(sid, principal.name, principal.role)
        if principal.role in ("staff", "admin", "supervisor"):
            join_room(STAFF)
        if principal.counter is not None:
            join_room(counter_room(principal.counter))

    def _principal(self, token: Any) -> Principal | None:
        """The socket's caller: ``auth.token`` (devices, staff), else the staff session cookie."""
        now = self.hub.clock()
        if isinstance(token, str) and token:
            return self.hub.accounts.resolve(token, now)
        cookie = session.get(SESSION_KEY)
        return self.hub.accounts.resolve_cookie(cookie, now) if isinstance(cookie, str) and cookie else None


def _poke_on_case_changes(hub: Hub, poke: Callable[..., None]) -> None:
    """A case opened, moved on or closed, or a step falling overdue (the case watch's round at day
    end), changes the supervisor's case alert: the feed reads again too, after the staff room is told
    as before."""
    tell = hub.cases.on_change

    def told(payload: dict[str, Any]) -> None:
        if tell is not None:
            tell(payload)
        poke()

    hub.cases.on_change = told
    watch = hub.case_watch
    tell_watch = watch.tell_staff

    def came_due(payload: dict[str, Any]) -> None:
        tell_watch(payload)
        poke()

    watch.tell_staff = came_due
