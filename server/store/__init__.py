"""The store: tables, migrations and the SQL implementation of the core's store port."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, String, column, inspect, select, table

from .sql import SqlStore, make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
#: ``revision = "0020"`` / ``down_revision = "0019"`` (or ``None``) at the start of a line of a migration.
_REVISION = re.compile(
    r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:['"]([^'"]+)['"]|(None))\s*$""", re.MULTILINE
)


def alembic_config(url: str | None = None, migrations: Path = MIGRATIONS) -> Config:
    """Alembic's config, pointing at this package's migrations, or another history's (the central
    store's); no alembic.ini needed."""
    from alembic.config import Config  # alembic only when a migration may run: see migrate()

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


#: Tables of a central store (``server/central``) that may share a database with a hall: its own tables
#: and its Alembic version table. The hall's history leaves them alone.
CENTRAL_PREFIXES = ("central_", "alembic_version_central")


def hall_only(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` for the hall's history: a central store's tables in a shared database
    are neither compared nor touched (autogenerate would otherwise propose dropping them)."""
    return type_ != "table" or not (name or "").startswith(CENTRAL_PREFIXES)


def newest_revision(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The one head of the migrations in ``versions`` (the hall's unless told), read from their files'
    ``revision`` / ``down_revision`` lines (the central store's migrations are read the same way).

    ``None`` when the files say anything less plain (a merge, a branch, a line
    this does not read): the caller then asks alembic, which knows every form.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        found = {m.group(1): m.group(2) for m in _REVISION.finditer(path.read_text(encoding="utf-8"))}
        if "revision" not in found or "down_revision" not in found or found["revision"] is None:
            return None
        revisions.add(found["revision"])
        if found["down_revision"] is not None:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def at_revision(engine: Engine, version_table: str = "alembic_version") -> list[str]:
    """The revision(s) the database says it is at (alembic's own table, ``version_table``: the central
    store keeps its own beside a hall's); none for a new database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(version_table):
            return []
        version_num = column("version_num", String)
        return [str(v) for v in conn.execute(select(version_num).select_from(table(version_table))).scalars()]


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema; safe to run at every start.

    A database already at the newest revision (every start but the first after
    an upgrade) is left without loading alembic: alembic and what it imports
    (Mako, Pygments where installed, every dialect's DDL) are ~10 MB of the
    hub's memory for a check that one SELECT makes.
    """
    head = newest_revision()
    if head is not None and at_revision(engine) == [head]:
        return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(url: str) -> SqlStore:
    """An engine for ``url``, migrated, wrapped as the core's store."""
    engine = make_engine(url)
    migrate(engine)
    return SqlStore(engine)


__all__ = [
    "SqlStore",
    "alembic_config",
    "at_revision",
    "make_engine",
    "migrate",
    "newest_revision",
    "open_store",
]
