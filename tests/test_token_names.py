"""A device token's name is held by at most one live token, and the database keeps that rule.

Why a module of its own: the rule moved from a read-then-insert in the admin API into the store
(migration 0024's partial unique index), so it is tested where the old check could be beaten, by
admins racing for one name on both databases; the migration is tested on data an older version
could leave (several live tokens of one name), up and back down.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from server.store import alembic_config, make_engine, open_store
from server.store.accounts import SYSTEM, AccountConflict, Accounts
from server.store.audit import AuditLog
from server.store.schema import device_tokens
from tests.api_hall import PREFIX, T0, ApiHall, open_hall
from tests.support import write_site

#: Requests racing for each name, and how many names are raced for: the old read-then-insert let
#: two of four through in most rounds on this machine; one round alone could be lucky.
RACERS = 4
ROUNDS = 5


@pytest.fixture
def hall(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHall]:
    path = write_site(tmp_path / "site.toml", database_url, counters=2)
    made = open_hall(ApiHall, path, tmp_path, monkeypatch, (("boss", "admin"),))
    assert made.log_in("boss", "boss").status_code == 200
    yield made
    made.hub.close()


def live_named(accounts: Accounts, name: str) -> list[str]:
    return [t.id for t in accounts.list_tokens() if t.name == name and t.revoked_at is None]


def race(hall: ApiHall, name: str) -> list[tuple[int, dict[str, Any]]]:
    """RACERS admins' requests for a kiosk token named ``name``, let go at one moment: their answers."""
    headers = {"Authorization": f"Bearer {hall.tokens['boss']}"}
    barrier = threading.Barrier(RACERS)
    answers: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()

    def create() -> None:
        client = hall.app.test_client()  # one client per thread: its own request context
        barrier.wait()
        answer = client.post(PREFIX + "/admin/tokens", json={"role": "kiosk", "name": name}, headers=headers)
        with lock:
            answers.append((answer.status_code, answer.get_json()))

    threads = [threading.Thread(target=create) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_admins_racing_for_one_name_get_one_token_and_one_409(hall: ApiHall) -> None:
    for round_ in range(ROUNDS):
        name = f"kiosk-race-{round_}"
        answers = race(hall, name)
        statuses = sorted(status for status, _body in answers)
        assert statuses == [201] + [409] * (RACERS - 1), answers
        [made] = [body for status, body in answers if status == 201]
        for status, body in answers:
            if status == 409:
                assert body["code"] == "conflict" and "exists already" in body["error"], body
        assert live_named(hall.hub.accounts, name) == [made["id"]]
        # One token, one audit entry: a refused insert left no record behind.
        created = [e.target for e in hall.hub.audit.recent(action="token.create") if name in e.target]
        assert created == [f"{name} ({made['id']})"]


def test_the_store_refuses_a_live_name_and_replaces_only_when_told(database_url: str) -> None:
    store = open_store(database_url)
    accounts = Accounts(store.engine)
    try:
        first = accounts.issue_device_token("display", "lobby-1", T0)
        with pytest.raises(AccountConflict, match="exists already"):
            accounts.create_device_token("kiosk", "lobby-1", T0 + timedelta(minutes=1))
        assert live_named(accounts, "lobby-1") == [first.info.id]
        second = accounts.issue_device_token("display", "lobby-1", T0 + timedelta(minutes=2), replace=True)
        assert [t.id for t in second.replaced] == [first.info.id]
        assert live_named(accounts, "lobby-1") == [second.info.id]
        assert accounts.resolve(first.token, T0 + timedelta(minutes=3)) is None
        revoke = AuditLog(store.engine).recent(action="token.revoke", limit=1)[0]
        assert revoke.detail == {"role": "display", "replaced_by": second.info.id}
        made = AuditLog(store.engine).recent(action="token.create", limit=1)[0]
        assert made.detail == {"role": "display", "replaces": [first.info.id]}
        # A revoked name is free again, and rotation still works under the index.
        accounts.revoke_token_by_id(second.info.id, T0 + timedelta(minutes=4), SYSTEM)
        third = accounts.issue_device_token("display", "lobby-1", T0 + timedelta(minutes=5))
        assert third.replaced == []
        _token, _old, new = accounts.rotate_token_by_id(third.info.id, T0 + timedelta(minutes=6))
        assert live_named(accounts, "lobby-1") == [new.id]
    finally:
        store.engine.dispose()


# -- migration 0024 ------------------------------------------------------------------------------


def _insert(engine: Engine, digest: str, name: str, minutes: int, revoked: bool = False) -> None:
    with engine.begin() as conn:
        conn.execute(
            device_tokens.insert().values(
                token_hash=digest,
                name=name,
                role="kiosk",
                created_at=T0 + timedelta(minutes=minutes),
                revoked_at=T0 if revoked else None,
            )
        )


def _upgrade_or_downgrade(engine: Engine, direction: str, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        getattr(command, direction)(config, revision)


def test_migration_0024_keeps_the_newest_live_token_of_a_name_and_goes_back(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        _upgrade_or_downgrade(engine, "upgrade", "0023")
        # What an older version could leave: three live kiosk-1 tokens (the CLI, a re-pairing),
        # one revoked long ago, and a lobby screen alone under its name.
        for digest, name, minutes, revoked in (
            ("a" * 64, "kiosk-1", 0, False),
            ("b" * 64, "kiosk-1", 20, False),
            ("c" * 64, "kiosk-1", 10, False),
            ("d" * 64, "kiosk-1", 5, True),
            ("e" * 64, "lobby-1", 0, False),
        ):
            _insert(engine, digest, name, minutes, revoked)
        _upgrade_or_downgrade(engine, "upgrade", "0024")

        accounts = Accounts(engine)
        state = {t.key[0]: t.revoked_at for t in accounts.list_tokens()}
        assert state["b"] is None and state["e"] is None, "the newest kiosk-1 and the lone lobby-1 stay"
        assert state["a"] is not None and state["c"] is not None, "the older live duplicates are revoked"
        assert state["d"] == T0, "a token revoked before keeps its time"
        entries = AuditLog(engine).recent(action="token.revoke")
        assert sorted((e.actor, e.target, e.detail["kept"]) for e in entries) == [
            ("migration", f"kiosk-1 ({'a' * 12})", "b" * 12),
            ("migration", f"kiosk-1 ({'c' * 12})", "b" * 12),
        ]
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("device_tokens")}
        assert indexes["uq_device_tokens_live_name"]["unique"]
        with pytest.raises(IntegrityError):
            _insert(engine, "f" * 64, "kiosk-1", 30)
        _insert(engine, "f" * 64, "kiosk-1", 30, revoked=True)  # revoked rows may share the name

        _upgrade_or_downgrade(engine, "downgrade", "0023")
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("device_tokens")}
        assert "uq_device_tokens_live_name" not in indexes
        _insert(engine, "0" * 64, "kiosk-1", 40)  # back at 0023: the database no longer refuses it
        with engine.connect() as conn:
            live = conn.execute(
                select(device_tokens.c.token_hash).where(
                    device_tokens.c.name == "kiosk-1", text("revoked_at IS NULL")
                )
            ).scalars()
            assert sorted(d[0] for d in live) == ["0", "b"], "the downgrade revives nothing"
    finally:
        engine.dispose()
