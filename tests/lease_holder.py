"""A hub process that drives devices and serves nothing: ``python -m tests.lease_holder SITE.toml``.

The lease tests start two or three of these on one PostgreSQL database, as the
processes of one hall, and kill one with SIGKILL. Each builds its hub through
the composition root with its devices on (``bootstrap(devices=True)``): the
same lease keeper and printing service as ``python -m server run``, without
the web server (two ``run`` processes on one database are the cluster's part of
issue 15). It prints ``holder <name>`` once its first lease round is over and
runs until stdin closes or it is killed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from server.bootstrap import bootstrap
from server.config import load_config


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    hub = bootstrap(load_config(Path(sys.argv[1])), devices=True)
    print(f"holder {hub.leases.holder}", flush=True)
    try:
        sys.stdin.read()  # the test closes stdin for a clean stop
    finally:
        hub.close()


if __name__ == "__main__":
    main()
