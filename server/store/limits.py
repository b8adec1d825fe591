"""Counted limits and pairing codes in the database, so every hub process of a hall sees the same.

A cluster's processes (docs/architecture.md, "Several hub processes") each
counted the visitor's phone tickets and kept the pairing codes in their own
memory: the hall's hourly cap was per process, and a code shown by one process
could not be confirmed on another. Here both live in the hub's own database
(SQLite alone, PostgreSQL in a cluster), through SQLAlchemy Core.

A limit is a *window* (``limit_windows``): a row that opens with its first
count, holds at most ``cap`` counts, and closes at ``ends``. :meth:`SqlLimits.take`
counts in several windows with **one statement** (a multi-row
``INSERT … ON CONFLICT DO UPDATE``): each row is counted only where its own
conditions hold, evaluated on the row as locked (PostgreSQL re-reads a row
another transaction changed before it updates it; SQLite has one writer), so
two processes racing for the last place cannot both pass. The statement says
for each row whether it was counted (the reservation's ``stamp``); if any was
not, the caller rolls the transaction back and nothing was counted anywhere.
Rows are taken in key order, so two reservations never lock in opposite
orders. Times are epoch seconds from the caller's clock (processes of a hall
keep their clocks in step; a skew of a second moves a window's end by as much).

Expired rows are deleted by :meth:`SqlLimits.sweep` (the hub's limits sweep,
server/limits_sweep.py); a window whose end has passed counts as empty before
it is swept, so the sweep only keeps the tables small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text, update

from .schema import limit_windows, pairing_codes
from .sql import read_only

#: A phone's ticket still counts as its active one in these states (``core.model`` CALLABLE and
#: AT_COUNTER), written out: the check runs inside the reservation's statement.
ACTIVE_SQL = "tickets.status IN ('waiting', 'transferred', 'called', 'serving')"


@dataclass(frozen=True)
class Ask:
    """One window to count in: its key, its cap, and when it closes if this count opens it.

    ``held``: a count the caller already knows of (a phone's cookie), the window holds at least
    that many. ``ticket``: the phone's last ticket as its cookie says (the row's, if any, wins);
    the count is refused while it is active. ``busy_until``: the row is marked busy until then
    (a phone's reservation in flight), and a count is refused while it is.
    """

    key: str
    cap: int
    ends: float
    held: int = 0
    ticket: str | None = None
    busy_until: float | None = None


@dataclass(frozen=True)
class Counted:
    """A window as the reservation left it (counted) or found it (refused)."""

    key: str
    #: Counted: with this reservation's count; refused: the larger of the row's and the caller's.
    count: int
    cap: int
    ends: float
    ticket: str | None
    busy_until: float | None
    #: This reservation counted in the row.
    granted: bool
    #: The row's ticket is still waiting or at a counter.
    active: bool


def _take_sql(rows: int) -> str:
    """The reservation's one statement for ``rows`` windows (parameters ``key0``, ``cap0``, …)."""
    values = ", ".join(
        f"(:key{i}, :count{i}, :cap{i}, :ends{i}, :ticket{i}, :busy{i}, :stamp)" for i in range(rows)
    )
    w = "limit_windows"
    # The larger of the row's count and the one the caller vouches for (excluded.count is it + 1).
    held = f"(CASE WHEN {w}.count < excluded.count - 1 THEN excluded.count - 1 ELSE {w}.count END)"
    ok = (
        f"(({w}.ends <= :now OR {held} < excluded.cap)"
        f" AND ({w}.busy_until IS NULL OR {w}.busy_until <= :now)"
        f" AND NOT EXISTS (SELECT 1 FROM tickets WHERE tickets.id = COALESCE({w}.ticket, excluded.ticket)"
        f" AND {ACTIVE_SQL}))"
    )
    return f"""
        INSERT INTO {w} (key, count, cap, ends, ticket, busy_until, stamp) VALUES {values}
        ON CONFLICT (key) DO UPDATE SET
            count = CASE WHEN {ok} THEN
                        (CASE WHEN {w}.ends <= :now THEN excluded.count ELSE {held} + 1 END)
                    ELSE {w}.count END,
            ends = CASE WHEN {ok} AND {w}.ends <= :now THEN excluded.ends ELSE {w}.ends END,
            cap = excluded.cap,
            ticket = COALESCE({w}.ticket, excluded.ticket),
            busy_until = CASE WHEN {ok} THEN excluded.busy_until ELSE {w}.busy_until END,
            stamp = CASE WHEN {ok} THEN excluded.stamp ELSE {w}.stamp END
        RETURNING key, count, cap, ends, ticket, busy_until, stamp,
            EXISTS (SELECT 1 FROM tickets WHERE tickets.id = {w}.ticket AND {ACTIVE_SQL}) AS active
    """


class SqlLimits:
    """The hall's counted windows and pairing codes, on the hub's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = read_only(engine)
        self._statements: dict[int, Any] = {}

    # -- windows -----------------------------------------------------------------------------

    def take(self, asks: list[Ask], now: float, stamp: str) -> list[Counted]:
        """Count once in every window of ``asks``, all or none (one statement, one transaction).

        Each answer says whether it was counted; when any was not, the transaction is rolled
        back (the rows as found are answered, to say why) and nothing is counted anywhere.
        """
        with self.engine.connect() as conn, conn.begin() as tx:
            found = self.take_in(conn, asks, now, stamp)
            if not all(c.granted for c in found):
                tx.rollback()
        return found

    def take_in(self, conn: Connection, asks: list[Ask], now: float, stamp: str) -> list[Counted]:
        """:meth:`take` within the caller's transaction (which must roll back unless all were granted)."""
        ordered = sorted(asks, key=lambda a: a.key)  # one lock order for every reservation
        statement = self._statements.get(len(ordered))
        if statement is None:
            statement = self._statements.setdefault(len(ordered), text(_take_sql(len(ordered))))
        params: dict[str, Any] = {"now": now, "stamp": stamp}
        for i, ask in enumerate(ordered):
            params.update(
                {
                    f"key{i}": ask.key,
                    f"count{i}": ask.held + 1,
                    f"cap{i}": ask.cap,
                    f"ends{i}": ask.ends,
                    f"ticket{i}": ask.ticket,
                    f"busy{i}": ask.busy_until,
                }
            )
        rows = {r["key"]: r for r in conn.execute(statement, params).mappings()}
        found = []
        for ask in ordered:
            row = rows[ask.key]
            active = bool(row["active"])
            ours = row["stamp"] == stamp
            granted = ours and row["count"] <= ask.cap and not active
            found.append(
                Counted(
                    ask.key,
                    # refused after all (a new window already over its cap): the count as found
                    int(row["count"]) - (1 if ours and not granted else 0),
                    int(row["cap"]),
                    float(row["ends"]),
                    row["ticket"],
                    None if ours and not granted else row["busy_until"],  # ours, and not busy before
                    granted,
                    active,
                )
            )
        return found

    def give_back(self, counted: list[Counted], stamp: str) -> None:
        """Take back a reservation's counts (its issue was refused): from each window it counted in,
        if that window is still open (a window closed since has nothing of it), and its busy mark."""
        with self.engine.begin() as conn:
            for window in counted:
                conn.execute(
                    update(limit_windows)
                    .where(
                        limit_windows.c.key == window.key,
                        limit_windows.c.ends == window.ends,
                        limit_windows.c.count > 0,
                    )
                    .values(count=limit_windows.c.count - 1)
                )
                conn.execute(
                    update(limit_windows)
                    .where(limit_windows.c.key == window.key, limit_windows.c.stamp == stamp)
                    .values(busy_until=None)
                )

    def settle(self, key: str, ticket: str) -> int | None:
        """A phone's reserved ticket was issued: the row keeps it as the phone's last, not busy any more;
        the row's count (None if the row went meanwhile)."""
        with self.engine.begin() as conn:
            row = conn.execute(
                update(limit_windows)
                .where(limit_windows.c.key == key)
                .values(ticket=ticket, busy_until=None)
                .returning(limit_windows.c.count)
            ).first()
        return None if row is None else int(row[0])

    def window(self, key: str, now: float) -> tuple[int, str | None] | None:
        """An open window's count and ticket (a read: the phone page)."""
        with self.reader.begin() as conn:
            row = conn.execute(
                select(limit_windows.c.count, limit_windows.c.ticket).where(
                    limit_windows.c.key == key, limit_windows.c.ends > now
                )
            ).first()
        return None if row is None else (int(row[0]), row[1])

    def sweep(self, now: float) -> int:
        """Delete the windows closed and the pairing codes expired before ``now``; how many rows went."""
        with self.engine.begin() as conn:
            windows = conn.execute(delete(limit_windows).where(limit_windows.c.ends <= now)).rowcount
            codes = conn.execute(delete(pairing_codes).where(pairing_codes.c.expires <= now)).rowcount
        return int(windows or 0) + int(codes or 0)

    # -- pairing codes -------------------------------------------------------------------------

    def add_code(self, asks: list[Ask], now: float, stamp: str, row: dict[str, Any]) -> list[Counted] | None:
        """Count a pairing start in ``asks`` and store its code, in one transaction.

        None: stored; else the windows that refused it (nothing stored). A code already taken
        (a live code drew the same six letters) raises IntegrityError: the caller draws again.
        """
        with self.engine.connect() as conn, conn.begin() as tx:
            found = self.take_in(conn, asks, now, stamp)
            if not all(c.granted for c in found):
                tx.rollback()
                return found
            expired = (pairing_codes.c.code == row["code"]) & (pairing_codes.c.expires <= now)
            conn.execute(delete(pairing_codes).where(expired))
            conn.execute(insert(pairing_codes).values(**row))
        return None

    def code(self, code: str) -> dict[str, Any] | None:
        """A pairing code's row as stored (live or expired), or None (a read)."""
        with self.reader.begin() as conn:
            row = conn.execute(select(pairing_codes).where(pairing_codes.c.code == code)).mappings().first()
        return None if row is None else dict(row)

    def claim_confirmation(self, code: str, now: float, until: float) -> dict[str, Any] | None:
        """Mark a live, unconfirmed code as being confirmed (one admin at a time); the row, or None."""
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    update(pairing_codes)
                    .where(
                        pairing_codes.c.code == code,
                        pairing_codes.c.expires > now,
                        pairing_codes.c.name.is_(None),
                        pairing_codes.c.confirming_until.is_(None)
                        | (pairing_codes.c.confirming_until <= now),
                    )
                    .values(confirming_until=until)
                    .returning(*pairing_codes.c)
                )
                .mappings()
                .first()
            )
        return None if row is None else dict(row)

    def end_confirmation(self, code: str, confirmed: dict[str, Any] | None) -> None:
        """The confirmation is over: the device it named and the code's new expiry, or nothing (failed)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(pairing_codes)
                .where(pairing_codes.c.code == code)
                .values(confirming_until=None, **(confirmed or {}))
            )

    def collect_code(self, code: str) -> bool:
        """Take a confirmed code away (its screen collected it): False if another poll took it first."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(pairing_codes).where(pairing_codes.c.code == code, pairing_codes.c.name.is_not(None))
            ).rowcount
        return bool(gone)
