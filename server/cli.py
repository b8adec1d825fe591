"""The command line of the hub (see ``python -m server --help``)."""

from __future__ import annotations

import argparse
import gc
import getpass
import logging
import os
import sys
from pathlib import Path

from .config import ConfigError, SiteConfig, load_config
from .core.calendar import utc_now
from .startup import StartupError
from .store.accounts import DEVICE_ROLES, USER_ROLES, AccountError

DEFAULT_CONFIG = "config/default.toml"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m server", description="qcall hub: the queue of a service hall"
    )
    top.add_argument("--config", help=f"site TOML file (default: $QCALL_CONFIG or {DEFAULT_CONFIG})")
    commands = top.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="serve the hub")
    run.add_argument("--host")
    run.add_argument("--port", type=int)

    demo = commands.add_parser("demo", help="the utility-hall sample on SQLite, with demo logins and tokens")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=5000)

    token = commands.add_parser("token", help="device tokens")
    token_cmd = token.add_subparsers(dest="token_command", required=True)
    create = token_cmd.add_parser("create", help="print a new device token")
    create.add_argument("--role", required=True, choices=DEVICE_ROLES)
    create.add_argument("--name", required=True)

    user = commands.add_parser("user", help="staff and admin users")
    user_cmd = user.add_subparsers(dest="user_command", required=True)
    add = user_cmd.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=USER_ROLES)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Our own loggers speak at INFO; libraries (python-escpos logs every connection to root) only warn.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("server", "drivers"):
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(args.host, args.port)
        config = load_config(args.config or os.environ.get("QCALL_CONFIG") or DEFAULT_CONFIG)
        if args.command == "run":
            return serve(config, args.host or config.hub.host, args.port or config.hub.port)
        if args.command == "token":
            print(make_hub(config).accounts.create_device_token(args.role, args.name, utc_now()))
            return 0
        if args.command == "user":
            make_hub(config).accounts.add_user(args.name, args.role, read_password(), utc_now())
            print(f"user {args.name} added ({args.role})")
            return 0
    except (ConfigError, AccountError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


def make_hub(config: SiteConfig):
    from .hub import build_hub

    return build_hub(config)


def read_password() -> str:
    """One line from stdin (scripts), or asked twice at a terminal."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def serve(config: SiteConfig, host: str, port: int, banner: str = "") -> int:
    """Serve until stopped, on gevent, after the checks that make a failed start one line.

    The order matters: the var dir and the database lock come first (a second
    hub is named as such, not as "port in use"), then the port (before any
    device is opened), then the store, which must take a real write.
    """
    from .app import create_app, var_dir
    from .startup import check_port, check_store, check_var_dir, hold_database, store_errors

    url = config.hub.database_url
    check_var_dir(var_dir())
    lock = hold_database(url)
    check_port(host, port)
    with store_errors(url):
        app = create_app(config)
        health = app.extensions["qcall"].store_health
        health.guard = lock.keep
        check_store(health, url)
    socketio = app.extensions["socketio"]
    # What the imports built lives as long as the hub; a full collection walking it
    # (~100k objects, tens of ms) stalls every request and screen. Hide it from the GC.
    gc.collect()
    gc.freeze()
    print(banner or f"qcall hub for {config.site.name_en} on http://{host}:{port}/", flush=True)
    socketio.run(app, host=host, port=port, log_output=False, handler_class=no_delay_handler())
    return 0


def no_delay_handler() -> type:
    """gevent's WSGI handler with Nagle's algorithm off, closing a finished WebSocket.

    pywsgi writes a response's headers and body in two sends, and a screen's
    socket gets events back to back (``ticket_changed`` then ``ticket_called``);
    with Nagle on, the second send waits for the peer's delayed ACK, 40 ms on
    Linux, on every keep-alive request after the first (see bench/README.md).
    """
    import contextlib
    import socket

    from gevent import pywsgi

    class NoDelayHandler(pywsgi.WSGIHandler):
        def handle(self) -> None:
            with contextlib.suppress(OSError):  # not a TCP socket
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

        def run_application(self) -> None:
            super().run_application()
            # A WebSocket owns the connection until it ends: then close it, instead of
            # reading the client's closing frame as the next HTTP request.
            if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
                self.close_connection = True

    return NoDelayHandler


def repo_path(relative: str) -> Path:
    return Path(__file__).resolve().parents[1] / relative
