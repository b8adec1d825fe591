"""Waiting in tests: one ``wait_until`` and one event recorder, used by every test module.

Every wait is on a condition with a deadline, never a fixed sleep. ``wait_until``
polls a cheap question (an HTTP call, a file, a twin's state);
:class:`EventRecorder` keeps what a callback or a socket delivered, in order,
from any thread, and waits for it; :class:`SocketListener` is a real Socket.IO
client (websocket transport, as a lobby screen's browser uses it) that records
every event it receives.

Nothing here imports the hub or the drivers: tests of either can use it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

#: The default deadline, generous: a loaded two-core machine may take a while.
WAIT = 20.0


def wait_until(
    predicate: Callable[[], Any],
    what: str,
    timeout: float = WAIT,
    log: Callable[[], str] | None = None,
    every: float = 0.05,
) -> Any:
    """Poll ``predicate`` until it returns something truthy, and return that.

    At the deadline fail naming ``what`` and ``timeout``, followed by ``log()``
    (e.g. a process's log) when given. ``every`` is a poll interval, not a wait
    for something to happen: the deadline decides.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            message = f"not within {timeout} s: {what}"
            if log is not None:
                message += f"\n{log()}"
            raise AssertionError(message)
        time.sleep(every)


def _matches(data: Any, match: Callable[[Any], bool] | None, fields: dict[str, Any]) -> bool:
    if match is not None and not match(data):
        return False
    if fields:
        return isinstance(data, dict) and all(data.get(k) == v for k, v in fields.items())
    return True


class EventRecorder:
    """Every ``(name, data)`` recorded, in order, from any thread; waits on them with a deadline.

    Two ways to read:

    * consuming, like a queue: :meth:`next` and :meth:`wait_for` take events
      in order; what they passed over is in :attr:`seen` (:meth:`names`);
    * looking, without consuming: :meth:`received`, :meth:`has` and
      :meth:`reached` look at every event recorded so far (or since a
      :meth:`mark`).

    :meth:`record` (alias :meth:`emit`, which answers True like a connected
    socket's ``emit``) is the callback to hand to the code under test.
    """

    def __init__(self, timeout: float = WAIT) -> None:
        self.timeout = timeout
        self._cond = threading.Condition()
        self._all: list[tuple[Any, Any]] = []
        self._taken = 0  # how many of _all next()/wait_for() have consumed

    # -- recording ----------------------------------------------------------------------

    def record(self, name: Any, data: Any = None) -> bool:
        with self._cond:
            self._all.append((name, data))
            self._cond.notify_all()
        return True

    def emit(self, name: Any, data: Any = None) -> bool:
        """Stands in for a socket's ``emit``: what the code under test sends is recorded."""
        return self.record(name, data)

    # -- consuming ----------------------------------------------------------------------

    @property
    def seen(self) -> list[tuple[Any, Any]]:
        """The events consumed so far by :meth:`next` and :meth:`wait_for`."""
        with self._cond:
            return self._all[: self._taken]

    def names(self) -> list[Any]:
        return [name for name, _ in self.seen]

    def pending(self) -> int:
        """How many events are recorded but not consumed yet."""
        with self._cond:
            return len(self._all) - self._taken

    def drain(self) -> None:
        """Consume everything recorded so far."""
        with self._cond:
            self._taken = len(self._all)

    def next(self, timeout: float | None = None) -> tuple[Any, Any]:
        """The next event not consumed yet; fail if none comes within ``timeout``."""
        timeout = self.timeout if timeout is None else timeout
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._all) > self._taken, timeout):
                raise AssertionError(f"no event within {timeout} s; seen so far: {self.names_unlocked()}")
            event = self._all[self._taken]
            self._taken += 1
            return event

    def wait_for(
        self,
        name: Any,
        match: Callable[[Any], bool] | None = None,
        timeout: float | None = None,
        **fields: Any,
    ) -> Any:
        """Consume events up to the next ``name`` whose data passes ``match`` and has ``fields``; its data."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._taken < len(self._all):
                    event, data = self._all[self._taken]
                    self._taken += 1
                    if event == name and _matches(data, match, fields):
                        return data
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    if self._taken < len(self._all):
                        continue  # recorded just at the deadline: look at it
                    wanted = f"{name!r} {fields}" if fields else repr(name)
                    raise AssertionError(
                        f"no matching {wanted} within {timeout} s; seen: {self.describe_unlocked()}"
                    )

    # -- looking ------------------------------------------------------------------------

    def mark(self) -> int:
        """A position: :meth:`has` / :meth:`reached` with ``since=`` look only after it."""
        with self._cond:
            return len(self._all)

    def received(self, name: Any, since: int = 0) -> list[Any]:
        """The data of every ``name`` event recorded so far (consumed or not)."""
        with self._cond:
            return [data for event, data in self._all[since:] if event == name]

    def all(self, since: int = 0) -> list[tuple[Any, Any]]:
        with self._cond:
            return self._all[since:]

    def has(
        self, name: Any, match: Callable[[Any], bool] | None = None, since: int = 0, **fields: Any
    ) -> bool:
        with self._cond:
            return self._has(name, match, since, fields)

    def reached(
        self,
        name: Any,
        match: Callable[[Any], bool] | None = None,
        timeout: float | None = None,
        since: int = 0,
        **fields: Any,
    ) -> bool:
        """Whether a matching ``name`` event is (or within ``timeout`` gets) recorded; consumes nothing."""
        timeout = self.timeout if timeout is None else timeout
        with self._cond:
            return self._cond.wait_for(lambda: self._has(name, match, since, fields), timeout)

    def _has(
        self, name: Any, match: Callable[[Any], bool] | None, since: int, fields: dict[str, Any]
    ) -> bool:
        return any(event == name and _matches(data, match, fields) for event, data in self._all[since:])

    # -- messages -----------------------------------------------------------------------

    def names_unlocked(self) -> list[Any]:
        return [name for name, _ in self._all[: self._taken]]

    def describe_unlocked(self) -> list[Any]:
        """What was consumed: snapshots by name only (they are long), other events with their data."""
        return [name if name == "snapshot" else (name, data) for name, data in self._all[: self._taken]]


class SocketListener(EventRecorder):
    """A Socket.IO client that records every event it receives (``client`` is python-socketio's).

    ``refusals`` gets each ``connect_error``; ``gone`` is set when the hub drops
    the socket. As a context manager it connects on entry and disconnects on exit.
    """

    def __init__(
        self,
        url: str,
        auth: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = WAIT,
    ) -> None:
        super().__init__(timeout)
        import socketio

        self.url = url
        self.auth = auth
        self.headers = headers or {}
        self.refusals: queue.Queue[Any] = queue.Queue()
        self.gone = threading.Event()
        self.client = socketio.Client(reconnection=False, handle_sigint=False)
        self.client.on("*", self.record)
        self.client.on("connect_error", lambda data=None: self.refusals.put(data))
        self.client.on("disconnect", lambda *_reason: self.gone.set())

    def connect(self) -> SocketListener:
        self.client.connect(
            self.url,
            auth=self.auth,
            headers=self.headers,
            transports=["websocket"],
            wait_timeout=self.timeout,
        )
        return self

    def disconnect(self) -> None:
        self.client.disconnect()

    close = disconnect

    def __enter__(self) -> SocketListener:
        return self.connect()

    def __exit__(self, *exc: Any) -> None:
        self.disconnect()
