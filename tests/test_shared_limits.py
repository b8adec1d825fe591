"""The phone's limits and the pairing codes hold across hub processes (server/store/limits.py).

Three levels: two stores on two engines of one database (two processes as the store sees them),
on SQLite and PostgreSQL; a reservation held open on PostgreSQL while another waits on its row
lock (the interleaving that would let both pass the last place if the check read a stale row);
and two real ``python -m server run`` processes of one cluster (one PostgreSQL database, one
Redis) answering one phone and one pairing screen alternately.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests
from sqlalchemy import inspect, text

from server.devices.pairing import PairingDesk, PairingRefused, device_token
from server.limits_sweep import LimitsSweep
from server.phone import PhoneCaps, PhoneLimits, PhonePass, PhoneRefusal
from server.store import make_engine
from server.store.accounts import Accounts
from server.store.limits import Ask, SqlLimits
from tests.cluster_support import cluster_site, fresh_database, start_hubs
from tests.support import ADMIN_PASSWORD, Credentials, HubProcess, bearer, login, provision
from tests.test_cluster import _require_redis
from tests.test_token_names import _upgrade_or_downgrade

TIMEOUT = 20
DAY = date(2026, 3, 10)


def two_processes(url: str, caps: PhoneCaps, now: list[float]) -> tuple[PhoneLimits, PhoneLimits]:
    """Phone limits of two processes: each its own engine (its own connections) on one database."""
    return (
        PhoneLimits(SqlLimits(make_engine(url)), lambda: caps, clock=lambda: now[0]),
        PhoneLimits(SqlLimits(make_engine(url)), lambda: caps, clock=lambda: now[0]),
    )


def test_two_processes_count_one_hour_and_one_phone(database_url: str) -> None:
    now = [1_000_000.0]
    a, b = two_processes(database_url, PhoneCaps(2, 3, 10, 600.0), now)
    phone = PhonePass.new()
    reserved = a.reserve(phone, "10.0.0.1", DAY)
    assert not isinstance(reserved, PhoneRefusal)
    # The same phone taps again and reaches the other process while the first issue is in flight.
    busy = b.reserve(phone, "10.0.0.1", DAY)
    assert isinstance(busy, PhoneRefusal) and busy.code == "ticket_active"
    first = a.issued(reserved[0], reserved[1], "t1")
    # An old cookie (before the ticket) sent to the other process: that process knows the count.
    assert b.remembered(phone, DAY).count == 1
    second = b.reserve(phone, "10.0.0.1", DAY)
    assert not isinstance(second, PhoneRefusal)
    b.issued(second[0], second[1], "t2")
    refusal = a.reserve(first, "10.0.0.1", DAY)
    assert isinstance(refusal, PhoneRefusal) and refusal.code == "phone_day_limit"
    # The hall's hour (3): one more on either process, then both refuse.
    third = a.reserve(PhonePass.new(), "10.0.0.2", DAY)
    assert not isinstance(third, PhoneRefusal)
    for limits in (a, b):
        refusal = limits.reserve(PhonePass.new(), "10.0.0.3", DAY)
        assert isinstance(refusal, PhoneRefusal) and refusal.code == "hall_hour_limit"
    # The third's issue refused (closed): its place is back, for either process.
    a.release(third[1])
    assert not isinstance(b.reserve(PhonePass.new(), "10.0.0.3", DAY), PhoneRefusal)


def test_reservations_racing_for_the_last_place_of_the_hour_one_passes(database_url: str) -> None:
    now = [1_000_000.0]
    caps = PhoneCaps(5, 4, 100, 600.0)
    processes = [PhoneLimits(SqlLimits(make_engine(database_url)), lambda: caps, clock=lambda: now[0])]
    processes += [PhoneLimits(SqlLimits(make_engine(database_url)), lambda: caps, clock=lambda: now[0])]
    for n in range(3):  # three of the four places taken
        taken = processes[n % 2].reserve(PhonePass.new(), f"10.0.1.{n}", DAY)
        assert not isinstance(taken, PhoneRefusal)
    for engine in (p.store.engine for p in processes):  # connections open before the race
        with engine.connect():
            pass
    start = threading.Barrier(8)

    def race(n: int) -> bool:
        start.wait()
        answer = processes[n % 2].reserve(PhonePass.new(), f"10.0.2.{n}", DAY)
        return not isinstance(answer, PhoneRefusal)

    with ThreadPoolExecutor(8) as pool:
        passed = list(pool.map(race, range(8)))
    assert sum(passed) == 1, passed
    rows = _window(database_url, "hall:phone")
    assert rows == 4


def _window(url: str, key: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count FROM limit_windows WHERE key = :k"), {"k": key}).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("first_commits", [True, False])
def test_a_reservation_waiting_on_the_last_place_sees_the_holders_outcome(
    pg_migrated_url: str, first_commits: bool
) -> None:
    """The interleaving a stale read would get wrong: B counts while A holds the last place uncommitted.

    B waits on the row's lock; when A commits, B (re-reading the row as locked) is refused; when A
    rolls back (its issue refused), B passes.
    """
    store_a, store_b = SqlLimits(make_engine(pg_migrated_url)), SqlLimits(make_engine(pg_migrated_url))
    now = 1_000_000.0
    hall = Ask("hall:phone", 2, now + 3600)
    assert all(c.granted for c in store_a.take([hall], now, "s0"))  # one of two places taken
    conn = store_a.engine.connect()
    tx = conn.begin()
    assert all(c.granted for c in store_a.take_in(conn, [hall], now, "sa"))  # A: the last, not committed
    answers: list[bool] = []
    waiting = threading.Thread(target=lambda: answers.append(store_b.take([hall], now, "sb")[0].granted))
    waiting.start()
    deadline = time.monotonic() + 10
    while not _blocked(store_a, conn) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _blocked(store_a, conn), "B never waited on A's row lock"
    assert not answers
    if first_commits:
        tx.commit()
    else:
        tx.rollback()
    conn.close()
    waiting.join(10)
    assert answers == [not first_commits]
    assert _window(pg_migrated_url, "hall:phone") == 2


def _blocked(store: SqlLimits, holder: Any) -> bool:
    """Whether some session waits on a lock the holder's session holds."""
    pid = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with store.engine.connect() as conn:
        waiting = conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
            {"pid": pid},
        ).scalar_one()
    return bool(waiting)


@pytest.fixture
def pg_migrated_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("the row-lock interleaving is PostgreSQL's (SQLite has one writer at a time)")
    return database_url


def test_a_code_shown_by_one_process_is_confirmed_and_collected_on_another(database_url: str) -> None:
    now = [1_000_000.0]
    shown_on = PairingDesk(SqlLimits(make_engine(database_url)), clock=lambda: now[0])
    confirmed_on = PairingDesk(SqlLimits(make_engine(database_url)), clock=lambda: now[0])
    accounts = Accounts(make_engine(database_url))
    pairing, claim = shown_on.start("lobby_screen", "10.0.0.9")
    assert confirmed_on.waiting(pairing.code.lower()).kind == "lobby_screen"
    assert shown_on.collect(pairing.code, claim) is None  # waiting for an admin

    def make(p: Any) -> tuple[str, int | None]:
        issued = accounts.issue_device_token(
            p.role, "lobby-9", datetime.now(UTC), action="token.pair", replace=True, digest=p.token_hash
        )
        assert issued.token == ""  # this process never had the token
        return "lobby-9", None

    done = confirmed_on.confirm(pairing.code, make)
    assert done.name == "lobby-9"
    with pytest.raises(PairingRefused) as again:  # a second admin, on the first process
        shown_on.confirm(pairing.code, make)
    assert (again.value.status, again.value.code) == (409, "conflict")
    with pytest.raises(PairingRefused) as wrong:
        confirmed_on.collect(pairing.code, "someone-else")
    assert wrong.value.status == 404
    collected = confirmed_on.collect(pairing.code, claim)
    assert collected is not None and collected.token == device_token("display", claim)
    principal = accounts.resolve(collected.token, datetime.now(UTC))
    assert principal is not None and principal.role == "display"
    with pytest.raises(PairingRefused):  # once
        shown_on.collect(pairing.code, claim)
    # A failed confirmation (no such device) leaves the code for the next admin.
    other, _claim = shown_on.start("kiosk", "10.0.0.9")

    def refuse(_p: Any) -> tuple[str, int | None]:
        raise PairingRefused(400, "'name': no configured kiosk is named 'x'", "bad_request")

    with pytest.raises(PairingRefused):
        confirmed_on.confirm(other.code, refuse)
    assert shown_on.waiting(other.code).code == other.code
    # Nothing secret in the table: hashes only.
    engine = make_engine(database_url)
    with engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM pairing_codes")) for v in row)
    assert claim not in stored and device_token("kiosk", _claim) not in stored


def test_migration_0025_adds_the_shared_tables_and_goes_back(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        _upgrade_or_downgrade(engine, "upgrade", "0025")
        tables = set(inspect(engine).get_table_names())
        assert {"limit_windows", "pairing_codes"} <= tables
        store = SqlLimits(engine)
        assert store.take([Ask("hall:phone", 1, 100.0)], 10.0, "s1")[0].granted
        assert not store.take([Ask("hall:phone", 1, 100.0)], 20.0, "s2")[0].granted
        # The hub's sweep (a Periodic) deletes the closed window, by its clock, and nothing more.
        sweep = LimitsSweep(store, spawn=lambda *_: None, clock=lambda: 100.0)
        assert sweep.once() == 1 and sweep.once() == 0
        _upgrade_or_downgrade(engine, "downgrade", "0024")
        tables = set(inspect(engine).get_table_names())
        assert not {"limit_windows", "pairing_codes"} & tables
        _upgrade_or_downgrade(engine, "upgrade", "head")
        assert {"limit_windows", "pairing_codes"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# -- two hub processes ---------------------------------------------------------------------------

PHONE_TOML = """
[phone]
enabled = true
tickets_per_day = 2
tickets_per_hour = 5
tickets_per_address = 100
address_window_minutes = 30

[[devices]]
name = "lobby-1"
kind = "lobby_screen"
"""


@dataclass
class Pair:
    a: HubProcess
    b: HubProcess
    creds: Credentials


@pytest.fixture(scope="module")
def two_hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    _require_redis()
    folder = tmp_path_factory.mktemp("shared")
    with fresh_database("qcall_shared") as url:
        config_path = cluster_site(folder / "site.toml", url, f"qcall-test-{secrets.token_hex(4)}", 2, 1000)
        with config_path.open("a", encoding="utf-8") as site:
            site.write(PHONE_TOML)
        creds = provision(config_path, 2)
        hubs = start_hubs(config_path, folder, 2)
        try:
            yield Pair(hubs[0], hubs[1], creds)
        finally:
            for hub in hubs:
                hub.stop()


def take(phone: requests.Session, hub: HubProcess, address: str) -> requests.Response:
    return phone.post(
        f"{hub.url}/api/v1/phone/tickets",
        json={"service": "PAY"},
        headers={"X-Forwarded-For": address},
        timeout=TIMEOUT,
    )


def refused(answer: requests.Response, code: str) -> dict[str, Any]:
    assert answer.status_code == 429, answer.text
    body = answer.json()
    assert body["code"] == code and " / " in body["error"], body
    return body


def cancel(hub: HubProcess, ticket: str) -> None:
    assert requests.post(f"{hub.url}/api/v1/tickets/{ticket}/cancel", json={}, timeout=TIMEOUT).ok


def test_a_phone_and_the_hour_are_counted_across_two_processes(two_hubs: Pair) -> None:
    a, b = two_hubs.a, two_hubs.b
    phone = requests.Session()
    first = take(phone, a, "10.1.0.1")
    assert first.status_code == 201, first.text
    t1 = first.json()["id"]
    old_cookie = phone.cookies.get("qcall_phone")
    assert refused(take(phone, b, "10.1.0.1"), "ticket_active")["ticket"]["id"] == t1
    cancel(b, t1)
    second = take(phone, b, "10.1.0.1")
    assert second.status_code == 201, second.text
    t2 = second.json()["id"]
    # The first cookie again, on the first process: it names t1 (cancelled); the hall knows t2.
    replay = requests.Session()
    replay.cookies.set("qcall_phone", old_cookie)
    assert refused(take(replay, a, "10.1.0.1"), "ticket_active")["ticket"]["id"] == t2
    mine = replay.get(f"{a.url}/api/v1/phone", timeout=TIMEOUT).json()
    assert mine["ticket"]["id"] == t2 and mine["taken_today"] == 2
    cancel(a, t2)
    refused(take(replay, a, "10.1.0.1"), "phone_day_limit")  # two today, on two processes
    # The hall's hour (5): two taken; one on each process, then two new phones race for the last place.
    assert take(requests.Session(), a, "10.1.0.2").status_code == 201
    assert take(requests.Session(), b, "10.1.0.3").status_code == 201
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda hub: take(requests.Session(), hub, f"10.1.0.{hub.port % 200}"), [a, b])
        )
    assert sorted(r.status_code for r in answers) == [201, 429], [r.text for r in answers]
    refused(next(r for r in answers if r.status_code == 429), "hall_hour_limit")
    for hub in (a, b):
        answer = take(requests.Session(), hub, "10.1.0.9")
        refused(answer, "hall_hour_limit")
        assert int(answer.headers["Retry-After"]) > 3000


def test_a_pairing_code_shown_by_one_process_is_confirmed_on_the_other(two_hubs: Pair) -> None:
    a, b = two_hubs.a, two_hubs.b
    start = requests.post(f"{a.url}/api/v1/pairing", json={"kind": "lobby_screen"}, timeout=TIMEOUT)
    assert start.status_code == 201, start.text
    code, claim = start.json()["code"], start.json()["claim"]
    admin = login(b.url, "admin", None, ADMIN_PASSWORD)
    shown = requests.get(f"{b.url}/api/v1/admin/pairing/{code}", headers=bearer(admin), timeout=TIMEOUT)
    assert shown.status_code == 200 and shown.json()["devices"] == [{"name": "lobby-1", "counter": None}]
    done = requests.post(
        f"{b.url}/api/v1/admin/pairing/{code}",
        json={"name": "lobby-1"},
        headers=bearer(admin),
        timeout=TIMEOUT,
    )
    assert done.status_code == 200, done.text
    paired = requests.post(f"{a.url}/api/v1/pairing/{code}/collect", json={"claim": claim}, timeout=TIMEOUT)
    assert paired.status_code == 200 and paired.json()["state"] == "paired", paired.text
    token = paired.json()["token"]
    for hub in (a, b):
        assert requests.get(f"{hub.url}/api/v1/queue", headers=bearer(token), timeout=TIMEOUT).ok
    gone = requests.post(f"{b.url}/api/v1/pairing/{code}/collect", json={"claim": claim}, timeout=TIMEOUT)
    assert gone.status_code == 404
    for hub in (a, b):
        assert "Traceback" not in hub.log()
