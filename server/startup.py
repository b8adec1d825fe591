"""What ``run`` and ``demo`` check before serving, each failure as one line for a person.

The person starting the hub reads one line and nothing else, so every way a
start can fail that we know of (another hub on the same database, a full disk,
a corrupt file, PostgreSQL not reachable, an unwritable var dir, a port in
use) becomes a :class:`StartupError` whose message names the file, URL or port
and what to do; ``main`` prints it and exits 2.

Without ``[cluster]`` one hub serves one database: two hubs on one database
keep numbers unique, but a call made on hub B would never reach hub A's
screens, so a second one is refused: an OS lock on a file next to the SQLite
database, a session-level advisory lock on PostgreSQL. With ``[cluster]``
(PostgreSQL only) several processes share the database and relay their events
(server/cluster.py): each holds the hub's lock *shared* (a lone hub, which
takes it exclusively, is refused beside them and they beside it) and a lock of
its own name exclusively (two processes with one name are refused). CLI
commands (``token create``, ``user add``) take no lock and work beside a
running hub.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from .store.health import (
    MIN_FREE_BYTES,
    StoreHealth,
    database_label,
    driver_message,
    free_bytes,
    sqlite_path,
    store_failure,
)

#: The advisory-lock key of "the hub serving this database" (advisory locks are per database).
PG_LOCK_KEY = 0x7163616C6C  # "qcall"
#: The application_name of the lock's connection: the second hub can name the first one's pid.
PG_APP_PREFIX = "qcall-hub pid "
#: The first half of a cluster process's own lock (two int4 keys: this, and the CRC-32 of its name).
PG_NAME_KEY = 0x71636C  # "qcl"


class StartupError(Exception):
    """The hub cannot start; the message is one line that says why and names the thing at fault."""


class HubLock:
    """Proof that this process is the one hub serving a database; held until the process ends.

    SQLite: ``fcntl.lockf`` on ``<database>.lock``. A POSIX record lock belongs
    to the process, is not inherited by forked workers (the voice worker), and
    the kernel drops it when the process dies, even by SIGKILL: a stale lock
    file never blocks the next start. The lock file holds the pid for the
    message the second hub prints.

    PostgreSQL: ``pg_try_advisory_lock`` on a connection of its own, kept open;
    the server drops the lock when that session ends.
    """

    def __init__(
        self,
        url: str,
        file: BinaryIO | None = None,
        session: Connection | None = None,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.name = name  # the process's name in a cluster (None: the one hub of the database)
        self.postgres = session is not None
        self._file = file  # the open lock file: the SQLite lock lives with it
        self._session = session  # the PostgreSQL session holding the advisory lock

    def keep(self) -> str | None:
        """Still the one hub? None if so, else why not; called after every good store probe.

        The kernel never takes a SQLite lock back, but a PostgreSQL session can
        end under the hub (a server restart, a cut network) and its advisory
        lock with it: take it again on a new session, or say who has it now.
        """
        if not self.postgres:
            return None
        if self._session is not None:
            try:
                self._session.scalar(text("SELECT 1"))
                return None
            except SQLAlchemyError:
                self._close_session()
        try:
            self._session = _advisory_session(self.url, self.name)
        except StartupError as error:
            return str(error)
        return None

    def release(self) -> None:
        """Let go (tests and a clean stop; a dying process lets go by itself)."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._close_session()

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to tidy
                session.close()


def hold_database(url: str, name: str | None = None) -> HubLock:
    """Become the one hub of the database at ``url``, or raise :class:`StartupError`.

    ``name``: this process's name in a ``[cluster]``: the database is shared
    with the other processes of the cluster, never with a lone hub, and never
    with a second process of the same name.

    Take it once per process and pass the lock on (``demo`` takes it before
    making its logins and hands it to ``serve``): a second ``lockf`` by the
    same process would succeed and prove nothing.
    """
    path = sqlite_path(url)
    if path is not None:
        return _lock_sqlite(url, path)
    if url.startswith("sqlite"):
        return HubLock(url)  # in memory: nobody else can open it
    return HubLock(url, session=_advisory_session(url, name), name=name)


def _lock_sqlite(url: str, path: str) -> HubLock:
    lock_path = path + ".lock"
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise StartupError(
            f"cannot create the lock file {lock_path} next to the database: {error.strerror}"
        ) from None
    handle = os.fdopen(fd, "r+b", buffering=0)
    try:
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno not in (errno.EAGAIN, errno.EACCES):
            handle.close()
            raise StartupError(f"cannot lock {lock_path}: {error.strerror}") from None
        holder = handle.read(32).decode("ascii", "replace").strip()
        handle.close()
        by = f" (pid {holder})" if holder.isdigit() else ""
        raise StartupError(
            f"another hub is already serving the database {path}{by}; "
            "one hub serves one database: stop it first or give this hub its own database"
        ) from None
    try:
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
    except OSError:
        pass  # the pid is only for the message; a full disk is reported by the store check
    return HubLock(url, file=handle)


def _advisory_session(url: str, name: str | None = None) -> Connection:
    """A PostgreSQL session that holds the hub's advisory locks (kept open: the locks live with it)."""
    label = database_label(url)
    who = f"{os.getpid()} {name}" if name else str(os.getpid())
    engine = create_engine(
        url,
        poolclass=NullPool,
        connect_args={"application_name": f"{PG_APP_PREFIX}{who}", "connect_timeout": 10},
    )
    try:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except SQLAlchemyError as error:
        raise StartupError(f"cannot connect to the database {label}: {driver_message(error)}") from None
    try:
        refusal = _take_locks(conn, label, name)
    except SQLAlchemyError as error:
        conn.close()
        raise StartupError(f"cannot lock the database {label}: {driver_message(error)}") from None
    if refusal is not None:
        conn.close()
        raise StartupError(refusal)
    return conn


def _take_locks(conn: Connection, label: str, name: str | None) -> str | None:
    """Take the locks of a lone hub (``name`` None) or of a cluster's process; None, or why not."""
    hub_key = {"key": PG_LOCK_KEY}
    if name is None:
        if conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), hub_key):
            return None
        return (
            f"another hub is already serving the database {label}{_holder(conn, PG_LOCK_KEY)}; "
            "one hub serves one database: stop it first or give this hub its own database"
        )
    if not conn.scalar(text("SELECT pg_try_advisory_lock_shared(:key)"), hub_key):
        return (
            f"a hub without [cluster] is already serving the database {label}{_holder(conn, PG_LOCK_KEY)}; "
            "stop it, or give it the same [cluster] section"
        )
    own = {"high": PG_NAME_KEY, "low": _signed(zlib.crc32(name.encode()))}
    if conn.scalar(text("SELECT pg_try_advisory_lock(:high, :low)"), own):
        return None
    return (
        f"a hub process named {name!r} is already serving the database {label}"
        f"{_holder(conn, own['low'] & 0xFFFFFFFF, PG_NAME_KEY)}; "
        "give this one another name (run --name or QCALL_PROCESS_NAME)"
    )


def _holder(conn: Connection, low: int, high: int | None = None) -> str:
    """`` (pid N)`` of the hub holding a lock, as its session's application_name tells; else nothing."""
    if high is None:
        low, high = low & 0xFFFFFFFF, low >> 32
    holder = conn.scalar(
        text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() AND l.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND l.objid = :low AND l.classid = :high LIMIT 1"
        ),
        {"low": low, "high": high},
    )
    if isinstance(holder, str) and holder.startswith(PG_APP_PREFIX):
        return f" (pid {holder.removeprefix(PG_APP_PREFIX)})"
    return ""


def _signed(value: int) -> int:
    """An unsigned 32-bit number as PostgreSQL's int4 takes it."""
    return value - (1 << 32) if value >= 1 << 31 else value


def check_var_dir(path: Path) -> None:
    """The hub keeps its secret key and print spool here: it must be a writable directory."""
    probe = path / f".write-test-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"ok")
        probe.unlink()
    except OSError as error:
        raise StartupError(
            f"the var directory {path.resolve()} is not writable ({error.strerror}); "
            "fix its permissions or point QCALL_VAR_DIR at a writable directory"
        ) from None


def check_port(host: str, port: int) -> None:
    """Fail now, in one line, rather than in gevent's traceback after everything started."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gevent's server does
            sock.bind((host, port))
    except OSError as error:
        why = {
            errno.EADDRINUSE: "it is already in use (another hub or program listens there)",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "this machine has no such address",
        }.get(error.errno or 0, error.strerror or str(error))
        raise StartupError(f"cannot listen on {host}:{port}: {why}; choose another with --port") from None


@contextmanager
def store_errors(url: str) -> Iterator[None]:
    """Around opening the store: a database that cannot be used becomes one line naming it."""
    path = sqlite_path(url)
    if path is not None:
        _check_sqlite_file(path)
        check_disk(path)
    try:
        yield
    except StartupError:
        raise
    except OSError as error:
        # A file the hub makes on its way up (the database's folder, the print spool).
        where = error.filename or database_label(url)
        raise StartupError(f"cannot use {where}: {error.strerror or error}") from None
    except Exception as error:
        detail = store_failure(error)
        if detail is None:
            raise
        raise StartupError(_store_problem(database_label(url), path, detail)) from None


def check_disk(path: str) -> None:
    """A full disk is refused before anything is written (the lock file's pid aside)."""
    try:
        free = free_bytes(os.path.dirname(path))
    except OSError:
        return  # the directory is made later; its own error names it
    if free < MIN_FREE_BYTES:
        raise StartupError(
            f"the disk holding the database {path} is full ({free} bytes free); free some space first"
        )


def check_store(health: StoreHealth, url: str) -> None:
    """Before serving: the disk has room, the SQLite file is sound, and a write commits."""
    label = database_label(url)
    path = sqlite_path(url)
    if path is not None:
        check_disk(path)
        try:
            with health.engine.connect() as conn:
                verdict = conn.exec_driver_sql("PRAGMA quick_check").scalar()
        except Exception as error:
            detail = store_failure(error)
            if detail is None:
                raise
            raise StartupError(_store_problem(label, path, detail)) from None
        if verdict != "ok":
            raise StartupError(_store_problem(label, path, f"database disk image is malformed ({verdict})"))
    state = health.probe()
    if not state.ok:
        raise StartupError(_store_problem(label, path, state.detail.removeprefix("a test write failed: ")))


def _check_sqlite_file(path: str) -> None:
    """A file that is not SQLite at all (or cut short to a few bytes) is named before Alembic trips on it."""
    try:
        size = os.path.getsize(path)
    except OSError:
        return  # absent: made on first start
    if size == 0:
        return  # SQLite treats an empty file as a new database
    with open(path, "rb") as handle:
        header = handle.read(100)
    if not header.startswith(b"SQLite format 3\x00") or len(header) < 100:
        raise StartupError(_store_problem(path, path, "file is not a database"))


def _store_problem(label: str, path: str | None, detail: str) -> str:
    lowered = detail.lower()
    if path is not None and ("full" in lowered or "no space" in lowered):
        return f"the disk holding the database {path} is full ({detail}); free some space first"
    if path is not None and ("malformed" in lowered or "not a database" in lowered):
        return (
            f"the database {path} is corrupt or truncated ({detail}); "
            "restore it from a backup (or move it away to start an empty one)"
        )
    if path is not None:
        return f"cannot use the database {path}: {detail}"
    return f"cannot use the database {label}: {detail}"
