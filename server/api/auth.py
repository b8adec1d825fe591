"""Who is calling: bearer tokens (devices and staff) and the staff session cookie.

Rights are least by default: a route names the roles it admits, and counter
actions also check that staff act only at the counter they logged in at.

The cookie carries a random session id, never the staff token: Flask's cookie
is signed, not encrypted, so whatever is in it can be read by anyone who sees
the cookie. The store resolves the id to the session it was made with.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, TypeVar

from flask import current_app, g, request, session
from flask.globals import request_ctx

from ..hub import Hub
from ..session_cookie import SESSION_KEY
from ..store.accounts import Actor, Principal
from .refusals import ApiError, role_zh

F = TypeVar("F", bound=Callable[..., Any])


class OpenSockets(Protocol):
    """The live sockets by credential (``app.extensions["qcall_live"]``, kept by the Socket.IO adapter).

    A protocol, so the REST package never imports the Socket.IO adapter.
    """

    def drop(self, keys: list[str]) -> int: ...

    def drop_user(self, username: str) -> int: ...


def hub() -> Hub:
    # Through the proxy once: each attribute read on Flask's ``current_app`` proxy raises and
    # catches an AttributeError inside werkzeug (~0.8 µs), and a ticket asks for the hub ~6 times.
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # noqa: SLF001
    return app.extensions["qcall"]


def bearer_token() -> str | None:
    """The token in ``Authorization: Bearer``, if the caller sent one."""
    # Read from the environ as request.headers would (once through the proxy: see hub()).
    header = request_ctx.request.environ.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "the Authorization header must be 'Bearer <token>'",
                zh="Authorization 请求头的格式须为 Bearer <token>",
            )
        return token.strip()
    return None


def cookie_session_id() -> str | None:
    """The staff session id in the session cookie, if any."""
    value = session.get(SESSION_KEY)
    return value if isinstance(value, str) and value else None


def current_principal() -> Principal:
    """The caller: the bearer token first, else the session cookie; 401 when neither is good."""
    # Flask's ``g`` looked up once: through the proxy, each of the four reads cost a lookup.
    request_globals = g._get_current_object()  # noqa: SLF001
    principal: Principal | None = request_globals.get("principal")
    if principal is None:
        the_hub = hub()
        token = bearer_token()
        cookie = None if token else cookie_session_id()
        if not token and not cookie:
            raise ApiError(
                401,
                "this needs a token: log in, or use the device's token",
                zh="此操作需要令牌：请先登录，或使用设备的令牌",
            )
        if token:
            principal = the_hub.accounts.resolve(token, the_hub.clock())
        else:
            principal = the_hub.accounts.resolve_cookie(cookie or "", the_hub.clock())
        if principal is None:
            raise ApiError(
                401,
                "the token is unknown, revoked or expired",
                zh="令牌无效、已被吊销或已过期：请重新登录，或为设备换用新的令牌",
            )
        request_globals.principal = principal
    return principal


def live_sessions() -> OpenSockets:
    """The open sockets by credential, to drop those of an ended session."""
    return current_app.extensions["qcall_live"]


def drop_sockets(keys: list[str] | None = None, username: str | None = None) -> None:
    """Disconnect the sockets of these sessions or tokens, or of every session of ``username``."""
    live = live_sessions()
    if keys:
        live.drop(keys)
    if username:
        live.drop_user(username)


def client_address() -> str:
    """The caller's address, as ProxyFix left it when ``trusted_proxies`` is set."""
    return request.remote_addr or ""


def current_actor() -> Actor:
    """The logged-in caller as the audit log names them."""
    return Actor(current_principal().name, client_address())


def requires(*roles: str) -> Callable[[F], F]:
    """Admit only callers whose role is one of ``roles``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal.role not in roles:
                raise ApiError(
                    403,
                    f"the role {principal.role!r} may not do this",
                    zh=f"{role_zh(principal.role)}无权进行此操作",
                )
            return view(*args, **kwargs)

        wrapper.roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI test (x-roles)
        return wrapper  # type: ignore[return-value]

    return decorate


def check_counter(counter: int) -> Principal:
    """Staff act only at their own counter; admins anywhere."""
    principal = current_principal()
    if principal.role == "admin":
        return principal
    if principal.role != "staff":
        raise ApiError(
            403,
            f"the role {principal.role!r} may not act at a counter",
            zh=f"{role_zh(principal.role)}不能在窗口办理业务",
        )
    if principal.counter != counter:
        raise ApiError(
            403,
            f"you are logged in at counter {principal.counter}, not counter {counter}",
            zh=f"您登录的是 {principal.counter} 号窗口，不是 {counter} 号窗口",
        )
    return principal
