"""Staff display names: the name the public sees of a clerk or a doctor, never their user name.

The store on both databases (kept, trimmed, refused, audited before → after in the change's
transaction), the migration (0019 → 0020 keeps users and gives them none, and goes back), the
admin API (admins only, 400 naming ``display_name``, the answer fits the OpenAPI document) and the
CLI's ``user add --display-name``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from server.store import alembic_config, make_engine, open_store
from server.store.accounts import MAX_DISPLAY_NAME, AccountError, AccountNotFound, Accounts, Actor
from server.store.audit import AuditLog
from server.store.schema import audit_log
from tests.api_hall import PASSWORD, T0, open_hall
from tests.support import run_cli, write_site
from tests.test_notices_api import Hall

DOCTOR = "张伟 主任医师"
BOSS = Actor("boss", "10.0.0.5")


# -- the store -------------------------------------------------------------------------------


def test_a_display_name_is_kept_changed_and_audited_before_after(database_url: str) -> None:
    store = open_store(database_url)
    accounts = Accounts(store.engine)
    try:
        added = accounts.add_user("doc1", "staff", PASSWORD, T0, BOSS, display_name=f"  {DOCTOR} ")
        assert added.display_name == DOCTOR and added.public()["display_name"] == DOCTOR
        accounts.add_user("clerk2", "staff", PASSWORD, T0, BOSS, display_name="   ")  # blank: none
        assert {u.username: u.display_name for u in accounts.list_users()} == {"clerk2": None, "doc1": DOCTOR}

        changed = accounts.set_display_name("doc1", "工号 0231", T0, BOSS)
        assert changed.display_name == "工号 0231"
        cleared = accounts.set_display_name("doc1", "", T0, BOSS)
        assert cleared.display_name is None
        assert [u.display_name for u in accounts.list_users()] == [None, None]

        log = AuditLog(store.engine)
        add = log.recent(action="user.add", limit=1)[0]
        assert add.target == "clerk2" and add.detail == {"role": "staff", "display_name": None}
        renames = log.recent(action="user.display_name")
        assert [(e.actor, e.target, e.address, e.detail) for e in reversed(renames)] == [
            ("boss", "doc1", "10.0.0.5", {"before": DOCTOR, "after": "工号 0231"}),
            ("boss", "doc1", "10.0.0.5", {"before": "工号 0231", "after": None}),
        ]
    finally:
        store.engine.dispose()


@pytest.mark.parametrize(
    ("shown", "said"),
    [
        ("x" * (MAX_DISPLAY_NAME + 1), "at most 40"),
        ("张伟\n主任医师", "control"),
        ("张伟\t主任", "control"),
        ("a\u2028b", "control"),
        ("a\x1b[31m", "control"),
    ],
)
def test_a_bad_display_name_is_refused_and_nothing_is_written(sqlite_url: str, shown: str, said: str) -> None:
    store = open_store(sqlite_url)
    accounts = Accounts(store.engine)
    try:
        with pytest.raises(AccountError, match=said) as refused:
            accounts.add_user("doc1", "staff", PASSWORD, T0, BOSS, display_name=shown)
        assert "display_name" in str(refused.value)
        assert accounts.list_users() == []
        accounts.add_user("doc1", "staff", PASSWORD, T0, BOSS, display_name=DOCTOR)
        with pytest.raises(AccountError, match=said):
            accounts.set_display_name("doc1", shown, T0, BOSS)
        assert accounts.list_users()[0].display_name == DOCTOR
        with store.engine.connect() as conn:
            actions = conn.execute(select(audit_log.c.action)).scalars().all()
        assert actions == ["user.add"]  # the refusals left no record
        with pytest.raises(AccountNotFound):
            accounts.set_display_name("nobody", DOCTOR, T0, BOSS)
    finally:
        store.engine.dispose()


def test_forty_characters_of_any_script_are_welcome(sqlite_url: str) -> None:
    store = open_store(sqlite_url)
    accounts = Accounts(store.engine)
    try:
        longest = "张" * MAX_DISPLAY_NAME
        assert accounts.add_user("doc1", "staff", PASSWORD, T0, display_name=longest).display_name == longest
    finally:
        store.engine.dispose()


def test_migration_0020_gives_existing_users_no_name_and_goes_back(empty_database_url: str) -> None:
    from alembic import command

    engine = make_engine(empty_database_url)
    config = alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0019")
            conn.execute(
                text(
                    "INSERT INTO users (username, role, password_hash, active, created_at) "
                    "VALUES ('old', 'staff', 'x', true, :at)"
                ),
                {"at": T0},
            )
            command.upgrade(config, "0020")
        assert Accounts(engine).list_users()[0].display_name is None
        column = {c["name"]: c for c in inspect(engine).get_columns("users")}["display_name"]
        assert column["nullable"] and getattr(column["type"], "length", None) == MAX_DISPLAY_NAME
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0019")
        assert "display_name" not in {c["name"] for c in inspect(engine).get_columns("users")}
    finally:
        engine.dispose()


# -- the admin API -----------------------------------------------------------------------------


@pytest.fixture
def hall(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    path = write_site(tmp_path / "site.toml", sqlite_url, counters=2)
    hall = open_hall(
        Hall, path, tmp_path, monkeypatch, (("ann", "staff"), ("boss", "admin"), ("sue", "supervisor"))
    )
    for username, counter in (("boss", None), ("sue", None), ("ann", 1)):
        answer = hall.log_in(username, username, counter)
        assert answer.status_code == 200, answer.get_json()
    yield hall
    hall.hub.close()


def test_only_admins_give_display_names(hall: Hall) -> None:
    for who in ("ann", "sue"):
        hall.refused(
            "POST", "/admin/users/ann/display-name", who, 403, "forbidden", json={"display_name": "x"}
        )
        hall.refused(
            "POST",
            "/admin/users",
            who,
            403,
            "forbidden",
            json={"username": "doc9", "role": "staff", "password": PASSWORD, "display_name": DOCTOR},
        )
    hall.refused(
        "POST", "/admin/users/ann/display-name", None, 401, "unauthorized", json={"display_name": "x"}
    )
    assert [u.display_name for u in hall.hub.accounts.list_users()] == [None, None, None]
    assert hall.hub.audit.recent(action="user.display_name") == []


def test_admins_add_and_change_a_display_name_audited(hall: Hall) -> None:
    added = hall.ok(
        "POST",
        "/admin/users",
        "boss",
        201,
        json={"username": "doc1", "role": "staff", "password": PASSWORD, "display_name": DOCTOR},
    )
    assert added["display_name"] == DOCTOR
    plain = hall.ok(
        "POST", "/admin/users", "boss", 201, json={"username": "doc2", "role": "staff", "password": PASSWORD}
    )
    assert plain["display_name"] is None
    changed = hall.ok("POST", "/admin/users/doc1/display-name", "boss", json={"display_name": "工号 0231"})
    assert changed == {"user": {**added, "display_name": "工号 0231"}, "sessions_ended": 0}
    listed = {u["username"]: u["display_name"] for u in hall.ok("GET", "/admin/users", "boss")["users"]}
    assert listed["doc1"] == "工号 0231" and listed["doc2"] is None and listed["ann"] is None
    entries = hall.ok("GET", "/admin/audit?action=user.display_name", "boss")["entries"]
    assert [(e["actor"], e["target"], e["detail"]) for e in entries] == [
        ("boss", "doc1", {"before": DOCTOR, "after": "工号 0231"})
    ]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"display_name": "x" * 41}, "display_name"),
        ({"display_name": "a\nb"}, "display_name"),
        ({"display_name": 7}, "display_name"),
        ({}, "display_name"),
        ({"display_name": "x", "name": "y"}, "name"),
    ],
)
def test_a_bad_display_name_is_a_400_naming_the_field(hall: Hall, body: dict[str, Any], said: str) -> None:
    refused = hall.refused("POST", "/admin/users/ann/display-name", "boss", 400, "bad_request", json=body)
    assert said in refused["error"]
    add = {"username": "doc3", "role": "staff", "password": PASSWORD, "display_name": "x" * 41}
    assert (
        "display_name" in hall.refused("POST", "/admin/users", "boss", 400, "bad_request", json=add)["error"]
    )
    assert [u.display_name for u in hall.hub.accounts.list_users()] == [None, None, None]


def test_an_unknown_user_is_a_404(hall: Hall) -> None:
    hall.refused(
        "POST", "/admin/users/nobody/display-name", "boss", 404, "not_found", json={"display_name": "x"}
    )


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_user_add_with_a_display_name(tmp_path: Path, sqlite_url: str) -> None:
    config = write_site(tmp_path / "site.toml", sqlite_url, counters=2)
    done = run_cli(
        config, "user", "add", "doc1", "--role", "staff", "--display-name", DOCTOR, stdin="s3cret-pass\n"
    )
    assert done.returncode == 0, done.stderr
    bad = run_cli(
        config, "user", "add", "doc2", "--role", "staff", "--display-name", "x" * 41, stdin="s3cret-pass\n"
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "display_name" in bad.stderr
    listed = run_cli(config, "user", "list")
    assert listed.returncode == 0, listed.stderr
    assert DOCTOR in listed.stdout and "doc2" not in listed.stdout
    engine = make_engine(sqlite_url)
    try:
        entry = AuditLog(engine).recent(action="user.add", limit=1)[0]
        assert (entry.actor, entry.detail) == ("cli", {"role": "staff", "display_name": DOCTOR})
    finally:
        engine.dispose()
