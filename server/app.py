"""The app factory: one Flask app, its Socket.IO server and the hub behind them."""

from __future__ import annotations

import json
import os
import secrets
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

from . import live, security
from .api import errors
from .api.admin import admin
from .api.routes import api
from .config import SiteConfig
from .core.calendar import Clock, utc_now
from .counter_devices import CounterDevices
from .hub import build_hub
from .pages import pages
from .printing import PrintService
from .store.printjobs import PrintJobs
from .voice import VOICE_DEVICE, VoiceService

#: The largest request body the API reads; a ticket request is a few dozen bytes.
MAX_BODY = 16 * 1024


def var_dir() -> Path:
    """Where the hub keeps its local files (SQLite database, secret key)."""
    return Path(os.environ.get("QCALL_VAR_DIR", "var"))


def secret_key() -> str:
    """The session-signing key: from the environment, else made once and kept in var/."""
    if os.environ.get("QCALL_SECRET_KEY"):
        return os.environ["QCALL_SECRET_KEY"]
    path = var_dir() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def create_app(
    config: SiteConfig, clock: Clock = utc_now, async_mode: str | None = None, demo: bool = False
) -> Flask:
    """The hub's app; ``demo`` adds the demo's own pages (``/demo/…``), which a real hall never serves."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(
        SECRET_KEY=secret_key(),
        MAX_CONTENT_LENGTH=MAX_BODY,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.session_interface = SecureWhenHttps()
    hub = build_hub(config, clock)
    app.extensions["qcall"] = hub
    errors.register(app)
    security.register(app)
    app.extensions["qcall_issue_limiter"] = security.IssueLimiter(
        config.hub.ticket_burst, config.hub.tickets_per_minute
    )
    app.register_blueprint(api)
    app.register_blueprint(admin)
    app.register_blueprint(pages)
    if demo:
        from .demo_pages import demo as demo_pages

        app.register_blueprint(demo_pages)
    socketio = SocketIO(app, async_mode=async_mode, json=Utf8Json)
    security.guard_socketio(socketio.server)
    app.wsgi_app = without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]
    if config.hub.trusted_proxies:
        # Outermost, so Socket.IO, the login throttle and the audit log all see the client's
        # address and scheme as the trusted proxies report them.
        proxies = config.hub.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    def publish(event: str, payload: dict[str, Any], room: str) -> None:
        socketio.emit(event, payload, to=room)

    hub.devices.attach(publish)
    hub.printing = PrintService(
        config,
        hub.devices,
        lambda: device_executor(socketio.async_mode),
        var_dir() / "prints",
        jobs=PrintJobs(hub.store.engine),
        clock=hub.clock,
    )
    hub.printing.start(publish)
    hub.counter_devices = CounterDevices(
        config, hub.core, hub.devices, socketio.start_background_task, config.serial.frame_formats
    )
    hub.counter_devices.show_current()
    hub.devices.register(VOICE_DEVICE, "speaker")
    hub.voice = VoiceService(config, hub.core, hub.devices, publish, config.folder)
    app.extensions["qcall_connections"], app.extensions["qcall_live"] = live.attach(socketio, hub)
    return app


class SecureWhenHttps(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over HTTPS.

    Flask's SESSION_COOKIE_SECURE is one fixed value; a hall's hub is reached
    over plain HTTP on the LAN and over HTTPS through a proxy, and the cookie
    must be Secure on the second without breaking the first. Behind a proxy,
    the scheme is HTTPS only when ``[hub] trusted_proxies`` lets ProxyFix
    believe its X-Forwarded-Proto.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def device_executor(async_mode: str) -> Executor:
    """One real thread for one device's blocking I/O (USB, serial, sockets, image rendering).

    Under gevent, a plain thread pool would be patched into greenlets and a
    blocking USB write would stall every screen: gevent's own pool runs a
    native thread and lets the loop wait on it cooperatively. One thread per
    device, always the same: a connection opened on one native thread is
    never used from another.
    """
    if async_mode == "gevent":
        from gevent.threadpool import ThreadPoolExecutor as GeventPool

        return QuietExecutor(GeventPool(1))
    return ThreadPoolExecutor(1, thread_name_prefix="device")


class QuietExecutor:
    """Hands a task's exception back through its future instead of letting gevent print it.

    A printer that is switched off makes every connection attempt fail; that is
    a device state for the admin page, not a traceback in the hub's log.
    """

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> _Outcome:
        def run() -> tuple[bool, Any]:
            try:
                return True, fn(*args, **kwargs)
            except BaseException as exc:
                return False, exc

        return _Outcome(self.pool.submit(run))

    def shutdown(self, wait: bool = True) -> None:
        self.pool.shutdown(wait)


class _Outcome:
    def __init__(self, future: Any) -> None:
        self.future = future

    def result(self, timeout: float | None = None) -> Any:
        ok, value = self.future.result(timeout=timeout)
        if not ok:
            raise value
        return value

    def cancel(self) -> bool:
        return self.future.cancel()


class Utf8Json:
    """The JSON codec of Socket.IO packets, writing Chinese as UTF-8 (3 bytes) not ``\\uXXXX`` (6)."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, **kwargs)

    loads = staticmethod(json.loads)


def without_websocket_compression(wsgi_app: Any) -> Any:
    """Decline permessage-deflate on the Socket.IO WebSocket.

    simple-websocket accepts it whenever a browser offers it, and then zlib
    compresses every event again for every screen (each has its own context).
    At 1,000 screens that tripled the hub's CPU per call and kept ~220 MB of
    zlib state (bench/README.md); an event is a few kB on the hall's LAN.
    """

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return wsgi_app(environ, start_response)

    return app
