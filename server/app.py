"""The app factory: one Flask app, its Socket.IO server and the hub behind them."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask.wrappers import Request, Response
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

from . import fanout, inline_websocket, lean_imports, live, pings, security
from .api import refusals
from .api.admin import admin
from .api.appointments import appointments_api
from .api.cases import cases_api
from .api.complaints import complaints_api
from .api.hours import hours_api
from .api.notices import notices_admin, notices_api
from .api.pairing import pairing_api
from .api.phone import phone_api
from .api.reports import reports_api
from .api.routes import api
from .api.satisfaction import satisfaction_api
from .api.screen import screen_api
from .api.settings import settings_api
from .api.staff import staff_api
from .api.stats import stats_api
from .api.supervisor import supervisor_api
from .api.targets import targets_api
from .bootstrap import bootstrap
from .config import SiteConfig
from .core.calendar import Clock, utc_now
from .devices import agents
from .devices.printing import TransportFactory, open_transport
from .devices.push import SocketPush
from .hall_pages import pages
from .paths import var_dir

#: The largest request body the API reads; a ticket request is a few dozen bytes.
MAX_BODY = 16 * 1024


def secret_key() -> str:
    """The session-signing key: from the environment, else made once and kept in the var dir."""
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
    config: SiteConfig,
    clock: Clock = utc_now,
    async_mode: str | None = None,
    printer_transport: TransportFactory = open_transport,
) -> Flask:
    """The hub's app with every device on; the demo adds its own blueprint to what this returns.

    The Socket.IO server comes first because the hub's services publish
    through it; the hub (``app.extensions["qcall"]``) is built whole by
    :func:`~server.bootstrap.bootstrap` and stopped with ``hub.close()``.
    """
    app = HubApp(__name__, static_folder="static", static_url_path="/static")
    app.config.update(
        SECRET_KEY=secret_key(),
        MAX_CONTENT_LENGTH=MAX_BODY,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.session_interface = SecureWhenHttps()
    refusals.register(app)
    security.register(app)
    app.extensions["qcall_issue_limiter"] = security.IssueLimiter(
        config.hub.ticket_burst, config.hub.tickets_per_minute
    )
    app.register_blueprint(api)
    app.register_blueprint(admin)
    app.register_blueprint(appointments_api)
    app.register_blueprint(hours_api)
    app.register_blueprint(phone_api)
    app.register_blueprint(targets_api)
    app.register_blueprint(cases_api)
    app.register_blueprint(complaints_api)
    app.register_blueprint(staff_api)
    app.register_blueprint(satisfaction_api)
    app.register_blueprint(stats_api)
    app.register_blueprint(supervisor_api)
    app.register_blueprint(reports_api)
    app.register_blueprint(pairing_api)
    app.register_blueprint(settings_api)
    app.register_blueprint(screen_api)
    app.register_blueprint(notices_api)
    app.register_blueprint(notices_admin)
    app.register_blueprint(pages)
    # manage_session=False: the hub keeps no session per socket (who a socket is lives in
    # LiveSessions); Flask-SocketIO would otherwise copy the Flask session into every one.
    # A cluster's processes share Flask-SocketIO's Redis message queue: what one process sends a room
    # (a device's state, a notice, a staff page's news) reaches the sockets of every process. The hall's
    # deltas do not go that way: every process hears every event (server/cluster.py) and sends them to
    # its own sockets only (``ignore_queue``).
    queue = {}
    if config.cluster is not None:
        lean_imports.allow_message_queue()
        queue = {"message_queue": config.cluster.redis_url, "channel": f"{config.cluster.channel}:socketio"}
    socketio = SocketIO(app, async_mode=async_mode, json=Utf8Json, manage_session=False, **queue)
    security.guard_socketio(socketio.server)
    pings.install(socketio.server.eio)
    inline_websocket.install(socketio.server.eio)
    fanout.install(socketio.server)
    app.wsgi_app = without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]
    if config.hub.trusted_proxies:
        # Outermost, so Socket.IO, the login throttle and the audit log all see the client's
        # address and scheme as the trusted proxies report them.
        proxies = config.hub.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    hub = bootstrap(
        config, clock, push=SocketPush(socketio), devices=True, printer_transport=printer_transport
    )
    app.extensions["qcall"] = hub
    app.extensions["qcall_connections"], app.extensions["qcall_live"] = live.attach(
        socketio, hub, agents.DeviceSockets(socketio, hub.printing)
    )
    return app


class HubApp(Flask):
    """Flask, asking once per function whether it is a coroutine function.

    Flask asks ``inspect.iscoroutinefunction`` of every hook and view each time it
    calls one (``ensure_sync``): four times on a kiosk's ticket, about 1 µs each,
    for an answer that never changes (the hub has no async views).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: set[Callable[..., Any]] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._plain:
                return func
        except TypeError:  # a method of an unhashable object: asked every time, as Flask does
            return super().ensure_sync(func)
        wrapped = super().ensure_sync(func)
        if wrapped is func and len(self._plain) < 4096:  # hooks and views: a few hundred at most
            self._plain.add(func)
        return wrapped


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

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """Without a session cookie (every kiosk and screen, which send a token), an empty session.

        Flask builds a signing serializer before it looks for the cookie; on the
        kiosk's ticket path that was the costliest part of opening no session.
        """
        # No Cookie header at all (a device's request): not even an empty one to parse.
        if "HTTP_COOKIE" not in request.environ or not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Nothing to do for a session never read, never changed and empty (every device's request).

        Flask's own reads seven cookie settings (and whether the request was HTTPS)
        before it comes to the same conclusion: no cookie to set or clear, no ``Vary``.
        """
        if not session and not session.accessed and not session.modified:
            return
        super().save_session(app, session, response)


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
