"""Every benchmark, one after another, and one line that says whether the hall's targets hold.

Runs each script in ``BENCHMARKS`` as its own process (each starts and stops its
own hub), collects the JSON object each prints, and prints one JSON object:
``{"loadavg_1m_before", "results": {name: result}, "targets": {name: target_met},
"target_met": all of them}``. Run it on a quiet machine, three times, and report
the median of each figure with the load average (bench/README.md).

    .venv/bin/python bench/all.py [--only issue,fanout]

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
}


def run(name: str, argv: list[str]) -> dict[str, object]:
    log(f"== {name}: {' '.join(argv)}")
    began = time.monotonic()
    done = subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
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
    parser.add_argument("--only", help="comma-separated names out of: " + ", ".join(BENCHMARKS))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; one of {', '.join(BENCHMARKS)}")
    load = loadavg()
    results = {name: run(name, BENCHMARKS[name]) for name in names}
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
