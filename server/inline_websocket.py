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
"""

from __future__ import annotations

from typing import Any

import simple_websocket  # type: ignore[import-untyped]
from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI
from wsproto.utilities import LocalProtocolError


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
        super().__init__(environ, thread_class=_NotStarted, **kwargs)

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
                self.connected = self._handle_events()
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
        self.ws = InlineServer(environ, **self.server_args)
        return self.app(self)


def install(eio_server: Any) -> None:
    """An Engine.IO server on gevent reads each WebSocket in its handler greenlet (this server only)."""
    if eio_server.async_mode == "gevent":
        # engineio picks its WebSocket class from the async driver's table, a module-wide dict:
        # a copy for this server, so other servers in the process (tests) keep the driver's own.
        eio_server._async = {**eio_server._async, "websocket": InlineWebSocketWSGI}  # noqa: SLF001
