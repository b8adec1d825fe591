"""The device agent: drives the printers plugged into a kiosk PC for the hub.

    python -m drivers.agent --hub http://hub.local:8000 --token qd_agent_... --config agent.toml

The hub sends ``print_job`` ``{"printer", "ticket", "options"}`` over Socket.IO
(``ticket.job_id`` is the job's own id: a reprint is a new job of the same
ticket); the agent prints it on the named printer's
:class:`~drivers.printing.spooler.PrintSpooler` and answers ``print_status``
``{"job_id", "ticket_id", "state", "detail"}`` on every change of the job, and
``device_status`` ``{"printer", "state", "detail"}`` on every change of a
printer (and for all of them after each (re)connect). The hub sends a job again
after every reconnect (and after its own restart) until it is ``printed`` or
``failed``; a job the agent already knows is never printed again, its known
state is reported instead (see ``docs/contract.md``, "Printing and devices").
The ids of the jobs printed are also kept on disk (``--state-dir``, one file
per printer), so a job the hub resends after the agent crashed or lost power
is answered ``printed``, not printed a second time.

The config file (TOML)::

    status_interval = 5          # seconds between status checks of an idle printer (optional)

    [[printers]]
    name = "printer-1"           # the hub's printer device name
    connector = "usb"            # and the keys of drivers.printing.printer_settings
    vendor_id = 0x0416
    product_id = 0x5011
    paper_mm = 58                # optional layout keys: they win over the hub's

docs/printing.md ("The device agent's config file") lists every key and says
which of the agent's file and the hub's site file wins for what: the
connection is the agent's alone, a layout key here wins over the hub's.

``connector = "virtual"`` (with ``--virtual-printer``) prints on a virtual
printer started by the agent itself and saves every ticket as a PNG: for
trying the agent without hardware. This module imports nothing from ``server/``.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import functools
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.printing.connectors import LinkedPrinter, open_printer
from drivers.printing.layout import LayoutOptions
from drivers.printing.printer_settings import (
    BasePrinterSettings,
    VirtualPrinterSettings,
    parse_printer_settings,
)
from drivers.printing.spooler import FAILED, PRINTED, PrintSpooler
from drivers.printing.status import PrinterState
from drivers.printing.ticket import PrintTicket

log = logging.getLogger("drivers.agent")

PRINT_JOB = "print_job"
PRINT_STATUS = "print_status"
DEVICE_STATUS = "device_status"

#: Keys the hub's site file has for a printer that mean nothing here.
HUB_ONLY_KEYS = frozenset({"agent", "footer_zh", "footer_en"})
TOP_LEVEL_KEYS = frozenset({"printers", "status_interval"})
#: The hub's device name rule (``server.config.DeviceSection.name``).
DEVICE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
DEFAULT_STATUS_INTERVAL = 5.0
#: How many tickets the agent remembers, to answer a resent job without printing it again.
REMEMBER_JOBS = 10_000
#: The on-disk record of printed tickets is rewritten with its last REMEMBER_JOBS ids
#: when it grows past this many lines.
COMPACT_AT = 2 * REMEMBER_JOBS
#: A ticket id longer than this (or with a line break) is not a line of the record.
MAX_ID_LENGTH = 200
#: Back-off between attempts to reach the hub: from the first to the longest wait, in seconds.
RECONNECT_FIRST = 1.0
RECONNECT_MAX = 30.0
CONNECT_TIMEOUT = 10.0
#: Exit status for a bad config file, bad arguments or a token the hub refuses.
EXIT_USAGE = 2


class ConfigError(ValueError):
    """The agent's config file is wrong; the message is one line naming the file and the key."""


# -- the config file ------------------------------------------------------------------------


@dataclass(frozen=True)
class PrinterEntry:
    name: str
    #: The printer's checked settings (``drivers.printing.printer_settings``), the same model the hub uses.
    settings: BasePrinterSettings

    @property
    def virtual(self) -> bool:
        return isinstance(self.settings, VirtualPrinterSettings)

    @property
    def connection(self) -> dict[str, Any]:
        """How to reach the printer (defaults filled in)."""
        return self.settings.connection()

    @property
    def layout(self) -> dict[str, Any]:
        """The layout keys written in this file: they win over the options the hub sends."""
        return self.settings.layout_given()

    def where(self) -> str:
        """Where the printer is, for the log and for the hub's admin page."""
        return self.settings.where()


@dataclass(frozen=True)
class AgentConfig:
    printers: tuple[PrinterEntry, ...]
    status_interval: float = DEFAULT_STATUS_INTERVAL


def load_config(path: Path, allow_virtual: bool = False) -> AgentConfig:
    """Read and check the agent's TOML file; a :class:`ConfigError` (one line) when it is wrong.

    A relative ``logo`` path starts at the file's folder.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path), allow_virtual, Path(path).resolve().parent)


def parse_config(
    data: dict[str, Any],
    source: str = "agent config",
    allow_virtual: bool = False,
    folder: Path | None = None,
) -> AgentConfig:
    """Check the file's tables; ``folder`` is where relative paths start (default: the working directory)."""
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(f"{source}: {key}: unknown key; expected {', '.join(sorted(TOP_LEVEL_KEYS))}")
    interval = data.get("status_interval", DEFAULT_STATUS_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0 < interval <= 3600:
        raise ConfigError(
            f"{source}: status_interval: seconds, more than 0 and at most 3600, got {interval!r}"
        )
    entries = data.get("printers")
    if entries is None:
        raise ConfigError(f"{source}: printers: missing; add a [[printers]] table for each printer")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: printers: at least one [[printers]] table, got {entries!r}")
    printers: list[PrinterEntry] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{source}: printers[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: a [[printers]] table, got {entry!r}")
        printer = _parse_printer(entry, where, allow_virtual, folder or Path.cwd())
        if printer.name in seen:
            raise ConfigError(f"{where}.name: printer {printer.name!r} is configured twice")
        seen.add(printer.name)
        printers.append(printer)
    return AgentConfig(tuple(printers), float(interval))


def _parse_printer(entry: dict[str, Any], where: str, allow_virtual: bool, folder: Path) -> PrinterEntry:
    name = entry.get("name")
    if not isinstance(name, str) or not DEVICE_NAME.match(name):
        raise ConfigError(
            f"{where}.name: the hub's printer device name (letters, digits, '.', '_', '-'), got {name!r}"
        )
    for key in entry:
        if key in HUB_ONLY_KEYS:
            raise ConfigError(f"{where}.{key}: a setting of the hub's site file, not of the agent")
    if entry.get("connector") == "virtual" and not allow_virtual:
        raise ConfigError(
            f"{where}.connector: 'virtual' needs --virtual-printer (a printer twin, no hardware)"
        )
    try:
        settings: BasePrinterSettings = parse_printer_settings(
            {k: v for k, v in entry.items() if k != "name"}
        )
        settings = settings.with_folder(folder)
    except ValueError as exc:
        raise ConfigError(f"{where}.{exc}") from None
    return PrinterEntry(name, settings)


# -- the printed tickets, on disk ----------------------------------------------------------


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/qcall-agent``, or ``~/.local/state/qcall-agent``."""
    base = os.environ.get("XDG_STATE_HOME")
    if not base or not os.path.isabs(base):  # the XDG spec: a relative path is to be ignored
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "qcall-agent"


def prepare_state_dir(path: Path) -> Path:
    """Create the state directory (mode 0700) if needed; an OSError when it cannot be used."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(f"{path}: not writable")
    return path


def _valid_id(ticket_id: str) -> bool:
    return (
        0 < len(ticket_id) <= MAX_ID_LENGTH
        and ticket_id.isprintable()
        and not any(c.isspace() for c in ticket_id)
    )


class PrintedRecord:
    """The ids of the print jobs printed on one printer, kept in a file that survives a crash.

    Job ids, not ticket ids: a reprint (a new job of the same ticket) must print.
    Records written before job ids existed hold ticket ids, which were the job
    ids of those days (``PrintTicket.job_key``), so they still match their resends.

    One id per line, appended and ``fsync``-ed before the hub is told "printed".
    A torn or garbled line (power lost mid-write) is ignored when the file is read.
    Only the last ``keep`` ids are remembered; when the file passes ``compact_at``
    lines it is rewritten with those (a temp file, fsync, rename: never half-written).
    A disk that fails is logged and the ids are kept in memory only.
    """

    def __init__(self, path: Path, keep: int = REMEMBER_JOBS, compact_at: int = COMPACT_AT) -> None:
        self.path = Path(path)
        self.keep = keep
        self.compact_at = max(compact_at, keep)
        self._lock = threading.Lock()
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lines = 0
        self._fd: int | None = None
        clean = self._load()
        try:
            if not clean or self._lines > self.compact_at:
                self._compact()
            else:
                self._open()
        except OSError as exc:
            log.error("printed tickets: cannot write %s (%s); remembering them in memory only", path, exc)

    def __contains__(self, ticket_id: object) -> bool:
        with self._lock:
            return ticket_id in self._ids

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    def add(self, ticket_id: str) -> None:
        """Remember a printed ticket, on disk (fsync-ed) before returning."""
        with self._lock:
            if ticket_id in self._ids:
                return
            self._ids[ticket_id] = None
            while len(self._ids) > self.keep:
                self._ids.popitem(last=False)
            if not _valid_id(ticket_id):
                log.warning("printed tickets: id %.80r not kept on disk (not one printable word)", ticket_id)
                return
            if self._fd is None:
                return
            try:
                os.write(self._fd, ticket_id.encode("utf-8") + b"\n")
                os.fsync(self._fd)
                self._lines += 1
                if self._lines > self.compact_at:
                    self._compact()
            except OSError as exc:
                log.error(
                    "printed tickets: cannot write %s (%s); ticket %s kept in memory",
                    self.path,
                    exc,
                    ticket_id,
                )

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _load(self) -> bool:
        """Read the file; False when it has lines to drop (torn, garbled) and needs rewriting."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return True
        except OSError as exc:
            log.error("printed tickets: cannot read %s (%s); starting with none", self.path, exc)
            return True
        lines = data.split(b"\n")
        torn = lines.pop()  # after the last newline: b"" when the last write was whole
        clean = not torn
        if torn:
            log.warning("printed tickets: %s: ignoring a partly written last line %.80r", self.path, torn)
        for raw in lines:
            try:
                ticket_id = raw.decode("utf-8")
            except UnicodeDecodeError:
                ticket_id = ""
            if not _valid_id(ticket_id):
                log.warning("printed tickets: %s: ignoring a garbled line %.80r", self.path, raw)
                clean = False
                continue
            self._ids.pop(ticket_id, None)
            self._ids[ticket_id] = None
        while len(self._ids) > self.keep:
            self._ids.popitem(last=False)
        self._lines = len(lines)
        return clean

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def _compact(self) -> None:
        """Rewrite the file with the ids remembered: temp file, fsync, rename, fsync the directory."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(b"".join(i.encode("utf-8") + b"\n" for i in self._ids))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)
        self._lines = len(self._ids)
        self._open()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- the agent ------------------------------------------------------------------------------


class Agent:
    """The printers of one kiosk PC and their link to the hub.

    The Socket.IO side only calls :meth:`handle_print_job`, :meth:`hub_connected`
    and :meth:`hub_disconnected`; everything the agent says goes through
    :meth:`_emit`, so the agent can be driven without a hub.
    """

    def __init__(
        self,
        config: AgentConfig,
        hub_url: str = "",
        token: str = "",
        png_dir: Path | None = None,
        state_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.hub_url = hub_url
        self.token = token
        self.png_dir = png_dir or Path("printed")
        self.entries = {p.name: p for p in config.printers}
        self.spoolers: dict[str, PrintSpooler] = {}
        self.twins: dict[str, Any] = {}
        self._where: dict[str, str] = {}  # each printer's address, for the log and the admin page
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max(4, 2 * len(config.printers)), thread_name_prefix="agent-io"
        )
        self.sio: Any = None
        self._lock = threading.Lock()  # the state below, and the order of what is sent
        self._submit = threading.Lock()  # one print_job at a time: a resent job must not race its twin
        self._online = False
        self._printer_states: dict[str, PrinterState] = {}
        #: Every job seen (by job id), with its last state: a resent job is answered from here.
        self._jobs: collections.OrderedDict[str, tuple[str, str]] = collections.OrderedDict()
        #: The ticket of each job seen, for the reports (the hub tells the kiosk by ticket).
        self._ticket_of: collections.OrderedDict[str, str] = collections.OrderedDict()
        #: Job reports made while the hub could not hear them (latest per job).
        self._outbox: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._refusal: str | None = None
        self._stopping = False
        #: The tickets printed on each printer, on disk in ``state_dir`` (none without one).
        self._printed: dict[str, PrintedRecord] = {}
        if state_dir is not None:
            for entry in config.printers:
                record = PrintedRecord(Path(state_dir) / f"printed-{entry.name}.ids")
                self._printed[entry.name] = record
                if len(record):
                    log.info(
                        "printer %s: %d printed tickets remembered from %s",
                        entry.name,
                        len(record),
                        record.path,
                    )

    # -- printers -----------------------------------------------------------------------

    def start_printers(self) -> None:
        for entry in self.config.printers:
            settings = entry.settings
            self._where[entry.name] = entry.where()
            if isinstance(settings, VirtualPrinterSettings):
                settings = settings.network(self._start_twin(entry.name, settings))
                self._where[entry.name] = f"virtual printer on 127.0.0.1:{settings.port}"
            self._printer_states[entry.name] = PrinterState.UNKNOWN
            self.spoolers[entry.name] = PrintSpooler(
                entry.name,
                _opener(settings),
                entry.settings.layout(),
                on_job=functools.partial(self._job_changed, printer=entry.name),
                on_status=self._printer_changed,
                executor=self.executor,
                idle_check_interval=self.config.status_interval,
            )
            log.info("printer %s: %s", entry.name, self._where[entry.name])

    def _start_twin(self, name: str, settings: VirtualPrinterSettings) -> int:
        """Start the printer twin of a ``virtual`` printer; the port it listens on."""
        from drivers.twins.virtual_printer import VirtualPrinter

        folder = self.png_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        count = len(list(folder.glob("ticket-*.png")))
        lock = threading.Lock()

        def save(document: Any) -> None:
            nonlocal count
            with lock:
                count += 1
                path = folder / f"ticket-{count:05d}.png"
            document.to_png(path)
            log.info("virtual printer %s: printed %s", name, path)

        twin = VirtualPrinter(port=settings.port, paper_mm=settings.paper_mm, on_document=save)
        twin.start()
        self.twins[name] = twin
        log.info("virtual printer %s on 127.0.0.1:%d, tickets saved to %s", name, twin.port, folder)
        return twin.port

    def close(self) -> None:
        for spooler in self.spoolers.values():
            spooler.close()
        for twin in self.twins.values():
            twin.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for record in self._printed.values():
            record.close()

    # -- what the hub asks --------------------------------------------------------------

    def handle_print_job(self, message: Any) -> None:
        """``print_job`` ``{"printer", "ticket", "options"}``: print it once, say how it goes."""
        raw_ticket = message.get("ticket") if isinstance(message, dict) else None
        ticket_id = raw_ticket.get("ticket_id") if isinstance(raw_ticket, dict) else None
        if not isinstance(ticket_id, str) or not ticket_id:
            log.warning("print_job without a ticket id ignored: %.200r", message)
            return
        assert isinstance(raw_ticket, dict)
        job_id = raw_ticket.get("job_id") or ticket_id
        if not isinstance(job_id, str):
            log.warning("print_job with a bad job id ignored: %.200r", message)
            return
        with self._lock:
            self._ticket_of[job_id] = ticket_id
            self._ticket_of.move_to_end(job_id)
            while len(self._ticket_of) > REMEMBER_JOBS:
                self._ticket_of.popitem(last=False)
        with self._submit:
            with self._lock:
                known = self._jobs.get(job_id)
            if known is not None:
                log.info("print_job %s again: already %s, reporting it again", job_id, known[0])
                self._report_job(job_id, *known)
                return
            printer = message.get("printer")
            if any(job_id in record for record in self._printed.values()):  # before a restart
                log.info("print_job %s again: printed before the agent restarted, reporting it again", job_id)
                self._report_job(job_id, PRINTED, "")
                return
            spooler = self.spoolers.get(printer) if isinstance(printer, str) else None
            if spooler is None:
                log.warning("print_job %s for printer %r, which this agent does not drive", job_id, printer)
                self._report_job(job_id, FAILED, f"printer {printer!r} is not configured on this agent")
                return
            try:
                ticket = PrintTicket.from_dict(raw_ticket)
                hub_options = message.get("options") or {}
                if not isinstance(hub_options, dict):
                    raise ValueError(f"LayoutOptions: a table of keys, got {hub_options!r}")
                options = LayoutOptions.from_dict({**hub_options, **self.entries[printer].layout})
            except (TypeError, ValueError) as exc:
                log.warning("print_job %s refused: %s", job_id, exc)
                self._report_job(job_id, FAILED, f"bad print job: {exc}")
                return
            if spooler.options != options:
                spooler.options = options  # the hub's site file and ours rarely change: for the jobs to come
            log.info("print_job %s: ticket %s, %s on %s", job_id, ticket_id, ticket.number, printer)
            if not spooler.submit(ticket):
                with self._lock:
                    known = self._jobs.get(job_id)
                if known is not None:  # the spooler knew it after all
                    self._report_job(job_id, *known)
                else:
                    self._report_job(job_id, FAILED, "the print queue is full")

    def hub_connected(self) -> None:
        """After each (re)connect: every printer's state, then the job reports the hub missed."""
        with self._lock:
            self._online = True
            self._refusal = None
            for name, state in self._printer_states.items():
                self._emit(DEVICE_STATUS, self._device_payload(name, state))
            pending = list(self._outbox.values())
            self._outbox.clear()
            for payload in pending:
                if not self._emit(PRINT_STATUS, payload):
                    self._keep(payload)
        log.info(
            "connected to the hub %s: %s",
            self.hub_url,
            ", ".join(f"{n} {s}" for n, s in self.printer_states()),
        )

    def hub_disconnected(self) -> None:
        with self._lock:
            was, self._online = self._online, False
        if was and not self._stopping:
            log.warning("lost the hub %s; reconnecting (jobs keep printing)", self.hub_url)

    def printer_states(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(name, state.value) for name, state in self._printer_states.items()]

    # -- what the drivers report --------------------------------------------------------

    def _job_changed(self, job_id: str, state: str, detail: str, printer: str = "") -> None:
        if state == PRINTED and printer in self._printed:
            self._printed[printer].add(job_id)  # on disk before the hub hears it
        with self._lock:
            self._jobs[job_id] = (state, detail)
            self._jobs.move_to_end(job_id)
            while len(self._jobs) > REMEMBER_JOBS:
                self._jobs.popitem(last=False)
        log.info("job %s: %s%s", job_id, state, f" ({detail})" if detail else "")
        self._report_job(job_id, state, detail)

    def _printer_changed(self, name: str, state: PrinterState) -> None:
        with self._lock:
            self._printer_states[name] = state
            payload = self._device_payload(name, state)
            if self._online:
                self._emit(DEVICE_STATUS, payload)  # offline: hub_connected sends the state then
        log.info("printer %s: %s", name, state.value)

    def _device_payload(self, name: str, state: PrinterState) -> dict[str, Any]:
        detail = ""
        if state is PrinterState.DISCONNECTED:
            detail = f"cannot reach the printer ({self._where.get(name, name)})"
        elif state is PrinterState.UNKNOWN:
            detail = "no status from the printer (not asked yet, no answer, or it cannot tell)"
        return {"printer": name, "state": state.value, "detail": detail}

    def _report_job(self, job_id: str, state: str, detail: str) -> None:
        with self._lock:
            ticket_id = self._ticket_of.get(job_id, job_id)
        payload = {"job_id": job_id, "ticket_id": ticket_id, "state": state, "detail": detail}
        with self._lock:
            if not (self._online and self._emit(PRINT_STATUS, payload)):
                self._keep(payload)

    def _keep(self, payload: dict[str, Any]) -> None:
        """Hold a job report for the next connection (the latest one per job)."""
        self._outbox.pop(payload["job_id"], None)
        self._outbox[payload["job_id"]] = payload
        while len(self._outbox) > REMEMBER_JOBS:
            self._outbox.popitem(last=False)

    def _emit(self, event: str, data: dict[str, Any]) -> bool:
        """Send to the hub; False when it cannot be sent now."""
        sio = self.sio
        if sio is None:
            return False
        try:
            sio.emit(event, data)
        except Exception as exc:  # noqa: BLE001  socketio's BadNamespaceError while (re)connecting, a closed socket
            log.debug("cannot send %s now: %s", event, exc)
            return False
        return True

    # -- the link to the hub ------------------------------------------------------------

    def make_client(self) -> Any:
        import socketio

        sio = socketio.Client(
            reconnection=True,
            reconnection_attempts=0,  # forever
            reconnection_delay=RECONNECT_FIRST,
            reconnection_delay_max=RECONNECT_MAX,
            handle_sigint=False,
            request_timeout=CONNECT_TIMEOUT,
        )
        sio.on("connect", self.hub_connected)
        sio.on("disconnect", lambda *_reason: self.hub_disconnected())
        sio.on("connect_error", self._refused)
        sio.on(PRINT_JOB, self.handle_print_job)
        self.sio = sio
        return sio

    def _refused(self, data: Any = None) -> None:
        """The hub answered and said no (a dict), or it did not answer at all (a string)."""
        if isinstance(data, dict) and data.get("message"):
            self._refusal = str(data["message"])
            log.warning("the hub %s refused the connection: %s", self.hub_url, self._refusal)
        else:
            log.debug("cannot reach the hub %s: %s", self.hub_url, data)

    def run(self, stop: threading.Event) -> int:
        """Connect (retrying with back-off until the hub answers) and serve until ``stop`` is set."""
        sio = self.make_client()
        delay = RECONNECT_FIRST
        try:
            while not stop.is_set():
                log.info("connecting to the hub %s", self.hub_url)
                try:
                    sio.connect(
                        self.hub_url,
                        auth={"token": self.token},
                        transports=["websocket"],
                        wait_timeout=CONNECT_TIMEOUT,
                    )
                except Exception as exc:  # noqa: BLE001  socketio's ConnectionError, a bad URL: retry, never die
                    if self._refusal == "unauthorized":
                        log.error("the hub refused the agent token (unauthorized): check --token")
                        return EXIT_USAGE
                    log.warning("hub %s not reachable (%s); trying again in %.0f s", self.hub_url, exc, delay)
                    if stop.wait(delay):
                        break
                    delay = min(delay * 2, RECONNECT_MAX)
                    continue
                # From here on python-socketio reconnects by itself, forever, with back-off.
                while not stop.wait(1.0):
                    pass
        finally:
            log.info("stopping")
            self._stopping = True
            try:
                sio.shutdown()
            except Exception:
                log.debug("error while disconnecting", exc_info=True)
            with self._lock:
                self._online = False
            self.close()
        return 0


def _opener(settings: BasePrinterSettings) -> Callable[[], LinkedPrinter]:
    return lambda: open_printer(settings)


# -- the command ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m drivers.agent",
        description="Drive the printers plugged into this PC for a qcall hub.",
    )
    parser.add_argument("--hub", required=True, help="the hub's URL, e.g. http://hub.local:8000")
    parser.add_argument(
        "--token",
        default=os.environ.get("QCALL_AGENT_TOKEN"),
        help="the agent's device token (default: $QCALL_AGENT_TOKEN)",
    )
    parser.add_argument("--config", required=True, type=Path, help="the agent's TOML file ([[printers]])")
    parser.add_argument(
        "--virtual-printer",
        action="store_true",
        help='start a virtual printer for each printer with connector = "virtual" (no hardware needed)',
    )
    parser.add_argument(
        "--png-dir",
        type=Path,
        default=Path("printed"),
        help="where the virtual printers save each ticket as a PNG (default: ./printed)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the agent remembers the tickets it has printed, so that none prints twice after "
        "a crash (default: $XDG_STATE_HOME/qcall-agent or ~/.local/state/qcall-agent)",
    )
    parser.add_argument("--verbose", action="store_true", help="log the details too")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token is required (or set QCALL_AGENT_TOKEN)")
    if not args.hub.startswith(("http://", "https://")):
        parser.error(f"--hub: an http:// or https:// URL, got {args.hub!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Our own lines (drivers.*) at INFO; libraries only when something is wrong (python-escpos
    # logs every connection on the root logger, and calls logging.basicConfig() when imported).
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    logging.getLogger("drivers").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        config = load_config(args.config, allow_virtual=args.virtual_printer)
    except ConfigError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    state_dir = args.state_dir or default_state_dir()
    try:
        prepare_state_dir(state_dir)
    except OSError as exc:
        print(f"agent: --state-dir: cannot use {state_dir}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("%s received", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agent = Agent(config, args.hub.rstrip("/"), args.token, args.png_dir, state_dir)
    agent.start_printers()
    return agent.run(stop)


if __name__ == "__main__":
    sys.exit(main())
