"""A simulated week of a sample hall: seven days one after another on one hub (sim/day.py).

    .venv/bin/python -m sim.week --site bank_branch [--seed 7] [--scale 1.0]

The same simulator as ``sim.day`` with ``days=7`` (days the hall is closed are
skipped). Prints one JSON object: the day's figures over the week, with
``estimate``: the mean absolute error of the estimate given at issue against the
real wait (issue → first call), the same for the old rule of five minutes a
person ahead on the same tickets, and their ratio.

``--pace-log FILE`` also keeps what the pace model was told and asked, with each
ticket's real wait, for ``python -m sim.pace_replay FILE`` (sim/pace_log.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sim.day import SAMPLES, Day, add_service_cv, simulated_day
from sim.pace_log import PaceLog

DAYS = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", required=True, choices=sorted(p.stem for p in SAMPLES.glob("*.toml")))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="share of a full day's visitors")
    parser.add_argument("--pace-log", type=Path, help="keep the pace model's inputs here (sim/pace_log.py)")
    add_service_cv(parser)
    args = parser.parse_args()
    with simulated_day(args.site, args.seed, args.scale, DAYS, args.service_cv) as week:
        log = PaceLog(week.hub.core.pace, week.hub.core.hall.counters) if args.pace_log else None
        figures = week.run()
        if log is not None:
            log.save(args.pace_log, kept_tickets(week))
    figures["simulation"] = "hall_week"
    figures["service_cv"] = week.profile.service_cv
    print(json.dumps(figures, ensure_ascii=False))
    sys.exit(0 if figures["ok"] else 1)


def kept_tickets(week: Day) -> list[dict[str, Any]]:
    """Every ticket of the week: what it was told at issue and when (and where) it was first called."""
    from sqlalchemy import and_, select

    from server.store.schema import ticket_legs, tickets

    query = select(
        tickets.c.id,
        tickets.c.number,
        tickets.c.issued_at,
        tickets.c.priority,
        tickets.c.due_at,
        tickets.c.estimate_seconds,
        ticket_legs.c.service,
        ticket_legs.c.called_at,
        ticket_legs.c.counter,
    ).join(ticket_legs, and_(ticket_legs.c.ticket_id == tickets.c.id, ticket_legs.c.leg == 1))
    with week.hub.store.engine.connect() as conn:
        rows = [dict(row) for row in conn.execute(query).mappings()]
    for row in rows:
        visitor = week.visitors.get(row["id"])
        row["ahead"] = visitor.ahead if visitor is not None else None
    return rows


if __name__ == "__main__":
    main()
