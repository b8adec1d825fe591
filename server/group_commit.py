"""Group commit: requests that arrive together share one transaction and one durable commit.

A durable commit costs an ``fsync`` (SQLite ``synchronous=FULL``) or a WAL
flush (PostgreSQL) whether it carries one ticket or fifty. When a hospital
opens the day's numbers at 07:00, hundreds of kiosk and phone requests arrive
in the same second; committing each alone makes them queue behind each other's
disk writes. Here the first request to arrive becomes the *leader*: it yields
once (``window`` seconds; 0 = one turn of the loop, so requests already read
from their sockets can join), takes every request waiting by then, runs them
through ``run`` in one call, hands each its own outcome, and passes the lead to
the next waiting request, if any. Nobody gets an answer before the commit that
holds their request: what was acknowledged survives ``kill -9``.

Written against ``threading`` and ``time.sleep``: in the gevent hub both are
monkey-patched, so a follower waits as a greenlet and the leader's yield is
one turn of the loop; in a threaded server the same code works with threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Request = TypeVar("Request")
Outcome = TypeVar("Outcome")


@dataclass(eq=False)
class _Slot(Generic[Request, Outcome]):
    request: Request
    ready: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    outcome: Outcome | Exception | None = None


@dataclass
class GroupStats:
    """How the batches went (the hub logs them when it stops; the benchmark reads that line)."""

    batches: int = 0
    requests: int = 0
    largest: int = 0


class GroupCommit(Generic[Request, Outcome]):
    """Runs concurrent requests in batches through ``run``, at most ``max_batch`` at a time."""

    def __init__(
        self,
        run: Callable[[Sequence[Request]], Sequence[Outcome | Exception]],
        window: float = 0.0,
        max_batch: int = 256,
    ) -> None:
        if window < 0 or max_batch < 1:
            raise ValueError("window must be >= 0 and max_batch >= 1")
        self._run = run
        self.window = window
        self.max_batch = max_batch
        self.stats = GroupStats()
        self._lock = threading.Lock()
        self._pending: list[_Slot[Request, Outcome]] = []
        self._leading = False

    @property
    def pending(self) -> int:
        """How many requests wait for a commit now."""
        with self._lock:
            return len(self._pending)

    def submit(self, request: Request) -> Outcome:
        """The outcome of ``request`` once the batch holding it has committed (or its exception)."""
        slot: _Slot[Request, Outcome] = _Slot(request)
        with self._lock:
            self._pending.append(slot)
            follower, self._leading = self._leading, True
        if follower:
            slot.ready.wait()  # woken when its batch is done, or to lead the next one
        if not slot.done:  # the lead: this slot stands first among the pending ones
            self._lead()
        if isinstance(slot.outcome, Exception):
            raise slot.outcome
        return slot.outcome  # type: ignore[return-value]

    def _lead(self) -> None:
        time.sleep(self.window)  # let requests already on their way join this batch
        with self._lock:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
        outcomes: Sequence[Outcome | Exception] = [RuntimeError("the batch was interrupted")] * len(batch)
        try:
            outcomes = self._run([slot.request for slot in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} came back with {len(outcomes)} outcomes")
        except Exception as error:  # noqa: BLE001  the whole batch failed (store down): each request hears it
            outcomes = [error] * len(batch)
        finally:
            # Whatever happened (even a greenlet killed mid-batch), every request of the batch
            # hears, and the lead passes on: otherwise every later request would wait forever.
            with self._lock:
                if self._pending:
                    self._pending[0].ready.set()
                else:
                    self._leading = False
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.largest = max(self.stats.largest, len(batch))
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.outcome = outcome
                slot.done = True
                slot.ready.set()
