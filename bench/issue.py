"""Ticket issue rate and latency through the REST API, every ticket durable before its 201.

Starts a real hub (gevent, SQLite WAL, ``synchronous=FULL``), optionally fills the
queue with ``--waiting`` tickets first (written through the core before the hub
starts), warms it up, then issues ``--requests`` tickets from ``--concurrency``
client threads, each with its own keep-alive HTTP connection and the kiosk's
token. Latency is the client's view of one ``POST /api/v1/tickets``: send to the
201 fully read. The clients use ``http.client`` (not ``requests``, whose own CPU
per request would make the clients, not the hub, the measured thing).

    .venv/bin/python bench/issue.py [--requests 3000] [--concurrency 8] [--waiting 0]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from _common import (
    bench_hub,
    cpu_seconds,
    emit,
    loadavg,
    log,
    loop_cpu_seconds,
    ms,
    percentile,
    rss_kib,
    start_profiler,
)

TARGET_RATE = 1000.0
TARGET_P99_MS = 50.0
SERVICES = ("PAY", "ASK")
DISPENSER = re.compile(r"dispenser: (\d+) tickets in (\d+) commits \(([\d.]+) a commit, largest (\d+)\)")
CYCLE = re.compile(
    r"dispenser: per commit ([\d.]+) ms to the commit thread, ([\d.]+) ms on it "
    r"\(([\d.]+) ms of CPU\), ([\d.]+) ms back to the loop"
)


def worker(
    url: str,
    token: str,
    count: int,
    start: threading.Barrier,
    latencies: list[float],
    errors: list[str],
) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [json.dumps({"service": s}).encode() for s in SERVICES]
    start.wait()
    for i in range(count):
        began = time.perf_counter()
        try:
            conn.request("POST", parts.path, body=bodies[i % 2], headers=headers)
            answer = conn.getresponse()
            body = answer.read()  # the whole answer, inside the timing
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            continue
        if answer.status != 201:
            errors.append(f"{answer.status}: {body[:200]!r}")
            continue
        latencies.append(time.perf_counter() - began)
    conn.close()


def run(hub_url: str, token: str, total: int, concurrency: int) -> tuple[list[float], list[str], float]:
    url = f"{hub_url}/api/v1/tickets"
    latencies: list[float] = []  # list.append is atomic under the GIL
    errors: list[str] = []
    barrier = threading.Barrier(concurrency + 1)
    share = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    threads = [
        threading.Thread(target=worker, args=(url, token, n, barrier, latencies, errors), daemon=True)
        for n in share
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - began


def prefill(config_path: Path, waiting: int) -> None:
    """Put ``waiting`` tickets in the queues before the hub starts (through the core, in batches)."""
    from server.bootstrap import bootstrap
    from server.config import load_config
    from server.core.queue import IssueRequest

    hub = bootstrap(load_config(config_path))
    for first in range(0, waiting, 500):
        count = min(500, waiting - first)
        hub.core.commit_issues([IssueRequest(SERVICES[(first + i) % 2]) for i in range(count)])
    hub.dispenser.close()
    hub.store.engine.dispose()


def queue_length(hub_url: str, token: str) -> int:
    """How many wait now, from the hub's own queue view."""
    parts = urlsplit(hub_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", "/api/v1/queue", headers={"Authorization": f"Bearer {token}"})
    snapshot = json.loads(conn.getresponse().read())
    conn.close()
    return sum(service["waiting"] for service in snapshot["services"])


def commit_cycle(
    cycle: re.Match[str] | None, commits: re.Match[str] | None, wall: float, tickets: int
) -> dict[str, float] | None:
    """The dispenser's per-commit times, and the cycle they sit in: the measured seconds per commit."""
    if cycle is None or commits is None or not tickets:
        return None
    return {
        "commit_cycle_ms": ms(wall * float(commits[3]) / tickets),
        "to_thread_ms": float(cycle[1]),
        "on_thread_ms": float(cycle[2]),
        "thread_cpu_ms": float(cycle[3]),
        "back_to_loop_ms": float(cycle[4]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--waiting", type=int, default=0, help="tickets already waiting before the run")
    parser.add_argument("--dir", help="folder for the throw-away database (default: the system temp dir)")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the hub's CPU (folded stacks)")
    args = parser.parse_args()

    with bench_hub(workdir=args.dir, before_start=lambda path: prefill(path, args.waiting)) as (hub, creds):
        log(f"hub on {hub.url} (pid {hub.proc.pid}); warming up with {args.warmup} tickets")
        run(hub.url, creds.kiosk, args.warmup, min(args.concurrency, args.warmup) or 1)
        waiting_before = queue_length(hub.url, creds.display)
        log(f"issuing {args.requests} tickets from {args.concurrency} threads, {waiting_before} waiting")
        load = loadavg()
        cpu_before, loop_before = cpu_seconds(hub.proc.pid), loop_cpu_seconds(hub.proc.pid)
        clients_before = time.process_time()
        profiler = start_profiler(hub.proc.pid, args.profile) if args.profile else None
        latencies, errors, wall = run(hub.url, creds.kiosk, args.requests, args.concurrency)
        clients_cpu = time.process_time() - clients_before
        if profiler:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        cpu = cpu_seconds(hub.proc.pid) - cpu_before
        loop_cpu = loop_cpu_seconds(hub.proc.pid) - loop_before
        rss = rss_kib(hub.proc.pid)
        waiting_after = queue_length(hub.url, creds.display)
        hub.stop()
        hub_log = hub.log()
        commits, cycle = DISPENSER.search(hub_log), CYCLE.search(hub_log)

    p99 = ms(percentile(latencies, 99))
    rate = round(len(latencies) / wall, 1) if wall else 0.0
    emit(
        {
            "benchmark": "ticket_issue",
            "requests": args.requests,
            "concurrency": args.concurrency,
            "waiting_before": waiting_before,
            "waiting_after": waiting_after,
            "ok": len(latencies),
            "errors": len(errors),
            "error_sample": errors[:3],
            "seconds": round(wall, 3),
            "rate_per_s": rate,
            "mean_ms": ms(sum(latencies) / len(latencies)) if latencies else None,
            "p50_ms": ms(percentile(latencies, 50)),
            "p90_ms": ms(percentile(latencies, 90)),
            "p99_ms": p99,
            "max_ms": ms(max(latencies)) if latencies else None,
            "hub_cpu_ms_per_request": ms(cpu / args.requests),
            # Of which the gevent loop (the main thread; the rest is mostly the dispenser's commit thread).
            "hub_loop_cpu_ms_per_request": ms(loop_cpu / args.requests),
            # The clients share the machine's cores with the hub: their CPU is taken from it.
            "clients_cpu_ms_per_request": ms(clients_cpu / args.requests),
            "hub_rss_kib": rss,
            # Over the hub's whole life (warm-up included): how many tickets shared a commit.
            "tickets_per_commit": float(commits[3]) if commits else None,
            "largest_commit": int(commits[4]) if commits else None,
            # One commit's serial cycle (means over the hub's life): the loop hands the batch over, the
            # thread runs it (statements, fsync), the loop takes it back; the rest of the cycle
            # (`commit_cycle_ms` minus these) is the loop answering the last batch and starting the next.
            "commit_cycle": commit_cycle(cycle, commits, wall, len(latencies)),
            "loadavg_1m_before": load,
            "target_rate_per_s": TARGET_RATE,
            "target_p99_ms": TARGET_P99_MS,
            "target_met": rate >= TARGET_RATE and p99 <= TARGET_P99_MS and not errors,
        }
    )


if __name__ == "__main__":
    main()
