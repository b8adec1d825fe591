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

from server.devices.pairing import device_token
from server.store import alembic_config, make_engine, open_store
from server.store.accounts import SYSTEM, AccountConflict, Accounts, TokenExists, token_hash
from server.store.audit import AuditLog
from server.store.schema import device_tokens
from tests.api_hall import PREFIX, T0, ApiHall, open_hall
from tests.support import write_site

#: The lobby screens a pairing code may become.
SCREENS = """
[[devices]]
name = "lobby-1"
kind = "lobby_screen"

[[devices]]
name = "lobby-2"
kind = "lobby_screen"
"""

#: Requests racing for each name, and how many names are raced for: the old read-then-insert let
#: two of four through in most rounds on this machine; one round alone could be lucky.
RACERS = 4
ROUNDS = 5


@pytest.fixture
def hall(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHall]:
    path = write_site(tmp_path / "site.toml", database_url, counters=2)
    path.write_text(path.read_text(encoding="utf-8") + SCREENS, encoding="utf-8")
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


# -- a pairing's token: its hash is its claim's, so one code makes one hash -------------------------


def test_the_store_tells_a_pairings_token_made_twice_from_a_live_name(database_url: str) -> None:
    store = open_store(database_url)
    accounts = Accounts(store.engine)
    try:
        digest = token_hash(device_token("display", "the-screens-claim"))
        first = accounts.issue_device_token("display", "lobby-1", T0, replace=True, digest=digest)
        # The same code confirmed again, as the same device or another: the token exists, whatever
        # the name (and replace=True revoking lobby-1's live token first changes nothing).
        for name in ("lobby-1", "lobby-2"):
            with pytest.raises(TokenExists, match="made already"):
                accounts.issue_device_token(
                    "display", name, T0 + timedelta(minutes=1), replace=True, digest=digest
                )
        # A drawn token under a live name is still the name's conflict.
        with pytest.raises(AccountConflict) as clash:
            accounts.issue_device_token("kiosk", "lobby-1", T0 + timedelta(minutes=2))
        assert not isinstance(clash.value, TokenExists) and "exists already" in str(clash.value)
        assert live_named(accounts, "lobby-1") == [first.info.id]  # the refused replace revoked nothing
        assert live_named(accounts, "lobby-2") == []
        made = [e.target for e in AuditLog(store.engine).recent(action="token.create")]
        assert made == [f"lobby-1 ({first.info.id})"]
        assert not AuditLog(store.engine).recent(action="token.revoke")
    finally:
        store.engine.dispose()


def test_a_code_confirmed_again_after_its_token_was_made(hall: ApiHall) -> None:
    """As another device: a bilingual 409 of its own (a new code is the cure). As the same device: done,
    as an admin who clicks once more after an error expects, and the screen collects its token."""
    old = hall.hub.accounts.issue_device_token("display", "lobby-1", T0 - timedelta(days=1))
    start = hall.ok("POST", "/pairing", json={"kind": "lobby_screen"}, status=201)
    digest = token_hash(device_token("display", start["claim"]))
    # A confirmation of this code made its token (replacing the screen's old one) and stopped before
    # marking the code (its process died; the mark has lapsed since): the token's row is there and
    # the code still waits.
    first = hall.hub.accounts.issue_device_token(
        "display", "lobby-1", T0, action="token.pair", replace=True, digest=digest
    )
    assert [t.id for t in first.replaced] == [old.info.id]
    body = hall.refused(
        "POST", f"/admin/pairing/{start['code']}", "boss", 409, "already_paired", json={"name": "lobby-2"}
    )
    assert body["error_zh"] == "此配对码已配对为 lobby-1：请选择 lobby-1 完成配对，或在设备上获取新的配对码"
    assert body["error_en"] == (
        "this pairing code was paired as lobby-1 already: choose lobby-1 to finish, "
        "or get a new code on the device"
    )
    assert live_named(hall.hub.accounts, "lobby-2") == []
    assert hall.ok("POST", f"/pairing/{start['code']}/collect", json={"claim": start["claim"]}) == {
        "state": "waiting"
    }
    done = hall.ok("POST", f"/admin/pairing/{start['code']}", "boss", json={"name": "lobby-1"})
    # The admin is told which token the pairing replaced, and who finished it is audited.
    assert (done["name"], done["replaces"]) == ("lobby-1", old.info.id)
    (finished,) = [
        e for e in AuditLog(hall.hub.store.engine).recent(action="token.pair") if "finished" in e.detail
    ]
    assert finished.target == f"lobby-1 ({first.info.id})" and finished.detail["replaces"] == [old.info.id]
    assert finished.detail["code"] == start["code"]
    collected = hall.ok("POST", f"/pairing/{start['code']}/collect", json={"claim": start["claim"]})
    assert collected["state"] == "paired" and collected["name"] == "lobby-1"
    assert token_hash(collected["token"]) == digest
    assert live_named(hall.hub.accounts, "lobby-1") == [first.info.id]
    # A fresh code for the same device pairs it, replacing that token (not refused as a live name).
    again = hall.ok("POST", "/pairing", json={"kind": "lobby_screen"}, status=201)
    done = hall.ok("POST", f"/admin/pairing/{again['code']}", "boss", json={"name": "lobby-1"})
    assert done["replaces"] == first.info.id
    collected = hall.ok("POST", f"/pairing/{again['code']}/collect", json={"claim": again["claim"]})
    assert collected["state"] == "paired" and live_named(hall.hub.accounts, "lobby-1") != [first.info.id]


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
