"""The hub's parts held together: config, queue core, store, accounts, devices, live snapshot.

One :class:`Hub` lives in ``app.extensions["qcall"]``; the REST and Socket.IO
adapters reach the core and the devices through it and nothing else. It is
built whole by :func:`server.bootstrap.bootstrap` (the one place that knows
how), and :meth:`Hub.close` stops what that started, in order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .case_watch import CaseWatch
from .closing import ClosingWatch
from .complaint_watch import ComplaintWatch
from .config import SiteConfig
from .core.appointments import AppointmentBook
from .core.calendar import Clock
from .core.case_book import CaseBook
from .core.complaint_book import ComplaintBook
from .core.events import HallEvent
from .core.queue import QueueCore
from .devices.board import DeviceBoard
from .devices.counters import CounterDevices
from .devices.leases import LeaseKeeper
from .devices.printing import PrintService
from .devices.push import Push
from .devices.voice import VoiceService
from .dispenser import Dispenser
from .limits_sweep import LimitsSweep
from .no_shows import NoShowWatch
from .notices import NoticeBoard
from .outbox import HallOutbox
from .settings import HallSettings
from .staffing import PostWatch, StaffPosts
from .statistics import StatisticsService
from .store import SqlStore
from .store.accounts import Accounts
from .store.audit import AuditLog
from .store.health import StoreHealth
from .store.limits import SqlLimits
from .store.rota import SqlRota
from .sweeper import AppointmentSweeper


class SnapshotCache:
    """The last snapshot, stamped with the hall version it reflects; rebuilt when the hall moved on.

    A thousand screens reconnecting after a network blip, or resyncing after
    a missed event, must not each cost the database a round of queries.

    ``"v"`` in the snapshot is the version of the last event published before
    it was read: every event up to it had committed, so the snapshot shows it;
    later events may show too (the delta a screen then applies again sets
    what is already set). A snapshot is also rebuilt when the business day
    turns, which no event announces.
    """

    def __init__(
        self, build: Callable[[], dict[str, Any]], version: Callable[[], int], day: Callable[[], str]
    ) -> None:
        self._build = build
        self._version = version
        self._day = day
        self._value: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def invalidate(self, _event: HallEvent | None = None) -> None:
        """Drop the cached snapshot (a bus listener: the hall changed)."""
        with self._lock:
            self._value = None

    def get(self) -> dict[str, Any]:
        version = self._version()
        with self._lock:
            cached = self._value
        if cached is not None and cached["v"] == version and cached["business_day"] == self._day():
            return cached
        value = self._build()
        value["v"] = version
        with self._lock:
            if self._version() == version:
                self._value = value
        return value


@dataclass
class Hub:
    """Every service of one hall's hub; none is optional, none is set after the hub is built."""

    config: SiteConfig
    store: SqlStore
    core: QueueCore
    accounts: Accounts
    audit: AuditLog
    clock: Clock
    #: The device board: the last known state of every printer, display and the voice.
    devices: DeviceBoard
    #: Whether the store takes writes now (``/api/v1/health``; 503 ``store_unavailable``).
    store_health: StoreHealth
    printing: PrintService
    counter_devices: CounterDevices
    voice: VoiceService
    #: Which printers, serial buses and voice zones this process drives (several processes on one
    #: hall share them through leases in PostgreSQL; a hub alone holds every one).
    leases: LeaseKeeper
    #: How the services reach the screens (Socket.IO when serving, nothing for the CLI).
    push: Push
    #: The kiosk's way in: concurrent ticket requests share one durable commit.
    dispenser: Dispenser
    #: Bookings (预约): made, imported, cancelled, looked up at check-in (tickets go through the dispenser).
    appointments: AppointmentBook
    #: Marks no-shows and erases old names every minute (started only by a serving hub).
    sweeper: AppointmentSweeper
    #: Turns calls nobody answered into no-shows by the services' timers (a serving hub only).
    no_show_watch: NoShowWatch
    #: Closes or carries over the tickets still waiting after each closing (a serving hub only).
    closing: ClosingWatch
    #: Cases that span days (业扩报装): opened from a ticket, steps with working-day deadlines.
    cases: CaseBook
    #: Tells staff pages when a case's step becomes overdue; erases old contacts (a serving hub only).
    case_watch: CaseWatch
    #: Complaints and suggestions (投诉/意见): owner, follow-up, return call (回访), closure, figures.
    complaints: ComplaintBook
    #: Tells staff pages when a complaint becomes overdue (a serving hub only).
    complaint_watch: ComplaintWatch
    #: Staff on post: logins put clerks on post at their counter, their end takes them off.
    posts: StaffPosts
    #: Ends the posts of logins that are over (expired, ended elsewhere) every second (serving hub only).
    post_watch: PostWatch
    #: The rota (排班): who should be at which counter, when.
    rota: SqlRota
    #: The hall's statistics (``GET /stats``), computed off the loop on a connection of their own.
    statistics: StatisticsService
    #: The sections edited from the browser, laid over the file; ``config`` is the effective one, swapped
    #: live by :func:`server.settings.apply` (read ``hub.config`` at request time, never keep it).
    settings: HallSettings
    #: The lobby's and kiosk's notices (公告, tariffs, power cuts); its watch tells of starts and ends.
    notices: NoticeBoard
    #: Ships the hall's log to the central service (``[central]``; off without it).
    outbox: HallOutbox
    #: The phone's limits and the pairing codes, shared by every process of the hall (the database).
    limits: SqlLimits
    #: Deletes closed limit windows and expired pairing codes (a serving hub only; every process).
    limits_sweep: LimitsSweep
    snapshots: SnapshotCache = field(init=False)
    #: Set by :meth:`close`: the hub's own periodic tasks end at their next round.
    closed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.snapshots = SnapshotCache(self._build_snapshot, self._hall_version, self._business_day)
        self.core.bus.subscribe(self.snapshots.invalidate)

    def close(self) -> None:
        """Stop in order: end the periodic tasks (sweeps, no-show, closing, case and post watches), print
        what is queued, close the serial ports, stop the voice, let go of the store.

        The printers go first because their jobs are written to the store; the
        store goes last because every other service may still record a state.
        """
        self.closed = True
        self.core.bus.close()  # a cluster's relay: no more events from the other processes
        self.outbox.close()
        self.sweeper.close()
        self.no_show_watch.close()
        self.closing.close()
        self.case_watch.close()
        self.complaint_watch.close()
        self.post_watch.close()
        self.notices.close()
        self.limits_sweep.close()
        self.printing.close()
        self.counter_devices.close()
        self.voice.close()
        self.leases.close()  # after the workers stopped: another process may take the devices at once
        self.dispenser.close()
        self.statistics.close()
        self.store.engine.dispose()

    def _hall_version(self) -> int:
        return self.core.bus.version

    def _business_day(self) -> str:
        return self.core.hall.calendar.business_day(self.clock()).isoformat()

    def _build_snapshot(self) -> dict[str, Any]:
        snapshot = self.core.snapshot()
        site = self.config.site
        snapshot["site"].update(
            notice_zh=site.notice_zh,
            notice_en=site.notice_en,
            languages=site.languages,
            timezone=site.timezone,
            # The kiosk offers appointment check-in only where some service takes appointments.
            appointments=bool(self.appointments.bookable),
            # The kiosk offers the case lookup (查询办理进度) only where the site has kinds of case.
            cases=bool(self.cases.kinds),
        )
        return snapshot
