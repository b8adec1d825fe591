"""The administrator's API: ``/api/v1/admin``. Device tokens, users, the audit log.

Every route here is for the admin role only, checked once for the whole
blueprint, so a route added later cannot forget it. Every change is written to
the audit log by the store in the same transaction as the change itself, with
the admin's name and address. A change that ends sessions (a revoked token, a
disabled user, a new password) also drops their open Socket.IO connections at
once: a screen or console that lost its right stops receiving the hall's events
now, not whenever it next reconnects.
"""

from __future__ import annotations

import re
from typing import Literal

from flask import Blueprint, Response, jsonify, request

from ..devices.device_tests import NotTestable, UnknownDevice, run_test
from ..store.accounts import DEVICE_ROLES, USER_ROLES, AccountConflict, AccountError, AccountNotFound
from .auth import current_actor, current_principal, drop_sockets, hub
from .pairing import shown_once
from .refusals import ApiError, error_response, role_zh
from .routes import _Body, account_zh, parse

admin = Blueprint("admin", __name__, url_prefix="/api/v1/admin")

#: Most audit entries one request may read.
AUDIT_MAX = 500


class TokenBody(_Body):
    role: Literal[DEVICE_ROLES]  # type: ignore[valid-type]
    name: str


class UserBody(_Body):
    username: str
    role: Literal[USER_ROLES]  # type: ignore[valid-type]
    password: str
    #: What the public sees of the user (the doctors-on-duty card); absent, null or blank: none.
    display_name: str | None = None


class DisplayNameBody(_Body):
    #: 1 to 40 characters, no control characters; null or blank takes the name away.
    display_name: str | None


class PasswordBody(_Body):
    password: str


@admin.before_request
def _admins_only() -> None:
    """401 without a good token, 403 for any role but admin: on every route of the blueprint."""
    principal = current_principal()
    if principal.role != "admin":
        raise ApiError(
            403, f"the role {principal.role!r} may not do this", zh=f"{role_zh(principal.role)}无权进行此操作"
        )


@admin.errorhandler(AccountError)
def _refused(exc: AccountError) -> tuple[Response, int]:
    zh = account_zh(str(exc))
    if isinstance(exc, AccountNotFound):
        return error_response(404, str(exc), "not_found", zh)
    if isinstance(exc, AccountConflict):
        return error_response(409, str(exc), "conflict", zh)
    return error_response(400, str(exc), "bad_request", zh)


# -- device tokens ---------------------------------------------------------------


@admin.get("/tokens")
def list_tokens() -> Response:
    """Every device token ever made, revoked ones too; never the token itself.

    ``last_used_at``: when this hub last saw the token since it started (null: not since then).
    """
    used = hub().accounts.last_used()
    return jsonify(
        tokens=[
            {**t.public(), "last_used_at": used[t.id].isoformat() if t.id in used else None}
            for t in hub().accounts.list_tokens()
        ]
    )


@admin.post("/tokens")
def create_token() -> tuple[Response, int]:
    """A new device token; the answer is the only time it is shown.

    A name a live token already has is refused (409): the name is the device's identity on the
    devices board and in its leases, so two live tokens of one name would be two devices seen as
    one. Replacing a device's token is the rotate route's job. The store's unique index decides,
    so of two requests racing for one name exactly one gets the token.
    """
    body = parse(TokenBody)
    # The store refuses a live name (AccountConflict: 409) by its unique index, atomically.
    issued = hub().accounts.issue_device_token(body.role, body.name, hub().clock(), current_actor())
    token, info = issued.token, issued.info
    return jsonify(token=token, **info.public(), **shown_once(info.name, info.role, token)), 201


@admin.post("/tokens/<token_id>/revoke")
def revoke_token(token_id: str) -> Response:
    """Revoke one token by its id; its open sockets are dropped at once."""
    info = hub().accounts.revoke_token_by_id(token_id, hub().clock(), current_actor())
    drop_sockets([info.key])
    return jsonify(info.public())


@admin.post("/tokens/<token_id>/rotate")
def rotate_token(token_id: str) -> tuple[Response, int]:
    """Revoke a token and issue its successor (same name and role) in one transaction, audited
    ``token.rotate``; the old token's sockets drop at once. The new token is shown this once."""
    token, old, new = hub().accounts.rotate_token_by_id(token_id, hub().clock(), current_actor())
    drop_sockets([old.key])
    return jsonify(token=token, **new.public(), replaces=old.id, **shown_once(new.name, new.role, token)), 201


# -- device tests ------------------------------------------------------------------------


@admin.post("/devices/<name>/test")
def test_device(name: str) -> Response:
    """A test slip, test frame or test phrase on one device; the answer says what happened (audited)."""
    the_hub = hub()
    try:
        result = run_test(the_hub, name)
    except UnknownDevice:
        raise ApiError(
            404, f"no device is named {name!r}", "not_found", zh=f"没有名为 {name!r} 的设备"
        ) from None
    except NotTestable as exc:
        raise ApiError(409, str(exc), "conflict", zh="这种设备只发送信号，系统没有可测试的内容") from None
    actor = current_actor()
    the_hub.audit.record(
        actor.name,
        "device.test",
        name,
        the_hub.clock(),
        {"kind": result.kind, "test": result.test, "ok": result.ok},
        actor.address,
    )
    return jsonify(result.public())


# -- users ---------------------------------------------------------------------------


@admin.get("/users")
def list_users() -> Response:
    return jsonify(users=[u.public() for u in hub().accounts.list_users()])


@admin.post("/users")
def add_user() -> tuple[Response, int]:
    body = parse(UserBody)
    user = hub().accounts.add_user(
        body.username, body.role, body.password, hub().clock(), current_actor(), body.display_name
    )
    return jsonify(user.public()), 201


@admin.post("/users/<username>/display-name")
def set_display_name(username: str) -> Response:
    """The name the public sees of this user (audited ``user.display_name``, before → after).

    The lobby reads it at its next look at the doctors on duty; sessions stay as they are.
    """
    body = parse(DisplayNameBody)
    user = hub().accounts.set_display_name(username, body.display_name, hub().clock(), current_actor())
    return jsonify(user=user.public(), sessions_ended=0)


@admin.post("/users/<username>/disable")
def disable_user(username: str) -> Response:
    """Every session of the user ends and their sockets drop; they cannot log in until enabled."""
    if username == current_principal().name:
        raise ApiError(409, "you may not disable your own account", "conflict", zh="不能停用您自己的账号")
    ended = hub().accounts.set_active(username, False, hub().clock(), current_actor())
    drop_sockets(ended.ended, username=username)
    hub().posts.settle()  # their counter closes on every screen now
    return jsonify(user=ended.user.public(), sessions_ended=len(ended.ended))


@admin.post("/users/<username>/enable")
def enable_user(username: str) -> Response:
    ended = hub().accounts.set_active(username, True, hub().clock(), current_actor())
    return jsonify(user=ended.user.public(), sessions_ended=0)


@admin.post("/users/<username>/password")
def set_password(username: str) -> Response:
    """A new password set by an admin: all the user's sessions end (the admin's own stays)."""
    body = parse(PasswordBody)
    principal = current_principal()
    keep = principal.key if username == principal.name else None
    ended = hub().accounts.set_password(username, body.password, hub().clock(), current_actor(), keep=keep)
    drop_sockets(ended.ended)
    hub().posts.settle()  # a post held by an ended login closes now
    return jsonify(user=ended.user.public(), sessions_ended=len(ended.ended))


# -- audit log -----------------------------------------------------------------------


@admin.get("/audit")
def audit() -> Response:
    """The newest audit entries first; ``?limit=`` (1–500, default 100), ``?action=`` to filter."""
    raw_limit = request.args.get("limit", "100")
    if not re.fullmatch(r"[0-9]{1,3}", raw_limit) or not 1 <= int(raw_limit) <= AUDIT_MAX:
        raise ApiError(
            400,
            f"'limit' must be a whole number from 1 to {AUDIT_MAX}",
            zh=f"limit 须为 1 到 {AUDIT_MAX} 的整数",
        )
    action = request.args.get("action") or None
    if action is not None and not re.fullmatch(r"[a-z._]{1,48}", action):
        raise ApiError(
            400,
            "'action' is an action name such as token.revoke (a-z, '.', '_'; at most 48)",
            zh="action 须为操作名称，如 token.revoke（小写字母、“.”、“_”，最多 48 个字符）",
        )
    entries = hub().audit.recent(int(raw_limit), action)
    return jsonify(entries=[e.public() for e in entries])


# -- priority ledger -------------------------------------------------------------------


@admin.get("/priority-ledger")
def priority_ledger() -> Response:
    """The newest priority grants, requests, confirmations and changes first; ``?limit=`` 1–500 (100)."""
    raw_limit = request.args.get("limit", "100")
    if not re.fullmatch(r"[0-9]{1,3}", raw_limit) or not 1 <= int(raw_limit) <= AUDIT_MAX:
        raise ApiError(
            400,
            f"'limit' must be a whole number from 1 to {AUDIT_MAX}",
            zh=f"limit 须为 1 到 {AUDIT_MAX} 的整数",
        )
    changes = hub().core.recent_priority_changes(int(raw_limit))
    return jsonify(entries=[change.as_dict() for change in changes])
