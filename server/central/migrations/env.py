"""Alembic environment of the central store: its own history, apart from a hall's.

The central service runs these itself at start (``server.central.migrate``),
handing its connection over in ``config.attributes``. The revisions are kept in
``alembic_version_central`` and only the ``central_*`` tables are compared, so
a central store that shares a PostgreSQL server, or a database, with a hall
never mixes the two histories: the hall's migrations keep ``alembic_version``.
"""

from alembic import context
from sqlalchemy import Connection, create_engine

from server.central.migrate import VERSION_TABLE, only_central
from server.central.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def run_on(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        render_as_batch=True,
        version_table=VERSION_TABLE,
        include_name=only_central,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic needs a database: server.central.migrate.alembic_config(url) sets it")
    with create_engine(url).begin() as conn:
        run_on(conn)


run()
