"""The hall's deadlines across halls: complaints answered in time, complaints and cases' steps overdue.

A hall promises to answer a complaint (回访: the visitor is called back) and to finish
each step of a case within working days (server/core/due.py). The halls ship their
complaints and cases with only what these figures need (server/central/wire.py
``SHIPPED_COLUMNS``: ids, codes, states, times; nothing personal), and the
central service counts, per hall and for a report's halls:

- complaints **received** in the period (recorded within the hall's own business
  days of the period, in its own time zone), of those **answered** (called back)
  so far and **answered in time** (called back before the deadline ended); the
  share answered in time (答复客户时限合格率, the bar is 100 %) is of those that can
  be judged now: answered, or past their deadline unanswered (one still within its
  time counts for neither);
- complaints **open** now and **overdue** now (open past their deadline);
- cases **opened** in the period, **open** now, and their **steps overdue** now
  (the active step of an open case past its deadline).

A hall that has not shipped a stream yet (no ``complaints`` or ``cases`` cursor here:
a hall not yet upgraded, or not yet heard from) has no figures of it: they are null
(the page shows "未上报 / Not shipped"), not 0, and the sums leave it out and name it
(``halls_missing``), so a company share is never quietly that of fewer halls.

"Now" is the central service's clock: a figure of a hall whose link is down is as
of its last batch, except that what was open then and has come due since counts
as overdue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, or_, select

from ..core.cases import CaseStatus, StepStatus
from ..core.complaints import ComplaintStatus
from ..reports.figures import Period
from . import schema as central

#: The figures of complaints and of cases, in the order a report carries them.
COMPLAINTS = ("received", "answered", "answered_in_time", "judged", "open", "overdue")
CASES = ("opened", "open", "steps_overdue")


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def shipping(conn: Connection, halls: Sequence[str], stream: str) -> set[str]:
    """Those of ``halls`` that have shipped ``stream`` (it has a cursor here, even at 0)."""
    cursors = central.cursors.c
    query = select(cursors.hall_id).where(cursors.hall_id.in_(halls), cursors.stream == stream)
    return set(conn.execute(query).scalars())


def _now(conn: Connection, halls: Sequence[str], now: datetime) -> dict[str, dict[str, int]]:
    """Per hall: complaints open and overdue, cases open, steps overdue, now (as if all had shipped)."""
    found: dict[str, dict[str, int]] = {
        h: {"open": 0, "overdue": 0, "cases_open": 0, "steps": 0} for h in halls
    }
    k = central.complaints.c
    query = (
        select(k.hall_id, func.count(), _count(k.due_at <= now))
        .where(k.hall_id.in_(halls), k.status == ComplaintStatus.OPEN.value)
        .group_by(k.hall_id)
    )
    for hall, still_open, overdue in conn.execute(query):
        found[hall].update(open=int(still_open), overdue=int(overdue))
    c, s = central.cases.c, central.case_steps.c
    query = (
        select(c.hall_id, func.count())
        .where(c.hall_id.in_(halls), c.status == CaseStatus.OPEN.value)
        .group_by(c.hall_id)
    )
    for hall, still_open in conn.execute(query):
        found[hall]["cases_open"] = int(still_open)
    query = (
        select(s.hall_id, func.count())
        .select_from(central.case_steps.join(central.cases, and_(c.hall_id == s.hall_id, c.id == s.case_id)))
        .where(
            s.hall_id.in_(halls),
            s.status == StepStatus.ACTIVE.value,
            s.due_at <= now,
            c.status == CaseStatus.OPEN.value,
        )
        .group_by(s.hall_id)
    )
    for hall, overdue in conn.execute(query):
        found[hall]["steps"] = int(overdue)
    return found


def live(engine: Engine, halls: Sequence[str], now: datetime) -> dict[str, dict[str, int | None]]:
    """Each hall's open and overdue complaints and cases now, as the live view shows them (null: a
    stream the hall has not shipped)."""
    with engine.connect() as conn:
        counted = _now(conn, halls, now)
        complaints, cases = shipping(conn, halls, "complaints"), shipping(conn, halls, "cases")
    return {
        hall: {
            "complaints_open": f["open"] if hall in complaints else None,
            "complaints_overdue": f["overdue"] if hall in complaints else None,
            "cases_open": f["cases_open"] if hall in cases else None,
            "case_steps_overdue": f["steps"] if hall in cases else None,
        }
        for hall, f in counted.items()
    }


def figures(engine: Engine, halls: Sequence[dict[str, Any]], period: Period, now: datetime) -> dict[str, Any]:
    """The complaints and cases of ``halls`` (central_halls rows) in ``period``: each hall's, the sum."""
    from .reports import hall_view  # the report's module imports this one

    ids = [h["hall_id"] for h in halls]
    # Each hall's period in its own time zone and day start; halls that share them, one query.
    bounds: dict[tuple[datetime, datetime], list[str]] = {}
    for row in halls:
        calendar = hall_view(row["profile"] or {}).calendar
        start = calendar.day_start(period.first)
        end = calendar.day_start(period.last + timedelta(days=1))
        bounds.setdefault((start, end), []).append(row["hall_id"])
    complaints = {h: dict.fromkeys(COMPLAINTS, 0) for h in ids}
    cases = {h: dict.fromkeys(CASES, 0) for h in ids}
    k, c = central.complaints.c, central.cases.c
    with engine.connect() as conn:
        for (start, end), group in bounds.items():
            query = (
                select(
                    k.hall_id,
                    func.count(),
                    _count(k.return_at.is_not(None)),
                    _count(k.return_at < k.due_at),
                    _count(or_(k.return_at.is_not(None), k.due_at <= now)),
                )
                .where(k.hall_id.in_(group), k.recorded_at >= start, k.recorded_at < end)
                .group_by(k.hall_id)
            )
            for hall, received, answered, in_time, judged in conn.execute(query):
                complaints[hall].update(
                    received=int(received),
                    answered=int(answered),
                    answered_in_time=int(in_time),
                    judged=int(judged),
                )
            query = (
                select(c.hall_id, func.count())
                .where(c.hall_id.in_(group), c.opened_at >= start, c.opened_at < end)
                .group_by(c.hall_id)
            )
            for hall, opened in conn.execute(query):
                cases[hall]["opened"] = int(opened)
        for hall, f in _now(conn, ids, now).items():
            complaints[hall].update(open=f["open"], overdue=f["overdue"])
            cases[hall].update(open=f["cases_open"], steps_overdue=f["steps"])
        shipped_complaints = shipping(conn, ids, "complaints")
        shipped_cases = shipping(conn, ids, "cases")
    answer: dict[str, Any] = {
        "complaints": _with_total(complaints, COMPLAINTS, shipped_complaints),
        "cases": _with_total(cases, CASES, shipped_cases),
        "as_of": now.isoformat(),
    }
    return answer


def _with_total(
    per_hall: dict[str, dict[str, int]], names: tuple[str, ...], shipped: set[str]
) -> dict[str, Any]:
    """Each hall's figures and their sum over the halls that shipped them; the others' figures null,
    named in ``halls_missing``."""
    counted = {hall: f for hall, f in per_hall.items() if hall in shipped}
    total: dict[str, Any] = {name: sum(f[name] for f in counted.values()) for name in names}
    halls: list[dict[str, Any]] = [
        {"hall": hall, **(f if hall in shipped else dict.fromkeys(names))} for hall, f in per_hall.items()
    ]
    if "answered_in_time" in names:  # 答复客户时限合格率: of the complaints that can be judged now
        for f in (total, *halls):
            judged = f["judged"]
            f["answered_in_time_share"] = None if judged is None else _share(f["answered_in_time"], judged)
    missing = [hall for hall in per_hall if hall not in shipped]
    return {"total": total, "halls": halls, "halls_missing": missing}
