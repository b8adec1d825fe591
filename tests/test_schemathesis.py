"""Schemathesis against a running hub: no server error and no answer outside the OpenAPI document.

The hub is a real ``python -m server run`` process; Schemathesis (its CLI, as
an outside tester runs it) generates requests from ``/api/v1/openapi.json`` —
examples, boundary values, random data, negative data and stateful sequences —
once with no credentials, once as a kiosk and once as an admin. Every answer
must be documented for its operation, with the documented content type,
headers and body schema, and none may be a 5xx; a request the document
allows must not be refused as bad, nor one it forbids be accepted. Seeds and example counts are
fixed, so a run is repeatable. The anonymous caller skips the coverage phase (see its test), and the
fuzzing phase draws six examples an operation: together about 2 minutes of CI on a 2-core machine that
ran the three at ten examples, with coverage everywhere, in 3 minutes 46 seconds (and past 7 on a
machine half as fast, over the 15-minute budget of the whole suite).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ARTIFACTS, HubProcess, login, provision, write_site

pytestmark = pytest.mark.slow

ST = Path(sys.executable).with_name("st")
CONFIG = Path(__file__).resolve().parents[1] / "schemathesis.toml"
#: Every check Schemathesis has: no 5xx, every answer documented (status, content type,
#: headers, body), schema-valid requests accepted and invalid ones refused, auth enforced.
CHECKS = "all"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, dict[str, str]]]:
    workdir = tmp_path_factory.mktemp("schemathesis")
    config = write_site(workdir / "site.toml", f"sqlite:///{workdir / 'qcall.db'}", counters=3)
    creds = provision(config, 3)
    hub = HubProcess(config, workdir)
    hub.start()
    try:
        tokens = {"kiosk": creds.kiosk, "admin": login(hub.url, "admin", None, "admin-password")}
        yield hub, tokens
    finally:
        hub.stop()


#: How long one ``st run`` may take: several times what it takes on the slowest machine seen (about
#: 100 s each there after this trim), so a slow machine is slow, not red.
RUN_TIMEOUT = 480


def schemathesis(hub: HubProcess, name: str, *args: str, seed: int) -> None:
    """Run ``st run`` against the hub; fail with Schemathesis' own report of what broke."""
    report = ARTIFACTS.parent / f"schemathesis-{name}.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(ST),
        # What the document cannot say (GET /stats: a period's two dates may each fit and still be refused).
        "--config-file",
        str(CONFIG),
        "run",
        f"{hub.url}/api/v1/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        # 6 an operation besides the coverage phase's own boundary cases: 25 took the three runs past
        # two minutes each once the admin console's operations came, 10 past three minutes in all on
        # 2 cores (CI's 15-minute budget).
        "6",
        "--seed",
        str(seed),
        "--continue-on-failure",
        "--request-timeout",
        "20",
        "--workers",
        "1",
        *args,
    ]
    # Its cache (.schemathesis/) goes with the reports, never into the repository (cwd).
    done = subprocess.run(
        command, cwd=report.parent, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    report.write_text(done.stdout + done.stderr, encoding="utf-8")
    assert done.returncode == 0, (
        f"schemathesis ({name}) found failures; report in {report}:\n" + (done.stdout[-12000:])
    )
    assert "generated" in done.stdout  # it really ran cases


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_anonymous_caller(running: tuple[HubProcess, dict[str, str]]) -> None:
    """Without credentials, 86 of the 103 operations answer 401 or 403 before they read anything: the
    coverage, fuzzing and stateful phases would test the token check over and over (most of this
    run's 77 s on a 2-core CI). Those operations get their examples with no token (every one refused
    in the documented shape); the kiosk's and the admin's runs fuzz them with a token. The operations
    open to anyone (a ticket's status, cancel, evaluation, pairing, the phone's pages) get every
    phase, no token, in a second run of their own."""
    hub, _ = running
    schemathesis(hub, "anonymous", "--phases", "examples", seed=1)
    # The operations the document opens to anyone (``security: []``): every phase.
    schemathesis(hub, "anonymous-open", "--include-by", "/security == []", seed=1)


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_kiosk(running: tuple[HubProcess, dict[str, str]]) -> None:
    hub, tokens = running
    schemathesis(hub, "kiosk", "-H", f"Authorization: Bearer {tokens['kiosk']}", seed=2)


@pytest.mark.timeout(RUN_TIMEOUT + 60)
def test_admin(running: tuple[HubProcess, dict[str, str]]) -> None:
    """As an admin every counter action is reached; logging out would end the run's own session."""
    hub, tokens = running
    schemathesis(
        hub,
        "admin",
        "-H",
        f"Authorization: Bearer {tokens['admin']}",
        "--exclude-path",
        "/auth/logout",
        # A CSV whose lines are wrong is 400 bad_import although the body fits the schema: the
        # document cannot describe CSV. tests/test_appointments_api.py tests its refusals.
        "--exclude-path",
        "/appointments/import",
        # The same for a rota CSV (tests/test_posts.py and tests/test_staff_api.py test its refusals).
        "--exclude-path",
        "/staff/rota/import",
        seed=3,
    )
