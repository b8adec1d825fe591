"""The Socket.IO adapter: rooms, the snapshot on (re)connect, and the broadcaster.

Every screen gets the whole snapshot when it connects, so a screen that lost
its network draws itself again from nothing. Events leave through one
broadcaster task, in the order the core published them, so a request that
issued a ticket does not wait for a thousand sockets.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from flask import request, session
from flask_socketio import SocketIO, join_room
from socketio.exceptions import ConnectionRefusedError  # the builtin one loses the message

from .api.auth import SESSION_KEY
from .core import events as ev
from .core.errors import UnknownTicket
from .core.events import HallEvent
from .devices import STAFF_ROOM
from .hub import Hub
from .printing import agent_room, device_room
from .store.health import store_failure

log = logging.getLogger(__name__)

HALL_ROOM = "hall"
#: Events a visitor's phone receives about its own ticket.
VISITOR_EVENTS = frozenset({ev.TICKET_CALLED, ev.TICKET_RECALLED, ev.TICKET_CHANGED})


def ticket_room(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def counter_room(number: int) -> str:
    return f"counter:{number}"


class Broadcaster:
    """Sends the core's events to the rooms, one at a time, off the request path."""

    def __init__(self, socketio: SocketIO, hub: Hub) -> None:
        self.socketio = socketio
        self.hub = hub
        self.pending: queue.Queue[HallEvent] = queue.Queue()
        socketio.start_background_task(self._run)

    def enqueue(self, event: HallEvent) -> None:
        self.pending.put(event)

    def _run(self) -> None:
        while True:
            event = self.pending.get()
            try:
                self.send(event)
            except Exception as error:  # one bad event must not silence the screens
                detail = store_failure(error)
                if detail is None:
                    log.exception("broadcast of %s failed", event.name)
                    continue
                # The snapshot could not be read: a store outage, already told by /health; one line.
                log.error("broadcast of %s failed: the store is unavailable (%s)", event.name, detail)
                self.hub.store_health.failed(detail)

    def send(self, event: HallEvent) -> None:
        payload: dict[str, Any] = dict(event.payload)
        ticket = payload.get("ticket")
        if ticket and event.name in VISITOR_EVENTS:
            self.socketio.emit(event.name, payload, to=ticket_room(ticket["id"]))
        payload["queue"] = self.hub.snapshots.get()
        self.socketio.emit(event.name, payload, to=HALL_ROOM)


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


def attach(socketio: SocketIO, hub: Hub) -> Connections:
    """Register the connect handlers and start the broadcaster."""
    hub.core.bus.subscribe(Broadcaster(socketio, hub).enqueue)
    connections = Connections()
    #: Connected device agents, and kiosk and screen pages, by Socket.IO session id.
    agents: dict[str, str] = {}
    devices_online: dict[str, str] = {}

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        ticket_id = auth.get("ticket")
        if isinstance(ticket_id, str) and ticket_id:
            try:
                hub.core.ticket(ticket_id)
            except UnknownTicket:
                raise ConnectionRefusedError("unknown_ticket") from None
            join_room(ticket_room(ticket_id))
            connections.add(1)
            return
        token = auth.get("token") or session.get(SESSION_KEY)
        principal = hub.accounts.resolve(token, hub.clock()) if isinstance(token, str) and token else None
        if principal is None:
            raise ConnectionRefusedError("unauthorized")
        connections.add(1)
        if principal.role == "agent":
            agents[request.sid] = principal.name
            join_room(agent_room(principal.name))
            if hub.printing:
                sid = request.sid
                hub.printing.agent_connected(
                    principal.name, lambda event, data: socketio.emit(event, data, to=sid)
                )
            return
        join_room(HALL_ROOM)
        if principal.is_device:
            join_room(device_room(principal.name))
            devices_online[request.sid] = principal.name
            hub.devices.report(principal.name, "online")  # a kiosk or screen page is up
            if hub.printing:
                for status in hub.printing.printers_of_kiosk(principal.name):
                    socketio.emit("printer_status", status, to=request.sid)
        if principal.role in ("staff", "admin"):
            join_room(STAFF_ROOM)
        if principal.counter is not None:
            join_room(counter_room(principal.counter))
        socketio.emit("snapshot", hub.snapshots.get(), to=request.sid)

    @socketio.on("disconnect")
    def on_disconnect(*_args: Any) -> None:
        connections.add(-1)
        device = devices_online.pop(request.sid, None)
        if device and device not in devices_online.values():
            hub.devices.report(device, "disconnected", "its page is not connected")
        agent = agents.pop(request.sid, None)
        if agent and hub.printing and agent not in agents.values():
            hub.printing.agent_gone(agent)

    @socketio.on("print_status")
    def on_print_status(data: Any) -> None:
        """An agent's word on a print job: ``{"ticket_id", "state", "detail"}``."""
        agent = agents.get(request.sid)
        if agent and hub.printing and isinstance(data, dict) and isinstance(data.get("ticket_id"), str):
            hub.printing.agent_job(
                agent, data["ticket_id"], str(data.get("state")), str(data.get("detail", ""))
            )

    @socketio.on("device_status")
    def on_device_status(data: Any) -> None:
        """An agent's word on one of its printers: ``{"printer", "state", "detail"}``."""
        agent = agents.get(request.sid)
        if agent and hub.printing and isinstance(data, dict) and isinstance(data.get("printer"), str):
            hub.printing.agent_printer(
                agent, data["printer"], str(data.get("state")), str(data.get("detail", ""))
            )

    return connections
