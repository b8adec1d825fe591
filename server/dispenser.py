"""The dispenser (取号): every ticket the kiosks, phones and clerks ask for goes through here.

Concurrent requests share one transaction and one durable commit
(:class:`~server.group_commit.GroupCommit`). The batch runs on a native thread
of its own, with a database connection of its own, so while the disk flushes
one batch the hub's loop keeps reading requests, and they form the next batch:
a burst of a thousand requests costs tens of flushes, not a thousand. (Running
only the commit there and the statements on the loop was measured too: about
10 % slower, the loop then does the SQL work itself.) Events are published
back on the calling side, in request order, after the commit: nobody hears of
a ticket that could still be lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from sqlalchemy import Engine

from .core.errors import QueueError
from .core.queue import Issued, IssuedBatch, IssueRequest, QueueCore
from .group_commit import GroupCommit, GroupStats

log = logging.getLogger(__name__)


@dataclass
class CommitTimes:
    """Where the commits' time went, summed over the batches (seconds).

    A batch's cycle is serial: the loop hands it to the commit thread, the thread
    runs the statements and the durable commit, the loop takes the outcome back.
    Kept so that a run says which part bounds the issue rate (bench/README.md).
    """

    batches: int = 0
    to_thread: float = 0.0  # submitted on the loop until the thread started on it
    on_thread: float = 0.0  # the statements and the commit, its fsync included
    thread_cpu: float = 0.0  # of which the thread's own CPU
    back_to_loop: float = 0.0  # the thread done until the loop has the outcome

    def summary(self) -> str:
        n = max(self.batches, 1) / 1e3
        to, on, cpu, back = self.to_thread / n, self.on_thread / n, self.thread_cpu / n, self.back_to_loop / n
        return (
            f"{to:.2f} ms to the commit thread, {on:.2f} ms on it ({cpu:.2f} ms of CPU), "
            f"{back:.2f} ms back to the loop"
        )


class Dispenser:
    """Issues tickets in batches; ``writer`` is a core on the dispenser's own store connection."""

    def __init__(
        self,
        core: QueueCore,
        writer: QueueCore,
        executor: Executor | None,
        window: float = 0.0,
        connection: Engine | None = None,
    ) -> None:
        self.core = core
        self.writer = writer
        self.executor = executor
        self.connection = connection
        self._group: GroupCommit[IssueRequest, Issued] = GroupCommit(self._batch, window)
        self.times = CommitTimes()

    @property
    def stats(self) -> GroupStats:
        return self._group.stats

    def issue(self, request: IssueRequest) -> Issued:
        """The ticket, once the batch holding this request is on disk (or the error refusing it)."""
        return self._group.submit(request)

    def close(self) -> None:
        """Stop the commit thread and let go of the dispenser's connection (the core's own stays)."""
        stats = self.stats
        if stats.batches:
            log.info(
                "dispenser: %d tickets in %d commits (%.1f a commit, largest %d)",
                stats.requests,
                stats.batches,
                stats.requests / stats.batches,
                stats.largest,
            )
        if self.times.batches:
            log.info("dispenser: per commit %s", self.times.summary())
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        if self.connection is not None:
            self.connection.dispose()

    def _batch(self, requests: Sequence[IssueRequest]) -> Sequence[Issued | QueueError]:
        if self.executor is None:
            committed = self.writer.commit_issues(requests)
        else:
            handed = time.perf_counter()
            committed, started, cpu, ended = self.executor.submit(self._commit, requests).result()
            back = time.perf_counter()
            times = self.times
            times.batches += 1
            times.to_thread += started - handed
            times.on_thread += ended - started
            times.thread_cpu += cpu
            times.back_to_loop += back - ended
        self.core.announce_issues(committed)
        return committed.outcomes

    def _commit(self, requests: Sequence[IssueRequest]) -> tuple[IssuedBatch, float, float, float]:
        """On the commit thread: the batch committed, with when it started, its CPU and when it ended."""
        started, cpu = time.perf_counter(), time.thread_time()
        committed = self.writer.commit_issues(requests)
        return committed, started, time.thread_time() - cpu, time.perf_counter()
