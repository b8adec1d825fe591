"""One hall on several hub processes, shared by tests/test_cluster.py and the cluster benchmarks.

Why a module of its own: the test and bench/cluster_*.py start the same thing (a fresh
PostgreSQL database, one Redis channel, N ``python -m server run`` processes with
``[cluster]``), and a bench must not import a test module (pytest and its fixtures).
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support import Credentials, HubProcess, provision, write_site

PG_ADMIN_URL = os.environ.get("QCALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("QCALL_TEST_REDIS", "redis://127.0.0.1:6379/0")


def cluster_site(path: Path, url: str, channel: str, counters: int, cap: int) -> Path:
    """The test site (``counters`` counters, PAY and ASK, ASK capped at ``cap`` a half-day) with [cluster]."""
    write_site(path, url, counters)
    site = path.read_text(encoding="utf-8")
    site = site.replace("[hub]\n", "[hub]\ntrusted_proxies = 1\n", 1)
    site = site.replace("width = 4\n", f"width = 4\nhalf_day_caps = {{ am = {cap}, pm = {cap} }}\n", 1)
    site += f'\n[cluster]\nredis_url = "{REDIS_URL}"\nchannel = "{channel}"\n'
    path.write_text(site, encoding="utf-8")
    return path


@contextmanager
def fresh_database(prefix: str = "qcall_cluster") -> Iterator[str]:
    """A new PostgreSQL database for one run (its SQLAlchemy URL), dropped afterwards."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_hubs(config_path: Path, folder: Path, count: int, timeout: float = 60) -> list[HubProcess]:
    """``count`` processes of one hall (hub-a, hub-b, …), started at once; each answers its health check."""
    env = {"QCALL_SECRET_KEY": secrets.token_hex(16), "QCALL_VAR_DIR": str(folder / "var")}
    hubs = []
    for letter in "abcdefgh"[:count]:
        (folder / letter).mkdir(exist_ok=True)
        hubs.append(
            HubProcess(config_path, folder / letter, env={**env, "QCALL_PROCESS_NAME": f"hub-{letter}"})
        )
    failures: list[BaseException] = []

    def start(hub: HubProcess) -> None:
        try:
            hub.start(timeout)
        except BaseException as exc:  # noqa: BLE001  reported below, after every start has ended
            failures.append(exc)

    starting = [threading.Thread(target=start, args=(hub,)) for hub in hubs]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    if failures:
        for hub in hubs:
            hub.stop()
        raise failures[0]
    return hubs


@dataclass
class BenchCluster:
    url: str
    config_path: Path
    creds: Credentials
    hubs: list[HubProcess]


@contextmanager
def bench_cluster(
    folder: Path,
    processes: int,
    counters: int,
    cap: int,
    before_start: Callable[[str, Path], None] | None = None,
) -> Iterator[BenchCluster]:
    """A fresh database and Redis channel, provisioned, ``processes`` hubs running; all gone afterwards.

    ``before_start(url, config_path)`` runs on the provisioned database before the hubs start
    (e.g. to fill the queue)."""
    with fresh_database("qcall_bench") as url:
        channel = f"qcall-bench-{secrets.token_hex(4)}"
        config_path = cluster_site(folder / "site.toml", url, channel, counters, cap)
        creds = provision(config_path, counters)
        if before_start is not None:
            before_start(url, config_path)
        hubs = start_hubs(config_path, folder, processes)
        try:
            yield BenchCluster(url, config_path, creds, hubs)
        finally:
            for hub in hubs:
                hub.stop()
