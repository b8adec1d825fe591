"""Tickets on paper: the hub's side of printing.

After a ticket is committed, the API hands it here; this module turns it into
a :class:`~drivers.printing.ticket.PrintTicket` and gives it to the kiosk's
printer: a spooler in the hub for printers it reaches itself, or a
``print_job`` over Socket.IO for printers driven by a device agent. The request
never waits for paper: a dead printer only changes what the kiosk says.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from drivers.printing.connectors import open_printer
from drivers.printing.layout import LayoutOptions
from drivers.printing.spooler import PrintSpooler
from drivers.printing.ticket import PrintTicket

from .config import PrinterSettings, SiteConfig
from .core.queue import Issued
from .devices import DeviceBoard, Publish

log = logging.getLogger(__name__)

PRINT_STATUS = "print_status"
PRINT_JOB = "print_job"
#: Tickets one printer holds while it is down (each expires after 15 minutes unprinted).
SPOOL_LIMIT = 256
#: Minutes one visitor takes at a counter, for the estimate printed on the ticket.
DEFAULT_SERVICE_MINUTES = 5


def device_room(name: str) -> str:
    return f"device:{name}"


def agent_room(name: str) -> str:
    return f"agent:{name}"


def layout_options(settings: PrinterSettings) -> LayoutOptions:
    return LayoutOptions(
        paper_mm=settings.paper_mm,
        chinese=settings.chinese,
        qr=settings.qr,
        number_size=settings.number_size,
    )


def connector_settings(settings: PrinterSettings) -> dict[str, Any]:
    """The keys the driver's ``open_printer`` reads, without the hub's own."""
    keys = ("connector", "host", "port", "baudrate", "vendor_id", "product_id", "path", "timeout")
    given = settings.model_fields_set | {"connector"}
    values = {key: getattr(settings, key) for key in keys if key in given}
    return {key: value for key, value in values.items() if value is not None}


class PrintService:
    """Routes each kiosk's tickets to its printer and keeps the device board current."""

    def __init__(
        self,
        config: SiteConfig,
        board: DeviceBoard,
        make_executor: Callable[[], Executor],
        virtual_dir: Path | None = None,
    ) -> None:
        self.board = board
        #: One single-thread executor per printer: its connection always lives on the same thread.
        self.make_executor = make_executor
        self.publish: Publish | None = None
        self.spoolers: dict[str, PrintSpooler] = {}
        self.twins: dict[str, Any] = {}
        #: Jobs sent to agents and not yet answered, by agent name, so a reconnecting agent gets them again.
        self.agent_jobs: dict[str, dict[str, dict[str, Any]]] = {}
        #: Which kiosk is waiting for which ticket, to tell that kiosk how its print went.
        self.ticket_kiosk: dict[str, str] = {}
        self._lock = threading.Lock()
        self.virtual_dir = virtual_dir
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
        self.kiosks_of: dict[str, list[str]] = {}
        for kiosk, printer in self.printer_of.items():
            self.kiosks_of.setdefault(printer, []).append(kiosk)

    def start(self, publish: Publish) -> None:
        """Open a spooler for every printer the hub drives itself."""
        self.publish = publish
        for name, settings in self.printers.items():
            if settings.agent:
                self.agent_jobs.setdefault(settings.agent, {})
                self.board.report(name, "unknown", f"waiting for agent {settings.agent}")
                continue
            if settings.connector == "virtual":
                settings = self._start_twin(name, settings)
            self.spoolers[name] = PrintSpooler(
                name,
                self._opener(settings),
                layout_options(settings),
                on_job=self.job_changed,
                on_status=self.printer_changed,
                executor=self.make_executor(),
                max_queue=SPOOL_LIMIT,
            )

    def close(self) -> None:
        for spooler in self.spoolers.values():
            spooler.close()
        for twin in self.twins.values():
            twin.stop()

    # -- the kiosk's ticket --------------------------------------------------

    def print_ticket(self, issued: Issued, kiosk: str | None, status_url: str) -> dict[str, Any]:
        """Queue the ticket on the kiosk's printer; say at once what the kiosk should expect."""
        printer = self.printer_of.get(kiosk) if kiosk else None
        if kiosk is None or printer is None:
            return {"printer": None, "state": "none"}
        job = self.print_ticket_data(issued, printer, status_url)
        with self._lock:
            self.ticket_kiosk[job.ticket_id] = kiosk
        settings = self.printers[printer]
        if settings.agent:
            self._send_to_agent(settings.agent, printer, job, settings)
            return self._expectation(printer)
        spooler = self.spoolers.get(printer)
        if spooler is None or not spooler.submit(job):
            return {"printer": printer, "state": "failed", "detail": "the print queue is full"}
        return self._expectation(printer)

    def _expectation(self, printer: str) -> dict[str, Any]:
        """What the kiosk may expect: queued if the printer was fine a moment ago, else waiting and why."""
        status = self.board.get(printer)
        ready = status is not None and status.healthy
        return {
            "printer": printer,
            "state": "queued" if ready else "waiting",
            "detail": "" if ready else (status.state if status else "unknown"),
        }

    def print_ticket_data(self, issued: Issued, printer: str, status_url: str) -> PrintTicket:
        hall = self.hall
        ticket = issued.ticket
        service = hall.services[ticket.service]
        settings = self.printers[printer]
        return PrintTicket(
            ticket_id=ticket.id,
            number=ticket.number,
            site_name_zh=hall.name_zh,
            site_name_en=hall.name_en,
            service_name_zh=service.name_zh,
            service_name_en=service.name_en,
            waiting_ahead=issued.waiting_ahead,
            estimated_wait_minutes=self.estimate_minutes(ticket.service, issued.waiting_ahead),
            issued_at=hall.calendar.local(ticket.issued_at).strftime("%Y-%m-%d %H:%M"),
            status_url=status_url,
            footer_zh=settings.footer_zh,
            footer_en=settings.footer_en,
        )

    def estimate_minutes(self, service: str, ahead: int) -> int:
        """People ahead × minutes each, shared by the counters that serve the service."""
        counters = sum(1 for c in self.hall.counters.values() if service in c.services) or 1
        return math.ceil(ahead * DEFAULT_SERVICE_MINUTES / counters)

    # -- what the drivers report ---------------------------------------------

    def job_changed(self, ticket_id: str, state: str, detail: str = "") -> None:
        with self._lock:
            kiosk = self.ticket_kiosk.get(ticket_id)
            if state in ("printed", "failed"):
                self.ticket_kiosk.pop(ticket_id, None)
        if kiosk and self.publish:
            self.publish(
                PRINT_STATUS, {"ticket_id": ticket_id, "state": state, "detail": detail}, device_room(kiosk)
            )

    def printer_changed(self, name: str, state: Any, detail: str = "") -> None:
        status = self.board.report(name, getattr(state, "value", str(state)), detail)
        if status and self.publish:
            for kiosk in self.kiosks_of.get(name, []):
                self.publish("printer_status", status.public(), device_room(kiosk))

    def printers_of_kiosk(self, kiosk: str) -> list[dict[str, Any]]:
        """The state of the kiosk's printer, told to the kiosk when it connects."""
        printer = self.printer_of.get(kiosk)
        status = self.board.get(printer) if printer else None
        return [status.public()] if status else []

    # -- agents --------------------------------------------------------------

    def _send_to_agent(self, agent: str, printer: str, job: PrintTicket, settings: PrinterSettings) -> None:
        message = {"printer": printer, "ticket": job.to_dict(), "options": layout_options(settings).to_dict()}
        with self._lock:
            self.agent_jobs.setdefault(agent, {})[job.ticket_id] = message
        if self.publish:
            self.publish(PRINT_JOB, message, agent_room(agent))

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

    def agent_job(self, agent: str, ticket_id: str, state: str, detail: str = "") -> None:
        """An agent reports on a job; only jobs sent to that agent count."""
        with self._lock:
            jobs = self.agent_jobs.get(agent, {})
            if ticket_id not in jobs:
                return
            if state in ("printed", "failed"):
                del jobs[ticket_id]
        self.job_changed(ticket_id, state, detail)

    def agent_printer(self, agent: str, printer: str, state: str, detail: str = "") -> None:
        """An agent reports on a printer; only the agent it is configured for may."""
        settings = self.printers.get(printer)
        if settings is not None and settings.agent == agent:
            self.printer_changed(printer, state, detail)

    # -- inside --------------------------------------------------------------

    def _opener(self, settings: PrinterSettings) -> Callable[[], Any]:
        raw = connector_settings(settings)
        return lambda: open_printer(raw)

    def _start_twin(self, name: str, settings: PrinterSettings) -> PrinterSettings:
        """The demo's printer: a virtual ESC/POS printer on a local TCP port."""
        from drivers.twins.virtual_printer import VirtualPrinter

        folder = (self.virtual_dir or Path("var/prints")) / name
        folder.mkdir(parents=True, exist_ok=True)
        count = len(list(folder.glob("ticket-*.png")))

        def save(document: Any) -> None:
            nonlocal count
            count += 1
            document.to_png(folder / f"ticket-{count:05d}.png")

        twin = VirtualPrinter(paper_mm=settings.paper_mm, on_document=save)
        twin.start()
        self.twins[name] = twin
        log.info("virtual printer %s listening on 127.0.0.1:%d", name, twin.port)
        return settings.model_copy(update={"connector": "network", "host": "127.0.0.1", "port": twin.port})
