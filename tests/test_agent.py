"""The device agent (``python -m drivers.agent``).

Acceptance: an agent process holding a virtual printer prints a ticket issued
on the hub, and its status reaches the admin page. The hub is a real
``python -m server run`` process, the agent a real ``python -m drivers.agent``
process, the printer a :class:`VirtualPrinter` on a real socket in this
process; every wait is on a condition, with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from drivers.agent import Agent, ConfigError, PrintedRecord, load_config, parse_config
from drivers.printing.layout import LayoutOptions
from drivers.printing.ticket import PrintTicket
from drivers.twins.virtual_printer import VirtualPrinter
from server.bootstrap import bootstrap
from server.config import load_config as load_site
from server.core.calendar import utc_now
from tests.support import ADMIN_PASSWORD, ROOT, HubProcess, bearer, login, provision, write_site
from tests.waiting import EventRecorder, SocketListener, wait_until

PUBLIC_URL = "http://hall.example.test:8000"
#: Generous: a loaded two-core machine may take a while.
WAIT = 30
HTTP_TIMEOUT = 20

DEVICES_TOML = """
[[devices]]
name = "printer-1"
kind = "printer"
settings = { connector = "network", host = "127.0.0.1", port = 9, agent = "kiosk-pc-1" }

[[devices]]
name = "kiosk-1"
kind = "kiosk"
settings = { printer = "printer-1" }
"""


# -- without a hub: the config file and the job bookkeeping -------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[printers]\nname=", "not valid TOML"),
        (
            'status_interval = 1\nhub = "x"\n[[printers]]\nname = "p"\nconnector = "file"\npath = "/tmp/x"',
            "hub",
        ),
        ("status_interval = 1\n", "printers: missing"),
        ('[[printers]]\nconnector = "file"\npath = "/tmp/x"\n', "printers[0].name"),
        ('[[printers]]\nname = "p"\n', "printers[0].connector: missing"),
        ('[[printers]]\nname = "p"\nconnector = "network"\n', "printers[0].host"),
        ('[[printers]]\nname = "p"\nconnector = "network"\nhost = "h"\nport = "x"\n', "printers[0].port"),
        (
            '[[printers]]\nname = "p"\nconnector = "serial"\nport = "/dev/ttyS0"\nbaud = 9600\n',
            ".baud: not a",
        ),
        (
            '[[printers]]\nname = "p"\nconnector = "file"\npath = "/x"\npaper_mm = 57\n',
            "printers[0].paper_mm",
        ),
        ('[[printers]]\nname = "p"\nconnector = "file"\npath = "/x"\nagent = "a"\n', "printers[0].agent"),
        ('[[printers]]\nname = "p"\nconnector = "virtual"\n', "needs --virtual-printer"),
        (
            '[[printers]]\nname = "p"\nconnector = "file"\npath = "/x"\n'
            '[[printers]]\nname = "p"\nconnector = "file"\npath = "/y"\n',
            "printers[1].name: printer 'p' is configured twice",
        ),
    ],
)
def test_config_errors_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "agent.toml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message


def test_a_good_config_and_a_bad_one_on_the_command_line(tmp_path: Path) -> None:
    good = write(
        tmp_path / "good.toml",
        'status_interval = 2\n[[printers]]\nname = "printer-1"\nconnector = "usb"\n'
        'vendor_id = "0x0416"\nproduct_id = 0x5011\npaper_mm = 58\n',
    )
    config = load_config(good)
    assert config.status_interval == 2
    (printer,) = config.printers
    assert (printer.name, printer.layout) == ("printer-1", {"paper_mm": 58})
    assert printer.connection["connector"] == "usb"

    bad = write(tmp_path / "bad.toml", '[[printers]]\nname = "p"\nconnector = "network"\n')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "drivers.agent",
            "--hub",
            "http://127.0.0.1:9",
            "--token",
            "t",
            "--config",
            bad,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"agent: {bad}: printers[0].host: a network printer needs 'host'"
    ]


def test_the_agent_takes_the_printer_settings_of_the_hubs_site_file(tmp_path: Path) -> None:
    """One model for both files: what the hub accepts for a printer (bar its own keys), the agent does."""
    from tests.test_config import BASE, PRINTERS, logo_png

    logo_png(tmp_path)
    site_file = write(tmp_path / "site.toml", BASE + PRINTERS)
    site = load_site(site_file)
    tables = []
    for device in site.devices:
        if device.kind == "printer":
            own = {k: v for k, v in device.settings.items() if k not in ("agent", "footer_zh", "footer_en")}
            tables.append({"name": device.name, **own})
    agent_file = write(tmp_path / "agent.toml", tomli_w_printers(tables))
    config = load_config(agent_file)
    assert [p.name for p in config.printers] == ["printer-logo", "printer-serial"]
    for entry in config.printers:
        hub = site.printer_settings(entry.name)
        assert entry.connection == hub.connection()
        assert entry.settings.layout() == hub.layout()
    assert config.printers[0].settings.logo == str(tmp_path / "logo.png")
    assert config.printers[1].connection["parity"] == "E"


def tomli_w_printers(tables: list[dict[str, Any]]) -> str:
    """``[[printers]]`` tables as TOML (strings and whole numbers are all these hold)."""
    lines = []
    for table in tables:
        lines.append("[[printers]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def ticket_message(printer: str, ticket_id: str, number: str) -> dict[str, Any]:
    ticket = PrintTicket(
        ticket_id=ticket_id,
        number=number,
        site_name_zh="测试营业厅",
        site_name_en="Test Hall",
        service_name_zh="电费缴纳",
        service_name_en="Bill payment",
        waiting_ahead=0,
        estimated_wait_minutes=0,
        issued_at="2026-11-25 09:05",
        status_url=f"http://hub.local/t/{ticket_id}",
    )
    return {"printer": printer, "ticket": ticket.to_dict(), "options": LayoutOptions().to_dict()}


def hub_recorder(agent: Agent) -> EventRecorder:
    """Stands in for the hub: the agent's socket (``agent.sio``) records what the agent sends."""
    recorder = EventRecorder(timeout=WAIT)
    agent.sio = recorder
    return recorder


@pytest.fixture
def local_agent(tmp_path: Path) -> Iterator[tuple[Agent, EventRecorder, VirtualPrinter]]:
    with VirtualPrinter() as twin:
        config = parse_config(
            {
                "status_interval": 0.5,
                "printers": [{"name": "p1", "connector": "network", "host": "127.0.0.1", "port": twin.port}],
            }
        )
        agent = Agent(config, "http://hub.invalid", "t", tmp_path / "png")
        recorder = hub_recorder(agent)
        agent.start_printers()
        try:
            yield agent, recorder, twin
        finally:
            agent.close()


def test_a_resent_job_is_reported_again_not_printed_again(local_agent) -> None:
    agent, hub, twin = local_agent
    job = ticket_message("p1", "t-1", "A001")
    agent.handle_print_job(job)  # before the hub's connect: the reports wait for it
    assert twin.wait_for_documents(1, WAIT)
    agent.hub_connected()
    hub.wait_for("device_status", printer="p1", state="online")
    hub.wait_for("print_status", ticket_id="t-1", state="printed")

    agent.handle_print_job(job)  # the hub did not hear "printed" and sends the job again
    assert hub.wait_for("print_status", ticket_id="t-1") == {
        "job_id": "t-1",
        "ticket_id": "t-1",
        "state": "printed",
        "detail": "",
    }
    agent.handle_print_job(ticket_message("p2", "t-2", "A002"))
    failed = hub.wait_for("print_status", ticket_id="t-2")
    assert failed["state"] == "failed" and "p2" in failed["detail"]
    agent.handle_print_job(ticket_message("p1", "t-3", "A003"))
    hub.wait_for("print_status", ticket_id="t-3", state="printed")
    numbers = [
        line.text.strip()
        for doc in twin.documents
        for line in doc.lines
        if line.text.strip() in ("A001", "A003")
    ]
    assert numbers == ["A001", "A003"]


#: A child process that prints ticket t-1 with an agent whose hub never hears of it, then dies
#: by SIGKILL: the kiosk PC loses power after the paper came out, before "printed" reached the hub.
CRASHING_AGENT = """
import os, signal, sys
from pathlib import Path
from drivers.agent import Agent, parse_config
from tests.test_agent import ticket_message
from tests.waiting import EventRecorder, wait_until
port, state_dir = int(sys.argv[1]), Path(sys.argv[2])
config = parse_config(
    {"printers": [{"name": "p1", "connector": "network", "host": "127.0.0.1", "port": port}]}
)
agent = Agent(config, "http://hub.invalid", "t", state_dir / "png", state_dir)
hub = EventRecorder()
agent.sio = hub  # a socket that never connected: hub_connected() is not called
agent.start_printers()
agent.handle_print_job(ticket_message("p1", "t-1", "A001"))
printed = state_dir / "printed-p1.ids"
wait_until(lambda: printed.exists() and printed.read_text() == "t-1\\n", "t-1 on disk", 60, every=0.01)
assert hub.received("print_status") == []  # the hub has not heard it
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_ticket_printed_before_a_crash_is_not_printed_again(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    with VirtualPrinter() as twin:
        crashed = subprocess.run(
            [sys.executable, "-c", CRASHING_AGENT, str(twin.port), str(state_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        assert twin.wait_for_documents(1, WAIT)
        assert (state_dir / "printed-p1.ids").read_text() == "t-1\n"

        # The agent starts again with the same state dir; the hub resends the job it never saw printed.
        config = parse_config(
            {"printers": [{"name": "p1", "connector": "network", "host": "127.0.0.1", "port": twin.port}]}
        )
        agent = Agent(config, "http://hub.invalid", "t", tmp_path / "png", state_dir)
        hub = hub_recorder(agent)
        agent.start_printers()
        try:
            agent.hub_connected()
            agent.handle_print_job(ticket_message("p1", "t-1", "A001"))
            assert hub.wait_for("print_status", ticket_id="t-1") == {
                "job_id": "t-1",
                "ticket_id": "t-1",
                "state": "printed",
                "detail": "",
            }
            agent.handle_print_job(ticket_message("p1", "t-2", "A002"))
            hub.wait_for("print_status", ticket_id="t-2", state="printed")
        finally:
            agent.close()
        numbers = [
            line.text.strip()
            for doc in twin.documents
            for line in doc.lines
            if line.text.strip() in ("A001", "A002")
        ]
        assert numbers == ["A001", "A002"]
        assert (state_dir / "printed-p1.ids").read_text() == "t-1\nt-2\n"


def test_the_printed_record_ignores_a_torn_last_line_and_garbled_ones(tmp_path: Path) -> None:
    path = tmp_path / "printed-p1.ids"
    path.write_bytes(b"t-1\nt-2\n\xff\xfe\n\x00\x00\x00\nt-3\nt-4-partl")  # power lost mid-write
    record = PrintedRecord(path)
    assert record.ids() == ["t-1", "t-2", "t-3"]
    assert "t-4-partl" not in record and "t-4" not in record
    assert path.read_bytes() == b"t-1\nt-2\nt-3\n"  # rewritten whole: the next line starts clean
    record.add("t-4")
    record.add("t-4")  # once
    record.close()
    assert path.read_bytes() == b"t-1\nt-2\nt-3\nt-4\n"
    assert PrintedRecord(path).ids() == ["t-1", "t-2", "t-3", "t-4"]


def test_the_printed_record_keeps_the_last_ids_and_compacts_the_file(tmp_path: Path) -> None:
    path = tmp_path / "printed-p1.ids"
    record = PrintedRecord(path, keep=3, compact_at=6)
    for i in range(1, 7):
        record.add(f"t-{i}")
    assert len(path.read_text().splitlines()) == 6
    assert record.ids() == ["t-4", "t-5", "t-6"]
    record.add("t-7")  # the 7th line: the file is rewritten with the last 3
    assert path.read_text() == "t-5\nt-6\nt-7\n"
    record.add("t-8")
    record.close()
    assert path.read_text() == "t-5\nt-6\nt-7\nt-8\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind
    assert PrintedRecord(path, keep=3, compact_at=6).ids() == ["t-6", "t-7", "t-8"]


def test_the_state_dir_defaults_to_xdg_and_is_private(tmp_path: Path, monkeypatch) -> None:
    from drivers.agent import default_state_dir, prepare_state_dir

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "qcall-agent"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "qcall-agent"
    made = prepare_state_dir(default_state_dir())
    assert made.is_dir() and made.stat().st_mode & 0o777 == 0o700


def test_virtual_printer_saves_pngs(tmp_path: Path) -> None:
    path = write(
        tmp_path / "agent.toml", '[[printers]]\nname = "demo"\nconnector = "virtual"\npaper_mm = 58\n'
    )
    config = load_config(path, allow_virtual=True)
    agent = Agent(config, "http://hub.invalid", "t", tmp_path / "png")
    recorder = hub_recorder(agent)
    agent.start_printers()
    try:
        agent.hub_connected()
        agent.handle_print_job(ticket_message("demo", "t-9", "B0009"))
        recorder.wait_for("print_status", ticket_id="t-9", state="printed")
        assert [p.name for p in (tmp_path / "png" / "demo").iterdir()] == ["ticket-00001.png"]
        assert agent.twins["demo"].documents[0].paper_width == 384
    finally:
        agent.close()


# -- with a hub: the acceptance test ------------------------------------------------------------


class Listener(SocketListener):
    """A Socket.IO client (device token) that records every event it receives; connects as a ``with``."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, {"token": token}, timeout=WAIT)
        self.token = token


class AgentProcess:
    """``python -m drivers.agent`` in a child process, its log in a file."""

    def __init__(self, hub: HubProcess, token: str, config: Path, workdir: Path) -> None:
        self.args = [sys.executable, "-m", "drivers.agent", "--hub", hub.url, "--token", token]
        self.args += ["--config", str(config), "--state-dir", str(workdir / "agent-state")]
        self.log_path = workdir / "agent.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.args, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=log
            )

    def kill(self) -> None:
        """SIGKILL: the kiosk PC loses power."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(WAIT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.mark.slow
def test_agent_prints_hub_tickets_and_reports_printer_state(tmp_path: Path) -> None:
    # A public URL: the hub is reached at 127.0.0.1 here, and a loopback QR code is never printed.
    config_path = write_site(
        tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=1, public_url=PUBLIC_URL
    )
    with config_path.open("a", encoding="utf-8") as site_file:
        site_file.write(DEVICES_TOML)
    site = load_site(config_path)  # the site file with an agent-driven printer passes validation
    assert site.printer_settings("printer-1").agent == "kiosk-pc-1"
    assert site.kiosk_printer("kiosk-1") == "printer-1"
    provision(config_path, counters=1)
    made = bootstrap(site)
    now = utc_now()
    agent_token = made.accounts.create_device_token("agent", "kiosk-pc-1", now)
    intruder_token = made.accounts.create_device_token("agent", "intruder", now)
    kiosk_token = made.accounts.create_device_token("kiosk", "kiosk-1", now)
    made.store.engine.dispose()

    hub = HubProcess(config_path, tmp_path)
    twin = VirtualPrinter().start()
    agent_config = write(
        tmp_path / "agent.toml",
        "status_interval = 0.5\n\n[[printers]]\n"
        f'name = "printer-1"\nconnector = "network"\nhost = "127.0.0.1"\nport = {twin.port}\n',
    )
    agent = AgentProcess(hub, agent_token, agent_config, tmp_path)

    def logs() -> str:
        return f"--- agent log ---\n{agent.log()}\n--- hub log (tail) ---\n{hub.log()[-4000:]}"

    def printer_1() -> dict[str, Any]:
        answer = requests.get(f"{hub.url}/api/v1/devices", headers=bearer(admin), timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        return next(d for d in answer.json()["devices"] if d["name"] == "printer-1")

    def printer_1_is(state: str) -> dict[str, Any]:
        return wait_until(
            lambda: (d := printer_1())["state"] == state and d, f"printer-1 {state}", log=logs, timeout=WAIT
        )

    def issue() -> dict[str, Any]:
        answer = requests.post(
            f"{hub.url}/api/v1/tickets",
            json={"service": "PAY"},
            headers=bearer(kiosk_token),
            timeout=HTTP_TIMEOUT,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()

    def printed(ticket: dict[str, Any]) -> list[Any]:
        """The cut documents that show this ticket's number."""
        return [d for d in twin.documents if any(line.text.strip() == ticket["number"] for line in d.lines)]

    try:
        hub.start()
        admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
        # A token the hub does not know: the agent says so and stops (no endless retrying).
        refused = subprocess.run(
            [*agent.args[:6], "qd_agent_not-a-token", *agent.args[7:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode == 2 and "unauthorized" in refused.stderr, refused.stderr
        agent.start()
        with Listener(hub.url, admin) as admin_socket, Listener(hub.url, kiosk_token) as kiosk:
            printer_1_is("online")

            # A kiosk's ticket comes out of the agent's printer, once, whole, with the right QR code.
            first = issue()
            assert first["print"]["printer"] == "printer-1"
            assert first["print"]["state"] == "queued", first["print"]
            # Another agent cannot speak for printer-1 or its jobs (acknowledged: the hub has handled it).
            with Listener(hub.url, intruder_token) as intruder:
                intruder.client.call(
                    "print_status", {"ticket_id": first["id"], "state": "failed", "detail": "x"}, timeout=WAIT
                )
                intruder.client.call(
                    "device_status",
                    {"printer": "printer-1", "state": "cover_open", "detail": "x"},
                    timeout=WAIT,
                )
                assert printer_1()["state"] == "online"
            assert twin.wait_for_documents(1, WAIT), logs()
            (paper,) = twin.documents
            assert paper.cut and not twin.partial_documents
            assert first["number"] in [line.text.strip() for line in paper.lines]
            assert "电费缴纳" in paper.text and "Bill payment" in paper.text
            assert paper.qr_payloads == [first["status_url"]]
            kiosk.wait_for(
                "print_status", lambda d: d["ticket_id"] == first["id"] and d["state"] == "printed"
            )

            # Paper out on the printer reaches the staff's sockets and the admin page.
            twin.state = "paper_out"
            out = admin_socket.wait_for(
                "device_status", lambda d: d["name"] == "printer-1" and d["state"] == "paper_out"
            )
            assert out["healthy"] is False
            assert printer_1()["state"] == "paper_out"
            twin.state = "online"
            printer_1_is("online")

            # The kiosk PC goes down: the printer is disconnected, a ticket waits for it.
            agent.kill()
            assert "agent kiosk-pc-1" in printer_1_is("disconnected")["detail"]
            second = issue()
            assert second["print"].pop("job_id")
            assert second["print"] == {"printer": "printer-1", "state": "waiting", "detail": "disconnected"}

            # It comes back: the waiting ticket prints, once.
            agent.start()
            kiosk.wait_for(
                "print_status", lambda d: d["ticket_id"] == second["id"] and d["state"] == "printed"
            )
            assert len(printed(second)) == 1
            printer_1_is("online")

            # Stopped cleanly and started again: the hub had cleared the job, nothing prints twice.
            assert agent.terminate() == 0, logs()
            printer_1_is("disconnected")
            agent.start()
            printer_1_is("online")
            third = issue()
            assert third["print"]["state"] == "queued"
            kiosk.wait_for(
                "print_status", lambda d: d["ticket_id"] == third["id"] and d["state"] == "printed"
            )
            assert [len(printed(t)) for t in (first, second, third)] == [1, 1, 1]
            assert len(twin.documents) == 3
            assert not [d for d in kiosk.received("print_status") if d["state"] == "failed"]

        # The hub restarts: the agent finds it again by itself and tells it the printer's state.
        hub.stop()
        hub.start()
        printer_1_is("online")
        assert agent.proc is not None and agent.proc.poll() is None
    finally:
        agent.stop()
        hub.stop()
        twin.stop()
