"""One printer's job queue: tickets go in at once, paper comes out when the printer is ready.

The hub calls :meth:`PrintSpooler.submit` and returns; a worker takes the jobs
in order and runs every blocking step (opening the transport, rendering,
writing, asking the status) on the given executor, each with a timeout. It
never sleeps on the caller's time and never prints a ticket twice.

A job's life, reported through ``on_job(job_key, state, detail)`` (the
ticket's ``job_id``, or its ticket id when it has none)::

    queued ──► printing ──► printed
       │  ▲        │
       ▼  │        ▼
      waiting ◄────┘   (printer not ready, connection lost mid-job)
       │
       ▼
     failed            (not printed within expire_after, cannot be laid out, spooler closed)

Before each job the printer is asked ``DLE EOT 1..4``; not ready means the
job waits and the printer is asked again after a short back-off. After the
job's bytes, the printer is asked again: an answer proves every byte before
it arrived (one ordered stream). A connection that breaks before that answer
means the ticket did not come out whole: the job goes back to the head of the
queue and is printed again, whole, after ``ESC @`` on a new connection.
Transports that cannot answer (a file) are printed to without asking.

Delivery is at least once: when every byte of a job was written (the cut
included) but the answer never came, the paper may well have come out; the
job is still sent again, and a WARNING saying "possible duplicate" names the
ticket, so a second slip at the kiosk can be explained.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .connectors import LinkedPrinter
from .layout import LayoutOptions, render_bytes
from .status import PrinterState, can_query_status, query_status
from .ticket import PrintTicket

log = logging.getLogger(__name__)

#: ``ESC @``: initialise the printer (clears its buffer and every mode) before printing after a fault.
RESET = b"\x1b@"

QUEUED = "queued"
PRINTING = "printing"
PRINTED = "printed"
WAITING = "waiting"
FAILED = "failed"

OnJob = Callable[[str, str, str], Any]
OnStatus = Callable[[str, PrinterState], Any]


@dataclass(frozen=True)
class PrintJob:
    """A job as :meth:`PrintSpooler.pending` shows it."""

    ticket: PrintTicket
    state: str
    detail: str
    attempts: int
    submitted_at: float  # time.time()

    @property
    def ticket_id(self) -> str:
        return self.ticket.ticket_id

    @property
    def job_id(self) -> str:
        return self.ticket.job_key


@dataclass(eq=False)
class _Job:
    ticket: PrintTicket
    submitted_at: float
    expires_at: float  # time.monotonic()
    state: str = QUEUED
    detail: str = ""
    attempts: int = 0
    announced: bool = False  # "queued" was reported: the worker may take it
    finished: bool = False
    data: bytes | None = field(default=None, repr=False)
    #: Every byte was written at least once without a confirmation: sending again may print twice.
    unconfirmed: bool = False

    @property
    def key(self) -> str:
        return self.ticket.job_key


class PrintSpooler:
    """One per printer: a bounded queue, one worker, status checks, retries, callbacks.

    ``open_printer`` is called with no arguments (on the executor) and returns
    an open printer (:func:`.connectors.open_printer`), or raises. ``executor`` is anything with
    ``submit(fn, *args) -> future`` (the hub passes gevent's thread pool);
    without one the spooler makes a one-thread pool of its own.
    """

    def __init__(
        self,
        name: str,
        open_printer: Callable[[], LinkedPrinter],
        options: LayoutOptions,
        on_job: OnJob | None = None,
        on_status: OnStatus | None = None,
        executor: Any = None,
        *,
        max_queue: int = 64,
        job_timeout: float = 30.0,
        status_timeout: float = 2.0,
        confirm_timeout: float = 10.0,
        retry_interval: float = 1.0,
        max_retry_interval: float = 5.0,
        expire_after: float = 15 * 60.0,
        idle_check_interval: float | None = 30.0,
        remember_printed: int = 10_000,
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue: at least 1, got {max_queue}")
        self.name = name
        self.options = options
        self.max_queue = max_queue
        self.job_timeout = job_timeout
        self.status_timeout = status_timeout
        self.confirm_timeout = confirm_timeout
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.expire_after = expire_after
        self.idle_check_interval = idle_check_interval
        self.remember_printed = remember_printed
        self._open_printer = open_printer
        self._on_job = on_job
        self._on_status = on_status
        self._own_executor = executor is None
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix=f"print-{name}"
        )
        self._cond = threading.Condition()
        self._queue: collections.deque[_Job] = collections.deque()
        self._active: dict[str, _Job] = {}
        self._printed: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._state = PrinterState.UNKNOWN
        self._printer: LinkedPrinter | None = None
        self._needs_reset = True
        self._failures = 0
        self._wake = False
        self._closed = False
        self._next_idle_check = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"print-spooler-{name}", daemon=True)
        self._thread.start()

    # -- what the hub calls ---------------------------------------------------

    def submit(self, ticket: PrintTicket) -> bool:
        """Queue a ticket; False when the queue is full, the spooler closed, or the job is known."""
        with self._cond:
            if self._closed or len(self._queue) >= self.max_queue:
                return False
            if ticket.job_key in self._active or ticket.job_key in self._printed:
                return False
            now = time.monotonic()
            job = _Job(ticket, submitted_at=time.time(), expires_at=now + self.expire_after)
            self._queue.append(job)
            self._active[ticket.job_key] = job
        self._emit_job(job, QUEUED, "")
        with self._cond:
            job.announced = True
            self._cond.notify_all()
        return True

    def pending(self) -> list[PrintJob]:
        """The jobs not yet printed or failed, in printing order."""
        with self._cond:
            return [PrintJob(j.ticket, j.state, j.detail, j.attempts, j.submitted_at) for j in self._queue]

    @property
    def state(self) -> PrinterState:
        """The printer's state as last seen (``unknown`` before the first check)."""
        return self._state

    def retry_now(self) -> None:
        """Cut the current back-off short (staff say they fixed the printer)."""
        with self._cond:
            self._wake = True
            self._cond.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker; jobs not printed are reported ``failed`` ("spooler closed")."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        with self._cond:
            left = [job for job in self._queue if not job.finished]
        for job in left:
            self._finish(job, FAILED, "spooler closed")
        self._drop_printer()
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the worker -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            job = self._next_job()
            if self._closed:
                return
            try:
                if job is None:
                    self._idle_check()
                else:
                    self._attempt(job)
            except Exception:  # the worker must outlive any surprise
                log.exception("print spooler %s: unexpected error", self.name)
                self._drop_printer()
                self._pause(self._backoff())

    def _next_job(self) -> _Job | None:
        """The head job once announced; None when it is time for an idle status check (or closed)."""
        with self._cond:
            while not self._closed:
                if self._queue and self._queue[0].announced:
                    return self._queue[0]
                if self.idle_check_interval is None:
                    self._cond.wait()
                    continue
                remaining = self._next_idle_check - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return None

    def _pause(self, seconds: float) -> None:
        """Wait before the next try; close() and retry_now() end it early, a new submit does not."""
        if seconds <= 0:
            return
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._wake, seconds)
            self._wake = False

    def _backoff(self) -> float:
        """retry_interval, doubling with each failure in a row, at most max_retry_interval."""
        self._failures += 1
        return min(self.retry_interval * 2.0 ** (self._failures - 1), self.max_retry_interval)

    def _attempt(self, job: _Job) -> None:
        self._expire_jobs()
        if job.finished:
            return
        fresh = self._printer is None
        if not self._connect():
            self._not_ready(PrinterState.DISCONNECTED)
            self._pause(self._backoff())
            return
        checkable = can_query_status(self._printer)
        if checkable:
            state = self._ask(self.status_timeout)
            if state is PrinterState.DISCONNECTED:
                self._drop_printer()
                if not fresh:
                    return  # a connection gone stale while idle: reopen at once
                self._not_ready(state)
                self._pause(self._backoff())
                return
            self._set_status(state)
            if not state.ready:
                self._not_ready(state)
                self._pause(self._backoff())
                return
            self._failures = 0
        else:
            self._set_status(PrinterState.UNKNOWN)
        if job.data is None:
            try:
                job.data = self._call(render_bytes, job.ticket, self.options, timeout=self.job_timeout)
            except Exception as exc:
                log.exception("print spooler %s: cannot lay out ticket %s", self.name, job.ticket.ticket_id)
                self._finish(job, FAILED, f"cannot lay out the ticket: {exc}")
                return
        if job.unconfirmed:
            log.warning(
                "print spooler %s: ticket %s (job %s) sent again although all its bytes were written "
                "before: the printer never confirmed them, so this is a possible duplicate on paper",
                self.name,
                job.ticket.ticket_id,
                job.key,
            )
        self._set_job(job, PRINTING, "")
        job.attempts += 1
        try:
            confirm = self.confirm_timeout if checkable else None
            after = self._call(
                self._send, self._printer, job.data, self._needs_reset, confirm, job, timeout=self.job_timeout
            )
        except Exception as exc:  # noqa: BLE001  any transport error: the job is not proven printed, resend
            log.warning("print spooler %s: job %s not confirmed: %r", self.name, job.key, exc)
            self._lost(job)
            return
        if after is not None:
            if after in (PrinterState.DISCONNECTED, PrinterState.UNKNOWN):
                self._lost(job)
                return
            self._set_status(after)
            if not after.ready:  # e.g. the paper ran out during the job: the printer dropped it
                job.unconfirmed = False  # the printer answered: that copy did not come out whole
                self._needs_reset = True
                self._not_ready(after)
                self._pause(self._backoff())
                return
        self._needs_reset = False
        self._failures = 0
        self._finish(job, PRINTED, "")

    def _lost(self, job: _Job) -> None:
        """No proof that the whole job arrived: print it again, whole, on a new connection."""
        self._drop_printer()
        self._set_status(PrinterState.DISCONNECTED)
        self._set_job(job, WAITING, PrinterState.DISCONNECTED.value)
        delay = self._backoff()
        if self._failures > 1:  # the first time, reconnect at once; after that, back off
            self._pause(delay)

    def _idle_check(self) -> None:
        """No jobs: look at the printer now and then, so staff see paper running out before a ticket does."""
        if self.idle_check_interval is not None:
            self._next_idle_check = time.monotonic() + self.idle_check_interval
        fresh = self._printer is None
        if not self._connect():
            self._set_status(PrinterState.DISCONNECTED)
            return
        if not can_query_status(self._printer):
            self._set_status(PrinterState.UNKNOWN)
            return
        state = self._ask(self.status_timeout)
        if state is PrinterState.DISCONNECTED:
            self._drop_printer()
            if not fresh and self._connect():
                state = self._ask(self.status_timeout)
                if state is PrinterState.DISCONNECTED:
                    self._drop_printer()
        self._set_status(state)

    # -- blocking steps, on the executor -----------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        future = self._executor.submit(fn, *args)
        try:
            return future.result(timeout=timeout)
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()
            # The call is stuck in I/O: closing the transport under it makes it fail and free its thread.
            self._drop_printer()
            raise

    def _connect(self) -> bool:
        if self._printer is not None:
            return True
        try:
            self._printer = self._call(self._open_printer, timeout=self.job_timeout)
        except Exception as exc:  # noqa: BLE001  escpos/usb/serial each raise their own: not open, retry
            log.info("print spooler %s: cannot open the printer: %s", self.name, exc)
            self._printer = None
            return False
        self._needs_reset = True  # a new connection: the printer may hold half a job from the last one
        return True

    def _ask(self, timeout: float) -> PrinterState:
        printer = self._printer
        try:
            state: PrinterState = self._call(query_status, printer, timeout, timeout=timeout + 2.0)
            return state
        except Exception:  # noqa: BLE001  no answer of any kind means the same: not connected
            return PrinterState.DISCONNECTED

    @staticmethod
    def _send(
        printer: LinkedPrinter,
        data: bytes,
        reset: bool,
        confirm_timeout: float | None,
        job: _Job | None = None,
    ) -> PrinterState | None:
        printer.send(RESET + data if reset else data)
        if job is not None:
            # Handed to the transport whole, cut included: from here a lost answer is ambiguous.
            job.unconfirmed = True
        if confirm_timeout is None:
            return None
        return query_status(printer, confirm_timeout)

    def _drop_printer(self) -> None:
        printer, self._printer = self._printer, None
        if printer is None:
            return
        self._needs_reset = True
        try:
            printer.close()
        except Exception:
            log.debug("print spooler %s: error closing the printer", self.name, exc_info=True)

    # -- bookkeeping and callbacks ---------------------------------------------------

    def _not_ready(self, state: PrinterState) -> None:
        """The printer cannot print now: every job in the queue waits (and says why)."""
        self._set_status(state)
        with self._cond:
            jobs = [job for job in self._queue if job.announced and not job.finished]
        for job in jobs:
            self._set_job(job, WAITING, state.value)

    def _expire_jobs(self) -> None:
        now = time.monotonic()
        with self._cond:
            expired = [job for job in self._queue if job.expires_at <= now and not job.finished]
        minutes = self.expire_after / 60
        for job in expired:
            why = job.detail or self._state.value
            self._finish(job, FAILED, f"not printed within {minutes:g} min ({why})")

    def _finish(self, job: _Job, state: str, detail: str) -> None:
        with self._cond:
            if job.finished:
                return
            job.finished = True
            with contextlib.suppress(ValueError):
                self._queue.remove(job)
            self._active.pop(job.key, None)
            if state == PRINTED:
                self._printed[job.key] = None
                while len(self._printed) > self.remember_printed:
                    self._printed.popitem(last=False)
        self._emit_job(job, state, detail)

    def _set_job(self, job: _Job, state: str, detail: str) -> None:
        if job.finished or (job.state, job.detail) == (state, detail):
            return
        self._emit_job(job, state, detail)

    def _emit_job(self, job: _Job, state: str, detail: str) -> None:
        job.state, job.detail = state, detail
        if self._on_job is None:
            return
        try:
            self._on_job(job.key, state, detail)
        except Exception:
            log.exception("print spooler %s: on_job callback failed", self.name)

    def _set_status(self, state: PrinterState) -> None:
        if state == self._state:
            return
        self._state = state
        if self._on_status is None:
            return
        try:
            self._on_status(self.name, state)
        except Exception:
            log.exception("print spooler %s: on_status callback failed", self.name)
