"""A year of one hall as rows of ``tickets`` and ``ticket_legs``, bulk-inserted: the statistics' load.

    .venv/bin/python -m sim.year_rows sqlite:///var/year.db [--tickets 150000] [--seed 2026]

Not a simulation of how a hall behaves (``sim.day`` is, through the API): it
writes what a year of the event log leaves in the two tables the statistics
read, fast (executemany in batches), with the shape of a busy utility hall —
every day of the year, 09:00–17:00 in Shanghai, five services, eight counters,
ten clerks; about one ticket in five handed on to a second service, one in
twenty-five a no-show, one in fifty cancelled, two in five of the services
rated. The same seed gives the same rows. No ``ticket_events`` rows: the
statistics never read them (the legs are their kept view).
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert

from server.store import make_engine, migrate
from server.store.schema import ticket_legs, tickets

ZONE = ZoneInfo("Asia/Shanghai")
SERVICES = ("NEW", "PAY", "INFO", "FAULT", "COMPLAINT")
#: Counter → the services it serves (the first is its own).
COUNTERS = {1: "NEW", 2: "NEW", 3: "PAY", 4: "PAY", 5: "PAY", 6: "INFO", 7: "FAULT", 8: "COMPLAINT"}
CLERKS = [f"clerk{n:02d}" for n in range(1, 11)]
RATINGS = (("very_satisfied", 100, True), ("satisfied", 80, True), ("dissatisfied", 0, False))
BATCH = 5_000


def year_rows(count: int, year: int, seed: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """``count`` tickets spread over the days of ``year``: each ticket's row and its legs' rows."""
    rng = random.Random(seed)
    first = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - first).days
    for n in range(count):
        day = first + timedelta(days=n * days // count)
        seq = n - (day - first).days * count // days + 1
        opens = datetime(day.year, day.month, day.day, 9, tzinfo=ZONE).astimezone(UTC)
        issued = opens + timedelta(seconds=rng.randrange(8 * 3600), microseconds=rng.randrange(1_000_000))
        service = rng.choice(SERVICES)
        ticket_id = f"y{n:07d}"
        legs = []
        queued, leg_service = issued, service
        for leg in (1, 2):
            counter = rng.choice([c for c, s in COUNTERS.items() if s == leg_service] or [6])
            called = queued + timedelta(seconds=rng.randrange(30, 2400))
            started = called + timedelta(seconds=rng.randrange(5, 90))
            finished = started + timedelta(seconds=rng.randrange(60, 1500))
            roll = rng.random()
            outcome = "done"
            if leg == 1 and roll < 0.2:
                outcome = "transferred"
            elif roll < 0.24:
                outcome, started = "no_show", None
            elif roll < 0.26:
                outcome, started, called = "cancelled", None, None
            row: dict[str, Any] = {
                "ticket_id": ticket_id,
                "leg": leg,
                "business_day": day,
                "service": leg_service,
                "queued_at": queued,
                "transfer": leg == 2,
                "counter": counter if called else None,
                "staff": rng.choice(CLERKS) if called else None,
                "called_at": called,
                "last_called_at": called,
                "started_at": started,
                "finished_at": finished,
                "calls": 1 if called else 0,
                "outcome": outcome,
                "rating": None,
                "rating_score": None,
                "rating_satisfied": None,
                "rated_at": None,
                # As server/core/targets.py measures them: a leg never called waited until its end;
                # only a leg started here was a service (no-shows and cancels here never started).
                "wait_seconds": ((called or finished) - queued).total_seconds(),
                "service_seconds": (finished - started).total_seconds() if started else None,
            }
            if outcome in ("done", "transferred") and started and rng.random() < 0.4:
                rating, score, satisfied = rng.choices(RATINGS, weights=(6, 3, 1))[0]
                row.update(rating=rating, rating_score=score, rating_satisfied=satisfied, rated_at=finished)
            legs.append(row)
            if outcome != "transferred":
                break
            queued, leg_service = finished, rng.choice([s for s in SERVICES if s != leg_service])
        last = legs[-1]
        ticket = {
            "id": ticket_id,
            "number": f"{SERVICES.index(service) + 1}{seq:05d}",
            "service": last["service"],
            "seq": seq,
            "business_day": day,
            "status": last["outcome"],
            "priority": 0,
            "issued_at": issued,
            "queue_at": issued,
            "counter": last["counter"],
            "called_at": last["called_at"],
            "started_at": last["started_at"],
            "finished_at": last["finished_at"],
            "call_count": last["calls"],
            "leg": len(legs),
        }
        yield ticket, legs


def fill_year(engine: Engine, count: int = 150_000, year: int = 2026, seed: int = 2026) -> int:
    """Insert the year's rows (the schema migrated first); the number of legs written."""
    migrate(engine)
    written = 0
    ticket_batch: list[dict[str, Any]] = []
    leg_batch: list[dict[str, Any]] = []

    def flush() -> None:
        with engine.begin() as conn:
            conn.execute(insert(tickets), ticket_batch)
            conn.execute(insert(ticket_legs), leg_batch)
        ticket_batch.clear()
        leg_batch.clear()

    for ticket, legs in year_rows(count, year, seed):
        ticket_batch.append(ticket)
        leg_batch.extend(legs)
        written += len(legs)
        if len(ticket_batch) >= BATCH:
            flush()
    if ticket_batch:
        flush()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the database to fill, e.g. sqlite:///var/year.db")
    parser.add_argument("--tickets", type=int, default=150_000)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    legs = fill_year(make_engine(args.url), args.tickets, args.year, args.seed)
    print(f"{args.tickets} tickets, {legs} legs written to {args.url}")


if __name__ == "__main__":
    main()
