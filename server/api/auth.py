"""Who is calling: bearer tokens (devices and staff) and the staff session cookie.

Rights are least by default: a route names the roles it admits, and counter
actions also check that staff act only at the counter they logged in at.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request, session

from ..hub import Hub
from ..store.accounts import Principal
from .errors import ApiError

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "staff_token"


def hub() -> Hub:
    return current_app.extensions["qcall"]


def bearer_token() -> str | None:
    """The caller's token: ``Authorization: Bearer`` first, then the staff session cookie."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "the Authorization header must be 'Bearer <token>'")
        return token.strip()
    return session.get(SESSION_KEY)


def current_principal() -> Principal:
    if "principal" not in g:
        token = bearer_token()
        if not token:
            raise ApiError(401, "this needs a token: log in, or use the device's token")
        principal = hub().accounts.resolve(token, hub().clock())
        if principal is None:
            raise ApiError(401, "the token is unknown, revoked or expired")
        g.principal = principal
    return g.principal


def requires(*roles: str) -> Callable[[F], F]:
    """Admit only callers whose role is one of ``roles``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal.role not in roles:
                raise ApiError(403, f"the role {principal.role!r} may not do this")
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
        raise ApiError(403, f"the role {principal.role!r} may not act at a counter")
    if principal.counter != counter:
        raise ApiError(403, f"you are logged in at counter {principal.counter}, not counter {counter}")
    return principal
