"""Exactly one driver per device: this hub process's leases, taken and renewed by one task.

Several hub processes may serve one hall (issue 15). Each printer, serial bus
and voice zone is driven by the process holding its lease
(:mod:`server.store.leases`); the others leave the device alone. A service
says which devices it could drive (:meth:`LeaseKeeper.want`) and what to do
when it gains one (open the printer, start its worker, resume its jobs) and
when it loses one (stop the worker). One periodic task renews every lease held
each second and tries to take the free ones; a lease lives three seconds, so
the devices of a process killed with SIGKILL are taken over within about four.

Losing comes before anyone else can take: the keeper counts each lease's time
itself, from the moment it *sent* the statement that took or renewed it (the
database's expiry is later than that). A lease not renewed in time is dropped,
and its worker stopped, half a second before the database lets another process
take it, whether or not the database answered. What a stopped holder still
writes is fenced by the lease's generation (server/store/print_queue.py).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..periodic import Periodic
from ..store.leases import Fence, Lease, LeaseStore

log = logging.getLogger(__name__)

#: Seconds between two rounds with the database (renew what is held, try what is free).
RENEW_SECONDS = 1.0
#: Seconds between two looks at the clock: a lease that runs out stops its worker this soon after.
CHECK_SECONDS = 0.25
#: A held lease counts as lost this many seconds before the database lets it go.
SAFETY_SECONDS = 0.5

Gained = Callable[[str, int], object]
Lost = Callable[[str], object]


def printer_device(name: str) -> str:
    """A printer's lease name (a device name has no ":", so no two kinds of lease clash)."""
    return f"printer:{name}"


def bus_device(port: str) -> str:
    """A serial bus's lease name: its port, which every process of the hall names alike."""
    return f"bus:{port}"


def holder_name() -> str:
    """This process, as the leases and the device board name it: host, pid and a random instance id.

    The random part tells a restarted process with a recycled pid from the old one.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class _Want:
    gained: Gained
    lost: Lost


class LeaseKeeper:
    """This process's leases: one round a second renews what it holds and takes what is free.

    ``store``: :class:`~server.store.leases.SqlLeases` (several processes, PostgreSQL) or
    :class:`~server.store.leases.SoleLeases` (one hub: everything is its own).
    ``fenced``: whether writes should be fenced on the generation (only where there is a table).
    """

    def __init__(
        self,
        store: LeaseStore,
        holder: str,
        spawn: Callable[..., object],
        *,
        fenced: bool,
        every: float = RENEW_SECONDS,
        on_store_failure: Callable[[str], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.holder = holder
        self.fenced = fenced
        self.ttl = store.ttl
        #: The margin kept before the database's expiry (a quarter of a short lease: tests use some).
        self.safety = min(SAFETY_SECONDS, self.ttl / 4)
        self.monotonic = monotonic
        self._wanted: dict[str, _Want] = {}
        self._held: dict[str, int] = {}
        #: The generation of each device's lease as this process last took it (kept after losing it:
        #: a late write of the old worker is fenced on it, and refused).
        self._taken: dict[str, int] = {}
        #: Until when (monotonic) each held lease is surely ours.
        self._until: dict[str, float] = {}
        #: Who holds each device, as last read (the device board's "driven by").
        self.holders: dict[str, str] = {}
        self._lock = threading.RLock()
        self._stopped = False
        self.every = every
        self._next_round = 0.0
        # A look at the clock four times a second, a round with the database once a second.
        self.task = Periodic(
            "device leases", self.tick, None, min(every, CHECK_SECONDS), spawn, on_store_failure
        )

    def want(self, device: str, gained: Gained, lost: Lost) -> None:
        """Drive ``device`` whenever its lease is free: ``gained(device, generation)``, then ``lost(device)``
        when it ends."""
        with self._lock:
            self._wanted[device] = _Want(gained, lost)

    def start(self) -> None:
        """A first round now (a hub alone takes its devices before it serves), then one a second."""
        self.task.once()  # a failure is logged and told to the store's health; the next round tries again
        self.task.start()

    def close(self) -> None:
        """Stop the rounds, stop every worker, then let the leases go (another process takes them at once)."""
        self.task.close()
        with self._lock:
            self._stopped = True
            held = dict(self._held)
            for device in list(held):
                self._lose(device, "the hub is stopping")
        if held:
            try:
                self.store.release(held)
            except Exception:  # noqa: BLE001  the leases then run out by themselves within the time to live
                log.warning("device leases: cannot release %s; they expire by themselves", ", ".join(held))
        self.store.close()

    def holds(self, device: str) -> bool:
        """Whether this process drives ``device`` now (its lease is surely still live)."""
        until = self._until.get(device)  # no lock: a round may be waiting on the database
        return until is not None and self.monotonic() < until

    def fence(self, device: str) -> Fence | None:
        """The fence for writes made as ``device``'s driver, with the generation this process last
        took (a lease lost since fences them off); None where writes need none (one hub)."""
        if not self.fenced:
            return None
        return Fence(device, self.holder, self._taken.get(device, 0))  # 0: never taken, always refused

    def holder_of(self, device: str) -> str | None:
        """Who drives ``device``, as last read; None: nobody yet."""
        return self.holders.get(device)

    def tick(self) -> None:
        """Drop what ran out; a round with the database when one is due."""
        with self._lock:
            if self._stopped:
                return
            self._drop_expired()
            if self.monotonic() < self._next_round:
                return
        self.once()

    def once(self) -> None:
        """One round: drop what ran out, renew what is held, take what is free, read who holds what."""
        with self._lock:
            if self._stopped:
                return
            self._next_round = self.monotonic() + self.every
            self._drop_expired()
            self._renew()
            self._drop_expired()  # a renewal that failed or was slow: what ran out meanwhile stops now
            self._take_free()
            self._read_holders()

    def _drop_expired(self) -> None:
        now = self.monotonic()
        for device in [d for d, until in self._until.items() if now >= until]:
            self._lose(device, "not renewed in time")

    def _renew(self) -> None:
        if not self._held:
            return
        sent = self.monotonic()
        kept = self.store.renew(dict(self._held))  # a failure: the next round drops what runs out
        for device in list(self._held):
            if device in kept:
                self._until[device] = sent + self.ttl - self.safety
            else:
                self._lose(device, "taken over by another process")

    def _take_free(self) -> None:
        for device, want in self._wanted.items():
            if device in self._held:
                continue
            sent = self.monotonic()
            generation = self.store.take(device)
            if generation is None:
                continue
            self._held[device] = generation
            self._taken[device] = generation
            self._until[device] = sent + self.ttl - self.safety
            self.holders[device] = self.holder
            log.info("device leases: %s taken (%s, generation %d)", device, self.holder, generation)
            try:
                want.gained(device, generation)
            except Exception:  # the lease stays: the device is ours even if it failed to open
                log.exception("device leases: starting %s failed", device)

    def _read_holders(self) -> None:
        leases: list[Lease] = self.store.leases()
        self.holders = {lease.device: lease.holder for lease in leases}

    def _lose(self, device: str, why: str) -> None:
        self._held.pop(device, None)
        self._until.pop(device, None)
        want = self._wanted.get(device)
        level = logging.INFO if self._stopped else logging.WARNING
        log.log(level, "device leases: %s is no longer driven by this process: %s", device, why)
        if want is not None:
            try:
                want.lost(device)
            except Exception:
                log.exception("device leases: stopping %s failed", device)
