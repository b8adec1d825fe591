"""Calls said aloud through the hub: announcements reach the lobby in call order, as real WAVs.

A real hub process with ``[voice]`` on renders each call with espeak-ng in its
announcer worker and tells the lobby screens where the WAV is; killing that
worker never stops the calls.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import (
    ADMIN_PASSWORD,
    HubProcess,
    bearer,
    issue,
    lobby_voice_toml,
    login,
    provision,
    write_site,
)
from tests.test_live import listening
from tests.test_openapi import DOC_PATH, schema_validator
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

WAIT = 30.0


@pytest.fixture
def voiced(tmp_path: Path) -> Iterator[tuple[HubProcess, Any]]:
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'q.db'}", counters=3)
    config.write_text(config.read_text() + lobby_voice_toml(tmp_path / "voice"), encoding="utf-8")
    creds = provision(config, 3)
    hub = HubProcess(config, tmp_path)
    hub.start()
    try:
        yield hub, creds
    finally:
        hub.stop()


def voice_state(hub: HubProcess, token: str) -> str:
    devices = requests.get(f"{hub.url}/api/v1/devices", headers=bearer(token), timeout=10).json()["devices"]
    return next(d["state"] for d in devices if d["name"] == "voice")


def announcer_workers(hub_pid: int) -> list[int]:
    """The hub's announcer workers: its children that multiprocessing's spawn started.

    Not any child: multiprocessing's resource tracker is one too, and a child killed but not
    reaped yet stays listed (a zombie, whose command line is empty).
    """
    children = Path(f"/proc/{hub_pid}/task/{hub_pid}/children")
    found = []
    for pid in children.read_text().split() if children.exists() else []:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # gone since the list was read
            continue
        if b"spawn_main" in command:
            found.append(int(pid))
    return found


def test_calls_are_announced_in_order_as_wavs(voiced: tuple[HubProcess, Any]) -> None:
    hub, creds = voiced
    tickets = [issue(hub, creds.kiosk, "PAY") for _ in range(5)]
    clerks = {n: bearer(login(hub.url, f"clerk{n}", n)) for n in (1, 2, 3)}
    with listening(hub, {"token": creds.display}) as screen:
        screen.wait_for("snapshot")
        for i, _ in enumerate(tickets):  # five calls in well under a second
            counter = i % 3 + 1
            answer = requests.post(
                f"{hub.url}/api/v1/counters/{counter}/call-next", headers=clerks[counter], timeout=10
            )
            assert answer.status_code == 200
        heard = [screen.wait_for("announcement") for _ in tickets]
        assert [a["number"] for a in heard] == [t["number"] for t in tickets], "announced out of call order"
        assert [a["seq"] for a in heard] == sorted(a["seq"] for a in heard)
        assert "A 零 零 一" in heard[0]["texts"][0][1]
        # A backlog: the second had three calls behind it when its turn came, so it was said faster
        # (one language, no chime, said once: speed is all this hall's phrasing can give up).
        assert heard[1]["shortened"] == ["rate"], heard[1]
        api = json.loads(DOC_PATH.read_text(encoding="utf-8"))
        validator = schema_validator(api, api["x-socketio-events"]["announcement"]["payload"])
        for announcement in heard:
            validator.validate(announcement)

        audio = requests.get(hub.url + heard[0]["url"], timeout=10)
        assert audio.status_code == 200 and audio.headers["Content-Type"] == "audio/wav"
        with wave.open(io.BytesIO(audio.content)) as wav:
            assert wav.getframerate() >= 22050
            assert 1.0 <= wav.getnframes() / wav.getframerate() <= 10.0

        assert requests.post(f"{hub.url}/api/v1/counters/1/recall", headers=clerks[1], timeout=10).ok
        again = screen.wait_for("announcement")
        assert again["recall"] is True and again["number"] == tickets[3]["number"]
    assert requests.get(f"{hub.url}/voice/not-a-file.wav", timeout=10).status_code == 404
    assert "Traceback" not in hub.log()


def test_a_killed_announcer_never_stops_the_calls(voiced: tuple[HubProcess, Any]) -> None:
    hub, creds = voiced
    admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
    wait_until(lambda: voice_state(hub, admin) == "online", "the voice is online", timeout=WAIT)
    workers = wait_until(lambda: announcer_workers(hub.proc.pid), "an announcer worker runs", timeout=WAIT)
    tickets = [issue(hub, creds.kiosk, "PAY") for _ in range(2)]
    clerk = bearer(login(hub.url, "clerk1", 1))
    with listening(hub, {"token": creds.display}) as screen, listening(hub, {"token": admin}) as staff:
        screen.wait_for("snapshot")
        staff.wait_for("snapshot")
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        answer = requests.post(f"{hub.url}/api/v1/counters/1/call-next", headers=clerk, timeout=10)
        assert answer.status_code == 200
        assert time.monotonic() - started < 1.0, "a call waited for the voice"
        heard = screen.wait_for("announcement")
        assert heard["number"] == tickets[0]["number"]
        assert time.monotonic() - started <= 5.0 + 1.0, "the next call was not announced within 5 s"
        # The admin page was told: the voice went out of order, then came back.
        staff.wait_for("device_status", lambda d: d["name"] == "voice" and d["state"] != "online")
        staff.wait_for("device_status", lambda d: d["name"] == "voice" and d["state"] == "online")
    assert set(announcer_workers(hub.proc.pid)).isdisjoint(workers), "the worker was not restarted"
