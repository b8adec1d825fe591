"""Who may do what: staff users, device tokens and staff sessions, in the store.

Tokens are random and only their SHA-256 is kept, so a copy of the database
does not hand out working tokens. Passwords are hashed by Werkzeug (scrypt).

Every change here (a token made or revoked, a user added, disabled, enabled,
given a new password or a new display name) is written to the audit log in the same transaction, so
a change without its record cannot exist. Changes that end sessions return the
sessions' keys, so the live adapter can drop their open sockets at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from .audit import AuditLog
from .schema import device_tokens, staff_sessions, users
from .sql import read_only

#: ``booking``: a hospital's booking system pushing appointments (create, import, cancel; nothing else).
DEVICE_ROLES = ("kiosk", "display", "agent", "pad", "booking")
#: ``triage`` (预检分诊): issues tickets with a priority category, at no counter; cannot call or administer.
#: ``supervisor`` (值班长): reads staff data (who is on post, breaks, the rota, attendance) and the floor,
#: at no counter; cannot call tickets or administer users and devices.
USER_ROLES = ("staff", "admin", "triage", "supervisor")
#: Roles that log in without a counter, always.
NO_COUNTER_ROLES = ("triage", "supervisor")
#: Hex digits of a token's SHA-256 shown as its id: enough to tell tokens apart, useless to log in.
SHORT_ID = 12
_SHORT_ID = re.compile(rf"[0-9a-f]{{{SHORT_ID}}}")
MIN_PASSWORD = 8
MAX_PASSWORD = 256


@dataclass(frozen=True)
class Principal:
    """The caller behind a token: a device (kiosk, display, agent) or a logged-in person.

    ``key`` is the SHA-256 of the device token or of the staff session's token,
    whichever way the caller presented it (bearer or cookie): it names what
    to end when the token is revoked or the session is over.
    """

    role: str
    name: str
    counter: int | None = None
    is_device: bool = False
    key: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit log: a user name (or "cli") and the address it came from."""

    name: str
    address: str = ""


#: Changes made by the hub's own code (demo set-up, tests' provisioning).
SYSTEM = Actor("system")


class AccountError(Exception):
    """A refused account operation, with a message for the person at the keyboard."""


class AccountNotFound(AccountError):
    """No such user or token."""


class AccountConflict(AccountError):
    """The change cannot be made in the current state (e.g. a name a live token has, a token revoked
    already)."""


class TokenExists(AccountConflict):
    """The token itself exists already, whatever its name: a pairing's token (its hash derived from
    the screen's claim, not drawn) made by an earlier confirmation of the same code. ``made`` is that
    token as it stands (its name, and whether it was revoked since).

    Why a class of its own: the insert that fails is the same as for a live name, but the cause and
    the cure are not (get a new code on the device, not rotate a token), so the pairing route answers
    it with its own code and words."""

    def __init__(self, message: str, made: TokenInfo) -> None:
        super().__init__(message)
        self.made = made


@dataclass(frozen=True)
class TokenInfo:
    """A device token as admins see it: never the token, only a short id of its hash."""

    id: str
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    key: str = field(compare=False, repr=False)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True)
class Issued:
    """A device token just made: the token (shown this once), its info, and the live ones it replaced."""

    token: str
    info: TokenInfo
    replaced: list[TokenInfo]


@dataclass(frozen=True)
class UserInfo:
    username: str
    role: str
    active: bool
    created_at: datetime
    #: What the public sees of this user (a doctor's "张伟 主任医师", a clerk's number); None: none.
    display_name: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "role": self.role,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
            "display_name": self.display_name,
        }


@dataclass(frozen=True)
class Login:
    """A new staff session: the bearer token, the cookie's id, and the sessions it replaced."""

    token: str
    cookie_id: str
    principal: Principal
    expires_at: datetime
    #: Keys of the user's earlier sessions that this login ended (single_session).
    ended: list[str]


@dataclass(frozen=True)
class Ended:
    """The result of a change that ended sessions: the user and the keys of the sessions ended."""

    user: UserInfo
    ended: list[str]


#: A staff session's row with its user's role and whether the user is active, by the token's hash or
#: the session cookie's: built once (every request of a console resolves its session with one).
_SESSION = select(staff_sessions, users.c.role, users.c.active).join(
    users, users.c.username == staff_sessions.c.username
)
_SESSION_BY_TOKEN = _SESSION.where(staff_sessions.c.token_hash == bindparam("b_key"))
_SESSION_BY_COOKIE = _SESSION.where(staff_sessions.c.cookie_hash == bindparam("b_key"))

#: Seconds a device token, once checked, is believed without asking the store again
#: (a revocation by the CLI in another process takes effect within this time).
DEVICE_TOKEN_TTL = 1.0
#: Device tokens remembered at most (a hall has tens of devices; past this, start afresh).
DEVICE_TOKEN_CACHE = 1024


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")


class Accounts:
    """Users, device tokens and staff sessions.

    Changes run on ``engine`` (on SQLite ``BEGIN IMMEDIATE``); lookups on
    ``reader`` (:func:`~server.store.sql.read_only`), because every request
    resolves its token and must not wait behind the queue's writes.
    """

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.reader = read_only(engine)
        self.audit = AuditLog(engine)
        # Device tokens seen in the last DEVICE_TOKEN_TTL seconds: a kiosk issuing a ticket
        # a second does not cost a database read each time. Cleared by every revocation made
        # here; one made by another process (the CLI) holds for at most the TTL.
        self._clock = clock
        self._devices: dict[str, tuple[float, Principal]] = {}
        self._dummy: str | None = None
        self._lock = threading.Lock()
        self._last_used: dict[str, datetime] = {}

    # -- device tokens ------------------------------------------------------------

    def create_device_token(
        self, role: str, name: str, now: datetime, actor: Actor = SYSTEM, replace: bool = False
    ) -> str:
        return self.issue_device_token(role, name, now, actor, replace=replace).token

    def issue_device_token(
        self,
        role: str,
        name: str,
        now: datetime,
        actor: Actor = SYSTEM,
        action: str = "token.create",
        detail: dict[str, Any] | None = None,
        replace: bool = False,
        digest: str | None = None,
    ) -> Issued:
        """A new device token named ``name``, which no other live token may have.

        The rule is the database's (``uq_device_tokens_live_name``, migration 0024): two makers
        racing for one name both insert, one insert fails, and that one is refused with
        :class:`AccountConflict`, on SQLite and PostgreSQL alike; a read-then-insert here could not
        promise that. ``replace``: the live token of the name (the device paired again, the demo
        started again) is revoked in the same transaction, audited ``token.revoke`` with
        ``replaced_by``; the new token's audit entry (``action``, e.g. ``token.pair``) names it in
        ``replaces``. The caller drops the replaced tokens' sockets (their keys are returned).
        ``digest``: the hash of a token its holder made (pairing: derived from the screen's claim,
        server/devices/pairing.py); the answer's ``token`` is then empty: this process never had it.
        Such a hash can be inserted twice (one code confirmed again): that is :class:`TokenExists`.
        """
        if role not in DEVICE_ROLES:
            raise AccountError(f"unknown device role {role!r}; expected one of {', '.join(DEVICE_ROLES)}")
        _check_name(name, "a device name")
        token = "" if digest else f"qd_{role}_{secrets.token_urlsafe(24)}"
        digest = digest or token_hash(token)
        new_id = digest[:SHORT_ID]
        try:
            with self.engine.begin() as conn:
                replaced: list[TokenInfo] = []
                if replace:
                    live = conn.execute(
                        select(device_tokens).where(
                            device_tokens.c.name == name, device_tokens.c.revoked_at.is_(None)
                        )
                    ).mappings()
                    replaced = [
                        self._revoke(conn, _token_info(row), now, actor, {"replaced_by": new_id})
                        for row in live.all()
                    ]
                conn.execute(
                    insert(device_tokens).values(token_hash=digest, name=name, role=role, created_at=now)
                )
                extra = {"replaces": [t.id for t in replaced]} if replaced else {}
                self.audit.record(
                    actor.name,
                    action,
                    f"{name} ({new_id})",
                    now,
                    {"role": role, **(detail or {}), **extra},
                    actor.address,
                    conn=conn,
                )
        except IntegrityError:
            # Two unique rules a new row can break: the live name (uq_device_tokens_live_name) and the
            # hash (the key). A drawn token's hash is 192 random bits; a pairing's is its claim's, so
            # the same code confirmed twice makes the same hash. Which one failed is read afterwards,
            # the same way on SQLite and PostgreSQL (their messages name constraints differently).
            made = self._token_of(digest)
            if made is not None:
                raise TokenExists(f"the token of this pairing ({new_id}) was made already", made) from None
            raise AccountConflict(
                f"a live device token named {name!r} exists already; rotate it to replace it"
            ) from None
        return Issued(token, TokenInfo(new_id, name, role, now, None, digest), replaced)

    def pairing_finished(
        self, made: TokenInfo, now: datetime, actor: Actor, detail: dict[str, Any] | None = None
    ) -> list[TokenInfo]:
        """A pairing whose token an earlier confirmation made (:class:`TokenExists`) is confirmed again
        as the same device: audited ``token.pair`` with ``finished`` (who finished it, and with which
        code); the answer is the tokens that confirmation replaced (revoked in its transaction, at the
        moment the token was made), for the admin to be told and their sockets dropped."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(device_tokens).where(
                    device_tokens.c.name == made.name,
                    device_tokens.c.revoked_at == made.created_at,
                    device_tokens.c.token_hash != made.key,
                )
            ).mappings()
            replaced = [_token_info(row) for row in rows.all()]
            extra = {"replaces": [t.id for t in replaced]} if replaced else {}
            self.audit.record(
                actor.name,
                "token.pair",
                f"{made.name} ({made.id})",
                now,
                {"role": made.role, **(detail or {}), "finished": True, **extra},
                actor.address,
                conn=conn,
            )
        return replaced

    def _token_of(self, digest: str) -> TokenInfo | None:
        """The token row of this hash (revoked or not), if any: read after a failed insert."""
        with self.reader.begin() as conn:
            found = conn.execute(select(device_tokens).where(device_tokens.c.token_hash == digest)).mappings()
            row = found.first()
        return None if row is None else _token_info(row)

    def list_tokens(self) -> list[TokenInfo]:
        with self.reader.begin() as conn:
            rows = conn.execute(
                select(device_tokens).order_by(device_tokens.c.created_at, device_tokens.c.name)
            ).mappings()
            return [_token_info(row) for row in rows]

    def revoke_token(self, id_or_name: str, now: datetime, actor: Actor = SYSTEM) -> TokenInfo:
        """Revoke the token with this short id, or the live token with this name.

        A name has at most one live token: the partial unique index ``uq_device_tokens_live_name``
        (migration 0024, which revoked the older duplicates of a name when it ran) refuses a second,
        and every store is at that revision once opened. So a name names exactly one token, as an id
        does; one whose tokens are all revoked is a conflict, one no token ever had is not found.
        """
        with self.engine.begin() as conn:
            rows = [_token_info(r) for r in conn.execute(select(device_tokens)).mappings()]
            by_id = [t for t in rows if t.id == id_or_name.lower()] if id_or_name else []
            if by_id:
                if by_id[0].revoked_at is not None:
                    raise AccountConflict(f"token {id_or_name} is revoked already")
                return self._revoke(conn, by_id[0], now, actor)
            named = [t for t in rows if t.name == id_or_name]
            if not named:
                raise AccountNotFound(f"no token has the id or name {id_or_name!r}")
            live = [t for t in named if t.revoked_at is None]
            if not live:
                raise AccountConflict(f"every token named {id_or_name!r} is revoked already")
            return self._revoke(conn, live[0], now, actor)

    def revoke_token_by_id(self, short_id: str, now: datetime, actor: Actor = SYSTEM) -> TokenInfo:
        """Revoke exactly the token with this short id (the API names tokens by id only)."""
        short_id = short_id.lower()
        if not _SHORT_ID.fullmatch(short_id):
            raise AccountNotFound(f"no token has the id {short_id!r}")
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(device_tokens).where(device_tokens.c.token_hash.startswith(short_id))
            ).mappings()
            found = [_token_info(r) for r in rows]
            if not found:
                raise AccountNotFound(f"no token has the id {short_id!r}")
            if found[0].revoked_at is not None:
                raise AccountConflict(f"token {short_id} is revoked already")
            return self._revoke(conn, found[0], now, actor)

    def rotate_token_by_id(
        self, short_id: str, now: datetime, actor: Actor = SYSTEM
    ) -> tuple[str, TokenInfo, TokenInfo]:
        """Revoke a live token and issue its successor (same name, same role) in one transaction.

        A device whose token leaked gets a new one without a moment where neither
        or both work; the audit row names the old id and the new. Returns the new
        token (shown once), the old token as revoked, and the new token's info.
        """
        short_id = short_id.lower()
        if not _SHORT_ID.fullmatch(short_id):
            raise AccountNotFound(f"no token has the id {short_id!r}")
        with self.engine.begin() as conn:
            row = (
                conn.execute(select(device_tokens).where(device_tokens.c.token_hash.startswith(short_id)))
                .mappings()
                .first()
            )
            if row is None:
                raise AccountNotFound(f"no token has the id {short_id!r}")
            old = _token_info(row)
            if old.revoked_at is not None:
                raise AccountConflict(f"token {short_id} is revoked already")
            self._devices.clear()
            revoked_now = conn.execute(
                update(device_tokens)
                .where(device_tokens.c.token_hash == old.key, device_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            if revoked_now != 1:  # another rotation or revocation committed since the read
                raise AccountConflict(f"token {short_id} is revoked already")
            token = f"qd_{old.role}_{secrets.token_urlsafe(24)}"
            digest = token_hash(token)
            try:
                conn.execute(
                    insert(device_tokens).values(
                        token_hash=digest, name=old.name, role=old.role, created_at=now
                    )
                )
            except IntegrityError:  # a live token of the name was made meanwhile (migration 0024's index)
                raise AccountConflict(f"a live device token named {old.name!r} exists already") from None
            self.audit.record(
                actor.name,
                "token.rotate",
                f"{old.name} ({old.id} → {digest[:SHORT_ID]})",
                now,
                {"role": old.role, "before": old.id, "after": digest[:SHORT_ID]},
                actor.address,
                conn=conn,
            )
        revoked = TokenInfo(old.id, old.name, old.role, old.created_at, now, old.key)
        return token, revoked, TokenInfo(digest[:SHORT_ID], old.name, old.role, now, None, digest)

    def last_used(self) -> dict[str, datetime]:
        """When each device token (by short id) was last presented to this hub since it started.

        Kept in memory only: writing a row on every kiosk request would cost the queue's
        writers a lock for a figure an admin glances at; after a restart it is unknown.
        """
        with self._lock:
            return dict(self._last_used)

    def _revoke(
        self,
        conn: Connection,
        token: TokenInfo,
        now: datetime,
        actor: Actor,
        detail: dict[str, Any] | None = None,
    ) -> TokenInfo:
        self._devices.clear()
        conn.execute(
            update(device_tokens).where(device_tokens.c.token_hash == token.key).values(revoked_at=now)
        )
        self.audit.record(
            actor.name,
            "token.revoke",
            f"{token.name} ({token.id})",
            now,
            {"role": token.role, **(detail or {})},
            actor.address,
            conn=conn,
        )
        return TokenInfo(token.id, token.name, token.role, token.created_at, now, token.key)

    # -- users ----------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        role: str,
        password: str,
        now: datetime,
        actor: Actor = SYSTEM,
        display_name: str | None = None,
    ) -> UserInfo:
        if role not in USER_ROLES:
            raise AccountError(f"unknown user role {role!r}; expected one of {', '.join(USER_ROLES)}")
        _check_name(username, "a user name")
        check_password_strength(password)
        shown = check_display_name(display_name)
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.username).where(users.c.username == username)).first():
                raise AccountConflict(f"user {username!r} exists already")
            conn.execute(
                insert(users).values(
                    username=username,
                    role=role,
                    password_hash=generate_password_hash(password),
                    active=True,
                    created_at=now,
                    display_name=shown,
                )
            )
            detail: dict[str, Any] = {"role": role, "display_name": shown}
            self.audit.record(actor.name, "user.add", username, now, detail, actor.address, conn=conn)
        return UserInfo(username, role, True, now, shown)

    def has_user(self, username: str) -> bool:
        with self.reader.begin() as conn:
            return (
                conn.execute(select(users.c.username).where(users.c.username == username)).first() is not None
            )

    def list_users(self) -> list[UserInfo]:
        with self.reader.begin() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).mappings()
            return [_user_info(row) for row in rows]

    def set_active(self, username: str, active: bool, now: datetime, actor: Actor = SYSTEM) -> Ended:
        """Disable (every session ends at once) or enable a user; a re-enabled user logs in afresh."""
        with self.engine.begin() as conn:
            user = self._user(conn, username)
            if user.active == active:
                state = "enabled" if active else "disabled"
                raise AccountConflict(f"user {username!r} is {state} already")
            conn.execute(update(users).where(users.c.username == username).values(active=active))
            ended = [] if active else _end_sessions(conn, username, now)
            action = "user.enable" if active else "user.disable"
            detail = {} if active else {"sessions_ended": len(ended)}
            self.audit.record(actor.name, action, username, now, detail, actor.address, conn=conn)
        return Ended(UserInfo(user.username, user.role, active, user.created_at, user.display_name), ended)

    def set_display_name(
        self, username: str, display_name: str | None, now: datetime, actor: Actor = SYSTEM
    ) -> UserInfo:
        """A new display name (None or blank: none), audited ``user.display_name`` before → after.

        Sessions stay: the name is what the public sees, not a right.
        """
        shown = check_display_name(display_name)
        with self.engine.begin() as conn:
            user = self._user(conn, username, lock=True)
            conn.execute(update(users).where(users.c.username == username).values(display_name=shown))
            detail = {"before": user.display_name, "after": shown}
            self.audit.record(
                actor.name, "user.display_name", username, now, detail, actor.address, conn=conn
            )
        return UserInfo(user.username, user.role, user.active, user.created_at, shown)

    def set_password(
        self,
        username: str,
        password: str,
        now: datetime,
        actor: Actor = SYSTEM,
        keep: str | None = None,
        action: str = "user.password",
    ) -> Ended:
        """A new password; every session of the user ends, except ``keep`` (the changer's own)."""
        check_password_strength(password)
        with self.engine.begin() as conn:
            user = self._user(conn, username)
            conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(password_hash=generate_password_hash(password))
            )
            ended = _end_sessions(conn, username, now, keep=keep)
            self.audit.record(
                actor.name, action, username, now, {"sessions_ended": len(ended)}, actor.address, conn=conn
            )
        return Ended(user, ended)

    def change_own_password(
        self, principal: Principal, current: str, new: str, now: datetime, address: str = ""
    ) -> Ended:
        """The logged-in user's own change: the current password first, then as ``set_password``."""
        with self.reader.begin() as conn:
            row = conn.execute(select(users).where(users.c.username == principal.name)).mappings().first()
        if row is None or not check_password_hash(row["password_hash"], current):
            raise AccountError("the current password is wrong")
        return self.set_password(
            principal.name,
            new,
            now,
            Actor(principal.name, address),
            keep=principal.key,
            action="auth.password",
        )

    def _user(self, conn: Connection, username: str, lock: bool = False) -> UserInfo:
        query = select(users).where(users.c.username == username)
        row = conn.execute(query.with_for_update() if lock else query).mappings().first()
        if row is None:
            raise AccountNotFound(f"no user {username!r}")
        return _user_info(row)

    # -- sessions -------------------------------------------------------------------

    def login(
        self,
        username: str,
        password: str,
        counter: int | None,
        now: datetime,
        hours: int,
        single_session: bool = True,
        admit: Callable[[Principal], None] | None = None,
    ) -> Login:
        """Check the password and open a session bound to ``counter``.

        With ``single_session`` the user's earlier sessions end: a password
        that leaked cannot keep a second console open beside the clerk's.
        ``admit``: asked, once the password is right, whether this login may
        go ahead (a clerk on post at another counter); it refuses by raising.
        """
        with self.reader.begin() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        # The same scrypt work whether or not the user exists or is active.
        real = row is not None and bool(row["active"])
        stored = row["password_hash"] if real and row is not None else self._dummy_hash()
        if not check_password_hash(stored, password) or not real or row is None:
            raise AccountError("wrong user name or password")
        if row["role"] == "staff" and counter is None:
            raise AccountError("staff log in at a counter: give its number")
        if row["role"] in NO_COUNTER_ROLES and counter is not None:
            raise AccountError(f"{row['role']} users log in without a counter: leave the counter out")
        if admit is not None:
            # May refuse (raise) before anything is written: the earlier sessions stay as they were.
            admit(Principal(row["role"], username, counter))
        token = f"qs_{secrets.token_urlsafe(24)}"
        cookie_id = secrets.token_urlsafe(24)
        digest = token_hash(token)
        expires = now + timedelta(hours=hours)
        with self.engine.begin() as conn:
            ended = _end_sessions(conn, username, now) if single_session else []
            conn.execute(
                insert(staff_sessions).values(
                    token_hash=digest,
                    cookie_hash=token_hash(cookie_id),
                    username=username,
                    counter=counter,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return Login(token, cookie_id, Principal(row["role"], username, counter, key=digest), expires, ended)

    def logout(self, token: str, now: datetime) -> None:
        self.end_session(token_hash(token), now)

    def end_session(self, key: str, now: datetime) -> None:
        """End the session whose token hashes to ``key`` (logout by bearer or by cookie)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(staff_sessions)
                .where(staff_sessions.c.token_hash == key, staff_sessions.c.ended_at.is_(None))
                .values(ended_at=now)
            )

    def resolve(self, token: str, now: datetime) -> Principal | None:
        """The principal behind a bearer token, or None for an unknown, revoked or expired one."""
        digest = token_hash(token)
        if token.startswith("qd_"):
            return self._device(digest)
        if token.startswith("qs_"):
            return self._session(_SESSION_BY_TOKEN, digest, now)
        return None

    def _device(self, digest: str) -> Principal | None:
        """A device token's principal: from the last DEVICE_TOKEN_TTL seconds, else from the store."""
        seen = self._devices.get(digest)
        if seen is not None and self._clock() - seen[0] < DEVICE_TOKEN_TTL:
            self._used(digest)
            return seen[1]
        with self.reader.begin() as conn:
            row = (
                conn.execute(select(device_tokens).where(device_tokens.c.token_hash == digest))
                .mappings()
                .first()
            )
        if row is None or row["revoked_at"] is not None:
            self._devices.pop(digest, None)
            return None  # unknown tokens are not remembered: guessing must not fill memory
        principal = Principal(row["role"], row["name"], None, is_device=True, key=digest)
        if len(self._devices) >= DEVICE_TOKEN_CACHE:
            self._devices.clear()
        self._devices[digest] = (self._clock(), principal)
        self._used(digest)
        return principal

    def _used(self, digest: str) -> None:
        with self._lock:
            if len(self._last_used) >= DEVICE_TOKEN_CACHE:
                self._last_used.clear()
            self._last_used[digest[:SHORT_ID]] = datetime.now(UTC)

    def _dummy_hash(self) -> str:
        """A scrypt hash of a random password, made once (by the first login that needs it).

        A login for an unknown or disabled user is checked against it, so it costs
        the same scrypt work as a real one: the answer's timing does not tell which
        user names exist.
        """
        if self._dummy is None:
            self._dummy = generate_password_hash(secrets.token_urlsafe(16))
        return self._dummy

    def resolve_cookie(self, cookie_id: str, now: datetime) -> Principal | None:
        """The principal behind the id a session cookie carries, or None when that session is over."""
        return self._session(_SESSION_BY_COOKIE, token_hash(cookie_id), now)

    def _session(self, query: Select[Any], key: str, now: datetime) -> Principal | None:
        """The session ``query`` (by token or by cookie) finds for ``key``, if it is still good."""
        with self.reader.begin() as conn:
            row = conn.execute(query, {"b_key": key}).mappings().first()
        if row is None or row["ended_at"] is not None or row["expires_at"] <= now or not row["active"]:
            return None
        return Principal(row["role"], row["username"], row["counter"], key=row["token_hash"])

    def live_keys(self, devices: Iterable[str], sessions: Iterable[str], now: datetime) -> set[str]:
        """Which of these device-token and session keys are still good (for sockets opened earlier).

        One query per kind and chunk, so a thousand screens cost a few round trips.
        """
        alive: set[str] = set()
        with self.reader.begin() as conn:
            for chunk in _chunks(sorted(set(devices))):
                alive.update(
                    conn.execute(
                        select(device_tokens.c.token_hash).where(
                            device_tokens.c.token_hash.in_(chunk), device_tokens.c.revoked_at.is_(None)
                        )
                    ).scalars()
                )
            for chunk in _chunks(sorted(set(sessions))):
                alive.update(
                    conn.execute(
                        select(staff_sessions.c.token_hash)
                        .join(users, users.c.username == staff_sessions.c.username)
                        .where(
                            staff_sessions.c.token_hash.in_(chunk),
                            staff_sessions.c.ended_at.is_(None),
                            staff_sessions.c.expires_at > now,
                            users.c.active.is_(True),
                        )
                    ).scalars()
                )
        return alive


@dataclass(frozen=True)
class SessionOver:
    """A staff session that no longer holds: ``expired`` (its hours ran out at ``at``) or ended (at
    ``at``: logged out, replaced, its user disabled or given a new password)."""

    key: str
    expired: bool
    at: datetime


def sessions_over(accounts: Accounts, keys: Iterable[str], now: datetime) -> dict[str, SessionOver]:
    """Which of these staff sessions no longer hold, and since when (an unknown key: ended now)."""
    wanted = sorted(set(keys))
    found: dict[str, SessionOver] = {}
    with accounts.reader.begin() as conn:
        seen: set[str] = set()
        for chunk in _chunks(wanted):
            query = (
                select(staff_sessions, users.c.active)
                .join(users, users.c.username == staff_sessions.c.username)
                .where(staff_sessions.c.token_hash.in_(chunk))
            )
            for row in conn.execute(query).mappings():
                seen.add(row["token_hash"])
                over = _over(row, now)
                if over is not None:
                    found[row["token_hash"]] = over
    for key in wanted:
        if key not in seen:
            found[key] = SessionOver(key, False, now)
    return found


def _over(row: Any, now: datetime) -> SessionOver | None:
    if row["ended_at"] is not None:
        return SessionOver(row["token_hash"], False, row["ended_at"])
    if not row["active"]:
        return SessionOver(row["token_hash"], False, now)
    if row["expires_at"] <= now:
        return SessionOver(row["token_hash"], True, row["expires_at"])
    return None


def live_session_at(accounts: Accounts, username: str, counter: int, now: datetime) -> str | None:
    """The key of ``username``'s newest live session at ``counter``, if any (a post passes to it)."""
    with accounts.reader.begin() as conn:
        key: str | None = conn.execute(
            select(staff_sessions.c.token_hash)
            .join(users, users.c.username == staff_sessions.c.username)
            .where(
                staff_sessions.c.username == username,
                staff_sessions.c.counter == counter,
                staff_sessions.c.ended_at.is_(None),
                staff_sessions.c.expires_at > now,
                users.c.active.is_(True),
            )
            .order_by(staff_sessions.c.created_at.desc())
            .limit(1)
        ).scalar()
    return key


def live_counter_sessions(accounts: Accounts, now: datetime) -> list[tuple[str, str, str, int]]:
    """Every live session bound to a counter, newest first: ``(key, username, role, counter)``."""
    with accounts.reader.begin() as conn:
        rows = conn.execute(
            select(
                staff_sessions.c.token_hash, staff_sessions.c.username, users.c.role, staff_sessions.c.counter
            )
            .join(users, users.c.username == staff_sessions.c.username)
            .where(
                staff_sessions.c.counter.is_not(None),
                staff_sessions.c.ended_at.is_(None),
                staff_sessions.c.expires_at > now,
                users.c.active.is_(True),
            )
            .order_by(staff_sessions.c.created_at.desc())
        ).all()
    return [(str(key), str(name), str(role), int(counter)) for key, name, role, counter in rows]


def _end_sessions(conn: Connection, username: str, now: datetime, keep: str | None = None) -> list[str]:
    """End the user's open sessions (all but ``keep``); their keys, for dropping their sockets."""
    where = and_(staff_sessions.c.username == username, staff_sessions.c.ended_at.is_(None))
    if keep:
        where = and_(where, staff_sessions.c.token_hash != keep)
    keys = list(conn.execute(select(staff_sessions.c.token_hash).where(where)).scalars())
    if keys:
        conn.execute(update(staff_sessions).where(where).values(ended_at=now))
    return keys


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: User and device names: plain ASCII, like the devices in the site file (typed on any keyboard).
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _check_name(name: str, what: str) -> None:
    if not NAME.fullmatch(name):
        raise AccountError(f"{what} is 1 to 64 ASCII letters, digits, '.', '_' or '-'")


#: Unicode's line and paragraph separators: line breaks, refused like control characters.
_LINE_BREAKS = ("Zl", "Zp")
#: Longest display name (``users.display_name``): "张伟 主任医师" or "工号 0231" fit many times over.
MAX_DISPLAY_NAME = 40


def check_display_name(display_name: str | None) -> str | None:
    """The display name to keep: trimmed, None when empty; refused when too long or with control characters.

    Any script and spaces are welcome (a hall writes names its own way); a control character
    (a newline, a tab, an escape) would break the screens' lines or a printed slip.
    """
    if display_name is None:
        return None
    shown = display_name.strip()
    if not shown:
        return None
    if len(shown) > MAX_DISPLAY_NAME:
        raise AccountError(f"display_name: a display name has at most {MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(ch)[0] == "C" or unicodedata.category(ch) in _LINE_BREAKS for ch in shown):
        raise AccountError("display_name: a display name may not hold control characters")
    return shown


def _token_info(row: Any) -> TokenInfo:
    return TokenInfo(
        row["token_hash"][:SHORT_ID],
        row["name"],
        row["role"],
        row["created_at"],
        row["revoked_at"],
        row["token_hash"],
    )


def _user_info(row: Any) -> UserInfo:
    return UserInfo(row["username"], row["role"], bool(row["active"]), row["created_at"], row["display_name"])
