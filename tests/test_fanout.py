"""The screens' fan-out (server/fanout.py): one frame built per message, written to each screen at once.

The frame built by the fan-out is checked against what python-engineio and
wsproto would write for the same message, so an upgrade of either that
changes the bytes turns the fast path off (and fails here). Against a real
hub, screens are raw TCP sockets that do the WebSocket handshake and read the
frames' bytes themselves: a call reaches them as exactly one unmasked text
frame, ``42["ticket_called",{…}]``, and the hub's log says the frames were
written at once. A screen that stops reading (its socket's buffers full) gets
everything later, whole and in order, the snapshot it asked for between the
hall's messages included.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import struct
from typing import Any

import pytest
import requests
import socketio
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import TextMessage

from server import fanout
from tests.support import HubProcess, bearer, issue, login, masked_frame

WAIT = 20
#: RFC 6455's opcode of a text frame.
TEXT = 0x1


def test_the_frames_built_once_are_the_librarys_own() -> None:
    """The installed python-socketio, python-engineio and wsproto agree with the fan-out byte for byte."""
    assert fanout.self_check(socketio.Server(async_mode="threading")) is None
    for size in (0, 1, 125, 126, 127, 65_535, 65_536, 70_000):
        text = "号" * (size // 3) + "x" * (size % 3)
        assert len(text.encode()) == size
        assert fanout.text_frame(text.encode()) == Connection(ConnectionType.SERVER).send(
            TextMessage(data=text)
        )


def test_a_clients_masked_frame_is_read_by_the_library_at_every_length() -> None:
    """``masked_frame`` (this test's clients and bench/call_fanout.py) as wsproto's server reads it."""
    for size in (0, 1, 125, 126, 65_535, 65_536):
        text = "x" * size
        server = Connection(ConnectionType.SERVER)
        frame = masked_frame(TEXT, text.encode())
        assert frame[1] & 0x80, "a client's frame is masked"
        server.receive_data(frame)
        received = [e for e in server.events() if isinstance(e, TextMessage)]
        assert "".join(e.data for e in received) == text and received[-1].message_finished


def test_a_fanout_outside_gevent_goes_the_librarys_way() -> None:
    """A server on threads (the test client's) has no direct writes: python-socketio sends."""
    assert fanout.install(socketio.Server(async_mode="threading")).enabled is False


def test_a_frame_partly_written_has_its_rest_first_in_the_queue() -> None:
    """On a real TCP connection whose buffers fill: the rest goes before anything later, nothing lost.

    The hub's side is a real :class:`InlineServer` (its handshake answered on the connection) kept on a
    real Engine.IO socket on gevent, as the hub sets them up; the socket's writer is played
    by draining its queue into the connection's ``send``, as engineio's writer does.
    """
    import engineio
    import gevent
    import gevent.socket
    from engineio.socket import Socket

    from server.inline_websocket import InlineServer

    listening = gevent.socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(1)
    screen_end = gevent.socket.create_connection(listening.getsockname())
    hub_end, _ = listening.accept()
    listening.close()
    request = {  # the WSGI environ of a screen's upgrade request, as gevent's server makes it
        "werkzeug.socket": hub_end,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
    }
    connection = InlineServer(request)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += screen_end.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101")
    eio_socket = Socket(engineio.Server(async_mode="gevent"), "sid")
    eio_socket.connected = eio_socket.upgraded = True
    setattr(eio_socket, fanout.DIRECT, connection)

    frames = [fanout.text_frame(f"42[{n}]".encode() * 20_000) for n in range(100)]  # 140 kB each
    taken = []
    for frame in frames:
        taken.append(fanout.write_now(eio_socket, frame))
        if eio_socket.queue.qsize():
            break
    assert len(taken) < len(frames), "the buffers never filled"
    assert taken[-1], "the last frame went partly (TCP takes what fits)"
    assert isinstance(eio_socket.queue.queue[0], fanout.RawPacket)
    rest = len(eio_socket.queue.queue[0].encode())
    assert 0 < rest < len(frames[len(taken) - 1])
    assert not fanout.write_now(eio_socket, frames[len(taken)]), "nothing may go past a queued rest"
    cut = len(taken)

    def writer() -> None:  # engineio's writer: the queue, then what the fan-out could not write
        for packet in eio_socket.poll():
            connection.send(packet.encode())
        for frame in frames[cut:]:
            connection.send(fanout.RawFrame(frame))

    writing = gevent.spawn(writer)
    expected = b"".join(frames)
    received = bytearray(answer.split(b"\r\n\r\n", 1)[1])
    while len(received) < len(expected):
        received += screen_end.recv(1 << 16)
    writing.get(timeout=WAIT)
    assert bytes(received) == expected
    hub_end.close()
    screen_end.close()


class RawScreen:
    """A lobby screen that speaks WebSocket over a plain socket and reads every frame's bytes itself."""

    def __init__(self, hub: HubProcess, token: str, receive_buffer: int | None = None) -> None:
        self.sock = socket.socket()
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(WAIT)
        self.sock.connect(("127.0.0.1", hub.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{hub.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        assert self.text().startswith(b"0{")  # Engine.IO's open
        self.send_text(b"40" + json.dumps({"token": token}).encode())
        # The connect handler's snapshot comes before Socket.IO's connect (python-socketio sends that
        # when the handler has returned): kept for event().
        self.early: list[bytes] = []
        while not (payload := self.text()).startswith(b"40{"):
            self.early.append(payload)

    def _more(self) -> None:
        data = self.sock.recv(65536)
        assert data, "the hub closed the connection"
        self.buffer += data

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._more()
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken

    def frame(self) -> tuple[bytes, bytes]:
        """The next frame: its header's bytes and its payload (a server's frames are never masked)."""
        header = self._take(2)
        size = header[1] & 0x7F
        assert header[1] & 0x80 == 0, "a server's frame must not be masked"
        if size == 126:
            header += self._take(2)
            size = struct.unpack("!H", header[2:])[0]
        elif size == 127:
            header += self._take(8)
            size = struct.unpack("!Q", header[2:])[0]
        return header, self._take(size)

    def text(self) -> bytes:
        """The next text message, answering Engine.IO's pings on the way (one frame each: no fragments)."""
        while True:
            header, payload = self.frame()
            assert header[0] == 0x81, f"a final text frame, not {header[0]:#x}"
            if payload == b"2":
                self.send_text(b"3")
                continue
            return payload

    def event(self) -> tuple[str, Any]:
        payload = self.early.pop(0) if self.early else self.text()
        assert payload.startswith(b"42["), payload[:80]
        name, data = json.loads(payload[2:])
        return name, data

    def send_text(self, text: bytes) -> None:
        self.sock.sendall(masked_frame(TEXT, text))

    def close(self) -> None:
        self.sock.close()


def written(hub: HubProcess) -> tuple[int, int]:
    """The hub's count of frames written at once and packets queued, from its log line at stop."""
    found = re.search(r"fan-out: (\d+) frames written at once, (\d+) through queues", hub.log())
    assert found, hub.log()[-2000:]
    return int(found.group(1)), int(found.group(2))


@pytest.mark.slow
def test_a_call_reaches_each_screen_as_one_text_frame_written_at_once(hub: HubProcess, site: Any) -> None:
    clerk = login(hub.url, "clerk1", 1)
    ticket = issue(hub, site.creds.kiosk, "PAY")
    screens = [RawScreen(hub, site.creds.display) for _ in range(3)]
    try:
        versions = []
        for screen in screens:
            name, snapshot = screen.event()
            assert name == "snapshot"
            versions.append(snapshot["v"])
        answer = requests.post(f"{hub.url}/api/v1/counters/1/call-next", headers=bearer(clerk), timeout=WAIT)
        assert answer.status_code == 200, answer.text
        for screen, version in zip(screens, versions, strict=True):
            header, payload = screen.frame()
            assert header[0] == 0x81  # FIN, text: the whole message in one frame
            assert payload.startswith(b'42["ticket_called",')
            name, called = json.loads(payload[2:])
            assert called["ticket"]["id"] == ticket["id"] and called["v"] == version + 1
    finally:
        for screen in screens:
            screen.close()
    hub.stop()
    direct, _queued = written(hub)
    assert direct >= len(screens), "the fast path was not taken: see the hub's log for why"


@pytest.mark.slow
def test_a_screen_that_stops_reading_gets_everything_later_in_order(hub: HubProcess, site: Any) -> None:
    """Its socket's buffers full, the hall's messages go through its queue, after what was there.

    The screen asks for the snapshot thousands of times without reading: more than the
    kernel's buffers hold, so its writer waits in the middle of a write while tickets are
    issued. It then reads every snapshot and every ticket, in order, no version skipped.
    """
    slow = RawScreen(hub, site.creds.display, receive_buffer=4096)
    quick = RawScreen(hub, site.creds.display)
    try:
        name, snapshot = slow.event()
        assert name == "snapshot"
        first = snapshot["v"]
        assert quick.event()[0] == "snapshot"
        asked = 8_000_000 // len(json.dumps(snapshot, ensure_ascii=False).encode()) + 1  # > 4 MiB wmem
        ask = masked_frame(TEXT, b'42["snapshot"]')
        slow.sock.sendall(ask * asked)
        newest = first
        for _ in range(20):  # the quick screen hears each; the slow one reads nothing meanwhile
            issue(hub, site.creds.kiosk, "PAY")
            name, data = quick.event()
            assert name == "ticket_issued"
            newest = data["v"]
        seen, snapshots = first, 0
        while seen < newest or snapshots < asked:
            name, data = slow.event()
            if name == "snapshot":
                snapshots += 1
                assert data["v"] >= seen
                seen = data["v"]
                continue
            assert name == "ticket_issued"
            assert data.get("from", data["v"]) == seen + 1, "a version skipped or repeated"
            seen = data["v"]
        assert (snapshots, seen) == (asked, newest)
    finally:
        slow.close()
        quick.close()
    hub.stop()
    direct, queued = written(hub)
    assert direct >= 20 and queued > 0, (direct, queued)
