"""Device leases on disk: which hub process drives each printer, serial bus and voice zone.

Several hub processes may serve one hall on one PostgreSQL database (issue
15); a printer or a serial port must still have exactly one driver. A lease is
a row of ``device_leases``: taken with one atomic statement (an insert that,
on conflict, takes the row over only where it has expired), renewed by its
holder, and let go at a clean stop. Every time is the database's own clock
(``clock_timestamp()``), never a process's: two machines whose clocks disagree
still agree on who holds what.

``generation`` grows by one at every take: it is the fencing token. A holder
that lost its lease (paused past the time to live, cut off from the database)
and comes back finds another generation in the row, and its writes fenced on
it (:meth:`~server.store.print_queue.PrintJobs.finish`) are refused.

SQLite has one hub per database (server/startup.py's lock): :class:`SoleLeases`
grants every lease at once, for good, without a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, delete, select, text

from .schema import device_leases
from .sql import read_only

#: Seconds a lease lasts without renewal: a SIGKILLed holder's devices are free this long after its
#: last renewal (the keeper renews every second, server/devices/leases.py).
TTL_SECONDS = 3.0


@dataclass(frozen=True)
class Fence:
    """A lease as its holder took it: a write fenced on it is refused once another holder took over."""

    device: str
    holder: str
    generation: int


@dataclass(frozen=True)
class Lease:
    """One device's lease as the table has it (or as :class:`SoleLeases` grants it)."""

    device: str
    holder: str
    generation: int
    expires_at: datetime | None


class LeaseStore(Protocol):
    """What the lease keeper needs of the table (or of a hall with one hub)."""

    #: Seconds a lease lives without renewal (infinite for a hall with one hub).
    ttl: float

    def take(self, device: str) -> int | None: ...

    def renew(self, held: dict[str, int]) -> set[str]: ...

    def release(self, held: dict[str, int]) -> None: ...

    def leases(self) -> list[Lease]: ...

    def close(self) -> None: ...


# One statement: a new row, or the expired row of another holder taken over (the WHERE of DO UPDATE
# leaves a live row alone, and RETURNING then gives nothing). Two processes racing for one device
# both run it; the row lock of ON CONFLICT orders them, and the second sees the first's live lease.
_TAKE = text(
    """
    INSERT INTO device_leases (device, holder, generation, taken_at, expires_at)
    VALUES (:device, :holder, 1, clock_timestamp() AT TIME ZONE 'UTC',
            clock_timestamp() AT TIME ZONE 'UTC' + make_interval(secs => :ttl))
    ON CONFLICT (device) DO UPDATE
       SET holder = EXCLUDED.holder,
           generation = device_leases.generation + 1,
           taken_at = EXCLUDED.taken_at,
           expires_at = EXCLUDED.expires_at
     WHERE device_leases.expires_at < clock_timestamp() AT TIME ZONE 'UTC'
    RETURNING generation
    """
)

# Renewal only of a lease still live and still ours (same generation): one that expired is gone,
# even if nobody took it yet, because the keeper already stopped its worker (it counts the time itself).
_RENEW = text(
    """
    UPDATE device_leases
       SET expires_at = clock_timestamp() AT TIME ZONE 'UTC' + make_interval(secs => :ttl)
     WHERE device = :device AND holder = :holder AND generation = :generation
       AND expires_at >= clock_timestamp() AT TIME ZONE 'UTC'
    RETURNING device
    """
)


class SqlLeases:
    """The leases of one holder (a hub process) in ``device_leases``, on PostgreSQL."""

    def __init__(self, engine: Engine, holder: str, ttl: float = TTL_SECONDS) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("device leases need PostgreSQL; a SQLite hall has one hub (SoleLeases)")
        self.engine = engine
        self.reader = read_only(engine)
        self.holder = holder
        self.ttl = ttl

    def take(self, device: str) -> int | None:
        """The lease of ``device`` if it is free or expired: its new generation; None: another holds it."""
        with self.engine.begin() as conn:
            row = conn.execute(_TAKE, {"device": device, "holder": self.holder, "ttl": self.ttl}).first()
        return int(row[0]) if row else None

    def renew(self, held: dict[str, int]) -> set[str]:
        """Renew the leases ``held`` ({device: generation}); the devices still ours (one transaction)."""
        kept: set[str] = set()
        if not held:
            return kept
        with self.engine.begin() as conn:
            for device, generation in held.items():
                params = {"device": device, "holder": self.holder, "generation": generation, "ttl": self.ttl}
                if conn.execute(_RENEW, params).first():
                    kept.add(device)
        return kept

    def release(self, held: dict[str, int]) -> None:
        """Let go at a clean stop: another process takes the devices at once, not after the time to live."""
        with self.engine.begin() as conn:
            for device, generation in held.items():
                conn.execute(
                    delete(device_leases).where(
                        device_leases.c.device == device,
                        device_leases.c.holder == self.holder,
                        device_leases.c.generation == generation,
                    )
                )

    def leases(self) -> list[Lease]:
        """Every lease in the table, live or expired (the device board shows who drives what)."""
        with self.reader.begin() as conn:
            rows = conn.execute(select(device_leases).order_by(device_leases.c.device)).mappings().all()
        return [Lease(r["device"], r["holder"], r["generation"], r["expires_at"]) for r in rows]

    def close(self) -> None:
        self.engine.dispose()


class SoleLeases:
    """A hall with one hub (SQLite): every lease is this holder's, generation 1, for good."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        #: Never runs out: a hub alone keeps its devices through any pause of its loop.
        self.ttl = math.inf
        self._held: set[str] = set()

    def take(self, device: str) -> int | None:
        self._held.add(device)
        return 1

    def renew(self, held: dict[str, int]) -> set[str]:
        return set(held)

    def release(self, held: dict[str, int]) -> None:
        self._held.difference_update(held)

    def leases(self) -> list[Lease]:
        return [Lease(device, self.holder, 1, None) for device in sorted(self._held)]

    def close(self) -> None:
        """Nothing to let go of."""
