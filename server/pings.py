"""One task pings every Engine.IO socket, instead of one sleeping greenlet per socket.

python-engineio keeps each connection alive with a ping every ``ping_interval``
seconds, and waits for it in a greenlet of its own per socket: after each pong
a new greenlet sleeps 25 s, sends the ping and ends. With a thousand lobby
screens that is a thousand greenlets asleep at all times, each with its saved
C stack, its gevent timer and its Greenlet object: about 7.7 kB a screen,
7.7 MB of the hub's memory at 1,000 screens (bench/README.md, "Memory").

:class:`Pinger` does the same job for all sockets of one server: a socket due
for a ping goes at the end of a queue (the interval is the same for every
socket, so the queue stays in time order), and one background task sends the
pings that are due, every :data:`TICK` seconds. What engineio does around the
ping is unchanged: ``last_ping`` is cleared when the pong comes and set when
the ping goes, and engineio's own checks close a socket whose pong is late.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import engineio.socket
from engineio import packet

#: Seconds between looks at the queue: a ping goes out at most this late (the
#: client allows ``ping_timeout``, 20 s, beyond the interval).
TICK = 0.5
#: Where :func:`install` keeps a server's pinger (an attribute of engineio's server object).
ATTRIBUTE = "qcall_pinger"

_original_schedule_ping = engineio.socket.Socket.schedule_ping


class Pinger:
    """The sockets of one Engine.IO server waiting for their next ping, oldest first."""

    def __init__(self, interval: float, clock: Any = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._due: collections.deque[tuple[float, Any]] = collections.deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, socket: Any) -> None:
        """The socket answered (or just connected): its next ping is one interval from now."""
        with self._lock:
            self._due.append((self.clock() + self.interval, socket))

    def due(self) -> list[Any]:
        """Take the sockets whose ping is due now."""
        now = self.clock()
        taken = []
        with self._lock:
            while self._due and self._due[0][0] <= now:
                taken.append(self._due.popleft()[1])
        return taken

    def ping_due(self) -> int:
        """Send the pings that are due, as engineio's per-socket greenlet would have; how many went."""
        sent = 0
        for socket in self.due():
            if socket.closing or socket.closed:
                continue
            socket.last_ping = time.time()
            socket.send(packet.Packet(packet.PING))
            sent += 1
        return sent

    def run(self, sleep: Any) -> None:
        """The background task: runs for the life of the server."""
        while True:
            sleep(TICK)
            self.ping_due()


def schedule_ping(socket: Any) -> None:
    """``engineio.socket.Socket.schedule_ping``, queued on the server's pinger when it has one."""
    pinger = getattr(socket.server, ATTRIBUTE, None)
    if pinger is None:
        _original_schedule_ping(socket)
        return
    # As engineio: only after the previous ping's cycle completed (the pong came).
    if socket.last_ping:
        socket.last_ping = None
        pinger.schedule(socket)


def install(eio_server: Any) -> Pinger:
    """Give ``eio_server`` (an ``engineio.Server``) one pinger task; its sockets stop spawning their own.

    engineio has no setting for this, so its sockets' ``schedule_ping`` is
    replaced, once, for the process; a server without a pinger keeps
    engineio's own way (the replacement hands it back).
    """
    pinger = Pinger(float(eio_server.ping_interval))
    setattr(eio_server, ATTRIBUTE, pinger)
    engineio.socket.Socket.schedule_ping = schedule_ping
    eio_server.start_background_task(pinger.run, eio_server.sleep)
    return pinger
