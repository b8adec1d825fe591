"""Who may do what: staff users, device tokens and staff sessions, in the store.

Tokens are random and only their SHA-256 is kept, so a copy of the database
does not hand out working tokens. Passwords are hashed by Werkzeug (scrypt).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from .schema import device_tokens, staff_sessions, users

DEVICE_ROLES = ("kiosk", "display", "agent", "pad")
USER_ROLES = ("staff", "admin")


@dataclass(frozen=True)
class Principal:
    """The caller behind a token: a device (kiosk, display, agent) or a logged-in person."""

    role: str
    name: str
    counter: int | None = None
    is_device: bool = False


class AccountError(Exception):
    """A refused account operation, with a message for the person at the keyboard."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """Users, device tokens and staff sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_device_token(self, role: str, name: str, now: datetime) -> str:
        if role not in DEVICE_ROLES:
            raise AccountError(f"unknown device role {role!r}; expected one of {', '.join(DEVICE_ROLES)}")
        token = f"qd_{role}_{secrets.token_urlsafe(24)}"
        with self.engine.begin() as conn:
            conn.execute(
                insert(device_tokens).values(
                    token_hash=token_hash(token), name=name, role=role, created_at=now
                )
            )
        return token

    def add_user(self, username: str, role: str, password: str, now: datetime) -> None:
        if role not in USER_ROLES:
            raise AccountError(f"unknown user role {role!r}; expected one of {', '.join(USER_ROLES)}")
        if (
            not username
            or len(username) > 64
            or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()
        ):
            raise AccountError("a user name is 1 to 64 letters, digits, '.', '_' or '-'")
        if len(password) < 8:
            raise AccountError("a password needs at least 8 characters")
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.username).where(users.c.username == username)).first():
                raise AccountError(f"user {username!r} exists already")
            conn.execute(
                insert(users).values(
                    username=username,
                    role=role,
                    password_hash=generate_password_hash(password),
                    active=True,
                    created_at=now,
                )
            )

    def has_user(self, username: str) -> bool:
        with self.engine.begin() as conn:
            return (
                conn.execute(select(users.c.username).where(users.c.username == username)).first() is not None
            )

    def login(
        self, username: str, password: str, counter: int | None, now: datetime, hours: int
    ) -> tuple[str, Principal, datetime]:
        """Check the password and open a session bound to ``counter``; return its token."""
        with self.engine.begin() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
            if row is None or not row["active"] or not check_password_hash(row["password_hash"], password):
                raise AccountError("wrong user name or password")
            if row["role"] == "staff" and counter is None:
                raise AccountError("staff log in at a counter: give its number")
            token = f"qs_{secrets.token_urlsafe(24)}"
            expires = now + timedelta(hours=hours)
            conn.execute(
                insert(staff_sessions).values(
                    token_hash=token_hash(token),
                    username=username,
                    counter=counter,
                    created_at=now,
                    expires_at=expires,
                )
            )
        return token, Principal(row["role"], username, counter), expires

    def logout(self, token: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(staff_sessions)
                .where(staff_sessions.c.token_hash == token_hash(token))
                .values(ended_at=now)
            )

    def resolve(self, token: str, now: datetime) -> Principal | None:
        """The principal behind a bearer token, or None for an unknown, revoked or expired one."""
        digest = token_hash(token)
        with self.engine.begin() as conn:
            if token.startswith("qd_"):
                row = (
                    conn.execute(select(device_tokens).where(device_tokens.c.token_hash == digest))
                    .mappings()
                    .first()
                )
                if row is None or row["revoked_at"] is not None:
                    return None
                return Principal(row["role"], row["name"], None, is_device=True)
            if token.startswith("qs_"):
                row = (
                    conn.execute(
                        select(staff_sessions, users.c.role, users.c.active)
                        .join(users, users.c.username == staff_sessions.c.username)
                        .where(staff_sessions.c.token_hash == digest)
                    )
                    .mappings()
                    .first()
                )
                if (
                    row is None
                    or row["ended_at"] is not None
                    or row["expires_at"] <= now
                    or not row["active"]
                ):
                    return None
                return Principal(row["role"], row["username"], row["counter"])
        return None
