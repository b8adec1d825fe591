"""Kiosk ticket → paper: time to the last byte at the printer; a dead printer costs the kiosk nothing.

Starts a real hub (gevent, SQLite WAL, ``synchronous=FULL``) for a site with one
kiosk and one 80 mm network printer; the printer is a
:class:`~drivers.twins.virtual_printer.VirtualPrinter` in this process on
127.0.0.1, which decodes every byte the hub's spooler sends.

1. Printer alive: ``--tickets`` tickets issued one after another (each once the
   previous one is on paper, plus ``--gap`` seconds), after ``--warmup``. Print latency = the twin's
   ``on_document`` (called when the cut, the job's last byte, arrives) minus
   the moment just before the kiosk's ``POST /api/v1/tickets``, both on
   ``time.monotonic()`` in this process. The POST's own latency is kept too.
2. Printer dead: the twin is stopped (connection refused) and ``--dead-tickets``
   tickets are issued; only the POST's latency is measured. The spooler keeps
   retrying in the background the whole time.

    .venv/bin/python bench/print_latency.py [--tickets 200] [--dead-tickets 200]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from _common import cpu_seconds, emit, loadavg, log, ms, percentile, rss_kib

from drivers.twins.escpos_decode import PrintedDocument
from drivers.twins.virtual_printer import VirtualPrinter
from tests.support import HubProcess, kiosk_printer_toml, provision, write_site

TARGET_PRINT_P99_MS = 150.0


class PaperLog:
    """When each ticket number came out of the twin (its cut), on this process's monotonic clock."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.printed: dict[str, list[float]] = collections.defaultdict(list)

    def on_document(self, doc: PrintedDocument) -> None:
        at = time.monotonic()
        numbers = [line.text.strip() for line in doc.lines if line.width_mult > 2]
        with self.cond:
            for number in numbers:
                self.printed[number].append(at)
            self.cond.notify_all()

    def wait(self, number: str, timeout: float) -> float | None:
        with self.cond:
            if self.cond.wait_for(lambda: number in self.printed, timeout):
                return self.printed[number][0]
        return None


@contextmanager
def printing_hub(twin: VirtualPrinter, workdir: str | None) -> Iterator[tuple[HubProcess, str]]:
    with tempfile.TemporaryDirectory(prefix="qcall-bench-", dir=workdir) as tmp:
        folder = Path(tmp)
        config = write_site(folder / "site.toml", f"sqlite:///{folder / 'qcall.db'}", counters=2)
        with config.open("a", encoding="utf-8") as site:
            site.write(kiosk_printer_toml(twin.port, "paper_mm = 80"))
        creds = provision(config, 2)
        hub = HubProcess(config, folder)
        hub.start()
        try:
            yield hub, creds.kiosk
        finally:
            hub.stop()


def post(session: requests.Session, url: str) -> tuple[float, float, dict]:
    """(sent at, latency, answer) of one kiosk ticket."""
    began = time.monotonic()
    answer = session.post(url, json={"service": "PAY"}, timeout=30)
    body = answer.json()
    took = time.monotonic() - began
    if answer.status_code != 201:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")
    return began, took, body


def alive_phase(
    session: requests.Session, url: str, paper: PaperLog, count: int, timeout: float, gap: float = 0.0
) -> tuple[list[float], list[float], collections.Counter[str], int]:
    printed: list[float] = []
    issued: list[float] = []
    states: collections.Counter[str] = collections.Counter()
    missing = 0
    for _ in range(count):
        began, took, body = post(session, url)
        issued.append(took)
        states[body["print"]["state"]] += 1
        at = paper.wait(body["number"], timeout)
        if at is None:
            missing += 1
            continue
        printed.append(at - began)
        if gap > 0:
            time.sleep(gap)  # pacing between tickets, not synchronisation: the paper is already out
    return printed, issued, states, missing


def dead_phase(
    session: requests.Session, url: str, count: int
) -> tuple[list[float], collections.Counter[str]]:
    issued: list[float] = []
    states: collections.Counter[str] = collections.Counter()
    for _ in range(count):
        _, took, body = post(session, url)
        issued.append(took)
        states[f"{body['print']['state']}:{body['print'].get('detail', '')}"] += 1
    return issued, states


def summary(values: list[float]) -> dict[str, float | None]:
    return {
        "p50_ms": ms(percentile(values, 50)),
        "p90_ms": ms(percentile(values, 90)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(max(values)) if values else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--dead-tickets", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for one ticket's paper")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds from a paper to the next ticket")
    parser.add_argument("--dir", help="folder for the throw-away database (default: the system temp dir)")
    args = parser.parse_args()

    paper = PaperLog()
    twin = VirtualPrinter("127.0.0.1", 0, paper_mm=80, on_document=paper.on_document).start()
    try:
        with printing_hub(twin, args.dir) as (hub, token):
            url = f"{hub.url}/api/v1/tickets"
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
            log(f"hub on {hub.url} (pid {hub.proc.pid}), printer twin on 127.0.0.1:{twin.port}")
            log(f"warming up with {args.warmup} printed tickets")
            alive_phase(session, url, paper, args.warmup, args.timeout)
            load = loadavg()
            cpu_before = cpu_seconds(hub.proc.pid)
            log(f"printer alive: {args.tickets} tickets, one after another, each waited for on paper")
            printed, issued_alive, alive_states, missing = alive_phase(
                session, url, paper, args.tickets, args.timeout, args.gap
            )
            cpu_alive = cpu_seconds(hub.proc.pid) - cpu_before
            documents, partial = len(twin.documents), len(twin.partial_documents)
            twin.stop()
            log(f"printer dead (connection refused): {args.dead_tickets} tickets")
            load_dead = loadavg()
            issued_dead, dead_states = dead_phase(session, url, args.dead_tickets)
            rss = rss_kib(hub.proc.pid)
            session.close()
            errors_in_log = hub.log().count("Traceback")
    finally:
        twin.stop()

    duplicates = sum(1 for times in paper.printed.values() if len(times) > 1)
    print_p99 = ms(percentile(printed, 99))
    emit(
        {
            "benchmark": "print_latency",
            "tickets": args.tickets,
            "gap_s": args.gap,
            "printed": len(printed),
            "missing": missing,
            "duplicates": duplicates,
            "documents": documents,
            "partial_documents": partial,
            "print": summary(printed),
            "issue_printer_alive": summary(issued_alive),
            "issue_printer_alive_states": dict(alive_states),
            "dead_tickets": args.dead_tickets,
            "issue_printer_dead": summary(issued_dead),
            "issue_printer_dead_states": dict(dead_states),
            "hub_cpu_ms_per_printed_ticket": ms(cpu_alive / args.tickets) if args.tickets else None,
            "hub_rss_kib": rss,
            "hub_log_tracebacks": errors_in_log,
            "loadavg_1m_before": load,
            "loadavg_1m_before_dead": load_dead,
            "target_print_p99_ms": TARGET_PRINT_P99_MS,
            "target_met": print_p99 <= TARGET_PRINT_P99_MS and not missing and not duplicates,
        }
    )


if __name__ == "__main__":
    main()
