"""The statistics of one month of a hall that issues ~150,000 tickets a year, on SQLite.

    .venv/bin/python bench/stats_month.py [--tickets 150000] [--repeat 5] [--db PATH]

A year of rows is bulk-inserted (``sim.year_rows``: not through the API; about
a minute on the 2-core machine; ``--db`` keeps the file to reuse it), then
``GET /stats`` is asked for March by each grouping, ``--repeat`` times, through
the same code the hub runs (``server.store.stats.Statistics``, read-only
connection). Reports wall and CPU milliseconds per grouping (median and
maximum), the whole year by day, and the load average before. Target: a
month in well under a second (the monthly report must render in at most 1 s).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

from _common import emit, loadavg, log, timed

from server.core.calendar import HallCalendar
from server.core.satisfaction import Satisfaction
from server.core.stats import GROUPINGS, StatsQuery
from server.store import make_engine
from server.store.sql import read_only
from server.store.stats import Statistics
from sim.year_rows import fill_year

MONTH = (date(2026, 3, 1), date(2026, 3, 31))
TARGET_MS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, help="keep (or reuse) the year's database here")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="qcall-stats-")
    path = args.db or Path(folder) / "year.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        log(f"writing a year of {args.tickets} tickets to {path} …")
        started = time.perf_counter()
        legs = fill_year(make_engine(url), args.tickets)
        log(f"… {legs} legs in {time.perf_counter() - started:.0f} s")
    engine = make_engine(url)
    stats = Statistics(read_only(engine), HallCalendar(timezone="Asia/Shanghai"), Satisfaction())
    before = loadavg()
    month = {by: timed(lambda by=by: stats.report(StatsQuery(*MONTH, by)), args.repeat) for by in GROUPINGS}
    year = timed(lambda: stats.report(StatsQuery(date(2026, 1, 1), date(2026, 12, 31), "day")), 1)
    worst = max(m["wall_ms_median"] for m in month.values())
    emit(
        {
            "tickets": args.tickets,
            "database_mb": round(os.path.getsize(path) / 1e6, 1),
            "month": month,
            "year_by_day": year,
            "target_ms": TARGET_MS,
            "target_met": worst < TARGET_MS,
            "loadavg_1m_before": before,
        }
    )


if __name__ == "__main__":
    main()
