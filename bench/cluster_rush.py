"""The 号源 rush across hub processes: many ticket requests for a capped service within a minute.

One hall on ``--processes`` hub processes (``python -m server run`` with ``[cluster]``,
one fresh PostgreSQL database, Redis between them; tests/cluster_support.py starts
them). ``--requests`` ticket requests for ASK, whose half-day cap (``--cap``) is below
the number asked, are sent round-robin over the processes by ``--threads`` client
threads, each request at its slot of ``--seconds`` (paced: request i is sent at
``i * seconds / requests``; a thread that falls behind sends at once, so the rush is
as fast as the clients go within the minute). Latency = the POST's wall time at
the client, connection reuse per thread as a kiosk keeps its connection.

Checks read back from the database, not from the answers: the ASK tickets stored
(``issued_in_database``), no number twice, none past the cap; every refusal is
``half_day_full``. Target: p99 ≤ 200 ms, and every check holds.

    .venv/bin/python bench/cluster_rush.py                                  # 5,000 in 60 s, cap 4,000
    .venv/bin/python bench/cluster_rush.py --requests 500 --cap 400 --seconds 10   # a quick look

Needs PostgreSQL and Redis on 127.0.0.1 (QCALL_TEST_PG, QCALL_TEST_REDIS). Prints
one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from _common import emit, loadavg, log, ms, percentile

from tests.cluster_support import bench_cluster

TARGET_P99_MS = 200.0


def rush(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    with (
        tempfile.TemporaryDirectory(prefix="qcall-rush-") as tmp,
        bench_cluster(Path(tmp), args.processes, 2, args.cap) as cluster,
    ):
        urls = [hub.url for hub in cluster.hubs]
        log(f"{len(urls)} processes: {', '.join(urls)}")
        local = threading.local()

        def session() -> requests.Session:
            if not hasattr(local, "session"):
                local.session = requests.Session()
                local.session.headers["Authorization"] = f"Bearer {cluster.creds.kiosk}"
            return local.session

        spacing = args.seconds / args.requests
        load = loadavg()
        began = time.monotonic()

        def one(i: int) -> tuple[int, str, float, float]:
            """(status, refusal code or number, latency s, lateness s) of request i."""
            slot = began + i * spacing
            late = time.monotonic() - slot
            if late < 0:
                time.sleep(-late)
                late = 0.0
            sent = time.monotonic()
            answer = session().post(
                f"{urls[i % len(urls)]}/api/v1/tickets", json={"service": "ASK"}, timeout=30
            )
            took = time.monotonic() - sent
            body = answer.json()
            return answer.status_code, str(body.get("number") or body.get("code")), took, late

        with ThreadPoolExecutor(args.threads) as pool:
            answers = list(pool.map(one, range(args.requests)))
        took = time.monotonic() - began
        engine = create_engine(cluster.url)
        with engine.connect() as conn:
            stored = [
                row[0] for row in conn.execute(text("SELECT number FROM tickets WHERE service = 'ASK'")).all()
            ]
        engine.dispose()
    latencies = [latency for _, _, latency, _ in answers]
    refusals = Counter(code for status, code, _, _ in answers if status != 201)
    granted = [code for status, code, _, _ in answers if status == 201]
    twice = sum(n - 1 for n in Counter(stored).values() if n > 1)
    p99 = ms(percentile(latencies, 99))
    checks = {
        "no_number_twice": twice == 0 and len(set(granted)) == len(granted),
        "none_past_cap": len(stored) <= args.cap,
        "cap_reached": len(stored) == min(args.cap, args.requests),
        "answers_match_database": sorted(granted) == sorted(stored),
        "refusals_only_half_day_full": set(refusals) <= {"half_day_full"},
    }
    return {
        "benchmark": "cluster_rush",
        "processes": args.processes,
        "requests": args.requests,
        "paced_over_s": args.seconds,
        "client_threads": args.threads,
        "cap": args.cap,
        "took_s": round(took, 2),
        "requests_per_s": round(args.requests / took, 1),
        "issued": len(granted),
        "issued_in_database": len(stored),
        "numbers_twice_in_database": twice,
        "refused": dict(refusals),
        "p50_ms": ms(percentile(latencies, 50)),
        "p90_ms": ms(percentile(latencies, 90)),
        "p99_ms": p99,
        "max_ms": ms(max(latencies)),
        "client_late_p99_ms": ms(percentile([late for *_, late in answers], 99)),
        "checks": checks,
        "loadavg_1m_before": load,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "target_p99_ms": TARGET_P99_MS,
        "target_met": p99 <= TARGET_P99_MS and all(checks.values()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument(
        "--cap", type=int, default=4000, help="ASK's half-day cap (am and pm), below --requests"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="pace the requests over this long")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=24, help="client threads (a connection each)")
    args = parser.parse_args()
    result = rush(args)
    emit(result)
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
