"""A hall's day shipped to the central service after its link was down all day.

    .venv/bin/python bench/central_catchup.py [--tickets 2000] [--batch 500] [--pg postgresql://…]

A hall on SQLite runs a day through the queue core on a fake clock (each ticket
issued, called, started and finished: four events, a leg), with no link. Then
the hall's outbox (server/outbox.py, the code the hub runs) ships it over real
HTTP on 127.0.0.1 to the central service (server/central/app.py, werkzeug's
threaded server in this process) on a fresh PostgreSQL database. Then the hall
loses its marks (its cursor back at 0): its first batch is a duplicate, the
central service answers its own cursor and the hall jumps there. Reports the
catch-up's wall time and events per second, the lost mark's, and checks the
central copy equals the hall's log. Target: a day of a busy hall (8,000 events)
caught up in under a minute on the 2-core machine.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from _common import emit, loadavg, log
from sqlalchemy import func, select
from werkzeug.serving import make_server

from server.central import schema as central
from server.central.app import create_central_app
from server.central.migrate import migrate as migrate_central
from server.central.store import CentralStore, Who
from server.config import CentralSection
from server.core.calendar import HallCalendar
from server.core.model import Counter, Service
from server.core.queue import Hall, QueueCore
from server.outbox import HallOutbox
from server.store import open_store
from server.store.outbox import OutboxStore
from server.store.schema import ticket_events
from server.store.sql import make_engine

PG = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_SECONDS = 60


def run_day(url: str, count: int) -> tuple[Hall, int]:
    """``count`` tickets through the core on a fake clock: issue, call, start, finish each."""
    hall = Hall(
        "压测营业厅",
        "Bench hall",
        {"PAY": Service("PAY", "缴费", "Payment", "B")},
        {n: Counter(n, f"{n}号窗口", f"Counter {n}", ("PAY",)) for n in range(1, 9)},
        HallCalendar(timezone="Asia/Shanghai"),
    )
    now = [datetime(2026, 3, 10, 1, 0, tzinfo=UTC)]
    store = open_store(url)
    core = QueueCore(hall, store, clock=lambda: now[0])
    for n in range(count):
        now[0] += timedelta(seconds=10)
        core.issue("PAY")
        counter = 1 + n % 8
        core.call_next(counter, f"clerk{counter}")
        core.start(counter, f"clerk{counter}")
        core.finish(counter, f"clerk{counter}")
    with store.engine.connect() as conn:
        events = int(conn.execute(select(func.count()).select_from(ticket_events)).scalar_one())
    store.engine.dispose()
    return hall, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--pg", default=PG, help="the PostgreSQL server (a database is made and dropped)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    load = loadavg()
    name = f"qcall_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    folder = Path(tempfile.mkdtemp(prefix="qcall-central-"))
    engine = make_engine(f"{base}/{name}")
    try:
        migrate_central(engine)
        store = CentralStore(engine)
        token = store.add_hall("bench-1", "east", Who("bench"), datetime.now(UTC))
        url = f"sqlite:///{folder / 'hall.db'}"
        log(f"a day of {args.tickets} tickets through the core …")
        hall, events = run_day(url, args.tickets)
        server = make_server("127.0.0.1", 0, create_central_app(store), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        section = CentralSection(
            url=f"http://127.0.0.1:{server.server_port}", hall="bench-1", token=token, batch=args.batch
        )
        hall_store = open_store(url)
        outbox_store = OutboxStore(hall_store.engine)

        def refuse(_template: dict[str, object]) -> tuple[bool, str]:
            return False, "no templates in the bench"

        outbox = HallOutbox(
            section, outbox_store, lambda: datetime.now(UTC), lambda: hall, refuse, lambda f: None
        )
        log(f"shipping {events} events, {args.batch} a batch …")
        started = time.perf_counter()
        while outbox.once() and outbox_store.marks("stream:").get("tickets", 0) < events:
            pass
        catchup = time.perf_counter() - started
        shipped = store.count(central.ticket_events)
        outbox_store.mark("stream:tickets", 0, datetime.now(UTC))  # the hall's mark lost
        started = time.perf_counter()
        while outbox.once() and outbox_store.marks("stream:").get("tickets", 0) < events:
            pass
        again = time.perf_counter() - started
        server.shutdown()
        hall_store.engine.dispose()
        emit(
            {
                "bench": "central_catchup",
                "tickets": args.tickets,
                "events": events,
                "batch": args.batch,
                "catchup_seconds": round(catchup, 2),
                "events_per_second": round(events / catchup),
                "lost_mark_seconds": round(again, 2),
                "central_events": shipped,
                "central_events_after_resend": store.count(central.ticket_events),
                "equal": shipped == events == store.count(central.ticket_events),
                "target_seconds": TARGET_SECONDS,
                "load_before": load,
            }
        )
    finally:
        engine.dispose()
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
