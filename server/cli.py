"""The command line of the hub (see ``python -m server --help``)."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .config import ConfigError, SiteConfig, load_config
from .core.calendar import utc_now
from .core.errors import QueueError
from .settings import EDITABLE, InvalidSettings, SettingInUse
from .startup import StartupError
from .store.accounts import DEVICE_ROLES, USER_ROLES, AccountConflict, AccountError, Accounts, Actor

#: How the audit log names changes made at the command line.
CLI_ACTOR = Actor("cli", "local")

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
    run.add_argument("--name", help="this process's name in a [cluster] (default: $QCALL_PROCESS_NAME)")

    demo = commands.add_parser("demo", help="the utility-hall sample on SQLite, with demo logins and tokens")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=5000)

    token = commands.add_parser("token", help="device tokens")
    token_cmd = token.add_subparsers(dest="token_command", required=True)
    create = token_cmd.add_parser("create", help="print a new device token")
    create.add_argument("--role", required=True, choices=DEVICE_ROLES)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--replace",
        action="store_true",
        help="revoke the live token of this name in the same step (a name has one live token)",
    )
    token_cmd.add_parser(
        "list", help="every device token: id, name, role, created, revoked (never the token)"
    )
    revoke = token_cmd.add_parser("revoke", help="revoke a token by its id (from 'token list') or name")
    revoke.add_argument("token", metavar="ID_OR_NAME")

    user = commands.add_parser("user", help="staff and admin users")
    user_cmd = user.add_subparsers(dest="user_command", required=True)
    add = user_cmd.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=USER_ROLES)
    add.add_argument(
        "--display-name", help="what the public sees of the user (e.g. '张伟 主任医师'), up to 40 characters"
    )
    user_cmd.add_parser("list", help="every user: name, role, enabled or disabled")
    for name, what in (
        ("disable", "disable a user: their sessions end and they cannot log in"),
        ("enable", "enable a disabled user again"),
        ("password", "set a user's password (read from stdin); their sessions end"),
    ):
        user_cmd.add_parser(name, help=what).add_argument("name")

    appointments = commands.add_parser("appointments", help="bookings (预约)")
    appointments_cmd = appointments.add_subparsers(dest="appointments_command", required=True)
    imported = appointments_cmd.add_parser(
        "import",
        help="import a booking system's CSV (code, service, date, start, phone, name): all or nothing",
    )
    imported.add_argument("file", help="the CSV file (UTF-8, with or without BOM); '-' reads stdin")
    appointments_cmd.add_parser(
        "sweep", help="mark bookings past their late window no_show and erase names past their retention"
    )
    settings = commands.add_parser("settings", help="the sections saved from the admin page, and the file's")
    settings_cmd = settings.add_subparsers(dest="settings_command", required=True)
    exported = settings_cmd.add_parser(
        "export", help="print the effective config (the file with the saved sections over it) as TOML"
    )
    exported.add_argument(
        "--config", dest="sub_config", help="site TOML file (as the option before 'settings')"
    )
    taken = settings_cmd.add_parser(
        "import",
        help="replace the saved sections with FILE's (checked first, audited as cli, all or nothing)",
    )
    taken.add_argument("file", help="a site TOML file (an export, or the installer's file)")
    taken.add_argument(
        "--section",
        action="append",
        choices=EDITABLE,
        help="only this section (repeat for more); default: every editable section",
    )
    taken.add_argument("--config", dest="sub_config", help="site TOML file (as --config before settings)")
    from .central.cli import add_commands

    add_commands(commands)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Our own loggers speak at INFO; libraries (python-escpos logs every connection to root) only warn.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("server", "drivers"):
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        if args.command == "demo":
            from .demo.main import run_demo

            return run_demo(args.host, args.port)
        if args.command == "central":  # the company's service: no site file, a store of its own
            from .central.cli import central_command

            return central_command(args)
        chosen = getattr(args, "sub_config", None) or args.config
        if getattr(args, "name", None) and args.command == "run":
            os.environ["QCALL_PROCESS_NAME"] = args.name  # read with the config's [cluster]
        config = load_config(chosen or os.environ.get("QCALL_CONFIG") or DEFAULT_CONFIG)
        if args.command == "run":
            from .serve import serve

            return serve(config, args.host or config.hub.host, args.port or config.hub.port)
        if args.command == "token":
            return token_command(args, config)
        if args.command == "user":
            return user_command(args, config)
        if args.command == "appointments":
            return appointments_command(args, config)
        if args.command == "settings":
            return settings_command(args, config)
    except (ConfigError, AccountError, StartupError, QueueError, SettingsRefused) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 2


def token_command(args: argparse.Namespace, config: SiteConfig) -> int:
    """``token create|list|revoke``; every change is audited with the actor "cli"."""
    from .bootstrap import bootstrap

    hub = bootstrap(config)  # devices off: a running hub's printers and ports stay its own
    try:
        return _token_command(args, hub.accounts)
    finally:
        hub.close()


def _token_command(args: argparse.Namespace, accounts: Accounts) -> int:
    if args.token_command == "create":
        try:
            issued = accounts.issue_device_token(
                args.role, args.name, utc_now(), CLI_ACTOR, replace=args.replace
            )
        except AccountConflict as exc:
            # The store's sentence points the admin page's user at its Rotate button; the CLI has none.
            said = str(exc).replace("; rotate it to replace it", "")
            raise AccountConflict(
                f"{said}: give --replace to revoke it and make a new one, or revoke it first (token revoke)"
            ) from None
        for old in issued.replaced:
            print(f"revoked token {old.id} ({old.name}, {old.role})", file=sys.stderr)
        print(issued.token)
    elif args.token_command == "list":
        rows = [
            (t.id, t.name, t.role, _when(t.created_at), _when(t.revoked_at) if t.revoked_at else "-")
            for t in accounts.list_tokens()
        ]
        print_table(("id", "name", "role", "created", "revoked"), rows)
    elif args.token_command == "revoke":
        token = accounts.revoke_token(args.token, utc_now(), CLI_ACTOR)
        print(f"revoked token {token.id} ({token.name}, {token.role})")
    return 0


def user_command(args: argparse.Namespace, config: SiteConfig) -> int:
    """``user add|list|disable|enable|password``; every change is audited with the actor "cli"."""
    from .bootstrap import bootstrap

    hub = bootstrap(config)  # devices off, as for tokens
    try:
        return _user_command(args, hub.accounts)
    finally:
        hub.close()


def _user_command(args: argparse.Namespace, accounts: Accounts) -> int:
    if args.user_command == "add":
        accounts.add_user(
            args.name, args.role, read_password(), utc_now(), CLI_ACTOR, display_name=args.display_name
        )
        print(f"user {args.name} added ({args.role})")
    elif args.user_command == "list":
        rows = [
            (
                u.username,
                u.role,
                "enabled" if u.active else "disabled",
                _when(u.created_at),
                u.display_name or "",
            )
            for u in accounts.list_users()
        ]
        print_table(("name", "role", "state", "created", "display name"), rows)
    elif args.user_command in ("disable", "enable"):
        done = accounts.set_active(args.name, args.user_command == "enable", utc_now(), CLI_ACTOR)
        ended = f"; {len(done.ended)} session(s) ended" if done.ended else ""
        print(f"user {args.name} {args.user_command}d{ended}")
    elif args.user_command == "password":
        done = accounts.set_password(args.name, read_password(), utc_now(), CLI_ACTOR)
        print(f"password of {args.name} changed; {len(done.ended)} session(s) ended")
    return 0


def appointments_command(args: argparse.Namespace, config: SiteConfig) -> int:
    """``appointments import FILE`` (audited as the actor "cli") and ``appointments sweep``."""
    from .bootstrap import bootstrap
    from .core.appointments import Actor as BookingActor
    from .core.appointments import ImportRefused, parse_csv

    hub = bootstrap(config)  # devices off
    try:
        book = hub.appointments
        if args.appointments_command == "import":
            try:
                text = (
                    sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8-sig")
                )
            except (OSError, UnicodeDecodeError) as exc:
                print(f"error: {args.file}: cannot read the CSV ({exc})", file=sys.stderr)
                return 2
            try:
                made = book.book(
                    parse_csv(text, book.bookable), BookingActor(CLI_ACTOR.name, CLI_ACTOR.address)
                )
            except ImportRefused as exc:
                print(f"error: {args.file}: {exc.message_en}", file=sys.stderr)
                for line in exc.lines:
                    print(f"  {line}", file=sys.stderr)
                return 2
            print(f"imported {len(made)} appointment(s)")
            for appointment in made:
                print(f"{appointment.code}  {appointment.business_day}  {appointment.service}")
        elif args.appointments_command == "sweep":
            print(f"{book.sweep()} booking(s) marked no_show; {book.erase_names()} name(s) erased")
        return 0
    finally:
        hub.close()


def settings_command(args: argparse.Namespace, config: SiteConfig) -> int:
    """``settings export`` (the effective config as TOML on stdout) and ``settings import FILE``.

    Import is explicit and whole: the file's sections are checked over the
    effective config and saved together (each audited ``settings.<section>``
    by cli), or none is. A running hub notices them through the audit log and applies them.
    """
    import tomli_w

    from .settings import HallSettings, overlay, section_value
    from .store import open_store
    from .store.settings import SettingsStore

    store = open_store(config.hub.database_url)
    try:
        settings = HallSettings(config, SettingsStore(store.engine))
        current = settings.effective()
        if args.settings_command == "export":
            # Laid over itself, so an export reads the same whether or not sections were saved.
            data = overlay(current, {}).model_dump(mode="python", exclude_none=True)
            for left_out in without_secrets(data):
                print(
                    f"settings export: {left_out} left out (a secret: keep it in the site file)",
                    file=sys.stderr,
                )
            sys.stdout.write(tomli_w.dumps(data))
            return 0
        source = load_config(args.file)
        names = list(dict.fromkeys(args.section or EDITABLE))
        now = utc_now()
        day = current.hall().calendar.business_day(now)
        sections = {name: section_value(source, name) for name in names}
        # A section as the hall has it already is not saved again: no new version, no audit entry that
        # says nothing changed (importing last month's export to check it is a no-op).
        same = [name for name, value in sections.items() if value == section_value(current, name)]
        for name in same:
            del sections[name]
            print(f"settings {name}: unchanged")
        if not sections:
            print(f"settings import: nothing to import, {args.file} is what the hall has")
            return 0
        try:
            _, saved = settings.save(current, sections, CLI_ACTOR, now, day)
        except InvalidSettings as exc:
            lines = "; ".join(f"{p.field}: {p.en}" for p in exc.problems)
            raise SettingsRefused(f"{args.file}: nothing was imported: {lines}") from None
        except SettingInUse as exc:
            raise SettingsRefused(f"{args.file}: nothing was imported: {exc.field}: {exc}") from None
        for section in saved:
            print(f"settings {section.section}: imported from {args.file} (version {section.version})")
        print("a running hub applies them within seconds (every screen redraws)")
        return 0
    finally:
        store.engine.dispose()


def without_secrets(data: dict[str, Any]) -> list[str]:
    """Take the secrets out of an exported config; the keys left out.

    An export is meant to be passed around (to a colleague, into a ticket, to the
    next hall): the hall's token at the central service and a database password
    must not travel with it. Import never reads those sections anyway.
    """
    left_out = []
    central = data.get("central")
    if isinstance(central, dict) and central.pop("token", None) is not None:
        left_out.append("central.token")
    hub = data.get("hub")
    url = hub.get("database_url") if isinstance(hub, dict) else None
    if (
        isinstance(hub, dict)
        and isinstance(url, str)
        and "@" in url
        and ":" in url.split("//", 1)[-1].split("@", 1)[0]
    ):
        scheme, rest = url.split("//", 1)
        user = rest.split("@", 1)[0].split(":", 1)[0]
        hub["database_url"] = f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
        left_out.append("hub.database_url's password")
    return left_out


class SettingsRefused(Exception):
    """An import the site's rules or today's queue refuse; the message is one line."""


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def read_password() -> str:
    """One line from stdin (scripts), or asked twice at a terminal."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first
