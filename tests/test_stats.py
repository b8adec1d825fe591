"""Statistics from the event log (server/store/stats.py), checked figure by figure on a known day.

The day of tests/stats_day.py is built through the queue core with a clock
moved by hand; every figure of every grouping is compared with the figures
worked out by hand, on SQLite and on PostgreSQL. The legs the figures are read
from must be what the event log says (replayed), and the percentiles must be
the same nearest-rank values on both databases.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from server.core.calendar import HallCalendar
from server.core.journey import replay
from server.core.satisfaction import Satisfaction, make_levels
from server.core.stats import BadStatsQuery, StatsQuery, nearest_rank, parse_day, report_json
from server.store import open_store
from server.store.schema import ticket_legs, tickets
from server.store.stats import Statistics, zone_steps
from tests import stats_day as known

CALENDAR = HallCalendar(timezone="Asia/Shanghai")


def report(
    url_or_day: Any, by: str, first: date = known.DAY, last: date | None = None, **filters: Any
) -> dict[str, Any]:
    store = url_or_day.store if isinstance(url_or_day, known.Day) else url_or_day
    satisfaction = url_or_day.core.hall.satisfaction if isinstance(url_or_day, known.Day) else Satisfaction()
    stats = Statistics(store.reader, CALENDAR, satisfaction)
    answer = stats.report(StatsQuery(first, last or first, by, **filters))
    return report_json(answer, known.SERVICES, known.COUNTERS)


def without_names(group: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in group.items() if k not in ("key", "name_zh", "name_en")}


@pytest.fixture
def day(database_url: str) -> known.Day:
    return known.build_day(database_url)


def test_the_kept_legs_are_what_the_event_log_says(day: known.Day) -> None:
    """The figures read ``ticket_legs``: each leg, ratings included, must be the log replayed."""
    for name in day.tickets:
        ticket, legs = day.core.journey(day.id(name))
        assert legs == replay(ticket, day.core.ticket(ticket.id)[0].history), name
    _, legs = day.core.journey(day.id("T2"))
    assert [(leg.staff, leg.rating, leg.rating_reason) for leg in legs] == [
        ("bob", "dissatisfied", "waited_too_long"),
        ("alice", "satisfied", None),
    ]


def test_a_known_day_by_every_grouping(day: known.Day) -> None:
    by_day = report(day, "day")
    assert [g["key"] for g in by_day["groups"]] == ["2026-03-10"]
    assert without_names(by_day["groups"][0]) == known.TOTAL
    assert by_day["total"] == known.TOTAL
    assert [(h["from"], h["to"], h["count"]) for h in by_day["handoffs"]] == known.HANDOFFS

    by_service = report(day, "service")
    assert {g["key"]: without_names(g) for g in by_service["groups"]} == known.BY_SERVICE
    assert [(g["key"], g["name_en"]) for g in by_service["groups"]] == [
        ("INFO", "Enquiries"),
        ("NEW", "New connection"),
        ("PAY", "Payment"),
    ]
    assert by_service["total"] == known.TOTAL

    by_counter = report(day, "counter")
    assert {g["key"]: without_names(g) for g in by_counter["groups"]} == known.BY_COUNTER
    assert [g["key"] for g in by_counter["groups"]] == [1, 2, 3, None]
    assert by_counter["total"]["tickets"]["issued"] is None  # tickets are issued at kiosks, not counters

    by_clerk = report(day, "clerk")
    assert {g["key"]: without_names(g) for g in by_clerk["groups"]} == known.BY_CLERK

    by_hour = report(day, "hour")
    assert {g["key"]: without_names(g) for g in by_hour["groups"]} == known.BY_HOUR
    assert by_hour["total"] == known.TOTAL


def test_a_period_and_the_filters(day: known.Day) -> None:
    both = report(day, "day", known.YESTERDAY, known.DAY)
    assert [g["key"] for g in both["groups"]] == ["2026-03-09", "2026-03-10"]
    assert without_names(both["groups"][0]) == known.YESTERDAY_FIGURES
    assert without_names(both["groups"][1]) == known.TOTAL
    assert both["total"]["tickets"]["issued"] == 11
    assert both["total"]["waiting"] == known.times(12, 283.3, 120, 600)  # 3400 / 12; rank 6 of 12

    day_before = report(day, "day", known.YESTERDAY)
    assert without_names(day_before["groups"][0]) == day_before["total"] == known.YESTERDAY_FIGURES
    assert day_before["handoffs"] == []
    empty = report(day, "clerk", date(2026, 3, 11))
    assert empty["groups"] == [] and empty["handoffs"] == []
    assert empty["total"] == known.figures(
        known.tickets(None, 0, 0, 0, 0, 0), known.NONE_TIMES, known.NONE_TIMES, known.NONE_RATED
    )

    pay = report(day, "clerk", service="PAY")
    assert pay["total"]["tickets"] == known.BY_SERVICE["PAY"]["tickets"] | {"issued": None}
    assert {g["key"] for g in pay["groups"]} == {"bob", "carol", "dave"}
    assert [(h["from"], h["to"]) for h in pay["handoffs"]] == [("INFO", "PAY"), ("PAY", "NEW")]
    by_service_pay = report(day, "service", service="PAY")
    assert [without_names(g) for g in by_service_pay["groups"]] == [known.BY_SERVICE["PAY"]]

    at_three = report(day, "clerk", counter=3)
    assert {g["key"] for g in at_three["groups"]} == {"bob", "carol"}
    assert at_three["total"] == known.BY_COUNTER[3]
    assert [(h["from"], h["to"]) for h in at_three["handoffs"]] == [("INFO", "PAY")]


def test_a_keypad_of_the_old_log_is_no_clerk(database_url: str) -> None:
    """Legs a keypad acted on before its keys were the clerk's on post name ``keypad:<device>``:
    the figures by clerk put them with the legs of no clerk, never as a clerk of their own."""
    d = known.make_day(database_url, Satisfaction())
    for i, who in enumerate(("alice", "keypad:keys-1")):
        d.at(f"09:{i * 10:02d}:00")
        d.issue(f"T{i}", "NEW")
        d.call(1, f"T{i}", who)
        d.core.start(1, who)
        d.core.finish(1, who)
    keys = [g["key"] for g in report(d, "clerk")["groups"]]
    assert keys == ["alice", None], keys


def test_five_levels_score_and_count_as_configured(database_url: str) -> None:
    """Five levels (100/80/60/40/0, the top three satisfied), and one site's own scores and mark."""
    five = Satisfaction(levels=make_levels(5), target=90)
    d = known.make_day(database_url, five)
    codes = ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"]
    for i, code in enumerate(codes):
        d.at(f"09:{i * 10:02d}:00")
        d.issue(f"T{i}", "NEW")
        d.call(1, f"T{i}", "alice")
        d.core.start(1, "alice")
        d.at(f"09:{i * 10 + 5:02d}:00")
        d.core.finish(1, "alice")
        reason = "attitude" if code.endswith("dissatisfied") else None
        d.core.evaluate(1, code, source="pad-1", reason=reason)
    figures = report(d, "clerk")["groups"][0]["satisfaction"]
    assert figures == {
        "ratings": 5,
        "satisfied": 3,
        "share": 0.6,
        "index": 56.0,  # (100 + 80 + 60 + 40 + 0) / 5
        "target_met": False,
        "levels": dict.fromkeys(codes, 1),
    }
    # A hall's own scores and satisfied levels count for ratings given under them.
    own = Satisfaction(
        levels=make_levels(5, {"basically_satisfied": 70}, ["very_satisfied", "satisfied"]), target=40
    )
    d.core.hall = known.Hall(
        d.core.hall.name_zh, d.core.hall.name_en, known.SERVICES, known.COUNTERS, CALENDAR, satisfaction=own
    )
    d.at("10:00:00")
    d.issue("T9", "NEW")
    d.call(1, "T9", "alice")
    d.core.start(1, "alice")
    d.core.finish(1, "alice")
    d.core.evaluate(1, "basically_satisfied", source="pad-1")
    again = Statistics(d.store.reader, CALENDAR, own).report(StatsQuery(known.DAY, known.DAY, "clerk"))
    assert report_json(again, known.SERVICES, known.COUNTERS)["groups"][0]["satisfaction"] == {
        "ratings": 6,
        "satisfied": 3,  # the earlier 基本满意 counted as satisfied when it was given; this one does not
        "share": 0.5,
        "index": 58.3,  # 350 / 6
        "target_met": True,
        "levels": {**dict.fromkeys(codes, 1), "basically_satisfied": 2},
    }


def test_questions_the_figures_cannot_answer_are_refused() -> None:
    with pytest.raises(BadStatsQuery, match="before"):
        StatsQuery(date(2026, 3, 10), date(2026, 3, 9))
    with pytest.raises(BadStatsQuery, match="366"):
        StatsQuery(date(2026, 1, 1), date(2027, 1, 2))
    StatsQuery(date(2028, 1, 1), date(2028, 12, 31))  # a leap year is 366 days
    with pytest.raises(BadStatsQuery, match="'by'"):
        StatsQuery(date(2026, 3, 10), date(2026, 3, 10), "week")
    # The store reads a few days past the period; at the calendar's end that overflowed (a 500).
    with pytest.raises(BadStatsQuery, match="from 2000 to 2999"):
        StatsQuery(date(9999, 12, 31), date(9999, 12, 31))
    with pytest.raises(BadStatsQuery, match="from 2000 to 2999"):
        StatsQuery(date(1999, 12, 31), date(2000, 1, 1))
    with pytest.raises(BadStatsQuery, match="'from' must be a year from 2000 to 2999"):
        parse_day("3000-01-01", "from")
    assert parse_day("2999-12-31", "to") == date(2999, 12, 31)


# -- the definitions, alike on both databases --------------------------------------------


def test_nearest_rank_is_ceil_in_integers() -> None:
    assert [nearest_rank(50, n) for n in (1, 2, 3, 4, 10)] == [1, 1, 2, 2, 5]
    assert [nearest_rank(90, n) for n in (1, 9, 10, 11, 70)] == [1, 9, 9, 10, 63]  # 0.9 × 70 in floats: 64


def fill_legs(url: str, seed: int) -> dict[str, list[float]]:
    """Legs with random waits (random microseconds on both ends) in groups of 1–70, kept as the
    hub keeps them (``timedelta.total_seconds()``); the exact waits by counter."""
    rng = random.Random(seed)
    store = open_store(url)
    waits: dict[str, list[float]] = {}
    base = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    ticket_rows, leg_rows = [], []
    for counter in range(1, 13):
        size = [1, 2, 3, 7, 10, 11, 19, 20, 21, 69, 70, 71][counter - 1]
        for i in range(size):
            queued = base + timedelta(seconds=rng.randrange(0, 20_000), microseconds=rng.randrange(1_000_000))
            wait = timedelta(seconds=rng.randrange(0, 3_000), microseconds=rng.randrange(1_000_000))
            ticket_id = f"t{counter}-{i}"
            ticket_rows.append(
                {
                    "id": ticket_id,
                    "number": f"A{counter:02d}{i:02d}",
                    "service": "PAY",
                    "seq": counter * 100 + i,
                    "business_day": known.DAY,
                    "status": "done",
                    "priority": 0,
                    "issued_at": queued,
                    "queue_at": queued,
                    "call_count": 1,
                    "leg": 1,
                }
            )
            leg_rows.append(
                {
                    "ticket_id": ticket_id,
                    "leg": 1,
                    "business_day": known.DAY,
                    "service": "PAY",
                    "queued_at": queued,
                    "transfer": False,
                    "counter": counter,
                    "staff": f"c{counter}",
                    "called_at": queued + wait,
                    "calls": 1,
                    "outcome": "no_show",
                    "wait_seconds": wait.total_seconds(),
                }
            )
            waits.setdefault(f"c{counter}", []).append(wait.total_seconds())
    with store.engine.begin() as conn:
        conn.execute(insert(tickets), ticket_rows)
        conn.execute(insert(ticket_legs), leg_rows)
    return waits


def expected_waits(values: list[float]) -> dict[str, Any]:
    """The mean of the exact seconds (0.1 s); a percentile the value at its rank, in whole seconds."""
    ordered = sorted(values)
    n = len(ordered)
    return {
        "count": n,
        "mean": round(sum(ordered) / n, 1),
        "p50": int(ordered[nearest_rank(50, n) - 1]),
        "p90": int(ordered[nearest_rank(90, n) - 1]),
    }


def test_percentiles_are_the_same_nearest_rank_on_sqlite_and_postgresql(sqlite_url: str, pg_url: str) -> None:
    answers = []
    for url in (sqlite_url, pg_url):
        waits = fill_legs(url, seed=20260310)
        answer = report(open_store(url), "clerk")
        assert {g["key"]: g["waiting"] for g in answer["groups"]} == {
            clerk: expected_waits(values) for clerk, values in waits.items()
        }
        assert answer["total"]["waiting"] == expected_waits([w for values in waits.values() for w in values])
        answers.append(answer)
    assert answers[0] == answers[1]


def test_the_local_hour_follows_daylight_saving(database_url: str) -> None:
    """Berlin moves from UTC+1 to UTC+2 at 01:00 UTC on 29 March 2026.

    09:00 local is 08:00 UTC before and 07:00 UTC after; 21:30 UTC on the 30th is 23:30 local.
    """
    berlin = ZoneInfo("Europe/Berlin")
    steps = zone_steps(berlin, datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC))
    assert steps == [(datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 3600), (None, 7200)]
    store = open_store(database_url)
    rows = []
    for day, utc_hour in ((date(2026, 3, 28), 8), (date(2026, 3, 30), 7), (date(2026, 3, 30), 21)):
        at = datetime(day.year, day.month, day.day, utc_hour, 30, tzinfo=UTC)
        rows.append((f"t-{day}-{utc_hour}", day, at))
    with store.engine.begin() as conn:
        for i, (ticket_id, day, at) in enumerate(rows):
            conn.execute(
                insert(tickets).values(
                    id=ticket_id,
                    number=f"A{i:03d}",
                    service="PAY",
                    seq=i + 1,
                    business_day=day,
                    status="waiting",
                    priority=0,
                    issued_at=at,
                    queue_at=at,
                    call_count=0,
                    leg=1,
                )
            )
    stats = Statistics(store.reader, HallCalendar(timezone="Europe/Berlin"), Satisfaction())
    answer = stats.report(StatsQuery(date(2026, 3, 28), date(2026, 3, 30), "hour"))
    hours = {key: figures.sections["tickets"]["issued"] for key, figures in answer.groups.items()}
    assert hours == {9: 2, 23: 1}


# -- the migration: legs written before it get their durations and ratings ------------------


def test_migration_0015_gives_old_legs_their_seconds_and_old_ratings_their_leg(
    empty_database_url: str,
) -> None:
    """Legs written under 0009 (before 0011 kept any durations) get ``wait_seconds``/``service_seconds``
    from SQL with the definition of server/core/targets.py (exact microseconds: the same float as
    ``timedelta.total_seconds()``) and no verdict (they had no target), and a rating of that time
    (one per ticket, no leg, no score) lands on the ticket's current leg with the old verdicts."""
    from alembic import command
    from sqlalchemy import select, text

    from server.store import alembic_config, make_engine

    engine = make_engine(empty_database_url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
    rng = random.Random(15)
    base = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    expected = {}
    with engine.begin() as conn:
        for i in range(200):
            queued = base + timedelta(seconds=rng.randrange(9000), microseconds=rng.randrange(1_000_000))
            called = queued + timedelta(seconds=rng.randrange(0, 5), microseconds=rng.randrange(1_000_000))
            started = called + timedelta(microseconds=rng.randrange(2_000_000))
            finished = started + timedelta(seconds=rng.randrange(3), microseconds=rng.randrange(1_000_000))
            ticket_id = f"old-{i}"
            conn.execute(
                text(
                    "INSERT INTO tickets (id, number, service, seq, business_day, status, priority, "
                    "issued_at, queue_at, call_count, leg) "
                    "VALUES (:id, :n, 'PAY', :seq, :day, 'done', 0, :at, :at, 1, 2)"
                ),
                {
                    "id": ticket_id,
                    "n": f"A{i:03d}",
                    "seq": i + 1,
                    "day": known.DAY,
                    "at": queued.replace(tzinfo=None),
                },
            )
            for leg in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO ticket_legs (ticket_id, leg, business_day, service, queued_at, "
                        "transfer, counter, staff, called_at, started_at, finished_at, calls, outcome) "
                        "VALUES (:id, :leg, :day, 'PAY', :q, :tr, 1, 'alice', :c, :s, :f, 1, :o)"
                    ),
                    {
                        "id": ticket_id,
                        "leg": leg,
                        "day": known.DAY,
                        "tr": leg == 2,
                        "q": queued.replace(tzinfo=None),
                        "c": called.replace(tzinfo=None),
                        "s": started.replace(tzinfo=None),
                        "f": finished.replace(tzinfo=None),
                        "o": "transferred" if leg == 1 else "done",
                    },
                )
            expected[ticket_id] = ((called - queued).total_seconds(), (finished - started).total_seconds())
        # The other ends of a leg (targets.py): cancelled while waiting (waited to its end, no
        # service), done without a start (served from its call), a no-show (waited, no service).
        odd = base + timedelta(hours=3, microseconds=250_000)
        for i, (outcome, called, started, finished) in enumerate(
            (
                ("cancelled", None, None, odd + timedelta(seconds=90, microseconds=500_000)),
                ("done", odd + timedelta(seconds=30), None, odd + timedelta(seconds=150, microseconds=1)),
                ("no_show", odd + timedelta(seconds=45), None, odd + timedelta(seconds=200)),
            )
        ):
            ticket_id = f"odd-{outcome}"
            conn.execute(
                text(
                    "INSERT INTO tickets (id, number, service, seq, business_day, status, priority, "
                    "issued_at, queue_at, call_count, leg) "
                    "VALUES (:id, :n, 'PAY', :seq, :day, :o, 0, :at, :at, 1, 1)"
                ),
                {
                    "id": ticket_id,
                    "n": f"B{i:03d}",
                    "seq": 300 + i,
                    "day": known.DAY,
                    "o": outcome,
                    "at": odd.replace(tzinfo=None),
                },
            )
            conn.execute(
                text(
                    "INSERT INTO ticket_legs (ticket_id, leg, business_day, service, queued_at, "
                    "transfer, counter, staff, called_at, started_at, finished_at, calls, outcome) "
                    "VALUES (:id, 1, :day, 'PAY', :q, :tr, NULL, NULL, :c, :s, :f, 1, :o)"
                ),
                {
                    "id": ticket_id,
                    "day": known.DAY,
                    "tr": False,
                    "q": odd.replace(tzinfo=None),
                    "c": called.replace(tzinfo=None) if called else None,
                    "s": started,
                    "f": finished.replace(tzinfo=None),
                    "o": outcome,
                },
            )
        conn.execute(
            text(
                "INSERT INTO ticket_events (ticket_id, kind, at, counter, staff, detail) "
                "VALUES ('old-7', 'evaluated', :at, 1, NULL, :detail)"
            ),
            {"at": base.replace(tzinfo=None), "detail": '{"rating": "satisfied", "source": "pad-1"}'},
        )
    engine.dispose()
    store = open_store(empty_database_url)  # to the head, as a hub's start does
    with store.engine.connect() as conn:
        rows = conn.execute(select(ticket_legs)).mappings().all()
    assert {
        r["ticket_id"]: (r["wait_seconds"], r["service_seconds"]) for r in rows if r["leg"] == 2
    } == expected
    assert {
        r["ticket_id"]: (r["wait_seconds"], r["service_seconds"])
        for r in rows
        if r["ticket_id"].startswith("odd-")
    } == {"odd-cancelled": (90.5, None), "odd-done": (30.0, 120.000001), "odd-no_show": (45.0, None)}
    rated = [
        (r["ticket_id"], r["leg"], r["rating"], r["rating_score"], r["rating_satisfied"])
        for r in rows
        if r["rating"]
    ]
    assert rated == [("old-7", 2, "satisfied", 80, True)]
    # Leg 1 (transferred on after its start) has its durations too; no leg was judged.
    old = [r for r in rows if r["ticket_id"].startswith("old-")]
    assert all(r["wait_seconds"] is not None and r["service_seconds"] is not None for r in old)
    assert {(r["wait_met"], r["service_met"]) for r in rows} == {(None, None)}
    assert any(r["wait_seconds"] != int(r["wait_seconds"]) for r in rows)  # microseconds kept, not truncated
