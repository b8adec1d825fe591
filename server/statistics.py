"""The hub's statistics: reports computed on a native thread, with a database connection of their own.

A month of a busy hall is a few hundred milliseconds of SQL (server/store/stats.py).
On the hub's gevent loop that would hold every call, kiosk and screen for as
long, so reports run on one native thread (gevent's own pool when serving,
like the dispenser's commits), one report at a time — a second admin's waits
for the first rather than doubling the load on a two-core hall PC — on a
read-only connection of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import TypeVar

from sqlalchemy import Engine

from .core.stats import Report, StatsQuery
from .store.stats import Statistics

T = TypeVar("T")


class StatisticsService:
    """Answers statistics questions off the hub's loop (or on the caller's thread, without an executor)."""

    def __init__(
        self, statistics: Statistics, executor: Executor | None, engine: Engine | None = None
    ) -> None:
        self.statistics = statistics
        self.executor = executor
        self.engine = engine

    def report(self, query: StatsQuery) -> Report:
        if self.executor is None:
            return self.statistics.report(query)
        return self.executor.submit(self.statistics.report, query).result()

    def reports(self, queries: Sequence[StatsQuery]) -> list[Report]:
        """Several groupings of one period in one read transaction (the hall's reports)."""
        return self.run(lambda: self.statistics.reports(queries))

    def run(self, work: Callable[[], T]) -> T:
        """Other work a report needs off the loop (writing its PDF or workbook), on the same thread."""
        if self.executor is None:
            return work()
        return self.executor.submit(work).result()

    def close(self) -> None:
        """Finish the report under way, stop the thread, let go of the connection."""
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        if self.engine is not None:
            self.engine.dispose()
