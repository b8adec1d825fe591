"""The hub's memory at rest (issue 10): what it does not load, and the WebSocket it reads in one greenlet.

A hub with 1,000 lobby screens must stay under 150 MB (bench/call_fanout.py).
Two things keep it there that a later change could undo without any test
failing otherwise: the modules a running hub does not import (alembic when the
database is at the newest revision, python-socketio's client side, the admin's
exports), and :mod:`server.inline_websocket` (no reader greenlet per screen).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import requests
from alembic.script import ScriptDirectory
from websockets.sync.client import connect

from server.store import alembic_config, newest_revision
from tests.support import ROOT
from tests.waiting import wait_until

#: Loaded when first used, never by a hub at start: migrations (its database is at the newest
#: revision), python-socketio's client side and Redis queue, the reports' and settings' exports,
#: the printers' imaging.
NOT_AT_START = (
    "alembic",
    "mako",
    "pygments",
    "requests",
    "urllib3",
    "websocket",
    "redis",
    "openpyxl",
    "reportlab",
    "tomli_w",
    "PIL",
    "escpos",
    "qrcode",
    "barcode",
)

#: What ``python -m server --config FILE run`` does before it serves: the same imports, the same app.
START_LIKE_RUN = textwrap.dedent(
    """
    import json, sys
    config_path = sys.argv[1]
    sys.argv = ["server", "--config", config_path, "run"]
    import server.__main__  # gevent's patching and load_socketio(), as for ``run``
    from server.app import create_app
    from server.config import load_config

    app = create_app(load_config(config_path))
    loaded = sorted(sys.modules)
    app.extensions["qcall"].close()
    import requests  # hidden only while python-socketio loaded: importable when the hub needs it

    print(json.dumps(loaded))
    """
)


def test_the_newest_revision_read_from_the_files_is_alembics_head() -> None:
    assert newest_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_hub_starts_without_the_modules_only_first_use_needs(site, tmp_path) -> None:
    """The site's database was migrated by provisioning; a hub starting on it loads none of NOT_AT_START."""
    done = subprocess.run(
        [sys.executable, "-c", START_LIKE_RUN, str(site.config_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QCALL_VAR_DIR": str(tmp_path / "var")},
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "flask_socketio" in loaded and "server.app" in loaded  # the hub was built
    assert sorted(name for name in NOT_AT_START if name in loaded) == []


def test_a_screens_websocket_answers_pings_and_its_end_is_seen(hub, site) -> None:
    """Read by its handler greenlet: a WebSocket ping is answered, Socket.IO joins, and when the
    screen goes the hub counts it gone (its read saw the end)."""

    def connections() -> int:
        return int(requests.get(f"{hub.url}/api/v1/health", timeout=10).json()["connections"])

    url = f"ws://127.0.0.1:{hub.port}/socket.io/?EIO=4&transport=websocket"
    with connect(url, open_timeout=20) as ws:
        opened = ws.recv(timeout=20)
        assert isinstance(opened, str) and opened.startswith("0{")
        assert ws.ping().wait(timeout=20)  # answered by the hub's wsproto, frame for frame
        ws.send("40" + json.dumps({"token": site.creds.display}))
        # The hall's snapshot (sent by the connect handler) and the connect's answer, in either order.
        answers = sorted(str(ws.recv(timeout=20)) for _ in range(2))
        assert answers[0].startswith("40{"), answers[0][:60]
        assert answers[1].startswith('42["snapshot"'), answers[1][:60]
        wait_until(lambda: connections() == 1, "the screen counted as connected", log=hub.log)
    wait_until(lambda: connections() == 0, "the screen that left counted gone", log=hub.log)
