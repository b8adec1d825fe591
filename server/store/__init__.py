"""The store: tables, migrations and the SQL implementation of the core's store port."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from .sql import SqlStore, make_engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | None = None) -> Config:
    """Alembic's config, pointing at this package's migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema; safe to run at every start."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(url: str) -> SqlStore:
    """An engine for ``url``, migrated, wrapped as the core's store."""
    engine = make_engine(url)
    migrate(engine)
    return SqlStore(engine)


__all__ = ["SqlStore", "alembic_config", "make_engine", "migrate", "open_store"]
