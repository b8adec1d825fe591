"""Tickets on paper through a real hub: the sample sites, printer faults, the kiosk's message.

Every printer is a :class:`~drivers.twins.virtual_printer.VirtualPrinter` in
this process, on 127.0.0.1; the hub is a real ``python -m server run`` process
whose spooler talks ESC/POS to it over TCP. What is asserted is what the twin
decoded from the bytes: text (GB18030), sizes, the QR payload, the cuts.

The sample sites name printers on the hall's LAN (192.168.x, 10.x) or behind a
device agent; each is rewritten to a local twin before any hub starts, and the
rewritten file is checked to point nowhere else.

Waits are on conditions with deadlines (the spooler retries every 1–5 s and
looks at an idle printer every 30 s), never fixed sleeps.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from drivers.printing.layout import LayoutOptions, render_png
from drivers.twins.escpos_decode import PrintedDocument
from drivers.twins.virtual_printer import VirtualPrinter
from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import ADMIN_PASSWORD, ARTIFACTS, CLERK_PASSWORD, ROOT, HubProcess, bearer, issue, login
from tests.waiting import SocketListener, wait_until

pytestmark = pytest.mark.slow

SAMPLES = sorted((ROOT / "config" / "samples").glob("*.toml"))
#: Enough for the spooler's back-off (≤ 5 s) and a silent printer's 2 s status timeout, on a busy machine.
WAIT = 30.0
HTTP_TIMEOUT = 20
#: Printer settings that shape the paper; everything about reaching the printer is replaced.
LAYOUT_KEYS = ("paper_mm", "chinese", "qr", "number_size", "footer_zh", "footer_en")
CJK = re.compile(r"[\u4e00-\u9fff]")
#: Printed in the QR codes; never contacted.
PUBLIC_URL = "http://hall.example.test:8000"


# -- a sample site, rewritten onto local twins --------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, datetime.date):  # a site's own dates ([[hours.exceptions]] date = 2026-10-01)
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def dump_toml(data: dict[str, Any]) -> str:
    """TOML for a site file's shape: tables of values, arrays of tables, inline tables inside them."""
    scalars = [f"{toml_key(k)} = {toml_value(v)}" for k, v in data.items() if not _is_table(v)]
    out = [*scalars, ""] if scalars else []
    for key, value in data.items():
        if isinstance(value, dict):
            out += [f"[{toml_key(key)}]", *_pairs(value), ""]
        elif _is_table(value):
            for item in value:
                out += [f"[[{toml_key(key)}]]", *_pairs(item), ""]
    return "\n".join(out)


def _pairs(table: dict[str, Any]) -> list[str]:
    return [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)
    )


@dataclass
class SampleSite:
    name: str
    config_path: Path
    #: kiosk device name → its printer device name (kiosks with a printer only)
    kiosk_printer: dict[str, str]
    twins: dict[str, VirtualPrinter]
    #: kiosk device name → a kiosk token with that name
    kiosk_tokens: dict[str, str]
    services: list[str]
    service_names: dict[str, str] = field(default_factory=dict)

    def stop_twins(self) -> None:
        for twin in self.twins.values():
            twin.stop()


def prepare_sample(sample: Path, folder: Path) -> SampleSite:
    """The sample with every printer on a fresh local twin, its own SQLite file, hours not enforced."""
    data = tomllib.loads(sample.read_text(encoding="utf-8"))
    data.setdefault("hub", {})
    data["hub"]["database_url"] = f"sqlite:///{folder / 'qcall.db'}"
    data["hub"]["host"] = "127.0.0.1"
    data["hours"] = {**data.get("hours", {}), "enforce": False}
    # QR codes point at the hall's public address; a hub reached at 127.0.0.1 would print none.
    data["site"]["public_url"] = PUBLIC_URL
    twins: dict[str, VirtualPrinter] = {}
    try:
        for device in data.get("devices", []):
            if device["kind"] != "printer":
                continue
            settings = device.get("settings", {})
            twin = VirtualPrinter("127.0.0.1", 0, paper_mm=settings.get("paper_mm", 80)).start()
            twins[device["name"]] = twin
            kept = {key: settings[key] for key in LAYOUT_KEYS if key in settings}
            device["settings"] = {"connector": "network", "host": "127.0.0.1", "port": twin.port, **kept}
        config_path = folder / sample.name
        config_path.write_text(dump_toml(data), encoding="utf-8")
        config = load_config(config_path)
    except BaseException:
        for twin in twins.values():
            twin.stop()
        raise
    # Nothing in the rewritten site may reach past this machine.
    for device in config.devices:
        if device.kind == "printer":
            settings = config.printer_settings(device.name)
            assert (settings.connector, settings.host, settings.agent) == ("network", "127.0.0.1", None)
            assert settings.port == twins[device.name].port
    kiosk_printer = {
        d.name: printer
        for d in config.devices
        if d.kind == "kiosk" and (printer := config.kiosk_printer(d.name)) is not None
    }
    hub = bootstrap(config)
    now = utc_now()
    tokens = {kiosk: hub.accounts.create_device_token("kiosk", kiosk, now) for kiosk in kiosk_printer}
    hub.accounts.add_user("admin", "admin", ADMIN_PASSWORD, now)
    hub.accounts.add_user("clerk1", "staff", CLERK_PASSWORD, now)
    hub.store.engine.dispose()
    return SampleSite(
        name=sample.stem,
        config_path=config_path,
        kiosk_printer=kiosk_printer,
        twins=twins,
        kiosk_tokens=tokens,
        services=[s.code for s in config.services],
        service_names={s.code: s.name_zh for s in config.services},
    )


# -- small helpers ----------------------------------------------------------------------------


def printed_with(twin: VirtualPrinter, number: str, partial: bool = False) -> list[PrintedDocument]:
    """The documents (cut, or uncut with ``partial``) that carry ``number`` on a line of its own."""
    documents = twin.partial_documents if partial else twin.documents
    return [doc for doc in documents if any(line.text.strip() == number for line in doc.lines)]


class Listener(SocketListener):
    """A Socket.IO client (device or staff token), connected at once, that records every event."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, {"token": token}, timeout=WAIT)
        self.connect()


def assert_no_traceback(hub: HubProcess) -> None:
    assert "Traceback" not in hub.log(), hub.log()[-4000:]


# -- (a) acceptance: each sample site prints its tickets ---------------------------------


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_sample_site_prints_tickets(sample: Path, tmp_path: Path) -> None:
    site = prepare_sample(sample, tmp_path)
    assert site.kiosk_printer, f"{sample.name}: no kiosk with a printer"
    hub = HubProcess(site.config_path, tmp_path)
    try:
        hub.start()
        # Each kiosk its own service, so each starts an empty line: 0 ahead, then 1.
        for index, (kiosk, printer) in enumerate(sorted(site.kiosk_printer.items())):
            twin = site.twins[printer]
            service = site.services[index % len(site.services)]
            tickets = [issue(hub, site.kiosk_tokens[kiosk], service) for _ in range(2)]
            for ticket in tickets:
                assert ticket["print"]["printer"] == printer
                assert ticket["print"]["state"] in ("queued", "waiting"), ticket["print"]
            printed = twin.wait_for_documents(2, WAIT)
            assert printed, f"{kiosk}: printed {len(twin.documents)} of 2\n{hub.log()}"
            documents = twin.documents
            assert len(documents) == 2, "one document (one cut) per ticket"
            assert twin.partial_documents == [], "no paper left uncut"
            for ahead, (ticket, doc) in enumerate(zip(tickets, documents, strict=True)):
                assert ticket["waiting_ahead"] == ahead
                check_document(doc, ticket, site.service_names[service], ahead)
        assert_no_traceback(hub)
    finally:
        hub.stop()
        site.stop_twins()


def check_document(doc: PrintedDocument, ticket: dict[str, Any], service_zh: str, ahead: int) -> None:
    assert doc.cut and doc.cut_mode is not None
    assert doc.warnings == [], "every byte understood (no Chinese outside FS &, no unknown command)"
    texts = [line.text.strip() for line in doc.lines]
    assert service_zh in texts, f"the service name {service_zh!r} in GB18030: {texts}"
    number_lines = [line for line in doc.lines if line.text.strip() == ticket["number"]]
    assert len(number_lines) == 1, texts
    assert number_lines[0].width_mult > 1 and number_lines[0].height_mult > 1, number_lines[0]
    assert f"前面还有 {ahead} 人" in texts, texts
    assert doc.qr_payloads == [ticket["status_url"]]
    assert ticket["status_url"].startswith(f"{PUBLIC_URL}/t/")


# -- (b) faults, and (c) the kiosk page, on one hub of the utility-hall sample ---------------


@dataclass
class FaultHub:
    hub: HubProcess
    site: SampleSite
    twin: VirtualPrinter
    kiosk_token: str
    kiosk: Listener
    staff: Listener
    clerk_token: str
    admin_token: str


@pytest.fixture(scope="module")
def fault_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultHub]:
    folder = tmp_path_factory.mktemp("printing-faults")
    site = prepare_sample(ROOT / "config" / "samples" / "utility_hall.toml", folder)
    hub = HubProcess(site.config_path, folder)
    listeners: list[Listener] = []
    try:
        hub.start()
        kiosk_name, printer = next(iter(site.kiosk_printer.items()))
        twin = site.twins[printer]
        # The spooler looks at the printer as it starts: wait for that, so the hub knows it is fine.
        admin_token = login(hub.url, "admin", None, ADMIN_PASSWORD)
        wait_until(
            lambda: device(hub, admin_token, printer)["state"] == "online",
            "the printer is online",
            timeout=WAIT,
        )
        clerk_token = login(hub.url, "clerk1", 1)
        kiosk = Listener(hub.url, site.kiosk_tokens[kiosk_name])
        listeners.append(kiosk)
        staff = Listener(hub.url, clerk_token)
        listeners.append(staff)
        yield FaultHub(hub, site, twin, site.kiosk_tokens[kiosk_name], kiosk, staff, clerk_token, admin_token)
        assert_no_traceback(hub)
    finally:
        for listener in listeners:
            listener.close()
        hub.stop()
        site.stop_twins()


@pytest.fixture
def faults(fault_hub: FaultHub) -> Iterator[FaultHub]:
    """The shared hub, with its printer back online and fresh event queues after each test."""
    fault_hub.kiosk.drain()
    fault_hub.staff.drain()
    try:
        yield fault_hub
    finally:
        fault_hub.twin.state = "online"


def device(hub: HubProcess, admin_token: str, name: str) -> dict[str, Any]:
    answer = requests.get(f"{hub.url}/api/v1/devices", headers=bearer(admin_token), timeout=HTTP_TIMEOUT)
    answer.raise_for_status()
    return next(d for d in answer.json()["devices"] if d["name"] == name)


#: The twin's state → what the hub's board says about the printer.
FAULTS = {"paper_out": "paper_out", "offline": "offline", "cover_open": "cover_open", "silent": "unknown"}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_printer_fault_ticket_valid_then_printed_once(faults: FaultHub, fault: str) -> None:
    hub, twin, printer = faults.hub, faults.twin, "printer-1"
    seen = FAULTS[fault]
    twin.state = fault
    ticket = issue(hub, faults.kiosk_token, "NEW")
    number, ticket_id = ticket["number"], ticket["id"]
    answer = ticket["print"]
    assert answer["printer"] == printer
    # "queued" when the hub last saw the printer fine (it looks before each job and every 30 s idle),
    # "waiting" when it already knew; either way the spooler finds out and tells the kiosk why.
    assert answer["state"] in ("queued", "waiting"), answer
    if answer["state"] == "waiting":
        assert answer["detail"] not in ("", "online", "paper_near_end"), answer
    waiting = faults.kiosk.wait_for(
        "print_status", lambda p: p["ticket_id"] == ticket_id and p["state"] == "waiting"
    )
    assert waiting["detail"] == seen

    # Staff and the admin page see the printer's trouble.
    status = faults.staff.wait_for("device_status", lambda d: d["name"] == printer and d["state"] == seen)
    assert status["healthy"] is False
    assert device(hub, faults.admin_token, printer)["state"] == seen

    # The ticket is real: it can be looked up and called while the printer is down.
    looked_up = requests.get(f"{hub.url}/api/v1/tickets/{ticket_id}", timeout=HTTP_TIMEOUT)
    assert looked_up.status_code == 200 and looked_up.json()["number"] == number
    called = requests.post(
        f"{hub.url}/api/v1/counters/1/call-next", headers=bearer(faults.clerk_token), timeout=HTTP_TIMEOUT
    )
    assert called.status_code == 200, called.text
    assert called.json()["ticket"]["id"] == ticket_id
    assert printed_with(twin, number) == []

    twin.state = "online"
    faults.kiosk.wait_for("print_status", lambda p: p["ticket_id"] == ticket_id and p["state"] == "printed")
    assert len(printed_with(twin, number)) == 1
    faults.staff.wait_for("device_status", lambda d: d["name"] == printer and d["state"] == "online")
    assert device(hub, faults.admin_token, printer)["state"] == "online"


def test_connection_dropped_mid_job_prints_once(faults: FaultHub) -> None:
    twin = faults.twin
    connections, partial = twin.connections, len(twin.partial_documents)
    twin.drop_next_connection_after(60)
    ticket = issue(faults.hub, faults.kiosk_token, "INFO")
    number = ticket["number"]
    ticket_id = ticket["id"]
    faults.kiosk.wait_for("print_status", lambda p: p["ticket_id"] == ticket_id and p["state"] == "printed")
    assert twin.connections > connections, "the spooler reconnected after the reset"
    whole = printed_with(twin, number)
    assert len(whole) == 1, f"exactly one whole ticket {number}, got {len(whole)}"
    assert whole[0].cut and whole[0].qr_payloads == [ticket["status_url"]]
    # The reset cut the first attempt short: at most that one piece of paper came out uncut.
    assert len(twin.partial_documents) - partial <= 1


# -- (c) the kiosk page says so when its printer is out of paper ------------------------------


@pytest.mark.browser
def test_kiosk_page_shows_printer_fault(faults: FaultHub, browser: Any) -> None:
    faults.twin.state = "paper_out"
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1080, "height": 1920})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{faults.hub.url}/kiosk/?token={faults.kiosk_token}")
    page.wait_for_selector("body[data-live='connected']", timeout=15_000)
    page.click(".service-btn[data-service='PAY']")
    number = page.wait_for_selector("#ticket-number", state="visible", timeout=10_000).inner_text()
    assert re.fullmatch(r"B\d{3}", number.strip()), number
    message = page.wait_for_selector("#print-message", state="visible", timeout=WAIT * 1000)
    text = message.inner_text()
    assert CJK.search(text), f"no Chinese in {text!r}"
    assert "printer" in text.lower(), f"no English in {text!r}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "kiosk-printer-fault.png"))
    assert errors == []
    # Paper back in: the ticket still comes out, once.
    faults.twin.state = "online"
    wait_until(
        lambda: len(printed_with(faults.twin, number.strip())) == 1, f"ticket {number} printed", timeout=WAIT
    )


# -- previews of the paper --------------------------------------------------------------------


def test_preview_script_draws_58_and_80_mm(tmp_path: Path) -> None:
    """``scripts/ticket-preview.py OUTDIR``: the README's previews, 384 and 576 dots wide, not blank."""
    spec = importlib.util.spec_from_file_location("ticket_preview", ROOT / "scripts" / "ticket-preview.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    ticket = script.sample_ticket()
    assert (ticket.number, ticket.service_name_zh) == ("A012", "业扩报装")
    for paper_mm, width in ((58, 384), (80, 576)):
        image = render_png(ticket, LayoutOptions(paper_mm=paper_mm))
        assert image.width == width
        assert image.height > width
        black = image.convert("L").histogram()[0]
        assert black > 0.02 * image.width * image.height, f"{paper_mm} mm: the preview is (almost) blank"
    assert script.main([str(tmp_path)]) == 0
    for paper_mm, width in ((58, 384), (80, 576)):
        with Image.open(tmp_path / f"ticket-{paper_mm}mm.png") as saved:
            assert saved.width == width
