"""Call-next across processes on PostgreSQL: the conditional claim against SELECT … FOR UPDATE SKIP LOCKED.

A hall on several hub processes takes its calls in one database. Here ``--processes``
OS processes hold ``--counters`` counters between them (counter n on process n mod P),
each counter a thread calling ``QueueCore.call_next`` on its own connection, one
queue of ``--tickets`` waiting tickets (the worst case: every counter wants the same
head). Each claim mode runs on a fresh database:

- ``wait``: the hub's conditional ``UPDATE … WHERE status = 'waiting'``; a counter
  that reaches the ticket another one is taking waits for that commit, finds it
  taken and looks again;
- ``skip_locked``: ``SELECT … FOR UPDATE SKIP LOCKED`` before the update; a ticket
  another counter is taking is passed over at once.

Prints one JSON object: per mode the calls per second, the call's p50/p99, the
refusals a counter would have seen ("every waiting ticket was taken", answered
by calling again), and the exactly-once check read back from the store: every
ticket called, none twice. The core and the store are the hub's own; HTTP and
Socket.IO are left out (tests/test_cluster.py drives the real processes).

    .venv/bin/python bench/cluster_calls.py                  # 10,000 tickets, 10 counters, 3 processes
    .venv/bin/python bench/cluster_calls.py --tickets 2000   # quicker
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import emit, loadavg, log, ms, percentile

PG_ADMIN = os.environ.get("QCALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MODES = ("wait", "skip_locked")


def _core(url: str, config_path: Path) -> Any:
    from server.config import load_config
    from server.core.queue import QueueCore
    from server.store import SqlStore, make_engine

    config = load_config(config_path)
    # Counters without logins: the core's own rule (no post needed), as the core's tests call.
    hall = replace(config.hall(), posts_required=False)
    return QueueCore(hall, SqlStore(make_engine(url, pool_size=16)))


def _process(url: str, config_path: str, counters: list[int], mode: str, out: Any) -> None:
    """One "hub process": its counters call until nobody waits; sends back latencies and refusals."""
    from server.core.errors import NobodyWaiting
    from server.store.sql import SqlTx

    SqlTx.skip_locked = mode == "skip_locked"
    core = _core(url, Path(config_path))
    latencies: list[float] = []
    refusals = [0]
    lock = threading.Lock()

    def counter(number: int) -> None:
        mine: list[float] = []
        raced = 0
        while True:
            began = time.perf_counter()
            try:
                core.call_next(number, staff=f"clerk{number}")
            except NobodyWaiting as error:
                if "try again" in str(error):
                    raced += 1  # a clerk would have pressed again
                    continue
                break
            mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)
            refusals[0] += raced

    threads = [threading.Thread(target=counter, args=(n,)) for n in counters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((latencies, refusals[0]))


def run_mode(mode: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    import psycopg
    from sqlalchemy import create_engine, text

    from tests.support import write_site

    name = f"qcall_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    try:
        config_path = write_site(folder / f"{mode}.toml", url, args.counters)
        from server.store import open_store

        open_store(url).engine.dispose()  # the schema (migrations)
        core = _core(url, config_path)
        from server.core.queue import IssueRequest

        for start in range(0, args.tickets, 500):
            core.issue_many([IssueRequest("PAY") for _ in range(min(500, args.tickets - start))])
        core.store.engine.dispose()
        log(f"{mode}: {args.tickets} tickets waiting; {args.counters} counters on {args.processes} processes")
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        spread = [
            [n for n in range(1, args.counters + 1) if n % args.processes == p] for p in range(args.processes)
        ]
        began = time.perf_counter()
        workers = [
            context.Process(target=_process, args=(url, str(config_path), counters, mode, out))
            for counters in spread
        ]
        for worker in workers:
            worker.start()
        results = [out.get() for _ in workers]
        took = time.perf_counter() - began
        for worker in workers:
            worker.join()
        latencies = [value for mine, _ in results for value in mine]
        engine = create_engine(url)
        with engine.connect() as conn:
            distinct, calls = conn.execute(
                text("SELECT count(DISTINCT ticket_id), count(*) FROM ticket_events WHERE kind = 'called'")
            ).one()
            waiting = conn.scalar(text("SELECT count(*) FROM tickets WHERE status = 'waiting'"))
        engine.dispose()
        return {
            "calls": len(latencies),
            "seconds": round(took, 2),
            "calls_per_second": round(len(latencies) / took, 1),
            "p50_ms": ms(percentile(latencies, 50)),
            "p99_ms": ms(percentile(latencies, 99)),
            "max_ms": ms(max(latencies)),
            "raced_refusals": sum(raced for _, raced in results),
            "tickets_called": distinct,
            "called_twice": calls - distinct,
            "left_waiting": waiting,
            "exactly_once": distinct == calls == args.tickets and waiting == 0,
        }
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--counters", type=int, default=10)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    result: dict[str, Any] = {
        "bench": "cluster_calls",
        "tickets": args.tickets,
        "counters": args.counters,
        "processes": args.processes,
        "loadavg_1m_before": loadavg(),
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory() as folder:
        for mode in args.modes.split(","):
            result[mode] = run_mode(mode, args, Path(folder))
            log(f"{mode}: {result[mode]}")
    result["target_met"] = all(result[mode]["exactly_once"] for mode in args.modes.split(","))
    emit(result)
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
