"""``python -m server central …``: run the central service, register halls, make its tokens.

The central store is named by ``--database-url`` or ``QCALL_CENTRAL_DATABASE_URL``
(a PostgreSQL URL such as ``postgresql+psycopg://qcall@db/central``). Every command
first brings it to the newest central revision (``server.central.migrate``): the
first use builds it, a first start after an upgrade migrates it. Every change
made here is audited with the actor ``cli``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from sqlalchemy.exc import SQLAlchemyError

from ..core.calendar import utc_now
from ..store.sql import make_engine
from .migrate import CentralSchemaError, migrate
from .store import ROLES, CentralStore, Refused, Who

CLI = Who("cli", "local")
log = logging.getLogger(__name__)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    central = commands.add_parser("central", help="the company's central service (many halls' view)")
    central.add_argument("--database-url", help="the central store (default: $QCALL_CENTRAL_DATABASE_URL)")
    sub = central.add_subparsers(dest="central_command", required=True)
    run = sub.add_parser("run", help="serve the central service")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=5100)
    token = sub.add_parser("token", help="print a new central token (admin: changes; viewer: reads)")
    token.add_argument("--role", choices=ROLES)
    token.add_argument("--name", required=True)
    token.add_argument("--revoke", action="store_true", help="revoke the live tokens of this name instead")
    hall = sub.add_parser("hall", help="halls")
    hall_cmd = hall.add_subparsers(dest="hall_command", required=True)
    add = hall_cmd.add_parser("add", help="register a hall; prints its token for the hall's [central] token")
    add.add_argument("hall")
    add.add_argument("--region", default="default")
    hall_cmd.add_parser("list", help="every hall: id, region, last heard from")


class CentralConfigError(Exception):
    """The central service cannot start: one line saying what to set."""


def open_central(url: str | None) -> CentralStore:
    """The central store at ``url`` (or the environment's), migrated to the newest revision."""
    url = url or os.environ.get("QCALL_CENTRAL_DATABASE_URL")
    if not url:
        raise CentralConfigError(
            "central: --database-url (or QCALL_CENTRAL_DATABASE_URL) is required; expected a PostgreSQL URL "
            "such as postgresql+psycopg://qcall@127.0.0.1/central"
        )
    try:
        engine = make_engine(url)
        migrate(engine)
    except (SQLAlchemyError, ValueError, CentralSchemaError) as exc:
        raise CentralConfigError(f"central: cannot open the central store at {url!r}: {exc}") from None
    return CentralStore(engine)


def central_command(args: argparse.Namespace) -> int:
    try:
        store = open_central(args.database_url)
        if args.central_command == "run":
            return serve(store, args.host, args.port)
        if args.central_command == "token" and args.revoke:
            print(f"revoked {store.revoke_token(args.name, CLI, utc_now())}")
            return 0
        if args.central_command == "token":
            if args.role is None:
                raise CentralConfigError("central token: --role is required; expected admin or viewer")
            print(store.create_token(args.role, args.name, CLI, utc_now()))
            return 0
        if args.hall_command == "add":
            print(store.add_hall(args.hall, args.region, CLI, utc_now()))
            return 0
        for hall in store.halls():
            seen = hall["last_seen_at"].isoformat() if hall["last_seen_at"] else "never"
            print(f"{hall['hall_id']}\t{hall['region']}\t{seen}")
        return 0
    except (CentralConfigError, Refused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def serve(store: CentralStore, host: str, port: int) -> int:
    """Serve on gevent until SIGTERM or SIGINT."""
    import gevent
    from gevent.pywsgi import WSGIServer

    from .app import create_central_app

    server = WSGIServer((host, port), create_central_app(store), log=None)
    try:
        server.init_socket()
    except OSError as exc:
        raise CentralConfigError(f"central: cannot listen on {host}:{port}: {exc.strerror}") from None
    gevent.signal_handler(signal.SIGTERM, server.stop)
    gevent.signal_handler(signal.SIGINT, server.stop)
    log.info("qcall central service on http://%s:%s/central/", host, port)
    server.serve_forever()
    store.engine.dispose()
    return 0
