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
from collections.abc import Sequence
from concurrent.futures import Executor

from sqlalchemy import Engine

from .core.errors import QueueError
from .core.queue import Issued, IssueRequest, QueueCore
from .group_commit import GroupCommit, GroupStats

log = logging.getLogger(__name__)


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
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        if self.connection is not None:
            self.connection.dispose()

    def _batch(self, requests: Sequence[IssueRequest]) -> Sequence[Issued | QueueError]:
        if self.executor is None:
            committed = self.writer.commit_issues(requests)
        else:
            committed = self.executor.submit(self.writer.commit_issues, requests).result()
        self.core.announce_issues(committed)
        return committed.outcomes
