"""The central store's migrations: its own Alembic history, run by the central service at every start.

The hall's store has had migrations from its first day; the central store was
made by ``metadata.create_all`` until this history came, and ``create_all``
only adds missing tables: a later version's new column would silently not be
there. Now every start brings the central database to the newest revision.

- **Its own history**: ``server/central/migrations`` (revisions ``central_0001``
  …), kept in ``alembic_version_central``, comparing only ``central_*`` tables.
  A central store sharing a PostgreSQL server, or even a database, with a hall
  never mixes the two: the hall's migrations keep ``alembic_version``.
- **A database made before** (the ``central_*`` tables there, no version table)
  is recognised and stamped ``central_0001`` — exactly what ``create_all``
  made — then upgraded like any other: its rows are kept, nothing re-created.
- **Two starts at once** (the service and a CLI command, on PostgreSQL) take a
  transaction-level advisory lock first, so one migrates and the other then
  finds the database at the newest revision.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from ..store import alembic_config as store_alembic_config
from ..store import at_revision, newest_revision

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
VERSIONS = MIGRATIONS / "versions"
#: Alembic's table of the central history (a hall's is ``alembic_version``).
VERSION_TABLE = "alembic_version_central"
#: The first revision: the schema ``create_all`` made before there were migrations.
FIRST_REVISION = "central_0001"
#: The tables ``central_0001`` makes (never ``metadata``'s: later revisions may add tables).
FIRST_TABLES = frozenset(
    {
        "central_audit_log",
        "central_cursors",
        "central_halls",
        "central_post_events",
        "central_template_results",
        "central_templates",
        "central_ticket_events",
        "central_ticket_legs",
        "central_tickets",
        "central_tokens",
    }
)
#: ``pg_advisory_xact_lock`` key of the central migrations ("qcc"): starts at once wait for each other.
LOCK_KEY = 0x716363
log = logging.getLogger(__name__)


class CentralSchemaError(Exception):
    """The central database is in a state no revision describes: one line saying what is there."""


def only_central(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: the central history looks at ``central_*`` tables only (a hall's
    tables in a shared database are neither compared nor touched)."""
    return type_ != "table" or (name or "").startswith("central_")


def alembic_config(url: str | None = None) -> Config:
    """Alembic's config for the central migrations (no alembic.ini needed)."""
    return store_alembic_config(url, MIGRATIONS)


def current_revision(engine: Engine) -> list[str]:
    """The central revision(s) the database says it is at; none for a new (or a pre-migration) one."""
    return at_revision(engine, VERSION_TABLE)


def made_by_create_all(conn: Connection) -> bool:
    """Whether this is a central database made before migrations: its tables there, no version table.

    Only part of ``central_0001``'s tables without a version table is no state a finished start
    ever left (``create_all`` made every missing one): refused rather than guessed at, naming what
    is missing.
    """
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables:
        return False
    present = FIRST_TABLES & tables
    if not present:
        return False
    if present != FIRST_TABLES:
        raise CentralSchemaError(
            f"the central store has {len(present)} of the central tables but not "
            f"{', '.join(sorted(FIRST_TABLES - present))}, and no {VERSION_TABLE}: not a database the "
            "central service made; restore it from a backup or start on an empty database"
        )
    return True


def migrate(engine: Engine) -> None:
    """Bring the central database to the newest revision; safe (and cheap) at every start.

    At the newest revision already, one SELECT and no alembic import (as the hub's
    ``server.store.migrate``). Otherwise, in one transaction: the advisory lock on
    PostgreSQL, a pre-migration database stamped ``central_0001``, then ``upgrade head``.
    """
    head = newest_revision(VERSIONS)
    if head is not None and current_revision(engine) == [head]:
        return
    from alembic import command
    from alembic.util import CommandError

    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        cfg.attributes["connection"] = conn
        try:
            if made_by_create_all(conn):
                log.info("central store: tables made before migrations, stamped %s", FIRST_REVISION)
                command.stamp(cfg, FIRST_REVISION)
            command.upgrade(cfg, "head")
        except CommandError as exc:  # a revision this version does not know: a newer qcall's database
            raise CentralSchemaError(
                f"the central store's migrations cannot run ({exc}); was it upgraded by a newer qcall?"
            ) from None
