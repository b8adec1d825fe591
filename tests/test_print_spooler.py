"""The print spooler against the virtual printer, over real TCP (and a real pty).

No fakes: the spooler opens a python-escpos ``Network`` printer on the twin's
port, asks ``DLE EOT`` for real, and the twin decodes what reaches its
"paper". Tests wait on events set by the spooler's callbacks and on
``wait_for_documents``; nothing sleeps to synchronise.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from drivers.printing.connectors import open_printer
from drivers.printing.layout import LayoutOptions
from drivers.printing.spooler import PrintSpooler
from drivers.printing.status import PrinterState
from drivers.printing.ticket import PrintTicket
from drivers.twins.virtual_printer import VirtualPrinter, VirtualSerialPrinter
from tests.support import SAMPLE_TICKET as TICKET

WAIT = 5.0  # seconds: the longest any single event should take


def ticket(n: int) -> PrintTicket:
    return replace(
        TICKET, ticket_id=f"t-{n:04d}", number=f"A{n:03d}", status_url=f"https://hall.example.cn/t/{n}"
    )


class Events:
    """What the spooler reported, with an Event per (ticket, state) and per printer state to wait on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: list[tuple[str, str, str]] = []
        self.statuses: list[PrinterState] = []
        self._events: dict[Any, threading.Event] = {}

    def _event(self, key: Any) -> threading.Event:
        with self._lock:
            return self._events.setdefault(key, threading.Event())

    def on_job(self, ticket_id: str, state: str, detail: str) -> None:
        with self._lock:
            self.jobs.append((ticket_id, state, detail))
        self._event((ticket_id, state)).set()
        self._event((ticket_id, state, detail)).set()

    def on_status(self, name: str, state: PrinterState) -> None:
        assert name == "printer-1"
        with self._lock:
            self.statuses.append(state)
        self._event(("status", state)).set()

    def job_reached(
        self, ticket_id: str, state: str, detail: str | None = None, timeout: float = WAIT
    ) -> bool:
        key = (ticket_id, state) if detail is None else (ticket_id, state, detail)
        return self._event(key).wait(timeout)

    def status_reached(self, state: PrinterState, timeout: float = WAIT) -> bool:
        return self._event(("status", state)).wait(timeout)

    def states_of(self, ticket_id: str) -> list[str]:
        with self._lock:
            return [state for tid, state, _ in self.jobs if tid == ticket_id]


@pytest.fixture
def twin() -> Iterator[VirtualPrinter]:
    printer = VirtualPrinter().start()
    yield printer
    printer.stop()


@pytest.fixture
def events() -> Events:
    return Events()


def spooler_for(
    settings: dict[str, Any], events: Events, options: LayoutOptions | None = None, **params: Any
) -> PrintSpooler:
    """A spooler for "printer-1" on these connector settings, reporting to ``events``.

    No idle checks unless asked; the spooler's own defaults for what ``params`` leaves out.
    """
    params.setdefault("idle_check_interval", None)
    return PrintSpooler(
        "printer-1",
        lambda: open_printer(settings),
        options if options is not None else LayoutOptions(),
        on_job=events.on_job,
        on_status=events.on_status,
        **params,
    )


@pytest.fixture
def make_spooler(twin: VirtualPrinter, events: Events) -> Iterator[Any]:
    spoolers: list[PrintSpooler] = []

    def make(**kwargs: Any) -> PrintSpooler:
        settings = {"connector": "network", "host": "127.0.0.1", "port": twin.port, "timeout": 2.0}
        options = kwargs.pop("options", LayoutOptions(paper_mm=80))
        params: dict[str, Any] = {
            "status_timeout": 0.3,
            "confirm_timeout": 2.0,
            "retry_interval": 0.05,
            "max_retry_interval": 0.2,
            "job_timeout": 5.0,
            "idle_check_interval": None,
        }
        params.update(kwargs)
        spooler = spooler_for(settings, events, options, **params)
        spoolers.append(spooler)
        return spooler

    yield make
    for spooler in spoolers:
        spooler.close()


def assert_printed_once(twin: VirtualPrinter, *tickets: PrintTicket) -> None:
    """The twin cut exactly these tickets, in order, each whole: number, QR, Chinese, one cut each."""
    assert twin.wait_for_documents(len(tickets), WAIT)
    docs = twin.documents
    assert len(docs) == len(tickets)
    assert twin.raw.count(b"\x1dV") == len(tickets)  # not one cut more reached the printer
    for doc, t in zip(docs, tickets, strict=True):
        assert doc.cut
        numbers = [line for line in doc.lines if line.text == t.number]
        assert len(numbers) == 1
        assert numbers[0].width_mult == numbers[0].height_mult == 4
        assert t.service_name_zh in doc.text
        assert f"前面还有 {t.waiting_ahead} 人" in doc.text
        assert doc.qr_payloads == [t.status_url]


def test_a_ticket_prints_once(make_spooler, twin: VirtualPrinter, events: Events):
    spooler = make_spooler()
    assert spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "printed")
    assert_printed_once(twin, TICKET)
    assert events.states_of(TICKET.ticket_id) == ["queued", "printing", "printed"]
    assert spooler.state is PrinterState.ONLINE
    assert events.statuses == [PrinterState.ONLINE]
    assert spooler.pending() == []
    assert not twin.documents[0].warnings  # every byte we sent is one the decoder knows


@pytest.mark.parametrize("state", ["paper_out", "cover_open", "offline", "error"])
def test_a_printer_that_is_not_ready_makes_the_job_wait_then_prints_it_once(
    make_spooler, twin: VirtualPrinter, events: Events, state: str
):
    twin.state = state
    spooler = make_spooler()
    assert spooler.submit(TICKET)
    assert events.status_reached(PrinterState(state))
    assert events.job_reached(TICKET.ticket_id, "waiting", state)
    assert spooler.state is PrinterState(state)
    # It keeps asking (a few seconds apart in the hall, 50–200 ms here) and sends nothing to print.
    asked = twin.status_queries
    assert twin.wait_for_status_queries(asked + 8, WAIT)
    assert twin.documents == []
    assert b"\x1dV" not in twin.raw
    [job] = spooler.pending()
    assert (job.ticket_id, job.state, job.detail) == (TICKET.ticket_id, "waiting", state)

    twin.state = "online"
    assert events.job_reached(TICKET.ticket_id, "printed")
    assert_printed_once(twin, TICKET)
    assert events.status_reached(PrinterState.ONLINE)
    assert events.states_of(TICKET.ticket_id) == ["queued", "waiting", "printing", "printed"]


def test_a_silent_printer_is_unknown_and_the_job_waits(make_spooler, twin: VirtualPrinter, events: Events):
    twin.state = "silent"
    spooler = make_spooler()
    assert spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "waiting", "unknown")
    assert spooler.state is PrinterState.UNKNOWN
    assert twin.documents == []
    assert b"\x1dV" not in twin.raw

    twin.state = "online"
    assert events.job_reached(TICKET.ticket_id, "printed")
    assert_printed_once(twin, TICKET)


def test_paper_near_end_prints_and_tells_staff(make_spooler, twin: VirtualPrinter, events: Events):
    twin.state = "paper_near_end"
    spooler = make_spooler()
    assert spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "printed")
    assert_printed_once(twin, TICKET)
    assert events.statuses == [PrinterState.PAPER_NEAR_END]


@pytest.mark.parametrize("after", [40, 300])
def test_a_connection_dropped_mid_job_prints_the_whole_job_once_afterwards(
    make_spooler, twin: VirtualPrinter, events: Events, after: int
):
    spooler = make_spooler()
    # The 12 bytes of the status check, then the job's first bytes; then the twin resets the connection.
    twin.drop_next_connection_after(after)
    assert spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "printed")
    assert_printed_once(twin, TICKET)
    assert twin.connections == 2
    assert events.states_of(TICKET.ticket_id) == ["queued", "printing", "waiting", "printing", "printed"]
    assert events.job_reached(TICKET.ticket_id, "waiting", "disconnected", timeout=0)
    assert events.status_reached(PrinterState.DISCONNECTED, timeout=0)
    # The second connection reset the printer before printing again.
    second = twin.raw[after:]
    assert second.index(b"\x1b@") < second.index(b"\x1dV")


def test_the_same_ticket_submitted_twice_prints_once(make_spooler, twin: VirtualPrinter, events: Events):
    twin.state = "paper_out"  # keep the first submission queued while the second arrives
    spooler = make_spooler()
    assert spooler.submit(TICKET)
    assert not spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "waiting")
    twin.state = "online"
    assert events.job_reached(TICKET.ticket_id, "printed")
    assert not spooler.submit(TICKET)  # printed once: never again
    second = ticket(2)
    assert spooler.submit(second)  # something after it, so a stray duplicate would show before it
    assert events.job_reached(second.ticket_id, "printed")
    assert_printed_once(twin, TICKET, second)


def test_a_reprint_is_a_new_job_and_prints_a_resend_of_a_job_does_not(
    make_spooler, twin: VirtualPrinter, events: Events
):
    first = replace(TICKET, job_id="j-1")
    spooler = make_spooler()
    assert spooler.submit(first)
    assert events.job_reached("j-1", "printed")  # on_job names the job, not the ticket
    assert not spooler.submit(first)  # the same job again: never printed twice
    reprint = replace(TICKET, job_id="j-2")
    assert spooler.submit(reprint)  # the same ticket, a new job: it prints
    assert events.job_reached("j-2", "printed")
    assert_printed_once(twin, first, reprint)


def test_an_unconfirmed_job_is_sent_again_with_a_possible_duplicate_warning(
    make_spooler, twin: VirtualPrinter, events: Events, caplog: pytest.LogCaptureFixture
):
    spooler = make_spooler()
    twin.drop_next_connection_after_cut()  # the paper is out, the answer never comes
    with caplog.at_level("WARNING", logger="drivers.printing.spooler"):
        assert spooler.submit(TICKET)
        assert events.job_reached(TICKET.ticket_id, "printed")
    assert twin.wait_for_documents(2, WAIT)
    assert [d.cut for d in twin.documents] == [True, True], "at least once: sent again whole"
    warnings = [r.getMessage() for r in caplog.records if "possible duplicate" in r.getMessage()]
    assert len(warnings) == 1 and TICKET.ticket_id in warnings[0]


def test_the_queue_bound_is_honoured_and_jobs_print_in_order(
    make_spooler, twin: VirtualPrinter, events: Events
):
    twin.state = "offline"
    spooler = make_spooler(max_queue=3)
    tickets = [ticket(n) for n in (1, 2, 3)]
    assert [spooler.submit(t) for t in tickets] == [True, True, True]
    assert not spooler.submit(ticket(4))
    assert [job.ticket_id for job in spooler.pending()] == ["t-0001", "t-0002", "t-0003"]
    for t in tickets:  # every job in the queue says why it waits
        assert events.job_reached(t.ticket_id, "waiting", "offline")
    twin.state = "online"
    assert events.job_reached("t-0003", "printed")
    assert_printed_once(twin, *tickets)
    assert spooler.submit(ticket(4))  # room again
    assert events.job_reached("t-0004", "printed")


def test_a_job_not_printed_in_time_fails(make_spooler, twin: VirtualPrinter, events: Events):
    twin.state = "cover_open"
    spooler = make_spooler(expire_after=0.5)
    assert spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "failed")
    [(_, _, detail)] = [j for j in events.jobs if j[1] == "failed"]
    assert "not printed within" in detail and "cover_open" in detail
    assert spooler.pending() == []
    twin.state = "online"
    assert spooler.submit(ticket(2))  # the spooler carries on with the next ticket
    assert events.job_reached("t-0002", "printed")
    assert_printed_once(twin, ticket(2))


def test_an_unreachable_printer_is_disconnected_and_the_job_prints_when_it_listens(events: Events):
    twin = VirtualPrinter()
    twin.start()
    port = twin.port
    twin.stop()  # nothing listens on the port now
    settings = {"connector": "network", "host": "127.0.0.1", "port": port, "timeout": 1.0}
    spooler = spooler_for(settings, events, retry_interval=0.05, max_retry_interval=0.2, status_timeout=0.3)
    try:
        assert spooler.submit(TICKET)
        assert events.job_reached(TICKET.ticket_id, "waiting", "disconnected")
        assert spooler.state is PrinterState.DISCONNECTED
        back = VirtualPrinter(port=port).start()
        try:
            assert events.job_reached(TICKET.ticket_id, "printed")
            assert_printed_once(back, TICKET)
        finally:
            back.stop()
    finally:
        spooler.close()


def test_idle_checks_report_the_printer_state_without_jobs(
    make_spooler, twin: VirtualPrinter, events: Events
):
    spooler = make_spooler(idle_check_interval=0.05)
    assert events.status_reached(PrinterState.ONLINE)
    twin.state = "paper_out"
    assert events.status_reached(PrinterState.PAPER_OUT)
    assert spooler.state is PrinterState.PAPER_OUT
    twin.state = "online"
    assert spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "printed")
    assert_printed_once(twin, TICKET)


def test_close_fails_the_jobs_left_and_refuses_new_ones(make_spooler, twin: VirtualPrinter, events: Events):
    twin.state = "paper_out"
    spooler = make_spooler()
    assert spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "waiting")
    spooler.close()
    assert events.job_reached(TICKET.ticket_id, "failed", "spooler closed", timeout=0)
    assert not spooler.submit(ticket(2))
    assert spooler.pending() == []
    twin.state = "online"
    assert twin.documents == []


def test_raster_tickets_on_58mm_print_through_the_twin(make_spooler, twin: VirtualPrinter, events: Events):
    options = LayoutOptions(paper_mm=58, chinese="raster", qr="raster", number_size=3)
    spooler = make_spooler(options=options)
    assert spooler.submit(TICKET)
    assert events.job_reached(TICKET.ticket_id, "printed")
    assert twin.wait_for_documents(1, WAIT)
    [doc] = twin.documents
    assert doc.cut
    assert twin.raw.count(b"\x1dV") == 1
    assert any(line.text == "A012" and line.width_mult == 3 for line in doc.lines)
    assert TICKET.service_name_zh not in doc.text  # drawn, not sent as text
    assert len(doc.images) >= 5


def test_a_file_printer_cannot_answer_so_tickets_are_written_without_asking(tmp_path: Path, events: Events):
    target = tmp_path / "lp0"
    spooler = spooler_for({"connector": "file", "path": str(target)}, events)
    try:
        assert spooler.submit(TICKET)
        assert events.job_reached(TICKET.ticket_id, "printed")
        assert spooler.state is PrinterState.UNKNOWN
    finally:
        spooler.close()
    data = target.read_bytes()
    assert data.count(b"\x1dV") == 1
    assert b"\x10\x04" not in data  # no status queries into a file


def test_a_serial_printer_on_a_pty_prints_and_reports_paper_out(events: Events):
    twin = VirtualSerialPrinter(state="paper_out").start()
    settings = {"connector": "serial", "port": twin.device_path, "baudrate": 115200, "timeout": 2.0}
    spooler = spooler_for(settings, events, retry_interval=0.05, max_retry_interval=0.2, status_timeout=0.5)
    try:
        assert spooler.submit(TICKET)
        assert events.job_reached(TICKET.ticket_id, "waiting", "paper_out")
        twin.state = "online"
        assert events.job_reached(TICKET.ticket_id, "printed")
        assert twin.wait_for_documents(1, WAIT)
        assert len(twin.documents) == 1
        assert twin.documents[0].qr_payloads == [TICKET.status_url]
    finally:
        spooler.close()
        twin.stop()
