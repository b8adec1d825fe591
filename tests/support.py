"""Helpers for tests that run a real hub: a site file, a hub process, logins.

A hub under test is a real ``python -m server run`` process on a free port,
so what is tested is what a hall runs, gevent and all.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from drivers.printing.ticket import PrintTicket
from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now

ROOT = Path(__file__).resolve().parents[1]
#: Screenshots a person can look at after a run.
ARTIFACTS = ROOT / "test-artifacts" / "e2e"

SITE_TOML = """
[site]
name_zh = "测试营业厅"
name_en = "Test Hall"
timezone = "Asia/Shanghai"
notice_zh = "测试公告"
notice_en = "Test notice"

[hub]
database_url = "{database_url}"
# Tests issue tickets in bursts from one kiosk token; the brake has its own tests (test_security.py).
ticket_burst = 1000000
tickets_per_minute = 60000000

[[services]]
code = "PAY"
name_zh = "电费缴纳"
name_en = "Bill payment"
prefix = "A"

[[services]]
code = "ASK"
name_zh = "咨询查询"
name_en = "Enquiries"
prefix = "B"
width = 4

{counters}
"""

#: A whole ticket as the printing tests print it (the layout tests vary its footer).
SAMPLE_TICKET = PrintTicket(
    ticket_id="t-0001",
    number="A012",
    site_name_zh="城东供电营业厅",
    site_name_en="East District Power Service Hall",
    service_name_zh="居民用电业务",
    service_name_en="Residential electricity",
    waiting_ahead=7,
    estimated_wait_minutes=18,
    issued_at="2026-11-25 09:05",
    status_url="https://hall.example.cn/t/A012?k=3f9c",
    footer_zh="请留意叫号。",
    footer_en="Hotline 95598",
)

CLERK_PASSWORD = "clerk-password"
ADMIN_PASSWORD = "admin-password"


def lobby_voice_toml(cache: Path) -> str:
    """A ``[voice]`` table: Mandarin only, no chime, rendered for the lobby screens, cached in ``cache``."""
    return f"""
[voice]
enabled = true
outputs = ["lobby"]
languages = ["zh"]
chime = false
cache_dir = "{cache}"
"""


def kiosk_printer_toml(port: int, settings: str = "") -> str:
    """The kiosk ``provision`` makes a token for ("test-kiosk") and its network printer on 127.0.0.1:``port``.

    ``settings``: more of the printer's settings, e.g. ``"timeout = 2"``.
    """
    more = f", {settings}" if settings else ""
    return f"""
[[devices]]
name = "test-kiosk"
kind = "kiosk"
settings = {{ printer = "printer-1" }}

[[devices]]
name = "printer-1"
kind = "printer"
settings = {{ connector = "network", host = "127.0.0.1", port = {port}{more} }}
"""


def write_site(path: Path, database_url: str, counters: int = 2, public_url: str = "") -> Path:
    """A small site: two services, ``counters`` counters serving both (counter 2 prefers ASK).

    ``public_url``: what printed QR codes point at; without it a hub reached at
    127.0.0.1 prints its tickets without a QR code (a loopback address helps no phone).
    """
    blocks = []
    for n in range(1, counters + 1):
        services = '["ASK", "PAY"]' if n == 2 else '["PAY", "ASK"]'
        blocks.append(
            f'[[counters]]\nnumber = {n}\nname_zh = "{n}号窗口"\n'
            f'name_en = "Counter {n}"\nservices = {services}\n'
        )
    text = SITE_TOML.format(database_url=database_url, counters="\n".join(blocks))
    if public_url:
        text = text.replace(
            'notice_en = "Test notice"\n', f'notice_en = "Test notice"\npublic_url = "{public_url}"\n'
        )
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m server --config <config> <args>`` as an installer types it, its var folder beside the file.

    Why here: the token and display-name tests drive the same command line the same way.
    """
    return subprocess.run(
        [sys.executable, "-m", "server", "--config", str(config), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QCALL_VAR_DIR": str(config.parent / "var")},
    )


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One WebSocket frame as a client sends it: FIN, ``opcode``, masked (RFC 6455 §5.3), any length.

    Why here: the fan-out test and bench/call_fanout.py both speak raw WebSocket to the hub's own
    server, and the mask and length bytes are easy to get subtly wrong twice.
    """
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 1 << 16:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    return header + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Credentials:
    """Tokens and logins made in the hub's database before it starts."""

    kiosk: str
    display: str
    clerks: dict[int, str] = field(default_factory=dict)


def provision(config_path: Path, counters: int) -> Credentials:
    """Create a kiosk and a display token, an admin and one clerk per counter."""
    hub = bootstrap(load_config(config_path))
    now = utc_now()
    creds = Credentials(
        kiosk=hub.accounts.create_device_token("kiosk", "test-kiosk", now),
        display=hub.accounts.create_device_token("display", "test-display", now),
    )
    if not hub.accounts.has_user("admin"):
        hub.accounts.add_user("admin", "admin", ADMIN_PASSWORD, now)
    for n in range(1, counters + 1):
        name = f"clerk{n}"
        if not hub.accounts.has_user(name):
            hub.accounts.add_user(name, "staff", CLERK_PASSWORD, now)
        creds.clerks[n] = name
    hub.store.engine.dispose()
    return creds


class HubProcess:
    """``python -m server run`` in a child process, restartable, killable with SIGKILL."""

    def __init__(
        self,
        config_path: Path,
        workdir: Path,
        wrapper: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        """``wrapper``: a command the hub runs under (e.g. valgrind for the instruction-count bench);
        ``env``: more of its environment (a cluster's process name, a var dir shared by the processes)."""
        self.env = dict(env or {})
        self.config_path = config_path
        self.workdir = workdir
        self.wrapper = list(wrapper)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "hub.log"

    def start(self, timeout: float = 30) -> None:
        env = {**os.environ, "QCALL_VAR_DIR": str(self.workdir / "var"), "PYTHONUNBUFFERED": "1", **self.env}
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [
                *self.wrapper,
                sys.executable,
                "-m",
                "server",
                "--config",
                str(self.config_path),
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/api/v1/health", timeout=1).ok:
                    return
            except requests.RequestException:  # not listening yet, or too slow to answer (valgrind)
                pass
            time.sleep(0.1)
        raise RuntimeError(f"hub did not answer within {timeout} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush, as a power cut or an OOM kill."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def running_hub(config_path: Path, workdir: Path) -> Iterator[HubProcess]:
    hub = HubProcess(config_path, workdir)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()


def wait_for_answer(
    proc: subprocess.Popen[bytes], log_path: Path, base_url: str, timeout: float = 60
) -> None:
    """Wait until the hub process ``proc`` answers its health check at ``base_url``.

    A hub (the demo) prints its links as it starts and listens a moment later; until then the
    connection is refused. A process that died fails the wait at once, with its log.
    """
    from tests.waiting import wait_until

    def answers() -> bool:
        assert proc.poll() is None, log_path.read_text(errors="replace")
        try:
            return requests.get(f"{base_url}/api/v1/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(answers, "the hub answers", timeout=timeout)


def login(base_url: str, username: str, counter: int | None, password: str = CLERK_PASSWORD) -> str:
    answer = requests.post(
        f"{base_url}/api/v1/auth/login",
        json={"username": username, "password": password, "counter": counter},
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["token"]


#: A Chinese character (CJK unified ideographs, extension A on).
_HAN = re.compile(r"[\u3400-\u9fff]")


def assert_bilingual(body: Any) -> None:
    """A refusal's body says it in Chinese (with Chinese characters in it) and in English, each whole."""
    assert isinstance(body, dict), body
    zh, en = body.get("error_zh"), body.get("error_en")
    assert isinstance(zh, str) and _HAN.search(zh), f"no Chinese in error_zh: {body}"
    assert isinstance(en, str) and en.strip() and en != zh, f"no English in error_en: {body}"
    assert "Traceback" not in zh + en, body


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


def add_user(
    base_url: str, admin_token: str, username: str, role: str, password: str = CLERK_PASSWORD
) -> None:
    """A new user added by an admin on the admin API (POST /admin/users must answer 201).

    Why here: the browser modules need a second admin, a supervisor or a clerk beside the provisioned
    ones, and each wrote the same request and check.
    """
    made = requests.post(
        f"{base_url}/api/v1/admin/users",
        json={"username": username, "role": role, "password": password},
        headers=bearer(admin_token),
        timeout=10,
    )
    assert made.status_code == 201, made.text


def issue(hub: HubProcess, token: str, service: str = "PAY") -> dict[str, Any]:
    """A new ticket for ``service`` (POST /tickets must answer 201), as the hub returned it."""
    answer = requests.post(
        f"{hub.url}/api/v1/tickets", json={"service": service}, headers=bearer(token), timeout=20
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def appointment_site(path: Path, database_url: str, counters: int = 2, late: str = "refuse") -> Path:
    """The test site whose PAY service takes 12 appointments per half-day, calling by name (masked)."""
    write_site(path, database_url, counters)
    text = path.read_text(encoding="utf-8").replace(
        'prefix = "A"\n', 'prefix = "A"\nappointment_capacity = { am = 12, pm = 12 }\n', 1
    )
    text += f"""
[appointments]
early_minutes = 30
late_minutes = 15
late = "{late}"
no_show_limit = 3
call_by_name = true
name_retention_days = 30
"""
    path.write_text(text, encoding="utf-8")
    return path


def slot_now(minutes_ago: int = 5) -> tuple[str, str]:
    """Today's business date and a slot start ``minutes_ago`` before now, in the test site's zone.

    Never before midnight: a slot must be on the day it is checked in.
    """
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    start = max(now - timedelta(minutes=minutes_ago), now.replace(hour=0, minute=0))
    return now.date().isoformat(), start.strftime("%H:%M")


#: The utility hall's 业扩报装 with short steps (an application, then a 3-day site survey) for a NEW service.
CASE_KINDS_TOML = """
[[case_kinds]]
code = "NEW_CONNECTION"
name_zh = "业扩报装"
name_en = "New connection"
service = "NEW"

[[case_kinds.steps]]
code = "APPLICATION"
name_zh = "受理申请"
name_en = "Application"
working_days = 1

[[case_kinds.steps]]
code = "SURVEY"
name_zh = "现场勘查"
name_en = "Site survey"
working_days = 3
"""


#: The elderly green channel a kiosk may give (the samples' first category).
ELDERLY_TOML = """
[[priority]]
code = "elderly"
name_zh = "老年人"
name_en = "Elderly"
weight = 10
grant = "kiosk"
"""

#: A site's green channel for the priority tests: a kiosk category, a kiosk request staff
#: confirm, a staff-only one, the cap at 2, and a triage desk printing to a file
#: (``{paper}``; append after ``str.format(paper=…)``).
PRIORITY_TOML = (
    ELDERLY_TOML
    + """
[[priority]]
code = "pregnant"
name_zh = "孕妇"
name_en = "Pregnant"
weight = 10
grant = "confirm"

[[priority]]
code = "emergency"
name_zh = "急诊"
name_en = "Emergency"
weight = 100
grant = "staff"

[calling]
priority_cap = 2

[[triage_desks]]
name = "triage-1"
printer = "desk-printer"

[[devices]]
name = "desk-printer"
kind = "printer"
settings = {{ connector = "file", path = "{paper}" }}
"""
)
