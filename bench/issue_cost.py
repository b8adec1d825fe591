"""The cost of one ticket with 10, 1,000 and 10,000 people already waiting.

For each queue length, a fresh hub whose queues were filled before it started
(``bench/issue.py --waiting``); then ``--requests`` tickets, one client at a
time (``--concurrency``, 1), so the figure is the cost of one ticket, not of a
crowd. Target: the hub's CPU per ticket at the longest queue within 20 % of the
shortest (people-ahead and the lobby's counts are kept, not counted).

    .venv/bin/python bench/issue_cost.py [--requests 1000] [--lengths 10,1000,10000]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import emit, loadavg, log

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 1.2


def measure(waiting: int, requests: int, concurrency: int) -> dict[str, object]:
    log(f"{waiting} waiting: {requests} tickets")
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "issue.py"),
            "--waiting",
            str(waiting),
            "--requests",
            str(requests),
            "--concurrency",
            str(concurrency),
            "--warmup",
            "50",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--lengths", default="10,1000,10000")
    args = parser.parse_args()
    load = loadavg()
    runs = [measure(int(n), args.requests, args.concurrency) for n in args.lengths.split(",")]
    cpu = [float(r["hub_cpu_ms_per_request"]) for r in runs]  # type: ignore[arg-type]
    p50 = [float(r["p50_ms"]) for r in runs]  # type: ignore[arg-type]
    ratio = round(cpu[-1] / cpu[0], 3)
    emit(
        {
            "benchmark": "ticket_cost_by_queue_length",
            "requests": args.requests,
            "concurrency": args.concurrency,
            "by_length": [
                {
                    "waiting_before": r["waiting_before"],
                    "hub_cpu_ms_per_ticket": r["hub_cpu_ms_per_request"],
                    "p50_ms": r["p50_ms"],
                    "p99_ms": r["p99_ms"],
                }
                for r in runs
            ],
            "cpu_ratio_longest_to_shortest": ratio,
            "p50_ratio_longest_to_shortest": round(p50[-1] / p50[0], 3),
            "loadavg_1m_before": load,
            "target_ratio": TARGET_RATIO,
            "target_met": ratio <= TARGET_RATIO,
        }
    )


if __name__ == "__main__":
    main()
