"""The cost of one ticket with 10, 1,000 and 10,000 people already waiting.

For each queue length, a fresh hub whose queues were filled before it started
(``bench/issue.py``'s prefill), warmed up, then ``--requests`` tickets from one
client at a time, so the figure is the cost of one ticket, not of a crowd.
Target: the cost at the longest queue within 20 % of the shortest (people-ahead
and the lobby's counts are kept, not counted).

The cost is counted in **CPU instructions** executed by the hub process (all its
threads), with valgrind's callgrind: instrumentation is switched on only for the
measured tickets (``callgrind_control -i on``) and the count read from a dump.
Instructions do not depend on what else the machine is doing; CPU seconds do —
on this shared 2-core machine the same hub, same length, measured 1.9 to 4.2 ms
per ticket from one run to the next, more than the effect being measured. Two
runs of the same length agree within 0.1 %. ``--measure cpu`` gives CPU seconds
per ticket instead (no valgrind), with that caveat.

    .venv/bin/python bench/issue_cost.py [--requests 200] [--lengths 10,1000,10000]
                                         [--measure instructions|cpu]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import issue
from _common import bench_hub, cpu_seconds, emit, loadavg, log, loop_cpu_seconds

TARGET_RATIO = 1.2
WARMUP = 50
TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)


def instructions_per_ticket(waiting: int, requests: int, clients: int = 1) -> tuple[float, float]:
    """Instructions the hub executes per ticket, ``waiting`` tickets already in the queues: in all
    its threads, and in its gevent loop (the main thread, where requests run; one core caps it)."""
    with tempfile.TemporaryDirectory(prefix="qcall-callgrind-") as out:
        wrapper = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--separate-threads=yes",
            f"--callgrind-out-file={out}/cg.%p",
        ]
        fill = lambda path: issue.prefill(path, waiting)  # noqa: E731 - one use, named for the line below
        with bench_hub(wrapper=wrapper, start_timeout=300, before_start=fill) as (hub, creds):
            assert hub.proc is not None
            pid = str(hub.proc.pid)
            issue.run(hub.url, creds.kiosk, WARMUP, clients)
            subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
            _latencies, errors, _wall = issue.run(hub.url, creds.kiosk, requests, clients)
            subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
            subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
            if errors:
                raise RuntimeError(f"{len(errors)} tickets refused, e.g. {errors[0]}")
            dumps = Path(out).glob(f"cg.{pid}.1-*")  # one per thread: -01 is the main thread
            by_thread = {dump.name.rsplit("-", 1)[1]: totals(dump) for dump in dumps}
            if "01" not in by_thread:
                raise RuntimeError(f"no dump of the main thread in {sorted(by_thread)}")
            return sum(by_thread.values()) / requests, by_thread["01"] / requests


def totals(dump: Path) -> int:
    """The instructions counted in one callgrind dump."""
    found = TOTALS.search(dump.read_text(errors="replace"))
    if found is None:
        raise RuntimeError(f"no totals in {dump}")
    return int(found.group(1))


def cpu_ms_per_ticket(waiting: int, requests: int, clients: int = 1) -> tuple[float, float]:
    """The hub's CPU milliseconds per ticket, all threads and the loop (noisy: see the docstring above)."""
    with bench_hub(before_start=lambda p: issue.prefill(p, waiting)) as (hub, creds):
        assert hub.proc is not None
        issue.run(hub.url, creds.kiosk, WARMUP, clients)
        before, loop_before = cpu_seconds(hub.proc.pid), loop_cpu_seconds(hub.proc.pid)
        _latencies, errors, _wall = issue.run(hub.url, creds.kiosk, requests, clients)
        if errors:
            raise RuntimeError(f"{len(errors)} tickets refused, e.g. {errors[0]}")
        cpu, loop = cpu_seconds(hub.proc.pid) - before, loop_cpu_seconds(hub.proc.pid) - loop_before
        return cpu * 1000 / requests, loop * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--lengths", default="10,1000,10000")
    parser.add_argument("--measure", choices=("instructions", "cpu"), default="instructions")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="clients at once (8: issue.py's crowd, batches included)"
    )
    args = parser.parse_args()
    valgrind = shutil.which("valgrind") and shutil.which("callgrind_control")
    if args.measure == "instructions" and not valgrind:
        parser.error("valgrind is not installed (apt-get install valgrind); or use --measure cpu")
    load = loadavg()
    measure = instructions_per_ticket if args.measure == "instructions" else cpu_ms_per_ticket
    unit = "instructions_per_ticket" if args.measure == "instructions" else "hub_cpu_ms_per_ticket"
    loop_unit = "loop_" + unit if args.measure == "instructions" else "hub_loop_cpu_ms_per_ticket"
    digits = 0 if args.measure == "instructions" else 3
    lengths = [int(n) for n in args.lengths.split(",")]
    costs, loops = [], []
    for waiting in lengths:
        log(f"{waiting} waiting: {args.requests} tickets ({args.measure})")
        cost, loop = measure(waiting, args.requests, args.concurrency)
        costs.append(cost)
        loops.append(loop)
    ratio = round(costs[-1] / costs[0], 3)
    emit(
        {
            "benchmark": "ticket_cost_by_queue_length",
            "measure": args.measure,
            "requests": args.requests,
            "concurrency": args.concurrency,
            # The prefill plus the warm-up tickets were waiting when the measured ones came.
            # The loop's share (the main thread) is what one core caps; the rest is mostly the
            # dispenser's commit thread.
            "by_length": [
                {"waiting_before": n + WARMUP, unit: round(c, digits), loop_unit: round(lc, digits)}
                for n, c, lc in zip(lengths, costs, loops, strict=True)
            ],
            "ratio_longest_to_shortest": ratio,
            "loadavg_1m_before": load,
            "target_ratio": TARGET_RATIO,
            "target_met": ratio <= TARGET_RATIO,
        }
    )


if __name__ == "__main__":
    main()
