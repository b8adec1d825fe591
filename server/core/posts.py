"""Staff on post: who is at which counter, their breaks, and the day's attendance built from them.

A counter is open only while a clerk is on post at it (logged in at it) and
not on a break. Every change is one :class:`PostEvent` in the post log,
written in the transaction that changes the counter: a clerk going on post,
leaving it (and how: logout, a move to another counter, the login ending),
a break starting with its reason and ending with its length. Attendance (first
login, last logout, time on post, time on break by reason) is computed from
that log, never kept twice.

Plain data and pure functions: the queue core writes the events
(:meth:`~server.core.queue.QueueCore.take_post` and its siblings), the store
keeps them, reports read them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from .calendar import HallCalendar


class PostKind(StrEnum):
    """One entry of the post log."""

    POST_START = "post_start"
    POST_END = "post_end"
    BREAK_START = "break_start"
    BREAK_END = "break_end"


class PostEnd(StrEnum):
    """How a post ended (the ``reason`` of a ``post_end``; ``by`` of a break ended with it)."""

    #: The clerk logged out.
    LOGOUT = "logout"
    #: The clerk logged in at another counter and moved there.
    MOVED = "moved"
    #: The login's time ran out (``[hub] staff_session_hours``).
    EXPIRED = "expired"
    #: The login was ended otherwise: the user disabled, a new password, a newer login.
    SESSION_ENDED = "session_ended"
    #: An admin ended the post (a clerk who left without logging out).
    ENDED_BY_ADMIN = "ended_by_admin"


#: How a break ended when the clerk ended it (``by`` of its ``break_end``).
RESUMED = "resume"


@dataclass(frozen=True)
class BreakReason:
    """A reason a clerk may give for a break (午餐 lunch, 会议 meeting, …): ``[staff] break_reasons``."""

    code: str
    name_zh: str
    name_en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name_zh": self.name_zh, "name_en": self.name_en}


#: The break reasons of a site that lists none of its own.
DEFAULT_BREAK_REASONS = (
    BreakReason("lunch", "午餐", "Lunch"),
    BreakReason("meeting", "会议", "Meeting"),
    BreakReason("training", "培训", "Training"),
    BreakReason("personal", "个人事务", "Personal"),
    BreakReason("other", "其他", "Other"),
)


@dataclass(frozen=True)
class PostEvent:
    """Something that happened to a clerk's post, when and at which counter.

    ``reason``: a break's reason code (``break_start``, ``break_end``) or how
    a post ended (``post_end``, a :class:`PostEnd`). ``detail`` of a
    ``break_end``: ``started_at``, ``seconds`` and ``by`` (``resume`` or how the
    post ended); of a ``post_end``: ``started_at`` and ``seconds``.
    """

    kind: PostKind
    at: datetime
    business_day: date
    username: str
    counter: int
    reason: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "at": self.at.isoformat(),
            "business_day": self.business_day.isoformat(),
            "username": self.username,
            "counter": self.counter,
            "reason": self.reason,
            "detail": self.detail,
        }


def seconds_between(start: datetime, end: datetime) -> int:
    """Whole seconds from ``start`` to ``end`` (never negative): a break's or a post's length."""
    return max(0, int((end - start).total_seconds()))


@dataclass(frozen=True)
class Break:
    """One break of a clerk at a counter: its reason, start, end (None: still on it) and length."""

    username: str
    counter: int
    reason: str
    started_at: datetime
    ended_at: datetime | None
    seconds: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "counter": self.counter,
            "reason": self.reason,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "seconds": self.seconds,
        }


def breaks(events: Iterable[PostEvent], now: datetime) -> list[Break]:
    """The breaks in ``events`` (ended ones from their ``break_end``; one still open runs until ``now``),
    in order of their start."""
    found: list[Break] = []
    open_breaks: dict[tuple[str, int], PostEvent] = {}
    for event in sorted(events, key=lambda e: e.at):
        key = (event.username, event.counter)
        if event.kind is PostKind.BREAK_START:
            open_breaks[key] = event
        elif event.kind is PostKind.BREAK_END:
            started = open_breaks.pop(key, None)
            start = started.at if started else _when(event.detail.get("started_at"), event.at)
            found.append(
                Break(
                    event.username,
                    event.counter,
                    event.reason,
                    start,
                    event.at,
                    seconds_between(start, event.at),
                )
            )
    for event in open_breaks.values():
        found.append(
            Break(event.username, event.counter, event.reason, event.at, None, seconds_between(event.at, now))
        )
    return sorted(found, key=lambda b: b.started_at)


def _when(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return fallback
    return fallback


@dataclass
class Attendance:
    """One clerk's day, from the post log: on post from ``first_login`` to ``last_logout`` (None: still
    on post), ``on_post_seconds`` in all, of which ``break_seconds`` (by reason) on a break."""

    username: str
    first_login: datetime | None = None
    last_logout: datetime | None = None
    on_post_seconds: int = 0
    break_seconds: dict[str, int] = field(default_factory=dict)
    breaks: int = 0
    counters: list[int] = field(default_factory=list)
    on_post_now: bool = False

    @property
    def working_seconds(self) -> int:
        """Time on post and not on a break."""
        return max(0, self.on_post_seconds - sum(self.break_seconds.values()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "first_login": self.first_login.isoformat() if self.first_login else None,
            "last_logout": self.last_logout.isoformat() if self.last_logout else None,
            "on_post_now": self.on_post_now,
            "on_post_seconds": self.on_post_seconds,
            "break_seconds": dict(sorted(self.break_seconds.items())),
            "breaks": self.breaks,
            "working_seconds": self.working_seconds,
            "counters": self.counters,
        }


@dataclass
class _Open:
    """What a clerk has open while the log is replayed: a post and a break, each with its start."""

    counter: int | None = None
    since: datetime | None = None
    break_reason: str | None = None
    break_since: datetime | None = None


class _Replay:
    """The post log replayed in time order, each interval counted where it meets ``[start, stop)``."""

    def __init__(self, start: datetime, stop: datetime, end: datetime) -> None:
        self.start, self.stop, self.end = start, stop, end
        self.days: dict[str, Attendance] = {}
        self.opened: dict[str, _Open] = {}

    def day_of(self, username: str) -> Attendance:
        return self.days.setdefault(username, Attendance(username))

    def take(self, event: PostEvent) -> None:
        state = self.opened.setdefault(event.username, _Open())
        if event.kind is PostKind.POST_START:
            self.close_post(event.username, state, event.at, logged_out=True)
            state.counter, state.since = event.counter, event.at
        elif event.kind is PostKind.POST_END:
            self.close_post(event.username, state, event.at, logged_out=True)
        elif event.kind is PostKind.BREAK_START:
            self.close_break(event.username, state, event.at)
            state.break_reason, state.break_since = event.reason, event.at
        elif event.kind is PostKind.BREAK_END:
            self.close_break(event.username, state, event.at)

    def close_post(self, username: str, state: _Open, at: datetime, logged_out: bool) -> None:
        self.close_break(username, state, at)
        if state.since is None or state.counter is None:
            return
        counted = _overlap(state.since, at, self.start, self.stop)
        if counted is not None:
            record = self.day_of(username)
            record.on_post_seconds += seconds_between(*counted)
            record.first_login = min(counted[0], record.first_login or counted[0])
            if state.counter not in record.counters:
                record.counters.append(state.counter)
            if logged_out and self.start <= at < self.end:
                record.last_logout = at
        state.counter = state.since = None

    def close_break(self, username: str, state: _Open, at: datetime) -> None:
        if state.break_since is None or state.break_reason is None:
            return
        counted = _overlap(state.break_since, at, self.start, self.stop)
        if counted is not None:
            record = self.day_of(username)
            reason = state.break_reason
            record.break_seconds[reason] = record.break_seconds.get(reason, 0) + seconds_between(*counted)
            record.breaks += 1
        state.break_reason = state.break_since = None

    def finish(self, now: datetime) -> list[Attendance]:
        """Close what is still open at the end of the day (or now, for the day in progress)."""
        for username, state in self.opened.items():
            still_on = state.since is not None and now < self.end
            self.close_post(username, state, self.stop, logged_out=False)
            if still_on and username in self.days:
                self.days[username].on_post_now = True
                self.days[username].last_logout = None
        return [self.days[name] for name in sorted(self.days)]


def attendance(
    events: Sequence[PostEvent], start: datetime, end: datetime, now: datetime
) -> list[Attendance]:
    """Each clerk's attendance in ``[start, end)`` (a business day), replaying ``events`` in time order.

    ``events`` may begin before ``start`` (a post carried over from the night
    before is counted from ``start``); intervals still open are counted up to
    ``now`` (or ``end`` for a day that is over). Clerks by name.
    """
    replay = _Replay(start, min(end, now), end)
    for event in sorted(events, key=lambda e: e.at):
        if event.at >= end:
            break
        replay.take(event)
    return replay.finish(now)


def _overlap(a: datetime, b: datetime, start: datetime, stop: datetime) -> tuple[datetime, datetime] | None:
    """``[a, b)`` cut to ``[start, stop)``; None when they do not meet (an interval of the day before)."""
    low, high = max(a, start), min(b, stop)
    if high < low or (high == low and a < start):
        return None
    return low, high


def day_bounds(calendar: HallCalendar, day: date) -> tuple[datetime, datetime]:
    """The business day ``day`` as a span of UTC moments: from its start (``day_starts_at``, local) to
    the next day's start."""
    zone = calendar.zone
    start = datetime.combine(day, calendar.day_starts_at, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), calendar.day_starts_at, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


#: How far before a day the post log is read for it: a post carried over from the night before
#: began at most this long before (a login lasts at most 24 hours).
LOOKBACK = timedelta(hours=24)
