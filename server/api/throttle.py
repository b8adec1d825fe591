"""A brake on password guessing at ``POST /auth/login``, kept in memory.

After ``per_user`` failed logins for one user name, or ``per_address`` from one
client address, within ``window`` seconds, further attempts for that name or
from that address are refused until the oldest counted failure leaves the
window. A successful login clears the user name's failures. Memory stays
bounded: expired entries are dropped as time passes, and each table keeps at
most ``max_keys`` names or addresses (the stalest go first).

Plain Python and thread-safe (a lock around every operation); the clock is
injectable so tests can move time without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class _Failures:
    """Recent failure times per key, ordered by each key's latest failure (stalest first)."""

    def __init__(self, limit: int, max_keys: int) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self.times: dict[str, deque[float]] = {}

    def drop_expired(self, cutoff: float) -> None:
        # Keys are kept in order of their latest failure, so the expired ones lead.
        while self.times:
            key = next(iter(self.times))
            if self.times[key][-1] > cutoff:
                break
            del self.times[key]

    def retry_after(self, key: str, now: float, window: float) -> float | None:
        """Seconds until ``key`` may try again, or None if it is not locked out."""
        times = self.times.get(key)
        if times is None:
            return None
        # Only failures inside the window count (the deque keeps the newest ``limit``).
        while times and times[0] <= now - window:
            times.popleft()
        if not times:
            del self.times[key]
            return None
        if len(times) < self.limit:
            return None
        return times[0] + window - now

    def add(self, key: str, now: float) -> None:
        times = self.times.pop(key, None)
        if times is None:
            times = deque(maxlen=self.limit)
        times.append(now)
        self.times[key] = times  # re-inserted: now the freshest key
        while len(self.times) > self.max_keys:
            del self.times[next(iter(self.times))]

    def clear(self, key: str) -> None:
        self.times.pop(key, None)


class LoginThrottle:
    """Counts failed logins per user name and per client address; says when to refuse."""

    def __init__(
        self,
        per_user: int = 5,
        per_address: int = 20,
        window: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.window = window
        self.clock = clock
        self._users = _Failures(per_user, max_keys)
        self._addresses = _Failures(per_address, max_keys)
        self._lock = threading.Lock()

    def retry_after(self, username: str, address: str) -> float | None:
        """Seconds until this user name and address may try again; None when they may try now."""
        with self._lock:
            now = self.clock()
            self._drop_expired(now)
            waits = [
                wait
                for wait in (
                    self._users.retry_after(username, now, self.window),
                    self._addresses.retry_after(address, now, self.window),
                )
                if wait is not None
            ]
            return max(waits) if waits else None

    def failed(self, username: str, address: str) -> None:
        """A wrong user name or password: count it against both."""
        with self._lock:
            now = self.clock()
            self._drop_expired(now)
            self._users.add(username, now)
            self._addresses.add(address, now)

    def succeeded(self, username: str) -> None:
        """A good login: the user name starts afresh (the address keeps its count)."""
        with self._lock:
            self._users.clear(username)

    def __len__(self) -> int:
        """How many user names and addresses are remembered (for tests of the memory bound)."""
        with self._lock:
            return len(self._users.times) + len(self._addresses.times)

    def _drop_expired(self, now: float) -> None:
        cutoff = now - self.window
        self._users.drop_expired(cutoff)
        self._addresses.drop_expired(cutoff)


def refusal_message(seconds: float) -> tuple[str, int]:
    """The sentence and the Retry-After value (whole seconds, at least 1) for a wait of ``seconds``."""
    retry_after = max(1, math.ceil(seconds))
    minutes = max(1, math.ceil(retry_after / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"too many failed logins; try again in {minutes} {unit}", retry_after


class FailureThrottle:
    """Failed lookups per key (a client address) within ``window`` seconds: ``limit`` of them lock it out.

    The visitor's case lookup (``GET /cases/{code}/progress``, a ticket for a
    case) needs no login, so guessing codes is only slowed by this: a code that
    cannot be one (a typo the check character catches) costs nothing and is
    not counted; a well-formed code that names no case is. Bounded like
    :class:`LoginThrottle`, thread-safe, its clock injectable.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.window = window
        self.clock = clock
        self._keys = _Failures(limit, max_keys)
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again; None when it may try now."""
        with self._lock:
            now = self.clock()
            self._keys.drop_expired(now - self.window)
            return self._keys.retry_after(key, now, self.window)

    def failed(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            self._keys.drop_expired(now - self.window)
            self._keys.add(key, now)
