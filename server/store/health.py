"""Is the store usable right now? A write probe, a free-space look, and failures named for a person.

``/api/v1/health`` used to answer ``ok`` while every write failed on a full
disk. The truth is what a write does: :class:`StoreHealth` commits a tiny real
write (one row of ``store_probe``) at most once per second and remembers the
answer. Free space on the SQLite file's disk is looked at on every question,
because it costs one ``statvfs`` and notices a full disk at once, before the
next probe is due.

:func:`store_failure` tells a store that cannot be used (full disk, I/O
error, locked past its timeout, PostgreSQL gone, a corrupt file) from a bug
(a constraint violated, bad SQL): the first is a 503 the kiosk can show and
retry, the second stays a 500.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, exc
from sqlalchemy.engine import make_url

from ..core.calendar import utc_now
from .schema import store_probe
from .sql import upsert

#: A probe's answer is reused this long: a monitoring loop or a hundred kiosks cannot hammer the disk.
PROBE_INTERVAL = 1.0
#: Below this many free bytes the SQLite disk counts as full: a ticket with its event, the WAL
#: frames of one commit and the checkpoint that follows need a few pages, 64 KiB is no margin.
MIN_FREE_BYTES = 256 * 1024

#: Words in a driver's message that mean "the store cannot be used now", not "the query is wrong".
_UNAVAILABLE_HINTS = (
    "disk is full",
    "disk i/o error",
    "database is locked",
    "unable to open database",
    "readonly database",
    "read-only",
    "malformed",
    "not a database",
    "no space left",
    "connection",
    "server closed",
    "terminating",
    "could not",
    "timeout",
    "shutting down",
)


def database_label(url: str) -> str:
    """The database as a person knows it: the SQLite file's path, or the URL without its password."""
    if url.startswith("sqlite:///"):
        return os.path.abspath(url.removeprefix("sqlite:///"))
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> str | None:
    """The SQLite file behind ``url``; None for PostgreSQL or an in-memory database."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return os.path.abspath(url.removeprefix("sqlite:///"))
    return None


def driver_message(error: BaseException) -> str:
    """The driver's own words on one line (psycopg's come on several, with hints)."""
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split())
    return text.removeprefix("connection failed: ") or type(original).__name__


def store_failure(error: BaseException) -> str | None:
    """What is wrong with the store if ``error`` says it is unusable; None for a bug.

    OperationalError is the DB-API's class for "the database, not your SQL":
    full disk, I/O error, lock timeout, lost connection. A corrupt SQLite file
    raises a bare DatabaseError ("file is not a database", "malformed"), so
    those are recognised by their words. IntegrityError and ProgrammingError
    stay bugs.
    """
    if isinstance(error, exc.OperationalError | exc.InterfaceError | exc.TimeoutError):
        return driver_message(error)
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return driver_message(error)
        if isinstance(error, exc.IntegrityError | exc.ProgrammingError | exc.DataError):
            return None
        text = driver_message(error).lower()
        if any(hint in text for hint in _UNAVAILABLE_HINTS):
            return driver_message(error)
        return None
    if isinstance(error, sqlite3.OperationalError):
        return str(error)
    return None


def free_bytes(path: str) -> int:
    """Bytes this process may still write on the disk holding ``path``.

    root may use the blocks ext4 reserves for it, so for root that is
    ``f_bfree``, for anyone else ``f_bavail``.
    """
    stats = os.statvfs(path)
    blocks = stats.f_bfree if os.geteuid() == 0 else stats.f_bavail
    return blocks * stats.f_frsize


@dataclass(frozen=True)
class StoreState:
    """One answer about the store: usable or not, and why."""

    ok: bool
    detail: str
    checked_at: str
    free_bytes: int | None = None

    def public(self, backend: str) -> dict[str, Any]:
        return {
            "state": "ok" if self.ok else "unavailable",
            "backend": backend,
            "detail": self.detail,
            "checked_at": self.checked_at,
            "free_bytes": self.free_bytes,
        }


class StoreHealth:
    """The store's state, from a committed write at most once per :data:`PROBE_INTERVAL`."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self.backend = "postgresql" if engine.dialect.name == "postgresql" else engine.dialect.name
        self.path = sqlite_path(url)
        self._lock = threading.Lock()
        #: Asked after every good probe: None while this hub still holds the database alone,
        #: else why not (set by ``serve``: :meth:`server.startup.HubLock.keep`).
        self.guard: Callable[[], str | None] | None = None
        self._last: StoreState | None = None
        self._probed_at = float("-inf")

    def state(self) -> StoreState:
        """The store now: free space looked at every time, the write probe when it is due."""
        low = self._disk_full()
        if low is not None:
            return low
        with self._lock:
            if self._last is not None and time.monotonic() - self._probed_at < PROBE_INTERVAL:
                return self._last
            self._last = self.probe()
            self._probed_at = time.monotonic()
            return self._last

    def failed(self, detail: str) -> None:
        """A request's write just failed: say so until the next probe shows otherwise."""
        with self._lock:
            self._last = StoreState(False, detail, utc_now().isoformat(), self._free())
            self._probed_at = time.monotonic()

    def probe(self) -> StoreState:
        """One tiny real write, committed: the only proof that a ticket would be kept."""
        now = utc_now()
        try:
            with self.engine.begin() as conn:
                stmt = upsert(
                    conn.dialect.name,
                    store_probe,
                    {"id": 1, "at": now, "count": 1},
                    [store_probe.c.id],
                    {"at": now, "count": store_probe.c.count + 1},
                )
                conn.execute(stmt)
        except Exception as error:
            detail = store_failure(error)
            if detail is None:
                raise
            return StoreState(False, f"a test write failed: {detail}", now.isoformat(), self._free())
        problem = self.guard() if self.guard is not None else None
        if problem is not None:
            return StoreState(False, problem, now.isoformat(), self._free())
        return StoreState(True, "", now.isoformat(), self._free())

    def _free(self) -> int | None:
        if self.path is None:
            return None
        try:
            return free_bytes(os.path.dirname(self.path))
        except OSError:
            return None

    def _disk_full(self) -> StoreState | None:
        free = self._free()
        if free is None or free >= MIN_FREE_BYTES:
            return None
        return StoreState(
            False,
            f"the disk holding {self.path} is full ({free} bytes free)",
            utc_now().isoformat(),
            free,
        )


__all__ = [
    "MIN_FREE_BYTES",
    "PROBE_INTERVAL",
    "StoreHealth",
    "StoreState",
    "database_label",
    "driver_message",
    "free_bytes",
    "sqlite_path",
    "store_failure",
]
