"""The hall manager's monthly report over a year of a hall that issues ~150,000 tickets a year, on SQLite.

    .venv/bin/python bench/report_month.py [--tickets 150000] [--repeat 5] [--db PATH]

The year is bench/stats_month.py's (``sim.year_rows``, bulk-inserted; ``--db``
keeps the file to reuse it, and takes the one stats_month.py kept). Then the
report of March is made ``--repeat`` times through the code the hub runs
(server/reports/: the statistics by day, service, counter and clerk in one
read-only transaction, then its JSON text; then each file), and a clerk's
scorecard. Reports wall and CPU milliseconds (median, maximum) and the load
average before. Targets: the month's JSON in at most 1 s, its PDF in at most 5 s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import emit, loadavg, log, timed

from server.core.calendar import HallCalendar
from server.core.model import Counter, Service
from server.core.queue import Hall
from server.core.satisfaction import Satisfaction
from server.reports.csv_file import write_csv
from server.reports.figures import build_report, clerk_groups, month_period, scorecard
from server.reports.pdf_file import write_pdf
from server.reports.xlsx_file import write_xlsx
from server.store import make_engine
from server.store.sql import read_only
from server.store.stats import Statistics
from sim.year_rows import CLERKS, COUNTERS, SERVICES, fill_year

MONTH = "2026-03"
JSON_TARGET_MS = 1000
PDF_TARGET_MS = 5000


def year_hall() -> Hall:
    """The simulated year's hall: its five services and eight counters (names for the report)."""
    services = {
        code: Service(code, f"业务{code}", code.title(), chr(65 + i)) for i, code in enumerate(SERVICES)
    }
    counters = {n: Counter(n, f"{n}号窗口", f"Counter {n}", (own,)) for n, own in COUNTERS.items()}
    return Hall("模拟营业厅", "Simulated hall", services, counters, HallCalendar(timezone="Asia/Shanghai"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", type=Path, help="keep (or reuse) the year's database here")
    args = parser.parse_args()
    path = args.db or Path(tempfile.mkdtemp(prefix="qcall-report-")) / "year.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        log(f"writing a year of {args.tickets} tickets to {path} …")
        started = time.perf_counter()
        legs = fill_year(make_engine(url), args.tickets)
        log(f"… {legs} legs in {time.perf_counter() - started:.0f} s")
    hall = year_hall()
    stats = Statistics(read_only(make_engine(url)), hall.calendar, Satisfaction())
    period = month_period(MONTH)
    report = build_report(stats, hall, period)
    before = loadavg()

    def as_json() -> str:
        return json.dumps(build_report(stats, hall, period), ensure_ascii=False)

    figures = {
        "json": timed(as_json, args.repeat),
        "pdf": timed(lambda: write_pdf(build_report(stats, hall, period)), args.repeat),
        "csv": timed(lambda: write_csv(build_report(stats, hall, period)), args.repeat),
        "xlsx": timed(lambda: write_xlsx(build_report(stats, hall, period)), args.repeat),
        "pdf_writing_only": timed(lambda: write_pdf(report), args.repeat),
        "scorecard": timed(
            lambda: scorecard(hall, period, clerk_groups(stats, hall, period), CLERKS[0]), args.repeat
        ),
    }
    json_ms, pdf_ms = figures["json"]["wall_ms_median"], figures["pdf"]["wall_ms_median"]
    emit(
        {
            "benchmark": "report_month",
            "tickets": args.tickets,
            "month": MONTH,
            "issued_in_month": report["total"]["tickets"]["issued"],
            "pdf_bytes": len(write_pdf(report)),
            "figures": figures,
            "json_target_ms": JSON_TARGET_MS,
            "pdf_target_ms": PDF_TARGET_MS,
            "target_met": json_ms <= JSON_TARGET_MS and pdf_ms <= PDF_TARGET_MS,
            "loadavg_1m_before": before,
        }
    )


if __name__ == "__main__":
    main()
