"""The commit thread's cost of one batch: the dispenser's writer, in-process, counted in instructions.

At eight clients a batch's statements and commit sit on the serial path of every
commit cycle (bench/README.md, "What bounds the rate"), so their cost is measured
alone: a provisioned SQLite site (WAL, ``synchronous=FULL``), the dispenser's own
writer core, ``--batches`` (200) batches of ``--size`` (4) tickets alternating
the site's two services, after 50 unmeasured ones. No HTTP, no loop, no timers:
run under callgrind (the script re-runs itself under valgrind and switches the
count on for the measured batches only) two runs agree within ~0.1 %.
``--measure cpu`` gives the thread's CPU milliseconds per batch instead (noisy).

    .venv/bin/python bench/commit_cost.py [--batches 200] [--size 4] [--measure instructions|cpu]

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, emit, loadavg, log

WARMUP = 50
COLLECTED = re.compile(r"Collected : (\d+)")


def commit_batches(batches: int, size: int, count_instructions: bool) -> float:
    """Commit ``batches`` batches through the dispenser's writer; the thread's CPU seconds they took."""
    from server.bootstrap import bootstrap
    from server.config import load_config
    from server.core.queue import IssueRequest
    from tests.support import provision, write_site

    with tempfile.TemporaryDirectory(prefix="qcall-commit-") as tmp:
        config = write_site(Path(tmp) / "site.toml", f"sqlite:///{Path(tmp) / 'qcall.db'}")
        provision(config, 2)
        hub = bootstrap(load_config(config))
        writer = hub.dispenser.writer
        batch = [IssueRequest(("PAY", "ASK")[i % 2]) for i in range(size)]
        for _ in range(WARMUP):
            writer.commit_issues(batch)
        if count_instructions:
            callgrind("on")
        cpu = time.thread_time()
        for _ in range(batches):
            writer.commit_issues(batch)
        cpu = time.thread_time() - cpu
        if count_instructions:
            callgrind("off")
        hub.dispenser.close()
        hub.store.engine.dispose()
        return cpu


def callgrind(switch: str) -> None:
    """Switch callgrind's counting of this process on or off."""
    subprocess.run(["callgrind_control", "-i", switch, str(os.getpid())], check=True, capture_output=True)


def instructions_per_batch(batches: int, size: int) -> float:
    """This script again under callgrind, counting the measured batches only."""
    with tempfile.TemporaryDirectory(prefix="qcall-callgrind-") as out:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}/cg.%p",
            sys.executable,
            __file__,
            "--inside-valgrind",
            f"--batches={batches}",
            f"--size={size}",
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        counted = COLLECTED.search(done.stderr)
        if counted is None:
            raise RuntimeError(f"no instruction count in valgrind's output: {done.stderr[-500:]}")
        return int(counted.group(1)) / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--size", type=int, default=4)
    parser.add_argument("--measure", choices=("instructions", "cpu"), default="instructions")
    parser.add_argument("--inside-valgrind", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside_valgrind:
        commit_batches(args.batches, args.size, count_instructions=True)
        return
    valgrind = shutil.which("valgrind") and shutil.which("callgrind_control")
    if args.measure == "instructions" and not valgrind:
        parser.error("valgrind is not installed (apt-get install valgrind); or use --measure cpu")
    load = loadavg()
    log(f"{args.batches} batches of {args.size} tickets ({args.measure})")
    if args.measure == "instructions":
        result = {"instructions_per_batch": round(instructions_per_batch(args.batches, args.size))}
    else:
        cpu = commit_batches(args.batches, args.size, count_instructions=False)
        result = {"thread_cpu_ms_per_batch": round(cpu * 1000 / args.batches, 3)}
    emit(
        {
            "benchmark": "commit_cost",
            "measure": args.measure,
            "batches": args.batches,
            "tickets_per_batch": args.size,
            **result,
            "loadavg_1m_before": load,
        }
    )


if __name__ == "__main__":
    main()
