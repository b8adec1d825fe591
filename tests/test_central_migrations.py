"""The central store's own migrations (server/central/migrations), on SQLite and PostgreSQL.

The migrated schema is exactly ``server.central.schema.metadata`` (Alembic's
``compare_metadata`` finds nothing: a central table or a copied hall column
changed without a central revision fails here); a database made by the old
``create_all`` start is stamped at the first revision with its rows kept, by the
command line an installer runs; a central store and a hall in one database keep
two histories; starts at once on PostgreSQL do not trip over each other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, select, text

from server.central import schema as central
from server.central.cli import CentralConfigError, open_central
from server.central.migrate import (
    FIRST_REVISION,
    FIRST_TABLES,
    VERSION_TABLE,
    VERSIONS,
    alembic_config,
    current_revision,
    migrate,
    only_central,
)
from server.central.store import CentralStore, Who
from server.core.calendar import utc_now
from server.store import alembic_config as hall_alembic_config
from server.store import at_revision, hall_only, make_engine, newest_revision
from server.store import migrate as migrate_hall
from server.store.schema import metadata as hall_metadata

ROOT = Path(__file__).resolve().parent.parent
ADMIN = Who("test", "local")
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def differences(conn: Connection) -> list[object]:
    """What Alembic finds between the database's central tables and ``metadata`` (nothing, we hope)."""
    context = MigrationContext.configure(
        conn, opts={"version_table": VERSION_TABLE, "include_name": only_central}
    )
    return list(compare_metadata(context, central.metadata))


def central_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m server central --database-url URL …`` as an installer types it."""
    return subprocess.run(
        [sys.executable, "-m", "server", "central", "--database-url", url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QCALL_CENTRAL_DATABASE_URL": ""},
    )


def test_the_newest_revision_read_from_the_files_is_alembics_head() -> None:
    """The start's fast path (no alembic import at the head) reads the same head Alembic does."""
    assert HEAD is not None and newest_revision(VERSIONS) == HEAD


def test_migrations_build_exactly_the_central_schema_and_run_again_harmlessly(
    empty_database_url: str,
) -> None:
    engine = make_engine(empty_database_url)
    assert inspect(engine).get_table_names() == []
    migrate(engine)
    store = CentralStore(engine)
    store.add_hall("east-1", "east", ADMIN, utc_now())
    migrate(make_engine(empty_database_url))  # a second start: nothing to do, nothing lost

    tables = set(inspect(engine).get_table_names())
    assert tables == {*central.metadata.tables, VERSION_TABLE}
    assert "alembic_version" not in tables  # the hall's history is not touched
    assert current_revision(engine) == [HEAD]
    with engine.connect() as conn:
        assert differences(conn) == []
    assert [hall["hall_id"] for hall in store.halls()] == ["east-1"]

    # Down to nothing and up again: the downgrade is real DDL too.
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) == {VERSION_TABLE}
    migrate(engine)
    with engine.connect() as conn:
        assert differences(conn) == []
    engine.dispose()


def test_a_database_made_by_create_all_is_stamped_at_the_first_revision_and_keeps_its_rows(
    empty_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The central service as it was: ``create_all`` at start, rows written, no version table."""
    old = create_engine(empty_database_url)
    # What every central start did before migrations: central_0001's schema (later revisions add
    # tables), made here by that revision with its version table dropped.
    cfg = alembic_config()
    with old.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, FIRST_REVISION)
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    old_store = CentralStore(old)
    hall_token = old_store.add_hall("east-1", "east", ADMIN, utc_now())
    token = old_store.create_token("viewer", "boss", ADMIN, utc_now())
    assert set(inspect(old).get_table_names()) == FIRST_TABLES
    old.dispose()

    listed = central_cli(empty_database_url, "hall", "list")  # the first start of the new version
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split("\t")[:2] == ["east-1", "east"]
    assert f"stamped {FIRST_REVISION}" in listed.stderr

    engine = make_engine(empty_database_url)
    assert current_revision(engine) == [HEAD]
    with engine.connect() as conn:
        assert differences(conn) == []
    store = CentralStore(engine)
    # The tokens made before the upgrade still work, and the audit of their making is kept.
    assert store.token_role(token) == ("boss", "viewer") and store.hall_of(hall_token) == "east-1"
    assert [entry["action"] for entry in store.audit()] == ["token.create", "hall.add"]
    caplog.set_level("INFO", logger="server.central.migrate")
    open_central(empty_database_url).engine.dispose()  # a later start: at the head, nothing stamped
    assert "stamped" not in caplog.text
    assert [hall["hall_id"] for hall in store.halls()] == ["east-1"]
    engine.dispose()


def test_a_central_store_and_a_hall_in_one_database_keep_two_histories(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    migrate_hall(engine)  # the hall's tables first: no central table, so not a pre-migration store
    migrate(engine)
    migrate_hall(engine)  # and the hall again: its history is not the central one
    hall_head = ScriptDirectory.from_config(hall_alembic_config()).get_current_head()
    assert at_revision(engine) == [hall_head]
    assert current_revision(engine) == [HEAD]
    tables = set(inspect(engine).get_table_names())
    assert {*central.metadata.tables, *hall_metadata.tables} <= tables
    with engine.connect() as conn:
        assert differences(conn) == []  # the hall's tables are not the central history's business
        # Nor the central tables the hall's (the filter its Alembic environment uses): autogenerate
        # against a shared database proposes nothing, where it would drop every central table.
        hall_context = MigrationContext.configure(conn, opts={"include_name": hall_only})
        assert compare_metadata(hall_context, hall_metadata) == []
        unfiltered = MigrationContext.configure(conn)
        dropped = {d[1].name for d in compare_metadata(unfiltered, hall_metadata) if d[0] == "remove_table"}
        assert dropped >= set(central.metadata.tables)
    engine.dispose()


def _drop_version(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))


def test_part_of_the_tables_without_a_history_is_refused_in_one_line(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    migrate(engine)
    _drop_version(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE central_tokens"))
        conn.execute(text("DROP TABLE central_audit_log"))
    with pytest.raises(CentralConfigError) as refused:
        open_central(empty_database_url)
    message = str(refused.value)
    assert "\n" not in message
    assert "not central_audit_log, central_tokens" in message and VERSION_TABLE in message
    assert "central_audit_log" not in inspect(engine).get_table_names()  # nothing made, nothing stamped
    assert not inspect(engine).has_table(VERSION_TABLE)
    engine.dispose()


def test_a_revision_this_version_does_not_know_is_one_line(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'central_9999'"))
    answer = central_cli(sqlite_url, "hall", "list")
    assert answer.returncode == 2, answer.stdout
    (line,) = answer.stderr.strip().splitlines()
    assert line.startswith("error: central: cannot open the central store") and "central_9999" in line
    assert "newer qcall" in line
    with engine.connect() as conn:  # left as it was
        assert conn.execute(select(text("version_num")).select_from(text(VERSION_TABLE))).scalar() == (
            "central_9999"
        )
    engine.dispose()


@pytest.mark.postgres
def test_starts_at_once_on_postgresql_migrate_once(pg_url: str) -> None:
    """The service and a CLI command starting together on a new database: both open it, one builds it."""
    engines = [make_engine(pg_url) for _ in range(3)]
    barrier = threading.Barrier(len(engines))
    failures: list[BaseException] = []

    def start(engine: Engine) -> None:
        barrier.wait()
        try:
            migrate(engine)
        except BaseException as exc:  # noqa: BLE001  kept to fail the test with, in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=start, args=(e,), daemon=True) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert current_revision(engines[0]) == [HEAD]
    with engines[0].connect() as conn:
        assert differences(conn) == []
    for engine in engines:
        engine.dispose()
