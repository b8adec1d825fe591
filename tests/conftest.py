"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), a site, a hub process.

PostgreSQL is looked for on localhost. Without it the PostgreSQL variants are
skipped on a developer's machine, but fail when ``CI=true``: CI must not go
green on SQLite alone.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import server.store.accounts
from server.store import make_engine, migrate
from tests.support import Credentials, HubProcess, provision, running_hub, write_site

#: Werkzeug's scrypt at its default cost (N=2**15, 32 MB) is the hub's password hash, and a tenth to a
#: third of a second of CPU each time: two thirds of an in-process hall's setup went to it. Users the
#: tests make in this process get N=2**10 instead (the hash names its own cost, so checking it needs no
#: patch, and the dummy hash of an unknown user's login is made the same way, so the login-timing test
#: still compares like with like). Hub processes the tests start hash what their own API is given at
#: full cost; tests/test_accounts_security.py checks the hub's own default.
TEST_PASSWORD_HASH = "scrypt:1024:8:1"
HUB_PASSWORD_HASH = server.store.accounts.generate_password_hash
server.store.accounts.generate_password_hash = functools.partial(  # type: ignore[assignment]
    HUB_PASSWORD_HASH, method=TEST_PASSWORD_HASH
)

PG_ADMIN_URL = os.environ.get("QCALL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_admin():
    import psycopg

    return psycopg.connect(
        PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True, connect_timeout=3
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'qcall.db'}"


def _pg_base() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)


def _pg_reachable() -> Any:
    """An admin connection, or the test skipped (failed when CI=true) without PostgreSQL."""
    try:
        return _pg_admin()
    except Exception as exc:  # noqa: BLE001  psycopg.OperationalError and friends: skip or fail loudly
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}")


@contextmanager
def _pg_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of ``template`` if given), dropped afterwards."""
    admin = _pg_reachable()
    name = f"qcall_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield f"{_pg_base()}/{name}"
    finally:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with _pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_pg_template() -> Iterator[str]:
    """One database per test process at the newest schema, the template of each test's migrated one.

    Why: running the 22 migrations' DDL for every test cost PostgreSQL about a second each time;
    ``CREATE DATABASE … TEMPLATE`` copies the result in a fraction of that. Nobody connects to the
    template after it is made (PostgreSQL refuses to copy a database in use).
    """
    with _pg_database() as url:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest schema, copied for each test that wants a migrated database."""
    path = tmp_path_factory.mktemp("template") / "qcall.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closed: SQLite folds the WAL into the file and removes it
    assert not path.with_name(path.name + "-wal").exists(), "the template's WAL was not folded in"
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Both backends, already at the newest schema: the store's promises must hold on each.

    Tests of a migration itself take ``empty_database_url``.
    """
    if request.param == "postgresql":
        request.node.add_marker(pytest.mark.postgres)
        with _pg_database(request.getfixturevalue("migrated_pg_template")) as url:
            yield url
        return
    path = tmp_path / "qcall.db"
    shutil.copyfile(request.getfixturevalue("migrated_sqlite_template"), path)
    yield f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """Both backends, each an empty database: for the tests of the migrations themselves."""
    if request.param == "postgresql":
        request.node.add_marker(pytest.mark.postgres)
        return request.getfixturevalue("pg_url")
    return request.getfixturevalue("sqlite_url")


@dataclass
class Site:
    config_path: Path
    creds: Credentials
    counters: int


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Site:
    """The test site on SQLite with tokens and logins ready."""
    counters = 3
    config_path = write_site(tmp_path / "site.toml", sqlite_url, counters)
    return Site(config_path, provision(config_path, counters), counters)


@pytest.fixture
def hub(site: Site, tmp_path: Path) -> Iterator[HubProcess]:
    """A running hub process for the test site."""
    with running_hub(site.config_path, tmp_path) as process:
        yield process


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Flags for the system Chromium on a closed network (see the env notes): no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: The Playwright driver running in this process, while one is (a module's shared Chromium's).
_RUNNING_PLAYWRIGHT: list[Any] = []


@contextmanager
def launch_chromium(extra_args: Sequence[str] = ()) -> Iterator[object]:
    """Headless system Chromium driven by Playwright (no browser download), CHROMIUM_ARGS + ``extra_args``.

    A second Chromium (a lobby TV's autoplay flag) launched while the module's shared one runs is
    launched by the same Playwright driver: a second ``sync_playwright()`` in one thread refuses to
    start ("Sync API inside the asyncio loop").
    """
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: scripts/test installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    def launch(playwright: Any) -> Any:
        return playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )

    if _RUNNING_PLAYWRIGHT:
        launched = launch(_RUNNING_PLAYWRIGHT[-1])
        try:
            yield launched
        finally:
            launched.close()
        return
    with sync_playwright() as playwright:
        _RUNNING_PLAYWRIGHT.append(playwright)
        try:
            launched = launch(playwright)
            try:
                yield launched
            finally:
                launched.close()
        finally:
            _RUNNING_PLAYWRIGHT.pop()


@pytest.fixture(scope="module")
def module_browser() -> Iterator[object]:
    """One Chromium for a module's tests: a launch costs a second or two of CPU, a test's context none."""
    with launch_chromium() as launched:
        yield launched


@pytest.fixture
def browser(module_browser: Any) -> Iterator[object]:
    """Headless system Chromium driven by Playwright (no browser download), the module's.

    Each test opens its own contexts and pages (``browser.new_page()`` is a context of its own);
    whatever it left open is closed after it, so the next test starts on a browser with none (and a
    page left open does not run on against a hub that has stopped).
    """
    yield module_browser
    for context in list(module_browser.contexts):
        context.close()


#: Modules that each take a minute or more: collected first, so that with ``pytest -n 2 --dist
#: loadfile`` (scripts/test) they start at once on the two workers instead of leaving one worker
#: alone with a long tail at the end. Longest first. (The simulated weeks, longer still, run in the
#: background from the session's start: pytest_configure above; their module is collected late.)
LONG_MODULES = (
    "test_simulated_day.py",
    "test_store_concurrency.py",
    "test_schemathesis.py",
    "test_policy_properties.py",
    "test_browser_targets.py",
    "test_browser_hours.py",
    "test_browser_layouts.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """The session's first process starts the simulated weeks at once, in the background.

    Only where the whole ``tests/`` folder (or the weeks' module) runs unfiltered, and not in an
    xdist worker (the controller started them; workers inherit ``WEEKS_DIR``). The weeks' module
    then reads their files (tests/test_simulated_week.py) and is collected late, not first.
    """
    from tests import weeks

    if hasattr(config, "workerinput") or os.environ.get(weeks.WEEKS_DIR):
        return
    if config.option.keyword or config.option.markexpr or not _runs_the_weeks(config):
        return
    folder = Path(tempfile.mkdtemp(prefix="qcall-weeks-"))
    config.stash[_WEEKS] = weeks.start_weeks_in_background(folder)
    os.environ[weeks.WEEKS_DIR] = str(folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    from tests import weeks

    started = config.stash.get(_WEEKS, [])
    if started:
        weeks.stop_weeks_in_background(started)
        shutil.rmtree(os.environ.pop(weeks.WEEKS_DIR), ignore_errors=True)


_WEEKS = pytest.StashKey[list[Any]]()


def _runs_the_weeks(config: pytest.Config) -> bool:
    """Whether the session's arguments name the tests folder, the repository or the weeks' module."""
    here = Path(__file__).resolve().parent
    wanted = {here, here.parent, here / "test_simulated_week.py"}
    for arg in config.args:
        named = Path(arg.split("::")[0])
        for base in (Path(config.invocation_params.dir), config.rootpath):
            if (base / named).resolve() in wanted:
                return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long modules first, in LONG_MODULES' order; the rest keep their order (a stable sort)."""
    rank = {name: i for i, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
