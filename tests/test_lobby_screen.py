"""A lobby screen's own settings: ``settings.layout`` / ``settings.recent`` in the site config, checked with
one clear line, and ``GET /api/v1/screen`` (display role only) that reads them at request time.

The app runs in this process (Flask's test client); each answer is checked
against server/api/openapi.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from server.app import create_app
from server.config import ConfigError, LobbyScreenSettings, SiteConfig, load_config
from server.core.calendar import utc_now
from tests.support import write_site
from tests.test_openapi import DOC_PATH, check_answer

SCREENS = """
[[devices]]
name = "hall-tv"
kind = "lobby_screen"

[[devices]]
name = "wing-b"
kind = "lobby_screen"
settings = { layout = "clinic_rooms", recent = 8 }
"""


def site(tmp_path: Path, screens: str = SCREENS) -> Path:
    path = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'qcall.db'}", counters=2)
    path.write_text(path.read_text(encoding="utf-8") + screens, encoding="utf-8")
    return path


def test_a_screen_without_settings_is_landscape_showing_six_calls(tmp_path: Path) -> None:
    config = load_config(site(tmp_path))
    assert config.lobby_screen("hall-tv") == LobbyScreenSettings(layout="landscape", recent=6)
    assert config.lobby_screen("wing-b") == LobbyScreenSettings(layout="clinic_rooms", recent=8)
    assert config.lobby_screen("nowhere") is None


@pytest.mark.parametrize(
    ("settings", "needles"),
    [
        (
            '{ layout = "tall" }',
            ["devices[1].settings.layout", "'landscape', 'portrait', 'counter_list'", "'tall'"],
        ),
        ("{ layout = 3 }", ["devices[1].settings.layout", "'clinic_rooms'"]),
        ("{ recent = 0 }", ["devices[1].settings.recent", "greater than or equal to 1"]),
        ("{ recent = 11 }", ["devices[1].settings.recent", "less than or equal to 10"]),
        ('{ layuot = "portrait" }', ["devices[1].settings.layuot: unknown key"]),
    ],
)
def test_bad_screen_settings_get_one_line_naming_the_key(
    tmp_path: Path, settings: str, needles: list[str]
) -> None:
    path = site(tmp_path, SCREENS.replace('{ layout = "clinic_rooms", recent = 8 }', settings))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    for needle in needles:
        assert needle in message, message


def test_the_hospital_sample_lays_out_its_wings_by_room_and_on_its_side() -> None:
    config = load_config(Path(__file__).parents[1] / "config" / "samples" / "hospital_outpatient.toml")
    assert config.lobby_screen("lobby-1") == LobbyScreenSettings(layout="clinic_rooms", recent=6, zone="F1")
    assert config.lobby_screen("pharmacy-lobby") == LobbyScreenSettings(
        layout="portrait", recent=8, zone="PHARM"
    )


@dataclass
class Hall:
    client: FlaskClient
    tokens: dict[str, str]
    config: SiteConfig
    doc: dict[str, Any]

    def screen(self, who: str | None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        answer = self.client.get("/api/v1/screen", headers=headers)
        check_answer(self.doc, "get", "/screen", answer)
        return answer


@pytest.fixture
def hall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path))
    app = create_app(load_config(site(tmp_path)), async_mode="threading")
    hub = app.extensions["qcall"]
    now = utc_now()
    tokens = {
        name: hub.accounts.create_device_token("display", name, now)
        for name in ("hall-tv", "wing-b", "spare")
    }
    tokens["kiosk"] = hub.accounts.create_device_token("kiosk", "kiosk-1", now)
    hub.accounts.add_user("clerk", "staff", "clerk-password", now)
    hub.accounts.add_user("boss", "admin", "admin-password", now)
    for user, password in (("clerk", "clerk-password"), ("boss", "admin-password")):
        answer = app.test_client().post(
            "/api/v1/auth/login",
            json={"username": user, "password": password, "counter": 1 if user == "clerk" else None},
        )
        tokens[user] = answer.get_json()["token"]
    yield Hall(app.test_client(), tokens, hub.config, json.loads(DOC_PATH.read_text(encoding="utf-8")))
    hub.store.engine.dispose()


def test_each_screen_gets_its_own_layout(hall: Hall) -> None:
    assert hall.screen("wing-b").get_json() == {
        "name": "wing-b",
        "configured": True,
        "layout": "clinic_rooms",
        "recent": 8,
        "layouts": ["landscape", "portrait", "counter_list", "clinic_rooms"],
        "recent_max": 10,
    }
    tv = hall.screen("hall-tv").get_json()
    assert (tv["name"], tv["configured"], tv["layout"], tv["recent"]) == ("hall-tv", True, "landscape", 6)
    # A display token the config does not list: the defaults, and it says so.
    spare = hall.screen("spare").get_json()
    assert (spare["configured"], spare["layout"], spare["recent"]) == (False, "landscape", 6)


def test_the_config_is_read_at_each_request(hall: Hall) -> None:
    """Whoever makes the config live swaps or edits hub.config: the next answer follows it."""
    device = next(d for d in hall.config.devices if d.name == "hall-tv")
    device.settings = {"layout": "portrait", "recent": 4}
    answer = hall.screen("hall-tv").get_json()
    assert (answer["layout"], answer["recent"]) == ("portrait", 4)


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("kiosk", 403), ("clerk", 403), ("boss", 403)])
def test_only_a_display_reads_a_screen(hall: Hall, who: str | None, status: int) -> None:
    answer = hall.screen(who)
    assert answer.status_code == status
    assert set(answer.get_json()) == {"error", "code", "error_zh", "error_en"}
