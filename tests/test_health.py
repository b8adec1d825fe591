"""One hub per database, a /health that tells the truth, and start-up failures in one line.

Every test runs real ``python -m server`` processes against real files and
real databases. The full disk is a real one: a small tmpfs mounted for the
test and filled with a real file until the kernel says ENOSPC, then emptied
again. Mounting needs root (or CAP_SYS_ADMIN); where the platform refuses it,
those tests are skipped with that reason rather than faked, because the point
is what SQLite and the hub do when the kernel itself says "no space left".
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

from server.bootstrap import bootstrap
from server.config import load_config
from tests.support import ROOT, HubProcess, bearer, free_port, issue, provision, write_site

#: The tmpfs holding the database: room for the schema, a few tickets and the WAL, and quick to fill.
DISK_SIZE = "8m"
CHUNK = b"\0" * (256 * 1024)


def hub_command(config: Path, command: str = "run", port: int | None = None) -> list[str]:
    args = [sys.executable, "-m", "server", "--config", str(config), command]
    if command in ("run", "demo"):
        args += ["--host", "127.0.0.1", "--port", str(port or free_port())]
    return args


def refused(args: list[str], workdir: Path, **env: str) -> str:
    """Run a hub that must not start: it exits non-zero with exactly one line on stderr; that line."""
    environment = {**os.environ, "QCALL_VAR_DIR": str(workdir / "var"), **env}
    done = subprocess.run(args, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0, f"the hub started (rc 0):\n{done.stdout}\n{done.stderr}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{done.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def mount_tmpfs(where: Path, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"this platform does not let the test mount a tmpfs: {done.stderr.strip()}")


def unmount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)  # a process still holds a file


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real, small filesystem of its own (tmpfs), unmounted afterwards."""
    disk = tmp_path / "disk"
    mount_tmpfs(disk, f"size={DISK_SIZE},mode=0755")
    try:
        yield disk
    finally:
        unmount(disk)


def fill(disk: Path) -> Path:
    """Write a real file until the kernel answers ENOSPC."""
    filler = disk / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(CHUNK)
                handle.flush()
        except OSError as error:
            assert error.errno == 28, error  # ENOSPC
    # The last partial chunk may sit in no buffer at all: top the disk up byte by byte.
    with open(disk / "filler-tail", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def health(hub: HubProcess) -> requests.Response:
    return requests.get(f"{hub.url}/api/v1/health", timeout=5)


def wait_for_health(hub: HubProcess, status: int, within: float) -> float:
    """Seconds until /health answered ``status``; fails after ``within``."""
    start = time.monotonic()
    while True:
        answer = health(hub)
        elapsed = time.monotonic() - start
        if answer.status_code == status:
            return elapsed
        assert elapsed < within, f"/health still {answer.status_code} after {within} s: {answer.text}"
        time.sleep(0.02)  # polling a real server: the event is its answer


# -- one hub per database --------------------------------------------------------


def test_a_second_hub_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "qcall.db"
    config = write_site(tmp_path / "site.toml", f"sqlite:///{database}")
    provision(config, 2)
    first = HubProcess(config, tmp_path)
    first.start()
    try:
        assert first.proc is not None
        line = refused(hub_command(config), tmp_path)
        assert str(database) in line and f"pid {first.proc.pid}" in line, line
        # The demo on the same file is refused too, before it writes a login or opens a device.
        line = refused(hub_command(config, "demo"), tmp_path, QCALL_DATABASE_URL=f"sqlite:///{database}")
        assert str(database) in line, line
        # CLI commands take no lock: an administrator makes a token while the hub serves.
        made = subprocess.run(
            [*hub_command(config, "token"), "create", "--role", "kiosk", "--name", "kiosk-2"],
            cwd=ROOT,
            env={**os.environ, "QCALL_VAR_DIR": str(tmp_path / "var")},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0 and made.stdout.startswith("qd_"), made.stderr
        assert first.proc.poll() is None
        # A hub killed outright leaves its lock file behind; the lock itself died with it.
        first.kill()
        second = HubProcess(config, tmp_path)
        second.start()
        second.stop()
    finally:
        first.stop()


@pytest.mark.postgres
def test_a_second_hub_on_the_same_postgresql_database_is_refused(tmp_path: Path, pg_url: str) -> None:
    config = write_site(tmp_path / "site.toml", pg_url)
    provision(config, 2)
    first = HubProcess(config, tmp_path)
    first.start()
    try:
        assert first.proc is not None
        line = refused(hub_command(config), tmp_path)
        assert pg_url.rsplit("/", 1)[1] in line and "another hub" in line, line
        assert f"pid {first.proc.pid}" in line, line
        first.kill()  # the server ends the session, and its advisory lock with it
        second = HubProcess(config, tmp_path)
        second.start()
        second.stop()
    finally:
        first.stop()


# -- a full disk --------------------------------------------------------------------


def test_a_full_disk_turns_health_503_and_the_hub_recovers_without_a_restart(
    tmp_path: Path, small_disk: Path
) -> None:
    """The database lives on its own small tmpfs; the test fills it with a real file, then empties it.

    A tmpfs rather than RLIMIT_FSIZE or a read-only file: what SQLite meets is
    the kernel's own ENOSPC on the WAL, and what /health sees is the disk's
    real free space, exactly as on a hall PC whose disk filled up.
    """
    database = small_disk / "qcall.db"
    config = write_site(tmp_path / "site.toml", f"sqlite:///{database}")
    creds = provision(config, 2)
    hub = HubProcess(config, tmp_path)  # var/ and the log stay off the small disk
    hub.start()
    try:
        assert hub.proc is not None
        pid = hub.proc.pid
        before = health(hub)
        assert before.status_code == 200 and before.json()["status"] == "ok", before.text
        assert before.json()["store"]["state"] == "ok" and isinstance(before.json()["connections"], int)
        acknowledged = [issue(hub, creds.kiosk) for _ in range(3)]

        filler = fill(small_disk)
        assert wait_for_health(hub, 503, within=1.0) < 1.0
        down = health(hub).json()
        assert down["status"] == "unavailable" and down["store"]["state"] == "unavailable", down
        assert "full" in down["store"]["detail"] and down["problems"], down

        refused_ticket = requests.post(
            f"{hub.url}/api/v1/tickets", json={"service": "PAY"}, headers=bearer(creds.kiosk), timeout=20
        )
        assert refused_ticket.status_code == 503, refused_ticket.text
        assert refused_ticket.json()["code"] == "store_unavailable", refused_ticket.text
        assert "try again" in refused_ticket.json()["error"]
        assert int(refused_ticket.headers["Retry-After"]) > 0

        filler.unlink()
        (small_disk / "filler-tail").unlink()
        wait_for_health(hub, 200, within=5.0)
        acknowledged.append(issue(hub, creds.kiosk))
        assert hub.proc.poll() is None and hub.proc.pid == pid  # recovered in place, no restart
        for ticket in acknowledged:
            assert requests.get(f"{hub.url}/api/v1/tickets/{ticket['id']}", timeout=5).status_code == 200
    finally:
        hub.stop()
    with sqlite3.connect(database) as conn:
        stored = dict(conn.execute("SELECT id, number FROM tickets").fetchall())
    assert {t["id"]: t["number"] for t in acknowledged}.items() <= stored.items()
    # The refused ticket left no trace: the numbers run on without a gap.
    assert sorted(stored.values()) == ["A001", "A002", "A003", "A004"]


def test_the_hub_refuses_to_start_on_a_full_disk(tmp_path: Path, small_disk: Path) -> None:
    database = small_disk / "qcall.db"
    config = write_site(tmp_path / "site.toml", f"sqlite:///{database}")
    provision(config, 2)
    fill(small_disk)
    line = refused(hub_command(config), tmp_path)
    assert str(database) in line and "full" in line, line


# -- other start-up failures: one line each -----------------------------------------


def test_a_corrupt_sqlite_file_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "qcall.db"
    database.write_bytes(b"these bytes were never a database\n" * 200)
    line = refused(hub_command(write_site(tmp_path / "site.toml", f"sqlite:///{database}")), tmp_path)
    assert str(database) in line and "corrupt" in line, line


def test_a_truncated_sqlite_file_is_refused(tmp_path: Path) -> None:
    """A real database with real tickets, cut to half its length (a copy that stopped midway)."""
    database = tmp_path / "qcall.db"
    config = write_site(tmp_path / "site.toml", f"sqlite:///{database}")
    hub = bootstrap(load_config(config))
    for _ in range(400):
        hub.core.issue("ASK")
    hub.store.engine.dispose()  # checkpoints the WAL into the file and removes it
    os.truncate(database, database.stat().st_size // 2)
    line = refused(hub_command(config), tmp_path)
    assert str(database) in line and "corrupt or truncated" in line, line


def test_an_unreachable_postgresql_is_refused(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://qcall:secret@127.0.0.1:{port}/qcall"
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'unused.db'}")
    line = refused(hub_command(config), tmp_path, QCALL_DATABASE_URL=url)
    assert f"127.0.0.1:{port}/qcall" in line and "cannot connect" in line, line
    assert "secret" not in line  # the password never reaches a log


def test_a_config_saved_with_a_bom_is_refused_with_how_to_fix_it(tmp_path: Path) -> None:
    plain = write_site(tmp_path / "plain.toml", f"sqlite:///{tmp_path / 'qcall.db'}")
    config = tmp_path / "site.toml"
    config.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    line = refused(hub_command(config), tmp_path)
    assert str(config) in line and "BOM" in line and "without BOM" in line, line


def test_an_unwritable_var_dir_is_refused(tmp_path: Path) -> None:
    """root writes through permission bits, so for root the var dir is a read-only tmpfs."""
    var = tmp_path / "readonly-var"
    if os.geteuid() == 0:
        mount_tmpfs(var, "ro,size=1m")
    else:
        var.mkdir()
        var.chmod(0o500)
    try:
        config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}")
        line = refused(hub_command(config), tmp_path, QCALL_VAR_DIR=str(var))
        assert str(var) in line and "not writable" in line and "QCALL_VAR_DIR" in line, line
    finally:
        if os.geteuid() == 0:
            unmount(var)
        else:
            var.chmod(0o700)


def test_a_port_in_use_is_refused(tmp_path: Path) -> None:
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused(hub_command(config, port=port), tmp_path)
    assert f"127.0.0.1:{port}" in line and "in use" in line, line


# -- the kiosk says so ----------------------------------------------------------------


def test_the_kiosk_says_tickets_cannot_be_issued_and_recovers_by_itself(
    tmp_path: Path, small_disk: Path, browser
) -> None:
    """A real kiosk page in Chromium, a real full disk under the hub's database."""
    config = write_site(tmp_path / "site.toml", f"sqlite:///{small_disk / 'qcall.db'}")
    creds = provision(config, 2)
    hub = HubProcess(config, tmp_path)
    hub.start()
    try:
        page = browser.new_page(viewport={"width": 1080, "height": 1920})
        page.goto(f"{hub.url}/kiosk/?token={creds.kiosk}")
        page.wait_for_selector(".service-btn[data-service='PAY']:enabled", timeout=15_000)

        filler = fill(small_disk)
        page.click(".service-btn[data-service='PAY']")  # the hub answers 503 store_unavailable
        warning = page.wait_for_selector("#store-warning", state="visible", timeout=10_000)
        text = warning.inner_text()
        assert "暂时无法取号" in text and "Tickets cannot be issued right now" in text, text
        page.wait_for_selector(".service-btn[data-service='PAY']:disabled", timeout=5_000)
        assert page.is_hidden("#ticket-view")

        filler.unlink()
        (small_disk / "filler-tail").unlink()
        page.wait_for_selector("#store-warning", state="hidden", timeout=15_000)  # from GET /health alone
        page.click(".service-btn[data-service='PAY']:enabled")
        page.wait_for_selector("#ticket-view", state="visible", timeout=10_000)
        assert page.inner_text("#ticket-number").strip() == "A001"
    finally:
        hub.stop()


# -- PostgreSQL gone ------------------------------------------------------------------


class TcpRelay:
    """A real TCP relay between the hub and PostgreSQL that the test can cut and restore.

    The shared PostgreSQL cannot be stopped for one test; cutting the hub's
    only road to it is what the hub sees when the database server goes away.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and break every open one, as a server that went away."""
        with self.lock:
            doomed, self.sockets = self.sockets, []
            listener, self.listener = self.listener, None
        for sock in [*doomed, *([listener] if listener else [])]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                alive = self.listener is listener  # not cut while this connection was being made
                if alive:
                    self.sockets += [client, server]
            if not alive:
                client.close()
                server.close()
                return
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@pytest.mark.postgres
def test_postgresql_gone_answers_503_and_the_hub_recovers_when_back(tmp_path: Path, pg_url: str) -> None:
    real = make_url(pg_url)
    relay = TcpRelay((real.host or "127.0.0.1", real.port or 5432))
    relay.start()
    try:
        via_relay = real.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        config = write_site(tmp_path / "site.toml", via_relay)
        creds = provision(config, 2)
        hub = HubProcess(config, tmp_path)
        hub.start()
        try:
            first = issue(hub, creds.kiosk)
            relay.cut()
            wait_for_health(hub, 503, within=5.0)
            down = health(hub).json()
            assert down["store"]["state"] == "unavailable" and down["store"]["backend"] == "postgresql", down
            answer = requests.post(
                f"{hub.url}/api/v1/tickets", json={"service": "PAY"}, headers=bearer(creds.kiosk), timeout=20
            )
            assert answer.status_code == 503 and answer.json()["code"] == "store_unavailable", answer.text
            relay.start()
            wait_for_health(hub, 200, within=10.0)
            second = issue(hub, creds.kiosk)
            assert [first["number"], second["number"]] == ["A001", "A002"]
            # The lock's session died with the relay; the hub took the lock again on a new one.
            assert "another hub" in refused(hub_command(config), tmp_path)
        finally:
            hub.stop()
    finally:
        relay.cut()
