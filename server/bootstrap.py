"""The composition root: the one place that builds a hub, with every service, and knows how to stop it.

``run`` and ``demo`` build a serving hub (devices on, live push over
Socket.IO, the periodic appointment sweep running); CLI commands and test
set-up build a store-only hub through the same door (devices off: no printer
opened, no serial port, no voice worker, no sweep, no job of a running hub
touched). Every service gets what it needs in its
constructor; nothing is filled in afterwards, so no caller ever asks "is
there a printer service?". :meth:`Hub.close` stops the services in order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import make_url

from .case_watch import CaseWatch
from .closing import ClosingWatch
from .complaint_watch import ComplaintWatch
from .config import SiteConfig
from .core.appointments import AppointmentBook
from .core.calendar import Clock, utc_now
from .core.case_book import CaseBook
from .core.complaint_book import ComplaintBook
from .core.events import EventBus
from .core.queue import QueueCore
from .devices.board import DeviceBoard
from .devices.counters import CounterDevices
from .devices.leases import LeaseKeeper, bus_device, holder_name, printer_device
from .devices.printing import PrintService, TransportFactory, open_transport
from .devices.push import OfflinePush, Push
from .devices.rooms import HALL, STAFF
from .devices.voice import VOICE_DEVICE, VOICE_LEASE, VoiceService
from .dispenser import Dispenser
from .hub import Hub
from .limits_sweep import LimitsSweep
from .no_shows import NoShowWatch
from .notices import NoticeBoard
from .outbox import HallOutbox, take_template
from .periodic import Periodic
from .settings import HallSettings
from .staffing import PostWatch, StaffPosts
from .statistics import StatisticsService
from .store import SqlStore, make_engine, open_store
from .store.accounts import Accounts
from .store.appointments import SqlAppointments
from .store.audit import AuditLog
from .store.cases import SqlCases
from .store.complaints import SqlComplaints
from .store.health import StoreHealth
from .store.leases import SoleLeases, SqlLeases
from .store.limits import SqlLimits
from .store.notices import SqlNotices
from .store.outbox import OutboxStore
from .store.print_queue import PrintJobs
from .store.rota import SqlRota
from .store.settings import SettingsStore
from .store.sql import read_only
from .store.stats import Statistics
from .sweeper import AppointmentSweeper


def bootstrap(
    config: SiteConfig,
    clock: Clock = utc_now,
    *,
    push: Push | None = None,
    devices: bool = False,
    printer_transport: TransportFactory = open_transport,
) -> Hub:
    """Open (and migrate) the store named in the config and build the hub around it.

    ``devices``: open the site's printers, serial devices and voice, resume
    unfinished print jobs and start the appointment sweep when the site takes
    appointments (a serving hub); off, the device services exist but
    drive nothing (CLI commands beside a running hub). ``push``: how services
    reach the screens (none for the CLI). ``printer_transport``: how a
    printer's connection is opened (the demo's opens a virtual printer).
    """
    url = config.hub.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(url)
    settings = HallSettings(config, SettingsStore(store.engine))
    config = settings.effective()  # the file with the sections saved from the admin page over it
    settings.warn_differences()
    hall = config.hall()
    store.ensure_counters(hall.counters)
    bus = hall_bus(config) if devices else EventBus()
    core = QueueCore(hall, store, bus, clock, config.calling_policy(), config.pace_model())
    if devices and config.estimate.warm_days:  # a serving hub: the CLI's commands issue no tickets
        core.warm_pace(config.estimate.warm_days)
    push = push or OfflinePush()
    site = config if devices else without_devices(config)
    health = StoreHealth(store.engine, url)
    leases = lease_keeper(url, push)
    board = DeviceBoard({d.name: d.kind for d in site.devices}, clock, push.publish, driven_by(site, leases))
    board.register(VOICE_DEVICE, "speaker")
    printing = PrintService(site, board, push, PrintJobs(store.engine), clock, printer_transport, leases)
    book = AppointmentBook(
        SqlAppointments(store.engine),
        hall.calendar,
        hall.services,
        config.appointment_rules(),
        clock,
        hall.counters,
    )
    accounts = Accounts(store.engine)
    audit = AuditLog(store.engine)
    limits = SqlLimits(store.engine)
    posts = StaffPosts(core, accounts, config.staff.second_login)

    def tell_staff(payload: dict[str, Any]) -> None:
        push.publish("case_changed", payload, STAFF)

    cases = CaseBook(SqlCases(store.engine), hall.calendar, config.case_kinds_by_code(), clock, tell_staff)

    def tell_staff_complaint(payload: dict[str, Any]) -> None:
        push.publish("complaint_changed", payload, STAFF)

    complaints = ComplaintBook(
        SqlComplaints(store.engine), hall.calendar, config.complaints.rules(), clock, tell_staff_complaint
    )
    hub = Hub(
        config=config,
        store=store,
        core=core,
        accounts=accounts,
        audit=audit,
        clock=clock,
        devices=board,
        store_health=health,
        printing=printing,
        leases=leases,
        counter_devices=CounterDevices(site, core, board, push.spawn, site.serial.frame_formats, leases),
        # zones are read from the hub's config at each call: a live change applies to the next one
        voice=VoiceService(
            site, core, board, push.publish, config.folder, current=lambda: hub.config, leases=leases
        ),
        push=push,
        dispenser=dispenser(core, url, push, config.hub.issue_window_ms / 1000),
        appointments=book,
        sweeper=AppointmentSweeper(book, push.spawn, on_store_failure=health.failed),
        no_show_watch=NoShowWatch(core, push.spawn, on_store_failure=health.failed),
        closing=ClosingWatch(
            core, config.hours.at_closing == "carry_over", push.spawn, on_store_failure=health.failed
        ),
        cases=cases,
        case_watch=CaseWatch(
            cases,
            tell_staff,
            config.cases.contact_retention_days,
            push.spawn,
            on_store_failure=health.failed,
        ),
        complaints=complaints,
        complaint_watch=ComplaintWatch(
            complaints, tell_staff_complaint, push.spawn, on_store_failure=health.failed
        ),
        posts=posts,
        post_watch=PostWatch(posts, push.spawn, on_store_failure=health.failed),
        rota=SqlRota(store.engine, audit),
        statistics=statistics(core, store, url, push),
        settings=settings,
        notices=NoticeBoard(
            SqlNotices(store.engine),
            clock,
            config.notices.default_days,
            hall.calendar.zone,
            lambda payload: push.publish("notices_changed", payload, HALL),
            push.spawn,
            on_store_failure=health.failed,
        ),
        # the hall as it is at each round (settings change it live), templates applied on this hub
        outbox=HallOutbox(
            config.central,
            OutboxStore(store.engine),
            clock,
            lambda: hub.core.hall,
            lambda template: take_template(hub, template),
            push.spawn,
            on_duty=hall_duty(leases, OUTBOX_DUTY),
        ),
        limits=limits,
        limits_sweep=LimitsSweep(limits, push.spawn, on_store_failure=health.failed),
    )
    if config.cluster is not None:
        # Imported here: only a cluster's process loads redis (a lone hub's memory, issue 10).
        from .cluster import HallRelay, RemotePace

        if isinstance(bus, HallRelay):  # a serving process of a cluster: hear every process's events
            bus.remote.append(RemotePace(core))
            bus.gaps.append(hub.snapshots.invalidate)
            bus.start(push.spawn)
    if devices:
        printing.start()
        lease_duties(hub, cases_watched=bool(cases.kinds))
        leases.start()  # its first round now: a hub alone opens its printers before it serves
        if book.bookable:  # a site without appointments has nothing to sweep
            hub.sweeper.start()
        if hub.no_show_watch.needed:  # no service has a no-show timer: nothing to watch
            hub.no_show_watch.start()
        if hub.closing.needed:  # hours not enforced: no closing
            hub.closing.start()
        if cases.kinds:  # a site without kinds of case has no deadlines to watch
            hub.case_watch.start()
        hub.complaint_watch.start()
        hub.posts.settle()  # logins that ended while the hub was down: off post, at their end
        hub.posts.adopt()  # logins older than the posts (an upgrade): on post
        hub.post_watch.start()
        hub.notices.watch.start()  # screens drop a notice at its end, take one up at its start
        hub.outbox.start()  # [central]: ship the log to the company's central service
        hub.limits_sweep.start()  # every process: a second sweep finds nothing to delete
    return hub


#: The lease of the hall's link to the central service (docs/architecture.md, "Hall-wide duties").
OUTBOX_DUTY = "duty:outbox"


def hall_duty(leases: LeaseKeeper, duty: str) -> Callable[[], bool]:
    """Whether this process does ``duty`` now: always on a lone hub; in a cluster, while it holds the
    duty's lease (taken and renewed by the keeper like a printer's, so a killed holder's duty moves
    to another process within about four seconds)."""
    if not leases.fenced:
        return lambda: True
    return lambda: leases.holds(duty)


def lease_duties(hub: Hub, *, cases_watched: bool) -> None:
    """Lease each hall-wide periodic task that must run on one process only (a serving hub).

    Leased: what tells every screen or console through the shared message queue (three processes
    would tell three times), what issues or carries tickets, and the central link (a template
    applied twice posts its notice twice). Left on every process, because a second run changes
    nothing: the appointment sweep (conditional UPDATEs, audited only when rows changed) and the
    post watch (ends a post only if its login still holds it, read in the write's transaction).
    Only the tasks this process starts are wanted: a lease held for a task not run would starve it.
    """
    leases = hub.leases
    duties: list[tuple[str, Periodic[Any]]] = []
    if hub.no_show_watch.needed:
        duties.append(("duty:no-shows", hub.no_show_watch))
    if hub.closing.needed:
        duties.append(("duty:closing", hub.closing))
    if cases_watched:
        duties.append(("duty:case-watch", hub.case_watch))
    duties.append(("duty:complaint-watch", hub.complaint_watch))
    duties.append(("duty:notice-watch", hub.notices.watch))
    for duty, task in duties:
        task.only_while(hall_duty(leases, duty))
    wanted = [duty for duty, _ in duties] + ([OUTBOX_DUTY] if hub.outbox.needed else [])
    if leases.fenced:
        for duty in wanted:  # nothing to open or stop: the task looks at the lease each round
            leases.want(duty, _nothing_to_do, _nothing_to_do)


def _nothing_to_do(*_: object) -> None:
    """A duty's lease taken or lost: the keeper logs it; the task reads ``holds`` at its next round."""


def hall_bus(config: SiteConfig) -> EventBus:
    """The bus of a serving hub: its own, or the cluster's relay (server/cluster.py) with ``[cluster]``.

    CLI commands keep a bus of their own: what they change reaches the
    screens through the audit-log watch, as beside a lone hub.
    """
    cluster = config.cluster
    if cluster is None:
        return EventBus()
    from .cluster import HallRelay

    return HallRelay(cluster.redis_url, cluster.channel, cluster.name)


def lease_keeper(url: str, push: Push) -> LeaseKeeper:
    """This process's device leases: in ``device_leases`` on PostgreSQL, where several hub processes
    may serve the hall; all its own on SQLite (one hub per database).

    The leases have an engine of their own with short timeouts: a renewal stuck behind the hub's
    busy pool, or on a dead connection, must fail inside the lease's three seconds, not after them.
    A renewal that fails is logged, not told to the store's health: on a loaded machine one may
    time out while the store takes every write (the next renewal, a second later, keeps the lease).
    """
    holder = holder_name()
    if make_url(url).get_backend_name() != "postgresql":
        return LeaseKeeper(SoleLeases(holder), holder, push.spawn, fenced=False)
    engine = make_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.5,
        connect_args={"connect_timeout": 1, "options": "-c statement_timeout=1000 -c lock_timeout=1000"},
    )
    return LeaseKeeper(SqlLeases(engine, holder), holder, push.spawn, fenced=True)


def driven_by(site: SiteConfig, leases: LeaseKeeper) -> Callable[[str], str | None] | None:
    """Who drives each device on the board, where several processes serve the hall (None: one hub)."""
    if not leases.fenced:
        return None
    lease_of = {d.name: printer_device(d.name) for d in site.devices if d.kind == "printer"}
    lease_of.update({d.name: bus_device(str(d.settings["port"])) for d in site.serial_devices()})

    def holder(name: str) -> str | None:
        if name == VOICE_DEVICE or name.startswith(VOICE_DEVICE + ":"):
            return leases.holder_of(VOICE_LEASE)
        lease = lease_of.get(name)
        return leases.holder_of(lease) if lease else None

    return holder


def dispenser(core: QueueCore, url: str, push: Push, window: float) -> Dispenser:
    """The dispenser, committing on a thread and a connection of its own (an in-memory database has one)."""
    if make_url(url).database in (None, "", ":memory:"):
        return Dispenser(core, core, None, window)
    engine = make_engine(url)
    writer = QueueCore(core.hall, SqlStore(engine), core.bus, core.clock, core.policy, core.pace)
    return Dispenser(core, writer, push.executor(), window, engine)


def statistics(core: QueueCore, store: SqlStore, url: str, push: Push) -> StatisticsService:
    """The statistics, on a thread and a read-only connection of their own (an in-memory database has one)."""
    hall = core.hall
    if make_url(url).database in (None, "", ":memory:"):
        return StatisticsService(Statistics(store.reader, hall.calendar, hall.satisfaction), None)
    engine = make_engine(url)
    reader = Statistics(read_only(engine), hall.calendar, hall.satisfaction)
    return StatisticsService(reader, push.executor(), engine)


def without_devices(config: SiteConfig) -> SiteConfig:
    """The site as a CLI command sees it: the same hall, no hardware and no voice to drive."""
    return config.model_copy(update={"devices": [], "voice": {}, "triage_desks": []})
