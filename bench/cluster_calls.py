"""Call-next across processes on PostgreSQL: the conditional claim against SELECT … FOR UPDATE SKIP LOCKED.

A hall on several hub processes takes its calls in one database. Here ``--processes``
OS processes hold ``--counters`` counters between them (counter n on process n mod P),
each counter a thread calling ``QueueCore.call_next`` on its own connection, one
queue of ``--tickets`` waiting tickets (the worst case: every counter wants the same
head). Each claim mode runs on a fresh database:

- ``wait``: the conditional ``UPDATE … WHERE status = 'waiting'`` alone; a counter
  that reaches the ticket another one is taking waits for that commit, finds it
  taken and passes over it;
- ``skip_locked`` (the hub's): the same update, of a row no other transaction holds
  (``FOR NO KEY UPDATE SKIP LOCKED`` in the statement); a ticket another counter is
  taking is passed over at once.

Prints one JSON object: per mode the calls per second, the call's p50/p99, the
refusals a counter would have seen ("every waiting ticket was taken", answered
by calling again), and the exactly-once check read back from the store: every
ticket called, none twice. The core and the store are the hub's own; HTTP and
Socket.IO are left out.

``--http``: the same hall through the real API instead. ``--processes`` real hub
processes (``python -m server run`` with ``[cluster]``, Redis between them;
tests/cluster_support.py starts them) on a fresh database where ``--tickets``
tickets were issued before they started; ``--counters`` clerks, each logged in at
its counter on process n mod P, press call-next (``POST /api/v1/counters/n/call-next``)
until nobody waits. Figures: the time it took, calls per second, the call's HTTP
p50/p99, each hub process's CPU per call; the exactly-once check from the event log
(every ticket one ``called`` event) and from the answers (each ticket handed to one counter).

    .venv/bin/python bench/cluster_calls.py                  # 10,000 tickets, 10 counters, 3 processes
    .venv/bin/python bench/cluster_calls.py --tickets 2000   # quicker
    .venv/bin/python bench/cluster_calls.py --http           # through three hub processes' API
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

from bench._common import cpu_seconds, emit, loadavg, log, ms, percentile

PG_ADMIN = os.environ.get("QCALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MODES = ("wait", "skip_locked")


def event_log_calls(url: str) -> tuple[int, int, int]:
    """From the database: tickets called, `called` events, tickets still waiting (the exactly-once check)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        distinct, calls = conn.execute(
            text("SELECT count(DISTINCT ticket_id), count(*) FROM ticket_events WHERE kind = 'called'")
        ).one()
        waiting = conn.scalar(text("SELECT count(*) FROM tickets WHERE status = 'waiting'"))
    engine.dispose()
    return int(distinct), int(calls), int(waiting or 0)


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
        distinct, calls, waiting = event_log_calls(url)
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


def run_http(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """``--http``: the counters call through the real API of ``args.processes`` hub processes."""
    from collections import Counter

    import requests

    from tests.cluster_support import bench_cluster
    from tests.support import login

    def fill(url: str, config_path: Path) -> None:
        from server.core.queue import IssueRequest

        core = _core(url, config_path)
        for start in range(0, args.tickets, 500):
            core.issue_many([IssueRequest("PAY") for _ in range(min(500, args.tickets - start))])
        core.store.engine.dispose()

    with bench_cluster(folder, args.processes, args.counters, 4000, before_start=fill) as cluster:
        hubs = cluster.hubs
        log(f"http: {args.tickets} tickets waiting; {args.counters} counters on {len(hubs)} processes")
        sessions = {}
        for n in range(1, args.counters + 1):
            session = requests.Session()
            token = login(hubs[n % len(hubs)].url, cluster.creds.clerks[n], n)
            session.headers["Authorization"] = f"Bearer {token}"
            sessions[n] = session
        called: dict[int, list[str]] = {}
        latencies: list[float] = []
        raced = [0]
        lock = threading.Lock()

        def counter(n: int) -> None:
            url = f"{hubs[n % len(hubs)].url}/api/v1/counters/{n}/call-next"
            mine: list[str] = []
            took: list[float] = []
            again = 0
            while True:
                sent = time.perf_counter()
                answer = sessions[n].post(url, timeout=60)
                if answer.status_code == 200:
                    took.append(time.perf_counter() - sent)
                    mine.append(answer.json()["ticket"]["id"])
                    continue
                body = answer.json()
                if body.get("code") != "nobody_waiting":
                    raise RuntimeError(f"counter {n}: {answer.status_code} {answer.text}")
                if "try again" in body.get("error", ""):
                    again += 1  # a clerk would have pressed again
                    continue
                break
            with lock:
                called[n] = mine
                latencies.extend(took)
                raced[0] += again

        threads = [threading.Thread(target=counter, args=(n,)) for n in sessions]
        pids = [hub.proc.pid for hub in hubs if hub.proc is not None]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - began
        hub_cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        distinct, calls, waiting = event_log_calls(cluster.url)
    every = [ticket for mine in called.values() for ticket in mine]
    handed_twice = sum(k - 1 for k in Counter(every).values() if k > 1)
    return {
        "calls": len(latencies),
        "seconds": round(took, 2),
        "calls_per_second": round(len(latencies) / took, 1) if took else None,
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(max(latencies)) if latencies else None,
        # Steadier than the wall clock on a shared machine: what each hub process spent a call (making
        # its own calls, hearing the others' through Redis).
        "hub_cpu_ms_per_call": [round(1000 * cpu / max(1, len(latencies)), 2) for cpu in hub_cpu],
        "calls_per_counter": {n: len(mine) for n, mine in sorted(called.items())},
        "raced_refusals": raced[0],
        "tickets_called": distinct,
        "called_twice": calls - distinct,
        "handed_to_two_counters": handed_twice,
        "left_waiting": waiting,
        "exactly_once": distinct == calls == len(every) == args.tickets and waiting == 0 and not handed_twice,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--counters", type=int, default=10)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument(
        "--http", action="store_true", help="through real hub processes' API (Redis too), not the store"
    )
    args = parser.parse_args()
    modes = ["http"] if args.http else args.modes.split(",")
    result: dict[str, Any] = {
        "bench": "cluster_calls",
        "tickets": args.tickets,
        "counters": args.counters,
        "processes": args.processes,
        "loadavg_1m_before": loadavg(),
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory() as folder:
        for mode in modes:
            result[mode] = (
                run_http(args, Path(folder)) if mode == "http" else run_mode(mode, args, Path(folder))
            )
            log(f"{mode}: {result[mode]}")
    result["target"] = "every ticket called exactly once, none left waiting (read from the event log)"
    result["target_met"] = all(result[mode]["exactly_once"] for mode in modes)
    emit(result)
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
