"""Ticket issue rate and latency through the REST API, every ticket a durable commit.

Starts a real hub (gevent, SQLite WAL, ``synchronous=FULL``), warms it up, then
issues ``--requests`` tickets from ``--concurrency`` client threads, each with
its own keep-alive ``requests.Session`` and the kiosk's token. Latency is the
client's view of one ``POST /api/v1/tickets``: send to the 201 fully read.

    .venv/bin/python bench/issue.py [--requests 2000] [--concurrency 4]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time

import requests
from _common import bench_hub, cpu_seconds, emit, loadavg, log, ms, percentile, rss_kib, start_profiler

TARGET_P99_MS = 50.0


def worker(
    url: str,
    token: str,
    count: int,
    start: threading.Barrier,
    latencies: list[float],
    errors: list[str],
) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    services = ("PAY", "ASK")
    start.wait()
    for i in range(count):
        began = time.perf_counter()
        try:
            answer = session.post(url, json={"service": services[i % 2]}, timeout=30)
            answer.content  # noqa: B018 - read the whole answer inside the timing
            if answer.status_code != 201:
                errors.append(f"{answer.status_code}: {answer.text[:200]}")
                continue
        except requests.RequestException as exc:
            errors.append(repr(exc))
            continue
        latencies.append(time.perf_counter() - began)
    session.close()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--dir", help="folder for the throw-away database (default: the system temp dir)")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the hub, idle included (folded stacks)")
    args = parser.parse_args()

    with bench_hub(workdir=args.dir) as (hub, creds):
        log(f"hub on {hub.url} (pid {hub.proc.pid}); warming up with {args.warmup} tickets")
        run(hub.url, creds.kiosk, args.warmup, min(args.concurrency, args.warmup) or 1)
        log(f"issuing {args.requests} tickets from {args.concurrency} threads")
        load = loadavg()
        cpu_before = cpu_seconds(hub.proc.pid)
        profiler = start_profiler(hub.proc.pid, args.profile, idle=True) if args.profile else None
        latencies, errors, wall = run(hub.url, creds.kiosk, args.requests, args.concurrency)
        if profiler:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        cpu = cpu_seconds(hub.proc.pid) - cpu_before
        rss = rss_kib(hub.proc.pid)

    p99 = ms(percentile(latencies, 99))
    emit(
        {
            "benchmark": "ticket_issue",
            "requests": args.requests,
            "concurrency": args.concurrency,
            "ok": len(latencies),
            "errors": len(errors),
            "error_sample": errors[:3],
            "seconds": round(wall, 3),
            "rate_per_s": round(len(latencies) / wall, 1) if wall else None,
            "mean_ms": ms(sum(latencies) / len(latencies)) if latencies else None,
            "p50_ms": ms(percentile(latencies, 50)),
            "p90_ms": ms(percentile(latencies, 90)),
            "p99_ms": p99,
            "max_ms": ms(max(latencies)) if latencies else None,
            "hub_cpu_ms_per_request": ms(cpu / args.requests),
            "hub_rss_kib": rss,
            "loadavg_1m_before": load,
            "target_p99_ms": TARGET_P99_MS,
            "target_met": p99 <= TARGET_P99_MS and not errors,
        }
    )


if __name__ == "__main__":
    main()
