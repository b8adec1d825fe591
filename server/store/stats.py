"""The hall's statistics as SQL over what the event log keeps: ``tickets`` and ``ticket_legs``.

Both tables are written from the event log in the transaction of each event
(``ticket_legs`` is :func:`server.core.journey.advance` folded over the log;
a test replays the log and compares), so they are the log's own view, not a
second source of truth: no counter is kept anywhere else for statistics.

One SQL pass per *figure group* (:data:`FIGURE_GROUPS`), grouped in the
database, whatever the length of the period: the month of a hall issuing
150,000 tickets a year is a range scan of ``ix_ticket_legs_day_service`` (and of
``ix_tickets_queue`` for the tickets issued), never a loop over tickets in
Python. The whole period's figures of an *additive* group (counts, sums) are
its groups' added up; a group that is not (a percentile of the whole is not
made of the groups') runs once more for the whole period: seven passes in all,
the hand-off paths included.

The same SQL on SQLite and PostgreSQL, with the definitions of
server/core/stats.py: durations are the legs' own seconds (``wait_seconds``,
``service_seconds``, written with the event that decides them by the
definitions of server/core/targets.py, so the statistics and the share within
target measure alike: sorting numbers, not parsing times, per row), the
hall's local hour from UTC offsets worked out in Python for the period (SQLite
has no time zones; a change of offset, daylight saving, becomes a ``CASE``),
and nearest-rank percentiles by ``row_number()`` against ``ceil(p·n/100)``
computed in integers.

Adding a figure group (the share within the waiting-time target from the legs'
``wait_met``, the estimate's error from the tickets' ``estimate_seconds``,
complaints): write a function ``(conn, scope) -> {group key: {figure: value}}``
that runs one query over ``scope.legs_where()`` grouped by ``scope.leg_key()``,
give it a :class:`FigureGroup` with the section's name, its values for a group
that has none, whether they add up, and how sums become figures (``shape``),
and add it to :data:`FIGURE_GROUPS`. The report, its total and the API answer
carry the new section as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    FromClause,
    Integer,
    Interval,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
)

from ..core.calendar import HallCalendar
from ..core.model import LegOutcome
from ..core.satisfaction import LEVEL_CODES, Satisfaction
from ..core.stats import (
    PERCENTILES,
    Durations,
    Figures,
    Handoff,
    Report,
    StatsQuery,
    satisfaction_json,
)
from .schema import ticket_legs, tickets
from .sql import READ_ONLY

Key = Any
Rows = dict[Key, dict[str, Any]]


# -- time as SQL ---------------------------------------------------------------------


def zone_steps(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets (seconds) between ``start`` and ``end``: ``[(until, offset), …, (None, last)]``.

    ``until`` is the first UTC second of the next offset. Found by days, then
    to the second by bisection: a year is 366 look-ups, not one per ticket.
    """

    def offset(second: int) -> int:
        moment = datetime.fromtimestamp(second, UTC).astimezone(zone)
        shift = moment.utcoffset()
        return int(shift.total_seconds()) if shift is not None else 0

    steps: list[tuple[datetime | None, int]] = []
    here, stop = int(start.timestamp()), int(end.timestamp())
    current = offset(here)
    while here < stop:
        ahead = min(here + 86_400, stop)
        if offset(ahead) != current:
            low, high = here, ahead  # offset(low) is current, offset(high) is not
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == current:
                    low = middle
                else:
                    high = middle
            steps.append((datetime.fromtimestamp(high, UTC), current))
            current = offset(high)
        here = ahead
    steps.append((None, current))
    return steps


def local_hour(moment: Any, steps: list[tuple[datetime | None, int]], dialect: str) -> ColumnElement[int]:
    """The hour (0–23) of the hall's local time at ``moment`` (a UTC column), alike on both databases."""

    def shifted(seconds: int) -> ColumnElement[int]:
        if dialect == "postgresql":
            return cast(
                func.extract("hour", moment + literal_column(f"INTERVAL '{int(seconds)} seconds'", Interval)),
                Integer,
            )
        return cast(func.strftime("%H", moment, f"{int(seconds):+d} seconds"), Integer)

    if len(steps) == 1:
        return shifted(steps[0][1])
    whens = [(moment < until, shifted(seconds)) for until, seconds in steps[:-1]]
    return case(*whens, else_=shifted(steps[-1][1]))


# -- where the figures are read ----------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The tables the figures are read from: a hall's own, or the central store's copies of many halls'.

    The central service (server/central/) keeps every hall's ``tickets`` and ``ticket_legs`` with the
    same columns and a ``hall_id`` in front of the key; its reports run these very queries over them,
    so a hall's report read there equals the hall's own. ``halls``: the halls read (None: the tables
    are one hall's). ``per_hall``: counters and clerks are grouped with their hall (counter 1 of two
    halls is two counters, clerk ``wang`` of two halls two clerks), keys ``"<hall>/<counter>"``.
    """

    tickets: Table
    legs: Table
    halls: tuple[str, ...] | None = None
    per_hall: bool = False

    def where(self, table: FromClause) -> list[ColumnElement[bool]]:
        """The rows of the halls read (nothing to add for a hall's own tables)."""
        return [] if self.halls is None else [table.c.hall_id.in_(self.halls)]

    def same_hall(self, a: FromClause, b: FromClause) -> list[ColumnElement[bool]]:
        """Rows of two tables joined by ticket also belong to one hall (ticket ids are per hall)."""
        return [] if self.halls is None else [a.c.hall_id == b.c.hall_id]

    def place(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A counter or clerk as a group's key: with its hall when several halls are read."""
        if not self.per_hall:
            return column
        hall_id: ColumnElement[str] = self.legs.c.hall_id
        return hall_id + "/" + cast(column, String)


#: The hub's own store.
HALL_TABLES = Source(tickets, ticket_legs)


# -- what is asked, as SQL --------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """A question as the figure groups need it: the legs and tickets in it, and how to group them.

    ``total``: the whole period in one group (no grouping key).
    """

    query: StatsQuery
    dialect: str
    steps: list[tuple[datetime | None, int]]
    satisfaction: Satisfaction
    total: bool = False
    source: Source = HALL_TABLES

    def leg_key(self) -> ColumnElement[Any] | None:
        """The grouping of a leg: its business day, local hour of queueing, service, counter or clerk."""
        if self.total:
            return None
        legs = self.source.legs.c
        by = self.query.by
        if by == "hour":
            return local_hour(legs.queued_at, self.steps, self.dialect)
        column: ColumnElement[Any] = {
            "day": legs.business_day,
            "service": legs.service,
            "counter": self.source.place(legs.counter),
            "clerk": self.source.place(_clerk(legs.staff)),
        }[by]
        return column

    def legs_where(self) -> list[ColumnElement[bool]]:
        legs = self.source.legs.c
        where = [legs.business_day >= self.query.first, legs.business_day <= self.query.last]
        where += self.source.where(self.source.legs)
        if self.query.service is not None:
            where.append(legs.service == self.query.service)
        if self.query.counter is not None:
            where.append(legs.counter == self.query.counter)
        return where


def _clerk(staff: ColumnElement[Any]) -> ColumnElement[Any]:
    """A leg's clerk: none for a leg a keypad acted on before its keys were the clerk's on post
    (events before the fix name a made-up ``keypad:<device>``): a device is no clerk of any report."""
    return case((staff.like(f"{LEGACY_KEYPAD}%"), null()), else_=staff)


#: How a keypad's actions were once credited (to "keypad:<device name>"), before they were the clerk's.
LEGACY_KEYPAD = "keypad:"


def _grouped(key: ColumnElement[Any] | None, *figures: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    """The select list: the group's key (NULL for the whole period) and its figures."""
    return [(key if key is not None else null()).label("k"), *figures]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# -- the figure groups --------------------------------------------------------------------


def issued_figures(conn: Connection, scope: Scope) -> Rows:
    """Tickets issued: new visitors, by the service they first asked for (leg 1's, else the ticket's)."""
    if not scope.query.counts_issued:
        return {}
    source = scope.source
    tickets = source.tickets
    first = source.legs.alias("first_leg")
    first_service = func.coalesce(first.c.service, tickets.c.service)
    key: ColumnElement[Any] | None = None
    if not scope.total:
        key = {
            "day": tickets.c.business_day,
            "hour": local_hour(tickets.c.issued_at, scope.steps, scope.dialect),
            "service": first_service,
        }[scope.query.by]
    query = select(*_grouped(key, func.count().label("issued"))).where(
        tickets.c.business_day >= scope.query.first,
        tickets.c.business_day <= scope.query.last,
        *source.where(tickets),
    )
    if scope.query.by == "service" or scope.query.service is not None:  # the first service: leg 1's
        joined = and_(first.c.ticket_id == tickets.c.id, first.c.leg == 1, *source.same_hall(first, tickets))
        query = query.select_from(tickets.outerjoin(first, joined))
    if scope.query.service is not None:
        query = query.where(first_service == scope.query.service)
    if key is not None:
        query = query.group_by(key)
    return {row.k: {"issued": int(row.issued)} for row in conn.execute(query)}


OUTCOMES = ("served", "no_show", "cancelled", "transferred", "transferred_in")


def outcome_figures(conn: Connection, scope: Scope) -> Rows:
    """How each leg ended: served, no-show, cancelled, transferred out; and legs transferred in."""
    legs = scope.source.legs.c
    key = scope.leg_key()
    query = select(
        *_grouped(
            key,
            _count_if(legs.outcome == LegOutcome.DONE.value).label("served"),
            _count_if(legs.outcome == LegOutcome.NO_SHOW.value).label("no_show"),
            _count_if(legs.outcome == LegOutcome.CANCELLED.value).label("cancelled"),
            _count_if(legs.outcome == LegOutcome.TRANSFERRED.value).label("transferred"),
            _count_if(legs.transfer.is_(True)).label("transferred_in"),
        )
    ).where(*scope.legs_where())
    if key is not None:
        query = query.group_by(key)
    return {row.k: {name: int(getattr(row, name)) for name in OUTCOMES} for row in conn.execute(query)}


def _durations(conn: Connection, scope: Scope, seconds: ColumnElement[float]) -> Rows:
    """Count, total and nearest-rank percentiles of a leg's ``seconds`` (where it has them).

    ``row_number()`` and the partition's count share one window (same partition
    and order, the count over the whole frame), so the database sorts once.
    """
    key = scope.leg_key()
    partition = [key] if key is not None else None
    whole = (None, None)  # ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ranked = (
        select(
            *([key.label("k")] if key is not None else []),
            seconds.label("s"),
            func.row_number().over(partition_by=partition, order_by=seconds).label("rn"),
            func.count().over(partition_by=partition, order_by=seconds, rows=whole).label("n"),
        )
        .where(*scope.legs_where(), seconds.is_not(None))
        .subquery("ranked")
    )
    n = ranked.c.n
    at_rank = [
        func.max(case((ranked.c.rn == (p * n + 99) // 100, ranked.c.s))).label(f"p{p}") for p in PERCENTILES
    ]
    query = select(
        *_grouped(
            ranked.c.k if key is not None else None,
            func.max(n).label("counted"),
            func.sum(ranked.c.s).label("total"),
            *at_rank,
        )
    )
    if key is not None:
        query = query.group_by(ranked.c.k)
    found: Rows = {}
    for row in conn.execute(query):
        if not row.counted:
            continue
        figures = Durations(int(row.counted), float(row.total), _int(row.p50), _int(row.p90))
        found[row.k] = figures.as_json()
    return found


def waiting_figures(conn: Connection, scope: Scope) -> Rows:
    """Waiting (``wait_seconds``): from joining the queue to the first call, or to the end of a leg
    never called."""
    return _durations(conn, scope, scope.source.legs.c.wait_seconds)


def service_figures(conn: Connection, scope: Scope) -> Rows:
    """Service: from the start (or the last call) to the end of a service given (``service_seconds``)."""
    return _durations(conn, scope, scope.source.legs.c.service_seconds)


#: Every rating code any site may have kept (three levels are among the five).
ALL_LEVELS = LEVEL_CODES[5]
#: The sums a group's ratings are kept as (a level as ``level_<code>``: one may be called "satisfied").
RATING_SUMS = ("ratings", "satisfied", "score_total", *(f"level_{code}" for code in ALL_LEVELS))


def satisfaction_figures(conn: Connection, scope: Scope) -> Rows:
    """Sums of the ratings: how many, how many satisfied, their scores, each level's count."""
    legs = scope.source.legs.c
    key = scope.leg_key()
    query = select(
        *_grouped(
            key,
            func.count().label("ratings"),
            _count_if(legs.rating_satisfied.is_(True)).label("satisfied"),
            func.coalesce(func.sum(legs.rating_score), 0).label("score_total"),
            *[_count_if(legs.rating == code).label(f"level_{code}") for code in ALL_LEVELS],
        )
    ).where(*scope.legs_where(), legs.rating.is_not(None))
    if key is not None:
        query = query.group_by(key)
    return {
        row["k"]: {name: int(row[name]) for name in RATING_SUMS} for row in conn.execute(query).mappings()
    }


def satisfaction_shape(scope: Scope, sums: dict[str, Any]) -> dict[str, Any]:
    """The share satisfied, the index and the target met from the sums; the levels offered, and any
    other kept (a hall that changed its levels)."""
    figures = satisfaction_json(
        sums["ratings"], sums["satisfied"], sums["score_total"], scope.satisfaction.target
    )
    offered = {level.code for level in scope.satisfaction.levels}
    counts = {code: sums[f"level_{code}"] for code in ALL_LEVELS}
    figures["levels"] = {code: n for code, n in counts.items() if code in offered or n}
    return figures


@dataclass(frozen=True)
class FigureGroup:
    """One section of every group's figures, computed by one SQL pass.

    ``compute`` answers ``{group key: values}``. An *additive* group's values
    are integer sums over the legs or tickets (counts): the whole period's are
    the groups' added up, with no second pass, and ``shape`` turns them into
    the figures (a share, an index). A group that is not additive (a
    percentile) runs again for the whole period and answers its figures as
    they are.
    """

    section: str
    compute: Callable[[Connection, Scope], Rows]
    #: The values of a group that has none (no ratings, no service started): the sums' zeros.
    empty: Callable[[Scope], dict[str, Any]]
    additive: bool = True
    shape: Callable[[Scope, dict[str, Any]], dict[str, Any]] = lambda _scope, values: dict(values)


def _no_issued(scope: Scope) -> dict[str, Any]:
    return {"issued": 0 if scope.query.counts_issued else None}


#: The figure groups, in the order of the answer. Add a group here (see the module's docstring).
FIGURE_GROUPS: tuple[FigureGroup, ...] = (
    FigureGroup("tickets", issued_figures, _no_issued),
    FigureGroup("tickets", outcome_figures, lambda _scope: dict.fromkeys(OUTCOMES, 0)),
    FigureGroup("waiting", waiting_figures, lambda _scope: Durations().as_json(), additive=False),
    FigureGroup("service_time", service_figures, lambda _scope: Durations().as_json(), additive=False),
    FigureGroup(
        "satisfaction",
        satisfaction_figures,
        lambda _scope: dict.fromkeys(RATING_SUMS, 0),
        shape=satisfaction_shape,
    ),
)


def handoffs(conn: Connection, query: StatsQuery, source: Source = HALL_TABLES) -> list[Handoff]:
    """The paths tickets took between services (内转: from → to) in the period, most taken first.

    Filtered by service: paths out of it or into it; by counter: paths out of it.
    """
    to, previous = source.legs, source.legs.alias("previous")
    count = func.count().label("n")
    before = and_(
        previous.c.ticket_id == to.c.ticket_id,
        previous.c.leg == to.c.leg - 1,
        *source.same_hall(previous, to),
    )
    stmt = (
        select(previous.c.service.label("from_service"), to.c.service.label("to_service"), count)
        .select_from(to.join(previous, before))
        .where(
            to.c.transfer.is_(True),
            to.c.business_day >= query.first,
            to.c.business_day <= query.last,
            *source.where(to),
        )
        .group_by(previous.c.service, to.c.service)
        .order_by(count.desc(), previous.c.service, to.c.service)
    )
    if query.service is not None:
        stmt = stmt.where(or_(previous.c.service == query.service, to.c.service == query.service))
    if query.counter is not None:
        stmt = stmt.where(previous.c.counter == query.counter)
    return [Handoff(row.from_service, row.to_service, int(row.n)) for row in conn.execute(stmt)]


# -- the report ---------------------------------------------------------------------------


class Statistics:
    """Answers :class:`StatsQuery` questions from a store's engine, read-only and consistent."""

    def __init__(
        self,
        engine: Engine,
        calendar: HallCalendar,
        satisfaction: Satisfaction,
        source: Source = HALL_TABLES,
    ) -> None:
        self.engine = engine
        self.calendar = calendar
        self.satisfaction = satisfaction
        self.source = source

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """One read-only transaction for every pass: the figures of one report agree with each other
        (SQLite: one snapshot of the WAL; PostgreSQL: REPEATABLE READ)."""
        options: dict[str, Any] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            options.update(postgresql_readonly=True, isolation_level="REPEATABLE READ")
        with self.engine.connect() as conn, conn.execution_options(**options).begin():
            yield conn

    def report(self, query: StatsQuery) -> Report:
        with self._reading() as conn:
            return self._report(conn, query, whole=True)

    def reports(self, queries: Sequence[StatsQuery]) -> list[Report]:
        """Several groupings of one question in one read transaction, so they agree with each other.

        The hall's reports (server/reports/) want a period by day or hour, service, counter and
        clerk at once. Only the first report's total and hand-offs are computed — they are the
        same whatever the grouping, and the whole period's percentiles and paths are a third of
        the passes — the others carry an empty total (no sections) and no hand-offs.
        """
        with self._reading() as conn:
            return [self._report(conn, query, whole=n == 0) for n, query in enumerate(queries)]

    def _report(self, conn: Connection, query: StatsQuery, whole: bool) -> Report:
        dialect = self.engine.dialect.name
        steps = zone_steps(
            self.calendar.zone,
            self._start(query.first - timedelta(days=1)),
            self._start(query.last + timedelta(days=3)),
        )
        grouped = Scope(query, dialect, steps, self.satisfaction, source=self.source)
        period = Scope(query, dialect, steps, self.satisfaction, total=True, source=self.source)
        groups: dict[Key, Figures] = {}
        total = Figures()
        for group in FIGURE_GROUPS:
            rows = group.compute(conn, grouped)
            for key, values in rows.items():
                if key not in groups:  # a group without some figures shows their zeros
                    groups[key] = _empty(grouped)
                groups[key].merge(group.section, group.shape(grouped, values))
            if not whole:
                continue
            if group.additive:
                total.merge(group.section, group.shape(period, _added(group.empty(period), rows.values())))
            else:
                period_rows = group.compute(conn, period)
                total.merge(group.section, period_rows.get(None) or group.empty(period))
        paths = handoffs(conn, query, self.source) if whole else []
        return Report(query, groups, total, paths)

    def _start(self, day: date) -> datetime:
        """The UTC moment business day ``day`` begins."""
        local = datetime.combine(day, self.calendar.day_starts_at or time(0), tzinfo=self.calendar.zone)
        return local.astimezone(UTC)


def _empty(scope: Scope) -> Figures:
    figures = Figures()
    for group in FIGURE_GROUPS:
        figures.merge(group.section, group.shape(scope, group.empty(scope)))
    return figures


def _added(zeros: dict[str, Any], rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sums of every group's values (a group's count of None stays None: issued by counter)."""
    total = dict(zeros)
    for values in rows:
        for name, value in values.items():
            total[name] = value if total.get(name) is None else total[name] + value
    return total


def _int(value: Any) -> int | None:
    """Whole seconds of a kept duration, truncated toward zero (``int`` of a float does)."""
    return None if value is None else int(value)
