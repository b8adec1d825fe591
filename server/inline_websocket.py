"""A screen's WebSocket read by the greenlet that serves it, not by a reader greenlet of its own.

python-engineio runs a WebSocket on gevent through simple-websocket, which
starts a reader thread (a greenlet here) per connection: it loops on
``recv``, feeds wsproto and wakes the connection's handler greenlet, which
itself only ever waits for that wake-up. Two greenlets for one job: the
reader's saved C stack, its Greenlet and frames are ~5 kB a connected screen,
5 MB of the hub's memory at 1,000 screens (issue 10, bench/README.md "Memory").

:class:`InlineServer` is simple-websocket's ``Server`` (the same handshake,
frames, close and ping answers, the same ``send``) whose ``receive`` reads the
socket itself, in the handler greenlet, until a message is whole or the
connection ends. Engine.IO's writer greenlet still sends while the handler
waits in ``recv``: gevent lets one greenlet read a socket while another writes
it, as the reader thread did. :func:`install` makes an Engine.IO server on
gevent use it; other async modes keep their own.

Its ``send`` writes the whole frame (``sendall``; simple-websocket's ``send``
keeps what one ``send`` call took and drops the rest when the socket's buffer
is full, a slow screen's stream then corrupt), says while it writes
(``sending``, so :mod:`server.fanout` does not write between) and sends a
frame's rest that the fan-out queued (:class:`server.fanout.RawFrame`) as it
is. The connection is kept on its Engine.IO socket (``fanout.DIRECT``) for the
fan-out to write to, on plain gevent sockets only.
"""

from __future__ import annotations

from typing import Any

import simple_websocket  # type: ignore[import-untyped]
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from wsproto.events import BytesMessage, TextMessage
from wsproto.utilities import LocalProtocolError

from .fanout import DIRECT, RawFrame


class _NotStarted:
    """The "thread" simple-websocket starts to read the socket: here nothing runs, ``receive`` reads."""

    def __init__(self, target: Any = None, **_: Any) -> None:
        self.name = "InlineServer (no reader)"

    def start(self) -> None:
        """Nothing to start."""

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for."""


class InlineServer(simple_websocket.Server):
    """simple-websocket's server side, its socket read in ``receive`` by the caller's greenlet."""

    def __init__(self, environ: dict[str, Any], **kwargs: Any) -> None:
        kwargs.pop("thread_class", None)
        self.sending = False  # a write is under way (it may wait for the socket): nobody writes between
        super().__init__(environ, thread_class=_NotStarted, **kwargs)

    def send(self, data: Any) -> None:
        """One message (``str``: text, ``bytes``: binary), or a :class:`RawFrame` as it is; all of it."""
        if not self.connected:
            raise simple_websocket.ConnectionClosed(self.close_reason, self.close_message)
        if isinstance(data, RawFrame):
            out = bytes(data)
        elif isinstance(data, bytes):
            out = self.ws.send(BytesMessage(data=data))
        else:
            out = self.ws.send(TextMessage(data=str(data)))
        self.sending = True
        try:
            self.sock.sendall(out)
        finally:
            self.sending = False

    def receive(self, timeout: float | None = None) -> Any:
        """The next message (``str`` or ``bytes``); ``None`` if ``timeout`` passed first.

        Raises ``ConnectionClosed`` when the connection has ended, as simple-websocket does.
        """
        if timeout is not None:
            previous = self.sock.gettimeout()
            self.sock.settimeout(timeout)
        try:
            while self.connected and not self.input_buffer:
                self._read()
        except TimeoutError:
            return None
        finally:
            if timeout is not None and self.connected:
                self.sock.settimeout(previous)
        if self.input_buffer:
            return self.input_buffer.pop(0)
        raise simple_websocket.ConnectionClosed(self.close_reason, self.close_message)

    def _read(self) -> None:
        """One ``recv`` into wsproto, its events handled as simple-websocket's reader handles them."""
        try:
            data = self.sock.recv(self.receive_bytes)
        except TimeoutError:
            raise  # receive()'s own timeout: the connection goes on
        except OSError:
            data = b""
        try:
            if data:
                self.ws.receive_data(data)
                self.sending = True  # its answers (a pong, a close) are written in there
                try:
                    self.connected = self._handle_events()
                finally:
                    self.sending = False
            else:
                self.connected = False  # the client closed the connection
        except (OSError, LocalProtocolError):
            self.connected = False
        if not self.connected:
            self.sock.close()  # as the reader thread did when its loop ended


class InlineWebSocketWSGI(SimpleWebSocketWSGI):
    """python-engineio's WebSocket wrapper for gevent (``engineio.async_drivers.gevent``), on
    :class:`InlineServer`."""

    def __init__(self, handler: Any, server: Any) -> None:
        import gevent.event
        import gevent.selectors

        super().__init__(
            handler,
            server,
            event_class=gevent.event.Event,
            selector_class=gevent.selectors.DefaultSelector,
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        import gevent.socket

        self.ws = InlineServer(environ, **self.server_args)
        # The handler is the Engine.IO socket's bound method: the fan-out finds the connection there.
        # Plain sockets only: a TLS socket's partial writes are not plain bytes counted.
        socket = getattr(self.app, "__self__", None)
        direct = socket is not None and type(self.ws.sock) is gevent.socket.socket
        if direct:
            setattr(socket, DIRECT, self.ws)
        try:
            return self.app(self)
        finally:
            if direct:
                setattr(socket, DIRECT, None)


def install(eio_server: Any) -> None:
    """An Engine.IO server on gevent reads each WebSocket in its handler greenlet (this server only)."""
    if eio_server.async_mode == "gevent":
        # engineio picks its WebSocket class from the async driver's table, a module-wide dict:
        # a copy for this server, so other servers in the process (tests) keep the driver's own.
        eio_server._async = {**eio_server._async, "websocket": InlineWebSocketWSGI}  # noqa: SLF001
