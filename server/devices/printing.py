"""Tickets on paper: the hub's side of printing.

Before a ticket is committed, the API asks here for the kiosk's print request;
the core writes the print job with the ticket (table ``print_jobs``), and this
module turns the job into a :class:`~drivers.printing.ticket.PrintTicket` for
the kiosk's printer: a spooler in the hub for printers it reaches itself, or a
``print_job`` over Socket.IO for printers driven by a device agent. The request
never waits for paper: a dead printer only changes what the kiosk says.

Jobs are durable: at start the hub resumes every job of the business day that
is neither ``printed`` nor ``failed`` (spoolers at once, agents when they
connect), and records each attempt and the end of every job. Delivery is at
least once (docs/printing.md, "What is guaranteed").

Several hub processes on one hall (issue 15): a printer the hub drives itself
is driven by the one process holding its lease (:mod:`.leases`). That process
opens the printer, resumes its unfinished jobs, and picks up, every second, the
jobs the other processes commit for it; the others only commit. Its marks on a
job are fenced on the lease's generation: once another process took the
printer over, a stale "printed" is refused and the new driver prints the job.
A job found ``printing`` (its bytes may have reached the paper before its
driver died) is printed again marked 补打 COPY, so a second slip can be told
from a second ticket.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from drivers.printing.layout_options import LayoutOptions
from drivers.printing.printer_settings import BasePrinterSettings
from drivers.printing.ticket import PrintTicket

from ..config import PrinterSettings, SiteConfig
from ..core.calendar import Clock, utc_now
from ..core.estimate import minutes
from ..core.model import Ticket
from ..core.printjobs import REPRINT, PrintJobRecord, PrintRequest, new_job_id
from ..core.queue import Issued
from ..periodic import Periodic
from ..store.print_queue import PrintJobs
from .board import DeviceBoard
from .leases import LeaseKeeper, printer_device
from .push import Push

if TYPE_CHECKING:
    from drivers.printing.spooler import PrintSpooler
from .rooms import agent_room, device_room

log = logging.getLogger(__name__)

PRINT_STATUS = "print_status"
PRINT_JOB = "print_job"
PRINTER_STATUS = "printer_status"
#: Tickets one printer holds while it is down (each expires after 15 minutes unprinted).
SPOOL_LIMIT = 256
#: Seconds a stopping hub waits for its printers to print what is queued; the rest stays pending.
FLUSH_SECONDS = 5.0
#: While flushing, how often a printer that cannot print is asked again (it may have been fixed).
FLUSH_RETRY_SECONDS = 0.5
#: How often a printer's driver looks for jobs other hub processes committed for it (several processes).
PICKUP_SECONDS = 1.0
#: Job ids a process remembers handing to its spoolers (a job seen again is not handed over twice).
SEEN_LIMIT = 20_000

#: ``transport(name, settings)``: how a printer's connection is opened, as a no-argument opener.
#: The hub's is :func:`open_transport` (python-escpos by ``connector``); the demo hands in one
#: that starts a virtual printer (OctoPrint's virtual printer is a transport the same way).
TransportFactory = Callable[[str, PrinterSettings], Callable[[], Any]]


def layout_options(settings: BasePrinterSettings) -> LayoutOptions:
    return settings.layout()


def open_transport(name: str, settings: BasePrinterSettings) -> Callable[[], Any]:
    """The real printer's connection, as its ``connector`` says (network, serial, USB, file)."""
    from drivers.printing.connectors import open_printer  # python-escpos: only for a hub's own printers

    raw = connector_settings(settings)
    return lambda: open_printer(raw)


def connector_settings(settings: BasePrinterSettings) -> dict[str, Any]:
    """The keys the driver's ``open_printer`` reads, without the hub's own."""
    return settings.connection()


def is_loopback_url(url: str) -> bool:
    """True for a URL only this very machine can open (127.x, ::1, localhost, 0.0.0.0)."""
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return True
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def printable_url(url: str) -> str:
    """The QR payload to print: "" instead of a loopback address, which no visitor's phone can open.

    A kiosk browser on the hub PC reaches it as 127.0.0.1; without
    ``site.public_url`` that is the only address the request carries, and a QR
    code pointing there is worse than none.
    """
    return "" if is_loopback_url(url) else url


class PrintService:
    """Routes each kiosk's tickets to its printer and keeps the device board current."""

    def __init__(
        self,
        config: SiteConfig,
        board: DeviceBoard,
        push: Push,
        jobs: PrintJobs | None = None,
        clock: Clock = utc_now,
        transport: TransportFactory = open_transport,
        leases: LeaseKeeper | None = None,
    ) -> None:
        self.board = board
        #: Who drives which printer when several processes serve the hall; None: this hub drives all.
        self.leases = leases
        #: Job ids handed to a spooler in this process, with their printer, oldest first (bounded).
        self._seen: dict[str, str] = {}
        #: Printers whose spooler is being closed because their lease was lost: its "failed" is no word.
        self._letting_go: set[str] = set()
        self.pickup = Periodic("print pickup", self.pick_up, 0, PICKUP_SECONDS, push.spawn)
        #: The print queue on disk; None only where nothing needs to survive (a bare PrintService).
        self.jobs = jobs
        self.clock = clock
        self.public_url = config.site.public_url
        self.push = push
        self.transport = transport
        self.spoolers: dict[str, PrintSpooler] = {}
        #: Jobs sent to agents and not yet answered, by agent name then job id, so a
        #: reconnecting agent gets them again.
        self.agent_jobs: dict[str, dict[str, dict[str, Any]]] = {}
        #: Each unfinished job's ticket, kiosk (None: no kiosk to tell) and printer, by job id.
        self.live_jobs: dict[str, tuple[str, str | None, str]] = {}
        self._lock = threading.Lock()
        #: Notified whenever a job ends: a stopping hub waits on it for its queues to drain.
        self._settled = threading.Condition()
        #: Set while closing: a job the spooler gives up because it is closing stays pending on disk.
        self._closing = False
        # Read once: every ticket needs them, and the config does not change while the hub runs.
        self.hall = config.hall()
        self.printers = {
            d.name: config.printer_settings(d.name) for d in config.devices if d.kind == "printer"
        }
        self.printer_of = {
            d.name: printer
            for d in config.devices
            if d.kind == "kiosk" and (printer := config.kiosk_printer(d.name)) is not None
        }
        # A triage desk's tickets print like a kiosk's, on the desk's printer (its name is the "kiosk").
        self.printer_of.update({t.name: t.printer for t in config.triage_desks if t.printer is not None})
        self.kiosks_of: dict[str, list[str]] = {}
        for kiosk, printer in self.printer_of.items():
            self.kiosks_of.setdefault(printer, []).append(kiosk)

    def start(self) -> None:
        """Open a spooler for every printer the hub drives itself, then resume the jobs left unfinished.

        Only a serving hub starts: a CLI command's hub would otherwise fail
        every job of a printer it does not drive.
        """
        if self.printers and not self.public_url:
            log.warning(
                "site.public_url is empty: tickets are printed with the address the kiosk used to reach "
                "the hub, and without any QR code when that is a loopback address (127.0.0.1, localhost); "
                "set site.public_url to the address visitors' phones can open"
            )
        for name, settings in self.printers.items():
            if settings.agent:
                self.agent_jobs.setdefault(settings.agent, {})
                self.board.report(name, "unknown", f"waiting for agent {settings.agent}")
                continue
            if self.leases is None:
                self._open(name)
            else:
                self.leases.want(printer_device(name), self._gained, self._lost)
        if self.leases is None:
            self.resume()
        else:  # the agents' printers now; a leased one when its lease is taken
            self.resume([name for name, settings in self.printers.items() if settings.agent])
            self._fail_unconfigured()
        if self.leases is not None and self.leases.fenced:  # several processes may commit its jobs
            self.pickup.start()

    def _open(self, name: str) -> None:
        # The layout and transports (python-escpos, Pillow) load with the first printer the hub drives.
        from drivers.printing.spooler import PrintSpooler

        self.spoolers[name] = PrintSpooler(
            name,
            self.transport(name, self.printers[name]),
            layout_options(self.printers[name]),
            on_job=self.job_changed,
            on_status=self.printer_changed,
            executor=self.push.executor(),
            max_queue=SPOOL_LIMIT,
        )

    def _drives(self, printer: str) -> bool:
        """Whether this process hands ``printer`` its jobs (an agent's printer: always, as before)."""
        if self.leases is None or self.printers[printer].agent:
            return True
        return self.leases.holds(printer_device(printer))

    def _gained(self, device: str, generation: int) -> None:
        """This process now drives the printer: open it and print what its last driver left unfinished."""
        name = device.removeprefix("printer:")
        self._letting_go.discard(name)
        self._open(name)
        self.resume([name])

    def _lost(self, device: str) -> None:
        """Another process drives the printer now (or soon): stop its spooler, forget its jobs here.

        The jobs stay pending on disk; the new driver resumes them.
        """
        name = device.removeprefix("printer:")
        spooler = self.spoolers.pop(name, None)
        self._letting_go.add(name)
        if spooler is not None:
            spooler.close(timeout=1.0)
        with self._lock:
            for job_id in [j for j, printer in self._seen.items() if printer == name]:
                del self._seen[job_id]
            for job_id in [j for j, live in self.live_jobs.items() if live[2] == name]:
                del self.live_jobs[job_id]
        self.board.report(name, "unknown", "")

    def resume(self, printers: list[str] | None = None) -> int:
        """Hand the printers every job of today left unfinished by the last run; older ones fail.

        ``printers``: only their jobs (the printers this process has just taken on); None: every
        job, and a job of a printer the site no longer has fails. A ticket of an earlier business
        day is no use on paper any more: its job is recorded ``failed`` rather than printed hours
        late. A job left ``printing`` may be on paper already: it is printed again marked 补打 COPY.
        """
        if self.jobs is None or printers == []:
            return 0
        resumed = self._hand_over(self.jobs.pending(printers), unknown_fails=printers is None)
        if resumed:
            log.info("print queue: resumed %d unfinished print job(s)", resumed)
        return resumed

    def _fail_unconfigured(self) -> None:
        """Jobs of a printer the site no longer has: nobody will print them."""
        if self.jobs is None:
            return
        for job, _ticket in self.jobs.pending():
            if job.printer not in self.printers:
                self.jobs_finish(job, "failed", f"printer {job.printer!r} is not configured")

    def pick_up(self) -> int:
        """The jobs other hub processes committed for the printers this one drives: handed over now."""
        if self.jobs is None or self.leases is None:
            return 0
        mine = [name for name in list(self.spoolers) if self._drives(name)]
        if not mine:
            return 0
        return self._hand_over(self.jobs.pending(mine), unknown_fails=False)

    def _hand_over(self, pending: list[tuple[PrintJobRecord, Ticket]], unknown_fails: bool) -> int:
        today = self.hall.calendar.business_day(self.clock())
        handed = 0
        for job, ticket in pending:
            if job.id in self._seen:
                continue  # handed to a spooler here already (a job committed by this very process)
            if job.printer not in self.printers:
                if unknown_fails:
                    self.jobs_finish(job, "failed", f"printer {job.printer!r} is not configured")
                continue
            if ticket.business_day != today:
                self.jobs_finish(job, "failed", "not resumed: from an earlier business day")
                continue
            self._dispatch(job, ticket, copy=job.state == "printing")
            handed += 1
        return handed

    def jobs_finish(self, job: PrintJobRecord, state: str, detail: str) -> None:
        if self.jobs is not None:
            self.jobs.finish(job.id, state, detail, self.clock(), self._fence(job.printer))

    def close(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        """Print what is queued (for at most ``flush_seconds``), then close every printer.

        A ticket the kiosk showed as "printing" should be on paper when the hub
        stops for an update; a printer that cannot print in time keeps its jobs
        ``pending`` in ``print_jobs``, resumed at the next start (at least once).
        """
        left = self.flush(flush_seconds)
        if left:
            log.info("print queue: %d job(s) not printed before the stop stay pending for next start", left)
        self._closing = True
        self.pickup.close()
        for spooler in self.spoolers.values():
            spooler.close()
        if self.spoolers:
            log.info("stopping: printers closed")

    def flush(self, seconds: float) -> int:
        """Wait until every spooler's queue is empty or ``seconds`` passed; how many jobs are left."""
        queued = self._queued()
        if not queued:
            return 0
        log.info("print queue: flushing %d queued job(s) before stopping", queued)
        deadline = time.monotonic() + seconds
        while (queued := self._queued()) and (remaining := deadline - time.monotonic()) > 0:
            for spooler in self.spoolers.values():
                spooler.retry_now()  # a printer fixed a moment ago is asked now, not after its back-off
            with self._settled:
                self._settled.wait_for(lambda: not self._queued(), min(remaining, FLUSH_RETRY_SECONDS))
        return queued

    def _queued(self) -> int:
        return sum(len(spooler.pending()) for spooler in self.spoolers.values())

    # -- the kiosk's ticket --------------------------------------------------

    def request_for(self, kiosk: str | None, url_base: str) -> PrintRequest | None:
        """The print job to commit with a new ticket of ``kiosk``; None when it has no printer.

        ``url_base`` is where status pages live; a loopback one is dropped (no QR code on paper).
        """
        printer = self.printer_of.get(kiosk) if kiosk else None
        if printer is None:
            return None
        return PrintRequest(printer=printer, kiosk=kiosk, url_base=printable_url(url_base))

    def print_issued(self, issued: Issued) -> dict[str, Any]:
        """Hand the job committed with the ticket to its printer; say at once what the kiosk should expect."""
        job = issued.print_job
        if job is None:
            return {"printer": None, "state": "none"}
        return self._dispatch(job, issued.ticket)

    def reprint(
        self,
        ticket: Ticket,
        waiting_ahead: int,
        printer: str,
        kiosk: str | None,
        status_url: str,
        also: Callable[[Connection], Any] | None = None,
    ) -> dict[str, Any]:
        """A new job for a ticket already issued (staff's reprint), stored with ``also`` (its audit row)."""
        job = PrintJobRecord(
            id=new_job_id(),
            ticket_id=ticket.id,
            printer=printer,
            kiosk=kiosk,
            waiting_ahead=waiting_ahead,
            status_url=printable_url(status_url),
            created_at=self.clock(),
            kind=REPRINT,
        )
        if self.jobs is not None:
            self.jobs.add(job, also)
        return self._dispatch(job, ticket)

    def test_print(self, printer: str) -> dict[str, Any]:
        """A test slip on ``printer`` through the normal path (its spooler or its agent), not stored.

        It is no visitor's ticket: nothing in ``print_jobs``, no kiosk told; the
        answer says whether the printer took it (queued) or what it waits for.
        """
        settings = self.printers[printer]
        job_id = f"test-{new_job_id()}"
        now = self.hall.calendar.local(self.clock()).strftime("%Y-%m-%d %H:%M")
        paper = PrintTicket(
            ticket_id=job_id,
            number="TEST",
            site_name_zh=self.hall.name_zh,
            site_name_en=self.hall.name_en,
            service_name_zh="打印测试",
            service_name_en="Test print",
            waiting_ahead=0,
            estimated_wait_minutes=0,
            no_estimate=True,
            issued_at=now,
            status_url="",
            footer_zh=f"打印机 {printer} 测试页",
            footer_en=f"Test slip of printer {printer}",
            job_id=job_id,
        )
        if settings.agent:
            self._send_to_agent(settings.agent, printer, paper, settings)
        elif not self._drives(printer):
            holder = (self.leases.holder_of(printer_device(printer)) if self.leases else None) or "?"
            detail = f"driven by hub process {holder}"
            return {"printer": printer, "state": "failed", "detail": detail, "driven_by": holder}
        else:
            spooler = self.spoolers.get(printer)
            if spooler is None or not spooler.submit(paper):
                return {"printer": printer, "state": "failed", "detail": "the print queue is full"}
        return {**self._expectation(printer), "job_id": job_id}

    def _dispatch(self, job: PrintJobRecord, ticket: Ticket, copy: bool = False) -> dict[str, Any]:
        if not self._drives(job.printer):
            # Committed: the process driving the printer picks it up within a second (pick_up).
            return {"printer": job.printer, "state": "queued", "detail": "", "job_id": job.id}
        paper = self.paper_for(job, ticket, copy)
        with self._lock:
            self.live_jobs[job.id] = (ticket.id, job.kiosk, job.printer)
            self._seen[job.id] = job.printer
            if len(self._seen) > SEEN_LIMIT:  # the oldest ones are long finished
                for old in list(self._seen)[: SEEN_LIMIT // 2]:
                    del self._seen[old]
        settings = self.printers[job.printer]
        answer: dict[str, Any]
        if settings.agent:
            self._send_to_agent(settings.agent, job.printer, paper, settings)
            answer = self._expectation(job.printer)
        else:
            spooler = self.spoolers.get(job.printer)
            if spooler is None or not spooler.submit(paper):
                detail = "the print queue is full"
                self._record(job.id, job.printer, "failed", detail)
                with self._lock:
                    self.live_jobs.pop(job.id, None)
                answer = {"printer": job.printer, "state": "failed", "detail": detail}
            else:
                answer = self._expectation(job.printer)
        return {**answer, "job_id": job.id}

    def _expectation(self, printer: str) -> dict[str, Any]:
        """What the kiosk may expect: queued if the printer was fine a moment ago, else waiting and why."""
        status = self.board.get(printer)
        ready = status is not None and status.healthy
        return {
            "printer": printer,
            "state": "queued" if ready else "waiting",
            "detail": "" if ready else (status.state if status else "unknown"),
        }

    def paper_for(self, job: PrintJobRecord, ticket: Ticket, copy: bool = False) -> PrintTicket:
        """What the paper shows, from the ticket row and what its job kept (people ahead, QR payload).

        ``copy``: the job may be on paper already (its driver died while sending it): marked 补打 COPY.
        """
        hall = self.hall
        service = hall.services[ticket.service]
        settings = self.printers[job.printer]
        return PrintTicket(
            ticket_id=ticket.id,
            number=ticket.number,
            site_name_zh=hall.name_zh,
            site_name_en=hall.name_en,
            service_name_zh=service.name_zh,
            service_name_en=service.name_en,
            waiting_ahead=job.waiting_ahead,
            # The estimate given at issue, as stored with the ticket (server/core/estimate.py).
            estimated_wait_minutes=minutes(ticket.estimate_seconds),
            no_estimate=ticket.estimate_seconds is None,
            issued_at=hall.calendar.local(ticket.issued_at).strftime("%Y-%m-%d %H:%M"),
            status_url=printable_url(job.status_url),
            footer_zh=settings.footer_zh,
            footer_en=settings.footer_en,
            job_id=job.id,
            appointment=ticket.appointment is not None,
            copy=copy,
        )

    # -- what the drivers report ---------------------------------------------

    def job_changed(self, job_id: str, state: str, detail: str = "") -> None:
        """A spooler's (or an agent's) word on a job: kept on disk first, then told to its kiosk."""
        with self._lock:
            ticket_id, kiosk, printer = self.live_jobs.get(job_id, (None, None, ""))
        if state == "failed" and (self._closing or printer in self._letting_go):
            return  # "spooler closed": the job stays pending on disk, resumed at the next start (or driver)
        with self._lock:
            if state in ("printed", "failed"):
                self.live_jobs.pop(job_id, None)
        if state in ("printed", "failed"):
            with self._settled:
                self._settled.notify_all()
        if ticket_id is None:
            return
        self._record(job_id, printer, state, detail)
        if kiosk:
            self.push.publish(
                PRINT_STATUS,
                {"ticket_id": ticket_id, "job_id": job_id, "state": state, "detail": detail},
                device_room(kiosk),
            )

    def _fence(self, printer: str) -> Any:
        """The lease a mark on ``printer``'s job is fenced on (None: one hub, or an agent's printer)."""
        if self.leases is None or printer not in self.printers or self.printers[printer].agent:
            return None
        return self.leases.fence(printer_device(printer))

    def _record(self, job_id: str, printer: str, state: str, detail: str) -> None:
        if self.jobs is None:
            return
        fence = self._fence(printer)
        try:
            if state == "printing":
                recorded = self.jobs.attempt(job_id, fence)
            elif state in ("printed", "failed"):
                recorded = self.jobs.finish(job_id, state, detail, self.clock(), fence)
            else:
                return
        except Exception:  # the paper is what matters; a failed write is resumed (printed again) at worst
            log.exception("print queue: cannot record job %s as %s", job_id, state)
            return
        if not recorded and fence is not None:
            log.warning(
                "print queue: job %s not recorded %s: printer %s is no longer driven by this process "
                "(lease generation %d), its new driver prints it",
                job_id,
                state,
                printer,
                fence.generation,
            )

    def printer_changed(self, name: str, state: Any, detail: str = "") -> None:
        status = self.board.report(name, getattr(state, "value", str(state)), detail)
        if status:
            for kiosk in self.kiosks_of.get(name, []):
                self.push.publish(PRINTER_STATUS, status.public(), device_room(kiosk))

    def printers_of_kiosk(self, kiosk: str) -> list[dict[str, Any]]:
        """The state of the kiosk's printer, told to the kiosk when it connects."""
        printer = self.printer_of.get(kiosk)
        status = self.board.get(printer) if printer else None
        return [status.public()] if status else []

    # -- agents --------------------------------------------------------------

    def _send_to_agent(self, agent: str, printer: str, job: PrintTicket, settings: PrinterSettings) -> None:
        message = {"printer": printer, "ticket": job.to_dict(), "options": layout_options(settings).to_dict()}
        with self._lock:
            self.agent_jobs.setdefault(agent, {})[job.job_key] = message
        self.push.publish(PRINT_JOB, message, agent_room(agent))

    def agent_connected(self, agent: str, emit: Callable[[str, dict[str, Any]], None]) -> None:
        """Hand a (re)connected agent the jobs it has not confirmed."""
        with self._lock:
            pending = list(self.agent_jobs.get(agent, {}).values())
        for message in pending:
            emit(PRINT_JOB, message)

    def agent_gone(self, agent: str) -> None:
        """The agent's connection ended: its printers cannot be reached until it is back."""
        for name, settings in self.printers.items():
            if settings.agent == agent:
                self.printer_changed(name, "disconnected", f"agent {agent} is not connected")

    def agent_job(self, agent: str, job_id: str, state: str, detail: str = "") -> None:
        """An agent reports on a job; only jobs sent to that agent count.

        ``job_id`` may be a ticket id, from an agent older than job ids: then it
        names that ticket's pending job.
        """
        with self._lock:
            jobs = self.agent_jobs.get(agent, {})
            if job_id not in jobs:
                job_id = next((k for k, m in jobs.items() if m["ticket"]["ticket_id"] == job_id), "")
                if not job_id:
                    return
            if state in ("printed", "failed"):
                del jobs[job_id]
        self.job_changed(job_id, state, detail)

    def agent_printer(self, agent: str, printer: str, state: str, detail: str = "") -> None:
        """An agent reports on a printer; only the agent it is configured for may."""
        settings = self.printers.get(printer)
        if settings is not None and settings.agent == agent:
            self.printer_changed(printer, state, detail)
