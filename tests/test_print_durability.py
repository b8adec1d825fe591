"""Print jobs that outlive the hub, reprints, the ambiguous resend, no loopback QR code.

Real hubs (``python -m server run`` processes, killed with SIGKILL or stopped
with TERM), a real device agent process, and printers that are
:class:`~drivers.twins.virtual_printer.VirtualPrinter` twins on 127.0.0.1 in
this process: what is asserted is what the twin decoded from the ESC/POS
bytes, and what the hub keeps in its SQLite file (``print_jobs``, ``audit_log``).
Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from drivers.twins.escpos_decode import PrintedDocument
from drivers.twins.virtual_printer import VirtualPrinter
from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import (
    ADMIN_PASSWORD,
    CLERK_PASSWORD,
    HubProcess,
    bearer,
    issue,
    login,
    provision,
    write_site,
)
from tests.test_agent import AgentProcess, Listener
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

WAIT = 30
HTTP_TIMEOUT = 20
PUBLIC_URL = "http://hall.example.test:8000"

LOCAL_PRINTER = """
[[devices]]
name = "printer-1"
kind = "printer"
settings = {{ connector = "network", host = "127.0.0.1", port = {port} }}

[[devices]]
name = "test-kiosk"
kind = "kiosk"
settings = {{ printer = "printer-1" }}
"""

AGENT_PRINTER = """
[[devices]]
name = "printer-1"
kind = "printer"
settings = { connector = "network", host = "127.0.0.1", port = 9, agent = "kiosk-pc-1" }

[[devices]]
name = "test-kiosk"
kind = "kiosk"
settings = { printer = "printer-1" }
"""


def make_site(folder: Path, devices: str, public_url: str = "") -> tuple[Path, Any]:
    """A one-counter site with ``devices``, provisioned (kiosk "test-kiosk", admin, clerk1)."""
    path = write_site(folder / "site.toml", f"sqlite:///{folder / 'qcall.db'}", 1, public_url)
    with path.open("a", encoding="utf-8") as site_file:
        site_file.write(devices)
    config = load_config(path)
    for device in config.devices:  # nothing in the site may reach past this machine
        if device.kind == "printer":
            assert config.printer_settings(device.name).host == "127.0.0.1"
    return path, provision(path, counters=1)


def jobs(folder: Path) -> list[dict[str, Any]]:
    """The hub's ``print_jobs`` rows, read from its SQLite file (WAL: safe while it runs)."""
    with sqlite3.connect(folder / "qcall.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM print_jobs ORDER BY created_at, id")]


def job_states(folder: Path, ticket_id: str) -> list[str]:
    return [j["state"] for j in jobs(folder) if j["ticket_id"] == ticket_id]


def printed(twin: VirtualPrinter, number: str) -> list[PrintedDocument]:
    """The cut documents showing ``number`` on a line of its own."""
    return [d for d in twin.documents if any(line.text.strip() == number for line in d.lines)]


def no_traceback(hub: HubProcess) -> None:
    assert "Traceback" not in hub.log(), hub.log()[-4000:]


# -- a local printer: out of paper, the hub killed, paper back --------------------------------


def test_local_jobs_survive_sigkill_and_term_and_print_once_without_loopback_qr(tmp_path: Path) -> None:
    with VirtualPrinter(state="paper_out") as twin:
        # site.public_url empty: the kiosk reaches the hub at 127.0.0.1, which no phone can open.
        config_path, creds = make_site(tmp_path, LOCAL_PRINTER.format(port=twin.port))
        hub = HubProcess(config_path, tmp_path)
        try:
            hub.start()
            assert "site.public_url is empty" in hub.log()
            tickets = [issue(hub, creds.kiosk) for _ in range(2)]
            for ticket in tickets:
                assert ticket["print"]["state"] in ("queued", "waiting"), ticket["print"]
                assert ticket["print"]["job_id"] != ticket["id"]
            # Acknowledged means committed, job and all: kill the hub before any paper.
            hub.kill()
            assert [j["state"] for j in jobs(tmp_path)] == ["queued", "queued"]
            assert all(j["status_url"] == "" for j in jobs(tmp_path)), "no loopback URL kept for paper"

            hub.start()
            twin.state = "online"  # paper refilled
            assert twin.wait_for_documents(2, WAIT), hub.log()[-4000:]
            for ticket in tickets:
                wait_until(
                    lambda t=ticket: job_states(tmp_path, t["id"]) == ["printed"],
                    "recorded printed",
                    timeout=WAIT,
                )

            # The same through a clean stop (TERM): the spooler closing does not fail the job.
            twin.state = "paper_out"
            third = issue(hub, creds.kiosk)
            assert third["print"]["state"] in ("queued", "waiting"), third["print"]
            hub.stop()
            assert job_states(tmp_path, third["id"]) != ["failed"]
            hub.start()
            twin.state = "online"
            wait_until(
                lambda: job_states(tmp_path, third["id"]) == ["printed"],
                "third printed",
                log=hub.log,
                timeout=WAIT,
            )

            for ticket in [*tickets, third]:
                (paper,) = printed(twin, ticket["number"])  # exactly once each
                assert paper.qr_payloads == [], "a loopback QR code is worse than none"
                assert "127.0.0.1" not in paper.text and "localhost" not in paper.text
            assert len(twin.documents) == 3
            no_traceback(hub)
        finally:
            hub.stop()


# -- a shared hub with a local printer and a public URL ----------------------------------------


@dataclass
class LocalHall:
    hub: HubProcess
    twin: VirtualPrinter
    folder: Path
    kiosk_token: str
    clerk_token: str
    admin_token: str
    kiosk: Listener


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHall]:
    folder = tmp_path_factory.mktemp("print-durability")
    with VirtualPrinter() as twin:
        config_path, creds = make_site(folder, LOCAL_PRINTER.format(port=twin.port), PUBLIC_URL)
        hub = HubProcess(config_path, folder)
        try:
            hub.start()
            assert "site.public_url is empty" not in hub.log()
            clerk = login(hub.url, "clerk1", 1)
            admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
            with Listener(hub.url, creds.kiosk) as kiosk:
                yield LocalHall(hub, twin, folder, creds.kiosk, clerk, admin, kiosk)
            no_traceback(hub)
        finally:
            hub.stop()


def printed_event(kiosk: Listener, ticket_id: str, job_id: str | None = None) -> dict[str, Any]:
    return kiosk.wait_for(
        "print_status",
        lambda d: (
            d["ticket_id"] == ticket_id
            and d["state"] == "printed"
            and (job_id is None or d.get("job_id") == job_id)
        ),
    )


def test_link_dropped_after_the_cut_prints_again_and_says_possible_duplicate(hall: LocalHall) -> None:
    hall.twin.drop_next_connection_after_cut()
    ticket = issue(hall.hub, hall.kiosk_token)
    printed_event(hall.kiosk, ticket["id"])
    copies = printed(hall.twin, ticket["number"])
    assert len(copies) == 2, "at least once: the unconfirmed ticket is sent again whole"
    assert all(c.cut and c.qr_payloads == [f"{PUBLIC_URL}/t/{ticket['id']}"] for c in copies)
    warning = [line for line in hall.hub.log().splitlines() if "possible duplicate" in line]
    assert warning and ticket["id"] in warning[0] and "WARNING" in warning[0], hall.hub.log()[-3000:]
    assert job_states(hall.folder, ticket["id"]) == ["printed"]


def test_reprint_prints_again_is_audited_and_refused_where_it_should_be(hall: LocalHall) -> None:
    hub = hall.hub
    ticket = issue(hub, hall.kiosk_token)
    first_job = ticket["print"]["job_id"]
    printed_event(hall.kiosk, ticket["id"], first_job)
    url = f"{hub.url}/api/v1/tickets/{ticket['id']}/reprint"

    answer = requests.post(url, headers=bearer(hall.clerk_token), timeout=HTTP_TIMEOUT)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["ticket_id"], body["number"]) == (ticket["id"], ticket["number"])
    assert body["print"]["printer"] == "printer-1"
    assert body["print"]["state"] in ("queued", "waiting")
    second_job = body["print"]["job_id"]
    assert second_job != first_job, "a reprint is a new job: the printer's memory must not swallow it"
    printed_event(hall.kiosk, ticket["id"], second_job)
    copies = printed(hall.twin, ticket["number"])
    assert len(copies) == 2
    assert copies[1].qr_payloads == [f"{PUBLIC_URL}/t/{ticket['id']}"]
    assert job_states(hall.folder, ticket["id"]) == ["printed", "printed"]
    assert [j["kind"] for j in jobs(hall.folder) if j["ticket_id"] == ticket["id"]] == ["issue", "reprint"]

    with sqlite3.connect(hall.folder / "qcall.db") as db:
        rows = db.execute(
            "SELECT actor, action, target FROM audit_log WHERE action = 'ticket.reprint'"
        ).fetchall()
    assert ("clerk1", "ticket.reprint", f"ticket:{ticket['id']}") in rows

    def refused(target: str, status: int, code: str, **kwargs: Any) -> None:
        answer = requests.post(target, timeout=HTTP_TIMEOUT, **kwargs)
        assert answer.status_code == status, answer.text
        assert answer.json()["code"] == code and answer.json()["error"]

    refused(
        f"{hub.url}/api/v1/tickets/no-such-ticket/reprint",
        404,
        "unknown_ticket",
        headers=bearer(hall.admin_token),
    )
    refused(url, 403, "forbidden", headers=bearer(hall.kiosk_token))
    refused(url, 401, "unauthorized")
    refused(url, 400, "unknown_printer", headers=bearer(hall.admin_token), json={"printer": "nope"})
    refused(url, 400, "bad_request", headers=bearer(hall.admin_token), json={"printer": 1})
    # Issued by staff, not at a kiosk: there is no printer to default to.
    by_staff = issue(hub, hall.clerk_token)
    assert by_staff["print"]["state"] == "none"
    staff_url = f"{hub.url}/api/v1/tickets/{by_staff['id']}/reprint"
    refused(staff_url, 409, "no_printer", headers=bearer(hall.clerk_token))
    named = requests.post(
        staff_url, headers=bearer(hall.clerk_token), json={"printer": "printer-1"}, timeout=HTTP_TIMEOUT
    )
    assert named.status_code == 201, named.text
    wait_until(
        lambda: len(printed(hall.twin, by_staff["number"])) == 1, "the named printer printed it", timeout=WAIT
    )
    assert len(printed(hall.twin, ticket["number"])) == 2, "nothing printed a third time"


# -- a device agent: the hub restarted while it was away, and the other way round ------------


def test_agent_jobs_survive_hub_restarts_both_ways(tmp_path: Path) -> None:
    config_path, creds = make_site(tmp_path, AGENT_PRINTER, PUBLIC_URL)
    made = bootstrap(load_config(config_path))
    agent_token = made.accounts.create_device_token("agent", "kiosk-pc-1", utc_now())
    made.store.engine.dispose()
    hub = HubProcess(config_path, tmp_path)
    with VirtualPrinter() as twin:
        agent_toml = tmp_path / "agent.toml"
        agent_toml.write_text(
            "status_interval = 0.5\n\n[[printers]]\n"
            f'name = "printer-1"\nconnector = "network"\nhost = "127.0.0.1"\nport = {twin.port}\n',
            encoding="utf-8",
        )
        agent = AgentProcess(hub, agent_token, agent_toml, tmp_path)

        def logs() -> str:
            return f"--- agent ---\n{agent.log()[-3000:]}\n--- hub ---\n{hub.log()[-3000:]}"

        def printer_state() -> str:
            answer = requests.get(f"{hub.url}/api/v1/devices", headers=bearer(admin), timeout=HTTP_TIMEOUT)
            return next(d["state"] for d in answer.json()["devices"] if d["name"] == "printer-1")

        try:
            # The agent is down: the ticket is answered "waiting"; then the hub is killed and restarted.
            hub.start()
            first = issue(hub, creds.kiosk)
            assert first["print"]["state"] == "waiting", first["print"]
            hub.kill()
            hub.start()
            admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
            with Listener(hub.url, creds.kiosk) as kiosk:
                agent.start()  # the agent is back: the hub hands it the job it kept
                kiosk.wait_for(
                    "print_status", lambda d: d["ticket_id"] == first["id"] and d["state"] == "printed"
                )
            assert len(printed(twin, first["number"])) == 1, logs()
            assert job_states(tmp_path, first["id"]) == ["printed"]

            # Out of paper: a ticket waits on the agent; the hub dies; paper back, the agent prints
            # while the hub is down, and tells it when it is back.
            twin.state = "paper_out"
            wait_until(
                lambda: printer_state() == "paper_out", "the hub sees paper_out", log=logs, timeout=WAIT
            )
            second = issue(hub, creds.kiosk)
            assert second["print"]["state"] == "waiting", second["print"]
            wait_until(
                lambda: f"ticket {second['id']}" in agent.log(),
                "the agent has the job",
                log=logs,
                timeout=WAIT,
            )
            hub.kill()
            twin.state = "online"
            assert twin.wait_for_documents(2, WAIT), logs()
            assert job_states(tmp_path, second["id"]) != ["printed"], "the hub was down: not recorded yet"
            hub.start()
            wait_until(
                lambda: job_states(tmp_path, second["id"]) == ["printed"],
                "recorded printed",
                log=logs,
                timeout=WAIT,
            )
            assert [len(printed(twin, t["number"])) for t in (first, second)] == [1, 1]
            assert len(twin.documents) == 2, "nothing printed twice"
            no_traceback(hub)
        finally:
            agent.stop()
            hub.stop()


# -- the counter console's button ----------------------------------------------------------------


@pytest.mark.browser
def test_counter_console_reprints_the_current_ticket(hall: LocalHall, browser: Any) -> None:
    ticket = issue(hall.hub, hall.kiosk_token)
    printed_event(hall.kiosk, ticket["id"], ticket["print"]["job_id"])
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{hall.hub.url}/counter/?counter=1")
    page.fill("#login-username", "clerk1")
    page.fill("#login-password", CLERK_PASSWORD)
    page.fill("#login-counter", "1")
    page.click("#login-submit")
    page.wait_for_selector("#btn-call-next:enabled", timeout=10_000)
    # This very ticket to counter 1 (earlier tests left others waiting): the console shows it.
    called = requests.post(
        f"{hall.hub.url}/api/v1/counters/1/call",
        json={"ticket_id": ticket["id"]},
        # The browser's login ended clerk1's other session (single_session): act as the admin.
        headers=bearer(hall.admin_token),
        timeout=HTTP_TIMEOUT,
    )
    assert called.status_code == 200, called.text
    page.wait_for_function(
        "n => (document.querySelector('#current-number')?.textContent || '').includes(n)",
        arg=ticket["number"],
        timeout=10_000,
    )
    page.wait_for_selector("#btn-reprint:enabled", timeout=10_000)
    label = page.inner_text("#btn-reprint")
    assert "重打" in label or "Reprint" in label
    page.click("#btn-reprint")
    wait_until(
        lambda: len(printed(hall.twin, ticket["number"])) == 2, "the console's reprint printed", timeout=WAIT
    )
    banner = page.wait_for_selector("#banner", state="visible", timeout=10_000).inner_text()
    assert ticket["number"] in banner, banner
    assert errors == []
    page.close()
    hall.clerk_token = login(hall.hub.url, "clerk1", 1)  # for the tests after this one


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:5000", True),
        ("http://127.8.9.1", True),
        ("http://[::1]:5000/", True),
        ("http://localhost:5000", True),
        ("http://kiosk.localhost", True),
        ("http://0.0.0.0:5000", True),
        ("", True),
        ("http://192.168.1.10:5000", False),
        ("https://hall.example.cn", False),
        ("http://[fe80::1]:5000", False),
    ],
)
def test_loopback_addresses_are_never_printed(url: str, loopback: bool) -> None:
    from server.devices.printing import is_loopback_url, printable_url

    assert is_loopback_url(url) is loopback
    assert printable_url(url) == ("" if loopback else url)
