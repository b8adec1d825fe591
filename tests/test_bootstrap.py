"""The composition root's stop: SIGTERM to ``python -m server run`` closes every device in order and exits 0.

A real hub process, with a printer twin (a virtual ESC/POS printer on a TCP
port), a serial LED display on a pty of this test, and the voice on
(espeak-ng in the announcer's worker process). The printer is out of paper
when the ticket is issued, so its job is queued when SIGTERM arrives. The
hub flushes its print queues before it stops, for at most
``FLUSH_SECONDS``: a printer that is fixed in that time prints the job; one
that is not keeps it unfinished (``queued``/``waiting``) in ``print_jobs`` for the next start (the
job is committed with the ticket, so nothing is lost either way, and a hub
that waited for paper without end could never be stopped).

And ``python -m server demo`` with ``QCALL_VAR_DIR`` set writes nothing under
the repository.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from drivers.twins.virtual_printer import VirtualPrinter
from server.core.printjobs import PENDING_STATES
from server.devices.printing import FLUSH_SECONDS
from tests.support import (
    ADMIN_PASSWORD,
    ROOT,
    HubProcess,
    bearer,
    free_port,
    issue,
    kiosk_printer_toml,
    lobby_voice_toml,
    login,
    provision,
    wait_for_answer,
    write_site,
)
from tests.waiting import wait_until

WAIT = 30.0


def devices_toml(printer_port: int, serial_link: Path, cache: Path) -> str:
    link = json.dumps(str(serial_link))
    display = f"""
[[devices]]
name = "led-1"
kind = "led_display"
counter = 1
settings = {{ port = {link}, protocol = "generic-stx", address = 1 }}
"""
    return kiosk_printer_toml(printer_port, "timeout = 2") + display + lobby_voice_toml(cache)


class Pty:
    """A bare pty standing in for an RS-485 adapter: the master sees a hangup once nobody holds the port."""

    def __init__(self, link: Path) -> None:
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.tty = os.ttyname(slave)
        os.symlink(self.tty, link)
        self._slave: int | None = slave

    def let_go(self) -> None:
        """Close our own end of the slave: from now on only the hub holds the port."""
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None

    def hung_up(self) -> bool:
        """True when no process has the port open (POLLHUP on the master)."""
        poller = select.poll()
        poller.register(self.master, select.POLLIN | select.POLLHUP)
        for _, mask in poller.poll(0):
            if mask & select.POLLHUP:
                return True
            if mask & select.POLLIN:
                try:
                    os.read(self.master, 65536)  # the display frames: drained, not checked here
                except OSError:
                    return True
        return False

    def close(self) -> None:
        self.let_go()
        os.close(self.master)


def holds(pid: int, path: str) -> bool:
    """Whether process ``pid`` has ``path`` open (its /proc fd table)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == path for fd in fds.iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False


def workers(pid: int) -> list[int]:
    """The hub's child processes but multiprocessing's resource tracker: the announcer's worker."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(p) for p in path.read_text().split()] if path.exists() else []
    return [p for p in found if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for a reaper is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def device_state(hub: HubProcess, token: str, name: str) -> str:
    answer = requests.get(f"{hub.url}/api/v1/devices", headers=bearer(token), timeout=10)
    answer.raise_for_status()
    return next(d["state"] for d in answer.json()["devices"] if d["name"] == name)


def job_state(database: Path, ticket_id: str) -> str:
    with sqlite3.connect(database) as conn:
        (state,) = conn.execute("SELECT state FROM print_jobs WHERE ticket_id = ?", (ticket_id,)).fetchone()
    return state


@pytest.fixture
def printer() -> Iterator[VirtualPrinter]:
    twin = VirtualPrinter(paper_mm=80, state="paper_out").start()
    try:
        yield twin
    finally:
        twin.stop()


@pytest.mark.parametrize(
    "paper_back", [True, False], ids=["printer-fixed-while-stopping", "printer-stays-out"]
)
def test_sigterm_flushes_prints_closes_ports_stops_voice_exits_0(
    tmp_path: Path, printer: VirtualPrinter, paper_back: bool
) -> None:
    database = tmp_path / "q.db"
    port = Pty(tmp_path / "rs485")
    try:
        config = write_site(tmp_path / "site.toml", f"sqlite:///{database}")
        config.write_text(
            config.read_text() + devices_toml(printer.port, tmp_path / "rs485", tmp_path / "voice"),
            encoding="utf-8",
        )
        creds = provision(config, 2)
        hub = HubProcess(config, tmp_path)
        hub.start()
        try:
            assert hub.proc is not None
            pid = hub.proc.pid
            admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
            wait_until(
                lambda: device_state(hub, admin, "printer-1") == "paper_out",
                "the printer is out of paper",
                timeout=WAIT,
            )
            wait_until(
                lambda: device_state(hub, admin, "voice") == "online", "the voice is online", timeout=WAIT
            )
            voice = wait_until(lambda: workers(pid), "the announcer's worker runs", timeout=WAIT)
            wait_until(lambda: holds(pid, port.tty), "the hub opened the serial port", timeout=WAIT)
            port.let_go()
            ticket = issue(hub, creds.kiosk)
            assert ticket["print"]["state"] in ("queued", "waiting"), ticket["print"]

            hub.proc.send_signal(signal.SIGTERM)
            wait_until(
                lambda: "flushing 1 queued job" in hub.log(), "the hub flushes its print queue", timeout=WAIT
            )
            if paper_back:
                printer.state = "online"
            code = hub.proc.wait(WAIT + FLUSH_SECONDS)
        finally:
            hub.stop()
        log = hub.log()
        assert code == 0, log
        if paper_back:
            assert printer.wait_for_documents(1, timeout=0), "the queued job never reached the printer"
            assert job_state(database, ticket["id"]) == "printed"
        else:
            assert printer.documents == []
            # Still unfinished on disk (PENDING_STATES): the next start resumes it.
            assert job_state(database, ticket["id"]) in PENDING_STATES, "the job must wait for the next start"
        steps = [
            "stopping: printers closed",
            "stopping: serial ports closed",
            "stopping: voice worker stopped",
        ]
        at = [log.find(step) for step in steps]
        assert all(i >= 0 for i in at) and at == sorted(at), log
        assert port.hung_up(), "the serial port is still open"
        assert not any(running(w) for w in voice), "the voice worker outlived the hub"
        assert "Traceback" not in log, log
    finally:
        port.close()


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under the repository (its size and mtime), except the venv, caches and test output."""
    skip = {".venv", ".git", "test-artifacts", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
    found: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                stat = path.lstat()
            except FileNotFoundError:
                continue
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_demo_with_a_var_dir_writes_nothing_under_the_repository(tmp_path: Path) -> None:
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("QCALL_DATABASE_URL", "QCALL_SECRET_KEY")}
    env.update(QCALL_VAR_DIR=str(var), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    before = tree(ROOT)
    log_path = tmp_path / "demo.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server", "demo", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_answer(proc, log_path, f"http://127.0.0.1:{port}")
        token = wait_until(
            lambda: next(
                (w.split("token=")[1] for w in log_path.read_text().split() if "/kiosk/?token=" in w), None
            ),
            "the demo prints its kiosk link",
            timeout=WAIT,
        )
        # A ticket, printed on the virtual printer: the demo writes its database and an image.
        answer = requests.post(
            f"http://127.0.0.1:{port}/api/v1/tickets",
            json={"service": "PAY"},
            headers=bearer(token),
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        wait_until(
            lambda: list((var / "prints").rglob("ticket-*.png")), "the virtual printer printed", timeout=WAIT
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0, log_path.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    after = tree(ROOT)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    assert not changed, f"the demo wrote under the repository: {sorted(changed)}"
    assert (var / "demo.db").exists() and (var / "secret_key").exists()
