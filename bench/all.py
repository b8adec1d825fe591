"""Every benchmark, one after another, and one line that says whether the hall's targets hold.

Runs each script in ``BENCHMARKS`` as its own process (each starts and stops its
own hub), collects the JSON object each prints, and prints one JSON object:
``{"loadavg_1m_before", "results": {name: result}, "targets": {name: target_met},
"target_met": all of them}``. Run it on a quiet machine, three times, and report
the median of each figure with the load average (bench/README.md). Before each
benchmark it waits (``--settle``, 120 s at most) for the 1-minute load average to
fall to ``--quiet`` (0.5): the previous benchmark's load stays in that average
for a minute after it ends.

    .venv/bin/python bench/all.py [--only issue,fanout] [--quiet 0.5] [--settle 120]
    .venv/bin/python bench/all.py --only cluster_rush,cluster_fanout,cluster_calls_http

The default set runs on a machine without PostgreSQL, Redis or nginx (each hub on
its own SQLite file). The cluster's benchmarks (``OPTIONAL``) need PostgreSQL and
Redis on 127.0.0.1 and run only when named with ``--only``.

Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import emit, loadavg, log

HERE = Path(__file__).resolve().parent

#: name → the script and its arguments (issue 10's targets, then the devices').
BENCHMARKS: dict[str, list[str]] = {
    "issue": ["issue.py", "--requests", "3000", "--concurrency", "8"],
    "issue_cost": ["issue_cost.py"],
    "fanout": ["call_fanout.py", "--clients", "1000", "--calls", "30"],
    "voice_burst": ["voice_latency.py", "--burst"],
    "print": ["print_latency.py"],
    "display": ["display_latency.py"],
    # Issue 13: the hall manager's monthly report over a simulated year (JSON ≤ 1 s, PDF ≤ 5 s).
    "report_month": ["report_month.py"],
}


#: Named with --only, never in the default set: they need PostgreSQL and Redis on 127.0.0.1 (issue 15).
OPTIONAL: dict[str, list[str]] = {
    "cluster_rush": ["cluster_rush.py"],  # 5,000 ticket requests in a minute over 3 processes, p99 ≤ 200 ms
    "cluster_fanout": ["cluster_fanout.py"],  # a call → 5,000 screens over 4 processes, p99 ≤ 250 ms
    "cluster_calls": ["cluster_calls.py"],  # 10,000 claims in the store, conditional vs SKIP LOCKED
    "cluster_calls_http": ["cluster_calls.py", "--http"],  # 10,000 calls through 3 processes' API
}


def settle(quiet: float, most: float) -> float:
    """Wait until the 1-minute load average is at most ``quiet`` (or ``most`` seconds pass); return it.

    Each benchmark leaves its hub and clients' load in the 1-minute average for a
    minute after it ends; the next one measured at once would measure its
    predecessor's tail too. The targets are for a quiet machine, and the load
    each benchmark started at is recorded (``loadavg_1m_before``) either way.
    """
    deadline = time.monotonic() + most
    while loadavg() > quiet and time.monotonic() < deadline:
        time.sleep(2)
    return loadavg()


def run(name: str, argv: list[str]) -> dict[str, object]:
    log(f"== {name}: {' '.join(argv)}")
    began = time.monotonic()
    done = subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    # A benchmark that ran and missed its target exits 1 with its figures: keep them.
    if done.returncode not in (0, 1) or not lines:
        log(done.stderr[-2000:])
        return {"error": f"exit {done.returncode}", "target_met": False}
    result: dict[str, object] = json.loads(lines[-1])
    log(f"   {time.monotonic() - began:.0f} s, target_met={result.get('target_met')}")
    return result


def met(result: dict[str, object]) -> bool:
    """A result's ``target_met``; for one with ``runs`` (call_fanout), every run's."""
    runs = result.get("runs")
    if isinstance(runs, list) and runs:
        return all(isinstance(run, dict) and bool(run.get("target_met")) for run in runs)
    return bool(result.get("target_met"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        help="comma-separated names out of: "
        + ", ".join(BENCHMARKS)
        + "; and, needing PostgreSQL and Redis: "
        + ", ".join(OPTIONAL),
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.5,
        help="wait before each benchmark until the 1-minute load average is at most this (default 0.5)",
    )
    parser.add_argument(
        "--settle", type=float, default=120.0, help="wait at most this many seconds for it (default 120)"
    )
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    known = {**BENCHMARKS, **OPTIONAL}
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; one of {', '.join(known)}")
    load = loadavg()
    results: dict[str, dict[str, object]] = {}
    for name in names:
        settled = settle(args.quiet, args.settle)
        log(f"   load {settled} before {name}")
        results[name] = run(name, known[name])
    targets = {name: met(result) for name, result in results.items()}
    emit(
        {
            "benchmark": "all",
            "loadavg_1m_before": load,
            "targets": targets,
            "target_met": all(targets.values()),
            "results": results,
        }
    )


if __name__ == "__main__":
    main()
