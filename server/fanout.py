"""One hall message to a room of screens: encoded and framed once, written to each socket at once.

python-socketio sends a room's message by handing the same Engine.IO packet
to every socket's queue; each socket's writer greenlet then wakes, encodes
the packet again, builds the WebSocket frame with wsproto and writes it. At
1,000 lobby screens that is a thousand queue hand-overs, greenlet switches,
encodes and frame builds per call, most of the hub's 56 µs per screen
(bench/README.md, "call_fanout.py").

:func:`emit` builds the text (``42["event",{…}]``) and its WebSocket frame
once, and for each socket of the room whose queue is empty and whose
writer is not in the middle of a write, writes the frame straight to the
socket without waiting (one ``send`` per screen, no switch). Where that
cannot be done — a socket still on long-polling, or upgrading, one with
packets queued or a write in progress (order per socket is kept), a send
that would block — the packet goes through the socket's own queue, as
python-socketio would send it; a frame only partly written has its rest
queued before anything else. Pings, closing, late pongs and rooms stay
python-engineio's and python-socketio's.

It relies on internals of the pinned python-socketio 5.18 / python-engineio
4.15 (requirements.txt): the manager's ``rooms`` and ``get_participants``,
an Engine.IO socket's ``queue``, ``upgraded``, ``upgrading``, ``closing``
and ``check_ping_timeout``. :func:`install` checks that they are there and
that the frame built here is byte for byte what the library's own path
writes; if not, the hub logs it once and every message goes the library's
way (tests/test_fanout.py fails on it).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import Any

from engineio import packet as eio_packet
from socketio import packet as sio_packet

log = logging.getLogger(__name__)

#: Where :func:`install` keeps a server's :class:`Fanout` (an attribute of python-socketio's server).
ATTRIBUTE = "qcall_fanout"
#: Where a WebSocket connection that may be written to directly is kept on its Engine.IO socket.
DIRECT = "qcall_direct"
NAMESPACE = "/"


class RawFrame(bytes):
    """Bytes already framed for the WebSocket: the rest of a frame only partly written."""


class RawPacket(eio_packet.Packet):
    """An Engine.IO queue item that carries a frame's rest; the writer sends it unchanged."""

    def __init__(self, rest: bytes) -> None:
        super().__init__(eio_packet.NOOP)
        self.rest = RawFrame(rest)

    def encode(self, b64: bool = False) -> RawFrame:
        return self.rest


def text_frame(text: bytes) -> bytes:
    """A final, unmasked WebSocket text frame (RFC 6455 §5.2), as a server sends it."""
    size = len(text)
    if size < 126:
        return bytes((0x81, size)) + text
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + text
    return struct.pack("!BBQ", 0x81, 127, size) + text


@dataclass
class Fanout:
    """The fan-out of one python-socketio server, and how its writes went (logged when the hub stops)."""

    server: Any
    enabled: bool = True
    direct: int = 0  # frames written straight to a socket
    queued: int = 0  # packets handed to a socket's queue (not writable at once, or not a WebSocket)

    def emit(self, event: str, data: Any, room: str) -> None:
        """``event`` with ``data`` to this process's sockets in ``room`` (``ignore_queue``)."""
        server = self.server
        if not self.enabled:
            server.emit(event, data, to=room, namespace=NAMESPACE, ignore_queue=True)
            return
        manager = server.manager
        if NAMESPACE not in manager.rooms:
            return
        encoded = server.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=[event, data]).encode()
        if not isinstance(encoded, str):  # binary attachments: several packets, the library's way
            server.emit(event, data, to=room, namespace=NAMESPACE, ignore_queue=True)
            return
        message = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame = text_frame(message.encode().encode())
        sockets = server.eio.sockets
        for _sid, eio_sid in manager.get_participants(NAMESPACE, room):
            socket = sockets.get(eio_sid)
            if socket is None or socket.closed:
                continue  # gone meanwhile: nobody to write to (python-socketio would skip or raise)
            if write_now(socket, frame):
                self.direct += 1
            else:
                socket.send(message)
                self.queued += 1


def write_now(socket: Any, frame: bytes) -> bool:
    """Write ``frame`` to the Engine.IO ``socket``'s WebSocket if nothing is before it; whether it was.

    True also when the socket turned out closed (a late pong: engineio closes
    it and sends nothing, as its own ``send`` does). A partial write queues
    the frame's rest first in line, so the writer finishes it before anything
    else.
    """
    connection = getattr(socket, DIRECT, None)
    if (
        connection is None
        or connection.sending
        or not connection.connected
        or not socket.upgraded
        or socket.upgrading
        or socket.closing
        or socket.queue.qsize()
    ):
        return False
    if not socket.check_ping_timeout():
        return True
    try:
        sent = connection.sock.send(frame, 0, 0.0)  # gevent: timeout 0 raises instead of waiting
    except OSError:  # would block (BlockingIOError), or broken: the writer's path deals with it
        return False
    if sent < len(frame):
        socket.queue.put(RawPacket(frame[sent:]))
    return True


def install(server: Any) -> Fanout:
    """Keep a :class:`Fanout` for python-socketio's ``server``; direct writes only where they are sound."""
    fanout = Fanout(server, enabled=server.eio.async_mode == "gevent")
    if fanout.enabled:
        problem = self_check(server)
        if problem:
            log.error("screens' fan-out: written through each socket's queue (%s)", problem)
            fanout.enabled = False
    setattr(server, ATTRIBUTE, fanout)
    return fanout


def of(server: Any) -> Fanout:
    """The server's fan-out (installing one if the app was built without it: tests' own servers)."""
    fanout = getattr(server, ATTRIBUTE, None)
    return fanout if fanout is not None else install(server)


def self_check(server: Any) -> str | None:
    """What this module relies on, checked against the installed python-socketio and python-engineio.

    ``None`` when the frame built here equals what the library's path writes
    (its packet encoded by the socket's writer, framed by wsproto as
    simple-websocket frames it) and the internals read here exist; else what differs.
    """
    import engineio.socket
    from wsproto import ConnectionType
    from wsproto.connection import Connection
    from wsproto.events import TextMessage

    for name in ("check_ping_timeout", "_websocket_handler"):
        if not hasattr(engineio.socket.Socket, name):
            return f"engineio.socket.Socket has no {name}"
    probe = engineio.socket.Socket(server.eio, "fanout-check")  # a socket never connected: its fields
    for name in ("queue", "upgraded", "upgrading", "closing", "closed"):
        if not hasattr(probe, name):
            return f"an Engine.IO socket has no {name}"
    if not hasattr(probe.queue, "qsize") or not hasattr(server.eio, "sockets"):
        return "an Engine.IO socket's queue has no qsize, or the server no sockets"
    if not hasattr(server.manager, "get_participants") or not hasattr(server.manager, "rooms"):
        return "python-socketio's manager has no get_participants or rooms"
    for text in ("", "x" * 125, "叫号" * 60, "y" * 70_000):
        data = ["ticket_called", {"ticket": {"number": text}}]
        encoded = server.packet_class(sio_packet.EVENT, namespace=NAMESPACE, data=data).encode()
        library = eio_packet.Packet(eio_packet.MESSAGE, encoded).encode()
        theirs = Connection(ConnectionType.SERVER).send(TextMessage(data=library))
        ours = text_frame(eio_packet.Packet(eio_packet.MESSAGE, encoded).encode().encode())
        if ours != theirs:
            return f"the frame for a {len(library)}-character message differs from wsproto's"
    return None
