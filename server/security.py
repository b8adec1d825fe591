"""The hub's guards in front of every view: forged clicks, hostile input, page policy, sockets.

Each guard is here, in one place, rather than in every view, because a view
that forgets a check is exactly the hole these close:

- **Forged clicks (CSRF).** The staff cookie is ``SameSite=Strict``, but a page
  on another *port* of the same host is same-site, so the browser still sends
  it. Every state change that does not carry its own ``Authorization: Bearer``
  token (only a script of our own origin can set that header) must come from
  our own origin (``Origin`` / ``Sec-Fetch-Site``), and the API only takes JSON:
  a form or a ``no-cors`` fetch cannot send ``application/json``, so an old
  browser that sends no ``Origin`` is stopped too.
- **Hostile input.** PostgreSQL refuses text with a NUL byte (psycopg raises,
  the view answered 500) and a JSON body nested thousands deep overflows the
  parser (``RecursionError``, 500 again): both are refused here with 400.
- **Counter numbers** in URLs are ASCII digits only: Werkzeug's ``int``
  converter took a full-width ``１`` as counter 1, and gave a negative number a
  plain ``not_found``. Every segment that is no counter now answers
  ``unknown_counter``, after the token check, like a counter that does not exist.
- **Content-Security-Policy** on every response: scripts, styles and
  connections from our own origin only, no inline script.
- **Socket.IO**: a client that *emits* an event called ``connect`` made
  python-socketio run the connect handler again (the connection count went up
  for every emit) and, when the handler refused, gevent printed the greenlet's
  arguments (the token) with the traceback. Reserved names are dropped, and a
  failing event handler is logged by name only.
- **Ticket issue** is rate-limited per token: a kiosk (or a script holding its
  token) cannot empty a service's daily tickets in a second.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request, session
from flask.globals import request_ctx
from werkzeug.datastructures import Headers
from werkzeug.routing import BaseConverter

from .api.auth import SESSION_KEY
from .api.refusals import ApiError
from .settings import EDITABLE

log = logging.getLogger(__name__)

#: Methods that change nothing; everything else is a state change.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}

#: The policy of every page. ``'self'`` in ``connect-src`` also admits the
#: same host's ``ws:``/``wss:`` (CSP 3); ``data:`` in ``media-src`` is the
#: lobby's silent unlock sound, in ``img-src`` nothing of ours yet but harmless.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

#: Event names the Socket.IO protocol keeps for itself; a client never sends them.
RESERVED_EVENTS = frozenset(
    {"connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener", "*"}
)


# -- requests -------------------------------------------------------------------


#: Routes whose body may be larger than the app's limit: a day's bookings exported as CSV.
LARGER_BODIES = {
    "/api/v1/appointments/import": 2 * 1024 * 1024,
    # A whole settings section: a hospital's hundred counters, a year of special dates.
    **{f"/api/v1/admin/settings/{name}": 256 * 1024 for name in EDITABLE},
}


def register(app: Flask) -> None:
    """Install the request guards, the counter converter and the page policy on ``app``."""
    app.url_map.converters["counter"] = CounterConverter
    app.before_request(check_request)
    app.after_request(content_security_policy)


def check_request() -> None:
    """Refuse, before any view runs, what no view should ever see."""
    # The request itself, not Flask's proxy: every attribute read through the proxy raises and
    # catches an AttributeError inside werkzeug, ~0.8 µs each, and these checks run on every request.
    req = request_ctx.request
    path = req.path
    # A request without a query (every kiosk's ticket) skips parsing an empty one into request.args.
    if "\x00" in path or (
        req.query_string
        and any("\x00" in key or "\x00" in value for key, value in req.args.items(multi=True))
    ):
        raise ApiError(
            400,
            "the address contains a NUL character (%00), which nothing here accepts",
            zh="网址中含有 NUL 字符（%00），本系统不接受",
        )
    if req.method in SAFE_METHODS:
        return
    bearer = bool(req.headers.get("Authorization"))
    if not bearer and cross_origin():
        raise ApiError(
            403,
            "this request came from another web site or port; it is only accepted from the hub's own pages",
            "cross_origin",
            zh="此请求来自其他网站或端口，只接受本系统自己的页面发出的请求",
        )
    larger = LARGER_BODIES.get(path)
    if larger is not None:
        req.max_content_length = larger
    if path.startswith("/api/"):
        check_api_body(cookie=not bearer and SESSION_KEY in session)


def cross_origin() -> bool:
    """True when the browser says the request was made by a page of another origin.

    Browsers send ``Sec-Fetch-Site`` and ``Origin`` with every POST and a page
    cannot forge either. Where the browser says ``Sec-Fetch-Site``, that is the
    answer: a form posted by one of the hub's own pages says ``same-origin`` with
    ``Origin: null``, since the pages' ``Referrer-Policy: no-referrer`` hides the
    origin of a form's POST (the demo's keypad buttons were refused so). Older
    browsers send only ``Origin``. A client that sends neither (curl, a script, a
    very old browser) is no victim of a forged click; the JSON-only rule covers
    old browsers.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is not None and not same_origin(origin)


def same_origin(origin: str) -> bool:
    """``origin`` names this hub: the host and port the browser used to reach it, or ``public_url``.

    ``public_url`` (``[site]``) covers a reverse proxy that passes the hub
    another ``Host`` than the one the browser used.
    """
    try:
        parts = urlsplit(origin)
        if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
            return False  # "null" (a sandboxed frame, a file), or something stranger
        theirs = _host_port(parts.netloc, parts.scheme)
        if theirs == _host_port(request.host, parts.scheme):
            return True
        hub = current_app.extensions.get("qcall")
        public = urlsplit(hub.config.site.public_url) if hub is not None else None
        return bool(
            public and public.scheme == parts.scheme and _host_port(public.netloc, public.scheme) == theirs
        )
    except ValueError:  # a port that is no number
        return False


def _host_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    # A Host header without a port means the scheme's default port (behind a TLS proxy too).
    parts = urlsplit("//" + netloc)
    return (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme)


def check_api_body(cookie: bool) -> None:
    """The API speaks JSON only; a body that is JSON is parsed once here and checked.

    A bodyless POST riding the session cookie is refused too: a ``no-cors``
    fetch sends exactly that. With a bearer token (or no credentials at all,
    which the view refuses with 401) a bodyless action is fine.
    """
    req = request_ctx.request  # not the proxy (see check_request)
    has_body = bool(req.content_length) or req.headers.get("Transfer-Encoding") is not None
    if not req.is_json:
        if has_body or cookie:
            raise ApiError(
                415,
                "the API takes JSON: send Content-Type: application/json"
                + ("" if has_body else " with a body ({} for an action without one)"),
                "unsupported_media_type",
                zh="接口只接受 JSON：请以 Content-Type: application/json 发送"
                + ("" if has_body else "，并带上请求内容（没有内容的操作请发送 {}）"),
            )
        return
    try:
        data = req.get_json(silent=True)
    except RecursionError:
        raise ApiError(400, "the JSON body is nested too deeply", zh="JSON 请求内容嵌套过深") from None
    if contains_nul(data):
        raise ApiError(
            400,
            "a text in the body contains a NUL character (\\u0000), which no field accepts",
            zh="请求内容中的文字含有 NUL 字符（\\u0000），任何字段都不接受",
        )


def contains_nul(value: Any) -> bool:
    """True if any string in a parsed JSON value (keys included) holds ``\\x00``; no recursion."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def content_security_policy(response: Response) -> Response:
    """Every answer carries the policy; pages load their scripts and styles from files only."""
    add_missing(response.headers, (("Content-Security-Policy", CONTENT_SECURITY_POLICY),))
    return response


def add_missing(headers: Headers, defaults: Iterable[tuple[str, str]]) -> None:
    """``headers.setdefault`` for each of ``defaults``, looking at the headers once.

    Werkzeug's ``setdefault`` finds an absent header by raising and catching a
    ``BadRequestKeyError`` (an HTTP exception built with its description), then
    looks again after adding it: four of them on every answer cost more than the
    headers themselves. Same result: a header already set stays, one absent is appended.
    """
    present = {key.lower() for key, _ in headers}
    for key, value in defaults:
        if key.lower() not in present:
            headers.add(key, value)


class NoCounter(int):
    """A counter segment that is no counter number (``-1``, ``１``, ``9999999``).

    It is 0, which no counter is (counters are 1 to 999), so the view's usual
    lookup refuses it with ``unknown_counter`` after the token check; it reads
    as what was typed in the error message.
    """

    text: str

    def __new__(cls, text: str) -> NoCounter:
        number = super().__new__(cls, 0)
        number.text = text[:20]
        return number

    def __repr__(self) -> str:
        return repr(self.text)

    __str__ = __repr__


class CounterConverter(BaseConverter):
    """``<counter:n>``: ASCII digits (at most 6) give the number; anything else a :class:`NoCounter`."""

    regex = r"[^/]+"

    def to_python(self, value: str) -> int:
        if value.isascii() and value.isdigit() and len(value) <= 6:
            return int(value)
        return NoCounter(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


# -- ticket issue ---------------------------------------------------------------


class IssueLimiter:
    """A token bucket per caller token: ``burst`` tickets at once, then ``per_minute``.

    A real kiosk serves one visitor at a time and never comes near it; a script
    holding a kiosk's token cannot take a service's whole day in a second. Kept
    in memory (a restart forgives) and bounded to ``max_keys`` callers.
    """

    def __init__(
        self,
        burst: int,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.burst = float(burst)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Take one ticket's worth for ``key``: None when allowed, else seconds to wait."""
        with self._lock:
            now = self.clock()
            level, then = self._buckets.pop(key, (self.burst, now))
            level = min(self.burst, level + (now - then) * self.rate)
            if level < 1.0:
                self._buckets[key] = (level, now)
                return (1.0 - level) / self.rate
            self._buckets[key] = (level - 1.0, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return None


def retry_after(seconds: float) -> int:
    """Whole seconds for a ``Retry-After`` header, at least 1."""
    return max(1, math.ceil(seconds))


# -- Socket.IO ------------------------------------------------------------------


def guard_socketio(server: Any) -> None:
    """Wrap python-socketio's event dispatch of ``server`` (a ``socketio.Server``).

    Refuses a handshake whose auth holds a NUL character (``bad_request``),
    drops client events with a reserved or non-text name before any handler
    sees them, and catches what a handler raises so that gevent does not print
    the greenlet with its arguments (a client's data, maybe a token).
    """
    from socketio import packet

    # python-socketio has no public hook before dispatch: these privates are wrapped here and
    # nowhere else (python-socketio is pinned; if they move, every hub start fails with AttributeError).
    dispatch = server._handle_event  # noqa: SLF001
    run = server._handle_event_internal  # noqa: SLF001
    connect = server._handle_connect  # noqa: SLF001

    def handle_connect(eio_sid: str, namespace: str | None, data: Any) -> None:
        # PostgreSQL refuses NUL in text: a ticket id with one made the handler raise.
        if contains_nul(data):
            server._send_packet(  # noqa: SLF001
                eio_sid,
                server.packet_class(
                    packet.CONNECT_ERROR, data={"message": "bad_request"}, namespace=namespace or "/"
                ),
            )
            return
        connect(eio_sid, namespace, data)

    def handle_event(eio_sid: str, namespace: str | None, id: Any, data: Any) -> None:
        name = data[0] if isinstance(data, list) and data else None
        if not isinstance(name, str) or name in RESERVED_EVENTS:
            log.info("ignored a client event with a reserved or invalid name")
            return
        dispatch(eio_sid, namespace, id, data)

    def handle_event_internal(socket_server: Any, sid: str, eio_sid: str, data: Any, *rest: Any) -> None:
        try:
            run(socket_server, sid, eio_sid, data, *rest)
        except Exception as exc:  # noqa: BLE001  logged without the data, which may hold a token
            # The event's name, not its data: the data may carry a token.
            log.error("Socket.IO event %r failed: %s", data[0][:40], type(exc).__name__)

    server._handle_connect = handle_connect  # noqa: SLF001
    server._handle_event = handle_event  # noqa: SLF001
    server._handle_event_internal = handle_event_internal  # noqa: SLF001
