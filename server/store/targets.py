"""The share within target, counted from the kept legs (``ticket_legs``) in one query.

Each leg carries its own verdicts (``wait_met``, ``service_met``: true, false,
or null when it had no target or was not judged), written with the event that
decided them, so a day's figures are a count over its legs per service and
counter: no replay of the event log, and the same on SQLite and PostgreSQL
(``ix_ticket_legs_day_service`` finds the days).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, case, func, select

from ..core.targets import Tally
from .schema import ticket_legs


def _count(condition: Any) -> Any:
    """How many legs of the group meet ``condition`` (SUM of a CASE: both databases say it alike)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def target_tallies(conn: Connection, first_day: date, last_day: date) -> list[Tally]:
    """Legs of business days ``first_day`` to ``last_day`` per service and counter: with a target, and met."""
    legs = ticket_legs.c
    query = (
        select(
            legs.service,
            legs.counter,
            _count(legs.wait_met.is_not(None)),
            _count(legs.wait_met.is_(True)),
            _count(legs.service_met.is_not(None)),
            _count(legs.service_met.is_(True)),
        )
        .where(legs.business_day >= first_day, legs.business_day <= last_day)
        .group_by(legs.service, legs.counter)
        .order_by(legs.service, legs.counter)
    )
    return [
        Tally(service, counter, int(wait_with), int(wait_met), int(service_with), int(service_met))
        for service, counter, wait_with, wait_met, service_with, service_met in conn.execute(query)
    ]
