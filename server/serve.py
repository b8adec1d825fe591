"""Serving a hub on gevent: the start-up checks, the server, and a clean stop on SIGTERM or Ctrl-C.

Both ``run`` and ``demo`` serve through :func:`serve`; the demo hands in its
own app builder, so this module knows nothing of the demo (and the demo can
import it without a circle through the CLI).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import logging
import signal
import socket
from collections.abc import Callable
from typing import Any

from flask import Flask

from . import fanout
from .app import create_app
from .config import SiteConfig
from .paths import var_dir
from .startup import HubLock, check_port, check_store, check_var_dir, hold_database, store_errors

log = logging.getLogger(__name__)

#: Builds the hub's app from the site config (``create_app``, or the demo's).
AppBuilder = Callable[[SiteConfig], Flask]


def serve(
    config: SiteConfig,
    host: str,
    port: int,
    banner: str = "",
    build: AppBuilder = create_app,
    lock: HubLock | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT, then stop the hub in order (``hub.close()``) and return 0.

    ``lock``: the database, already held by the caller (the demo takes it
    before making its logins); else it is taken here.

    The order of the checks matters: the var dir and the database lock come
    first (a second hub is named as such, not as "port in use"), then the
    port (before any device is opened), then the store, which must take a
    real write.
    """
    # gevent records where each greenlet was spawned (its stack, as a chain of frames): about
    # 5 kB per connected screen for a debugging aid the hub never shows.
    import gevent

    gevent.config.track_greenlet_tree = False
    url = config.hub.database_url
    check_var_dir(var_dir())
    lock = lock or hold_database(url, config.cluster.name if config.cluster else None)
    check_port(host, port)
    with store_errors(url):
        app = build(config)
        hub = app.extensions["qcall"]
        try:
            hub.store_health.guard = lock.keep
            check_store(hub.store_health, url)
        except BaseException:
            hub.close()
            raise
    socketio = app.extensions["socketio"]
    # What the imports built lives as long as the hub; a full collection walking it
    # (~100k objects, tens of ms) stalls every request and screen. Hide it from the GC.
    gc.collect()
    gc.freeze()
    stop_on_signals(socketio)
    print(banner or f"qcall hub for {config.site.name_en} on http://{host}:{port}/", flush=True)
    try:
        socketio.run(app, host=host, port=port, log_output=False, handler_class=no_delay_handler())
    finally:
        log.info("stopping: the server no longer takes requests")
        sent = fanout.of(socketio.server)
        log.info("screens' fan-out: %d frames written at once, %d through queues", sent.direct, sent.queued)
        hub.close()
        lock.release()
    log.info("stopped")
    return 0


def stop_on_signals(socketio: Any) -> None:
    """SIGTERM (systemd, docker stop) and SIGINT (Ctrl-C) end ``serve_forever``; ``serve`` closes the hub.

    gevent runs the handler as a greenlet on its loop, so stopping the server
    there is safe; a second signal while closing is ignored rather than
    cutting a print job in half.
    """
    import gevent

    stopping = False

    def stop() -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log.info("stopping: signal received")
        socketio.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop)


#: Bytes of the buffer that reads a request's line and headers. A WebSocket keeps its
#: handler (and this buffer) for life; gevent's default, 8 KiB, is 8 MB at 1,000 screens.
REQUEST_BUFFER = 2048


def no_delay_handler() -> type:
    """gevent's WSGI handler with Nagle's algorithm off, closing a finished WebSocket, lean on the
    ticket path (server/lean_wsgi.py).

    pywsgi writes a response's headers and body in two sends, and a screen's
    socket may get events back to back (a burst of tickets, two counters calling);
    with Nagle on, the second send waits for the peer's delayed ACK, 40 ms on
    Linux, on every keep-alive request after the first (see bench/README.md).
    """
    from gevent import pywsgi

    from .lean_wsgi import LeanAnswers

    class NoDelayHandler(LeanAnswers, pywsgi.WSGIHandler):
        def __init__(self, sock: Any, address: Any, server: Any, rfile: Any = None) -> None:
            if rfile is None:
                rfile = sock.makefile("rb", REQUEST_BUFFER)
            super().__init__(sock, address, server, rfile)

        def handle(self) -> None:
            with contextlib.suppress(OSError):  # not a TCP socket
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

        def run_application(self) -> None:
            try:
                super().run_application()
            except OSError as error:
                if error.args:
                    raise
                # python-engineio raises a bare OSError() when the client leaves in the middle
                # of the WebSocket upgrade; pywsgi reads error.args[0] and prints an IndexError
                # traceback. Said as the reset it is, pywsgi lets it go quietly.
                raise ConnectionResetError(errno.ECONNRESET, "the client left during the upgrade") from None
            # A WebSocket owns the connection until it ends: then close it, instead of
            # reading the client's closing frame as the next HTTP request.
            if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                self.close_connection = True

    return NoDelayHandler
