"""Alembic environment: the hub runs migrations itself at start-up (see
``server.store.migrate``), handing its connection over in ``config.attributes``."""

from alembic import context
from sqlalchemy import create_engine

from server.store import hall_only
from server.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def run() -> None:
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=metadata, render_as_batch=True, include_name=hall_only
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic needs a database: server.store.alembic_config(url) sets sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(
            connection=conn, target_metadata=metadata, render_as_batch=True, include_name=hall_only
        )
        with context.begin_transaction():
            context.run_migrations()


run()
