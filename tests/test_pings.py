"""server/pings.py: one task pings every socket, as engineio's per-socket greenlet did.

The pinger runs against fake sockets and a clock moved by hand: what matters is
when each socket is pinged and what engineio's own fields say around it.
"""

from __future__ import annotations

from typing import Any

import engineio.socket
from engineio import packet

from server import pings


class FakeServer:
    ping_interval = 25


class FakeSocket:
    """What the pinger touches of an engineio socket: its server, flags, last_ping and send()."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.closing = False
        self.closed = False
        self.last_ping: float | None = 1.0  # engineio sets it at connect
        self.sent: list[Any] = []

    def send(self, pkt: Any) -> None:
        self.sent.append(pkt)


def test_sockets_are_pinged_one_interval_after_their_pong_in_order() -> None:
    now = [100.0]
    pinger = pings.Pinger(25, clock=lambda: now[0])
    server = FakeServer()
    setattr(server, pings.ATTRIBUTE, pinger)
    first, second, gone = FakeSocket(server), FakeSocket(server), FakeSocket(server)

    pings.schedule_ping(first)  # at connect
    now[0] += 10
    pings.schedule_ping(second)
    pings.schedule_ping(gone)
    gone.closed = True
    assert (first.last_ping, second.last_ping) == (None, None)  # as engineio: the cycle has begun
    pings.schedule_ping(first)  # a second call in the same cycle is ignored, as engineio does
    assert len(pinger) == 3

    now[0] += 14.9
    assert pinger.ping_due() == 0
    now[0] += 0.2  # 25 s after the first
    assert pinger.ping_due() == 1
    assert [p.packet_type for p in first.sent] == [packet.PING] and first.last_ping is not None
    assert second.sent == []
    now[0] += 10
    assert pinger.ping_due() == 1  # the second; the closed one is dropped without a ping
    assert [p.packet_type for p in second.sent] == [packet.PING] and gone.sent == []
    assert len(pinger) == 0


def test_a_server_without_a_pinger_keeps_engineios_own_way(monkeypatch: Any) -> None:
    spawned: list[Any] = []

    class PlainServer(FakeServer):
        def create_queue(self) -> list[Any]:
            return []

        def start_background_task(self, target: Any, *args: Any) -> None:
            spawned.append(target)

    socket = engineio.socket.Socket(PlainServer(), "sid")
    monkeypatch.setattr(engineio.socket.Socket, "schedule_ping", pings.schedule_ping)
    socket.schedule_ping()
    assert len(spawned) == 1  # engineio's own ping greenlet, as before
