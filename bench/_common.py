"""What the benchmarks share: a throw-away site, a real hub process, percentiles, RSS.

The hub under measurement is the same ``python -m server run`` gevent process the
integration tests start (``tests.support.HubProcess``), on SQLite in WAL mode with
``synchronous=FULL`` as configured, so the figures are those of a hall's hub.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as ``python bench/x.py`` as well as ``python -m bench.x``
    sys.path.insert(0, str(ROOT))

from tests.support import Credentials, HubProcess, provision, write_site  # noqa: E402


def log(message: str) -> None:
    """Progress goes to stderr: stdout carries exactly one JSON object."""
    print(message, file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, ensure_ascii=False), flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def raise_nofile(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted`` (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def loadavg() -> float:
    """The machine's 1-minute load average: other work on the 2 cores skews every figure."""
    return round(os.getloadavg()[0], 2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    return cpu_seconds_of(Path(f"/proc/{pid}/stat"))


def loop_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process's main thread: the hub's gevent loop, where requests run.

    The rest of the process's CPU is native threads (the dispenser's commits, device I/O);
    the loop is the part that one core caps.
    """
    return cpu_seconds_of(Path(f"/proc/{pid}/task/{pid}/stat"))


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@contextmanager
def bench_hub(
    counters: int = 2,
    workdir: str | None = None,
    before_start: Callable[[Path], None] | None = None,
    wrapper: Sequence[str] = (),
    start_timeout: float = 30,
) -> Iterator[tuple[HubProcess, Credentials]]:
    """A fresh site and database in a temporary folder, provisioned, its hub running.

    ``before_start(config_path)`` runs on the provisioned database before the hub
    starts (e.g. to fill the queue).
    """
    with tempfile.TemporaryDirectory(prefix="qcall-bench-", dir=workdir) as tmp:
        folder = Path(tmp)
        config = write_site(folder / "site.toml", f"sqlite:///{folder / 'qcall.db'}", counters=counters)
        creds = provision(config, counters)
        if before_start is not None:
            before_start(config)
        hub = HubProcess(config, folder, wrapper)
        hub.start(start_timeout)
        try:
            yield hub, creds
        finally:
            hub.stop()
            if os.environ.get("QCALL_BENCH_KEEP_LOG"):
                log(hub.log())


def start_profiler(pid: int, path: str, idle: bool = False) -> subprocess.Popen[bytes]:
    """py-spy sampling the hub (folded stacks: grep them or feed them to a flame graph).

    Stop it with SIGINT to have it write ``path``. py-spy must be installed in the venv.
    """
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "-p", str(pid), "-o", path, "-f", "raw", "-r", "250", "--nonblocking"]
    if idle:
        command.append("--idle")
    proc = subprocess.Popen(command, stdout=sys.stderr, stderr=sys.stderr)
    time.sleep(1)  # let it attach
    return proc


def timed(work: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Run ``work`` ``repeat`` times: the median and the longest wall time, the median CPU time (ms)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    return {
        "wall_ms_median": round(statistics.median(walls)),
        "wall_ms_max": round(max(walls)),
        "cpu_ms_median": round(statistics.median(cpus)),
    }
