"""Lobby screens and voice zones saved from the admin page (issue 14), on SQLite and PostgreSQL.

The ``devices`` section may only add or remove a lobby screen or change its
layout, recent count and zone: ``GET /screen`` answers the new layout at once;
any other device change is 422 ``invalid_settings`` naming the field, and
nothing is saved. The ``zones`` section applies at the next call; a lobby
screen already connected whose zone changed hears its new zone's calls
without a reconnect; a zoned screen's voice test is said in its zone.

The hub's voice is built with announcers that render at once (no worker, no
sound), so an announcement is the Socket.IO event a screen's socket receives.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from flask_socketio import SocketIOTestClient

from server.devices.voice import VoiceService
from server.hub import Hub
from server.screens import KIND_NAMES
from server.store.accounts import Actor
from tests.support import write_site
from tests.test_settings import PREFIX, T0, Hall, start
from tests.test_voice_zones import VOICE, Rendering
from tests.waiting import wait_until

#: Zone A hears counter 1, zone B counters 2 and 3; screen-a is in A, screen-b in B, screen-hall in none.
SCREENS = """
[[zones]]
code = "A"
name_zh = "一楼"
name_en = "Floor 1"
counters = [1]

[[zones]]
code = "B"
name_zh = "二楼"
name_en = "Floor 2"
counters = [2, 3]

[[devices]]
name = "screen-a"
kind = "lobby_screen"
settings = { zone = "A" }

[[devices]]
name = "screen-b"
kind = "lobby_screen"
settings = { zone = "B", layout = "portrait" }

[[devices]]
name = "screen-hall"
kind = "lobby_screen"

[[devices]]
name = "kiosk-1"
kind = "kiosk"
settings = { printer = "printer-1" }

[[devices]]
name = "printer-1"
kind = "printer"
settings = { connector = "file", path = "{paper}" }
"""


@pytest.fixture
def hall(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hall]:
    path = write_site(tmp_path / "site.toml", database_url, counters=3)
    path.write_text(
        path.read_text(encoding="utf-8") + SCREENS.replace("{paper}", str(tmp_path / "paper")),
        encoding="utf-8",
    )
    app, tokens = start(path, tmp_path, monkeypatch)
    hub: Hub = app.extensions["qcall"]
    for name in ("screen-a", "screen-b", "screen-hall"):
        tokens[name] = hub.accounts.create_device_token("display", name, T0)
    # The hub's voice, speaking to the lobby at once through announcers that render without sound.
    voiced = hub.config.model_copy(update={"voice": _voice(tmp_path)})
    hub.voice = VoiceService(
        voiced, hub.core, hub.devices, hub.push.publish, hub.config.folder,
        current=lambda: hub.config, make_announcer=cast(Any, Rendering),
    )  # fmt: skip
    hall = Hall(app, app.test_client(), tokens, path, database_url)
    try:
        yield hall
    finally:
        if not hall.hub.closed:
            hall.hub.close()


def _voice(tmp_path: Path) -> dict[str, Any]:
    import tomllib

    voice: dict[str, Any] = tomllib.loads(VOICE.format(cache=tmp_path / "cache"))["voice"]
    return voice


def screen_socket(hall: Hall, name: str) -> SocketIOTestClient:
    client = hall.app.extensions["socketio"].test_client(hall.app, auth={"token": hall.tokens[name]})
    assert client.is_connected()
    client.get_received()  # the snapshot
    return client


def heard(socket: SocketIOTestClient) -> list[tuple[str | None, str]]:
    """The announcements a screen's socket received since last asked: (zone, number)."""
    return [
        (event["args"][0]["zone"], event["args"][0]["number"])
        for event in socket.get_received()
        if event["name"] == "announcement"
    ]


def call(hall: Hall, action: str = "call-next") -> str:
    if action == "call-next":
        assert hall.call("POST", "/tickets", "kiosk", json={"service": "PAY"}).status_code == 201
    body = hall.ok("POST", f"/counters/1/{action}", "ann", json={})
    number: str = body["ticket"]["number"] if "ticket" in body else body["number"]
    return number


def devices(hall: Hall) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = copy.deepcopy(hall.section("devices")["value"])
    return value


def screen(value: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d for d in value if d["name"] == name)


def layout(hall: Hall, name: str) -> dict[str, Any]:
    body: dict[str, Any] = hall.ok("GET", "/screen", name)
    return body


# -- the devices section: lobby screens only ---------------------------------------------------------


def test_lobby_screens_are_changed_added_and_removed_live(hall: Hall) -> None:
    assert layout(hall, "screen-a")["layout"] == "landscape"
    value = devices(hall)
    screen(value, "screen-a")["settings"].update(layout="clinic_rooms", recent=4)
    value = [d for d in value if d["name"] != "screen-hall"]
    value.insert(0, {"name": "lobby-2f", "kind": "lobby_screen", "settings": {"layout": "counter_list"}})
    saved = hall.save("devices", value)
    assert saved["version"] == 1 and saved["stored"] is True
    answer = layout(hall, "screen-a")
    assert (answer["layout"], answer["recent"]) == ("clinic_rooms", 4), "GET /screen answers the new layout"
    hall.tokens["lobby-2f"] = hall.hub.accounts.create_device_token("display", "lobby-2f", T0)
    assert layout(hall, "lobby-2f")["layout"] == "counter_list"
    assert hall.hub.config.lobby_screen("screen-hall") is None, "removed"
    assert hall.hub.devices.get("lobby-2f") is not None, "a screen added here is on the device board"
    # The other devices are the file's, untouched; the change is audited before → after.
    kinds = sorted(d.kind for d in hall.hub.config.devices if d.kind != "lobby_screen")
    assert kinds == ["kiosk", "printer"]
    [row] = [r for r in hall.hub.audit.recent(5) if r.action == "settings.devices"]
    assert row.actor == "boss"
    assert "clinic_rooms" in str(row.detail["after"]) and "clinic_rooms" not in str(row.detail["before"])


def _printer_path(value: list[dict[str, Any]]) -> str:
    index = next(i for i, d in enumerate(value) if d["kind"] == "printer")
    value[index]["settings"]["path"] = "/tmp/elsewhere"
    return f"devices[{index}].settings.path"


def _kiosk_gone(value: list[dict[str, Any]]) -> str:
    index = next(i for i, d in enumerate(value) if d["kind"] == "kiosk")
    del value[index]
    return f"devices[{index}]"


def _new_speaker(value: list[dict[str, Any]]) -> str:
    value.append({"name": "amp-1", "kind": "speaker"})
    return f"devices[{len(value) - 1}].kind"


def _screen_counter(value: list[dict[str, Any]]) -> str:
    index = next(i for i, d in enumerate(value) if d["name"] == "screen-a")
    value[index]["counter"] = 1
    return f"devices[{index}].counter"


def _kiosk_renamed(value: list[dict[str, Any]]) -> str:
    index = next(i for i, d in enumerate(value) if d["kind"] == "kiosk")
    value[index]["name"] = "kiosk-9"
    return f"devices[{index}].kind"  # a kiosk added (and the old one gone)


def _screen_made_kiosk(value: list[dict[str, Any]]) -> str:
    index = next(i for i, d in enumerate(value) if d["name"] == "screen-hall")
    value[index]["kind"] = "kiosk"
    return f"devices[{index}].kind"


@pytest.mark.parametrize(
    "change", [_printer_path, _kiosk_gone, _new_speaker, _screen_counter, _kiosk_renamed, _screen_made_kiosk]
)
def test_any_other_device_change_is_refused_naming_the_field(hall: Hall, change: Any) -> None:
    value = devices(hall)
    screen(value, "screen-a")["settings"]["layout"] = "portrait"  # allowed, but not with the rest
    field = change(value)
    body = hall.refused(
        "PUT", "/admin/settings/devices", "boss", 422, "invalid_settings", json={"value": value, "version": 0}
    )
    assert body["problems"][0]["field"] == field, body
    assert "site file" in body["problems"][0]["message"] and "restart" in body["problems"][0]["message"]
    # Each language whole: the Chinese says the same, the English has no Chinese in it.
    assert "配置文件中修改并重启" in body["problems"][0]["error_zh"], body
    assert (
        body["problems"][0]["error_en"] == body["problems"][0]["message"] and "重启" not in body["error_en"]
    )
    assert hall.section("devices")["version"] == 0, "nothing saved"
    assert layout(hall, "screen-a")["layout"] == "landscape"


def test_a_lobby_screens_bad_setting_is_refused_by_the_sites_rules(hall: Hall) -> None:
    value = devices(hall)
    screen(value, "screen-a")["settings"]["recent"] = 11
    body = hall.refused(
        "PUT", "/admin/settings/devices", "boss", 422, "invalid_settings", json={"value": value, "version": 0}
    )
    index = [d["name"] for d in value].index("screen-a")
    [problem] = body["problems"]
    assert problem["field"] == f"devices[{index}].settings.recent", body
    assert (problem["error_zh"], problem["error_en"]) == (
        "须不大于 10，收到 11",
        "Input should be less than or equal to 10, got 11",
    )
    assert body["error"] == f"devices[{index}].settings.recent: {problem['message']}"
    screen(value, "screen-a")["settings"].update(recent=3, zone="C")
    body = hall.refused(
        "PUT", "/admin/settings/devices", "boss", 422, "invalid_settings", json={"value": value, "version": 0}
    )
    assert body["problems"][0]["field"] == f"devices[{index}].settings.zone", body
    assert "unknown zone 'C'" in body["problems"][0]["message"]
    assert body["problems"][0]["error_zh"] == "没有分区 'C'；应为 ['A', 'B'] 之一", body
    assert hall.section("devices")["version"] == 0, "nothing saved"
    assert hall.ok("GET", "/admin/audit?action=settings.devices")["entries"] == []


def test_staff_and_supervisors_cannot_save_screens(hall: Hall) -> None:
    value = devices(hall)
    for who in ("sue", "ann", "screen-a"):
        hall.refused(
            "PUT", "/admin/settings/devices", who, 403, "forbidden", json={"value": value, "version": 0}
        )


# -- the zones section, live -----------------------------------------------------------------------


def test_a_counter_moved_to_another_zone_is_heard_there_at_the_next_call(hall: Hall) -> None:
    a, b, whole = (screen_socket(hall, name) for name in ("screen-a", "screen-b", "screen-hall"))
    first = call(hall)
    wait_until(lambda: heard(whole) == [(None, first)], "the whole hall hears the first call")
    assert heard(a) == [("A", first)] and heard(b) == []
    zones = hall.section("zones")["value"]
    zones[0]["counters"] = [3]
    zones[1]["counters"] = [1, 2, 3]  # counter 1 now in zone B
    hall.save("zones", zones)
    assert [z.counters for z in hall.hub.config.zones] == [[3], [1, 2, 3]]
    second = call(hall)
    wait_until(lambda: heard(b) == [("B", second)], "zone B hears counter 1 at the next call")
    assert heard(a) == [], "zone A no longer hears counter 1"
    [row] = [r for r in hall.hub.audit.recent(5) if r.action == "settings.zones"]
    assert row.detail["before"][1]["counters"] == [2, 3] and row.detail["after"][1]["counters"] == [1, 2, 3]


def test_a_connected_screen_moved_to_another_zone_hears_it_without_reconnecting(hall: Hall) -> None:
    b = screen_socket(hall, "screen-b")
    first = call(hall)  # counter 1: zone A
    a = screen_socket(hall, "screen-a")
    assert heard(a) == [] and heard(b) == [], "screen-b is in zone B: counter 1 is not its"
    value = devices(hall)
    screen(value, "screen-b")["settings"]["zone"] = "A"
    screen(value, "screen-a").setdefault("settings", {}).pop("zone")  # the whole hall now
    hall.save("devices", value)
    assert b.is_connected() and a.is_connected()
    again = call(hall, "recall")
    assert again == first
    wait_until(lambda: heard(b) == [("A", first)], "screen-b, still connected, hears zone A")
    assert heard(a) == [(None, first)], "screen-a left zone A for the whole hall's room"


def test_a_zone_still_named_by_a_screen_cannot_be_removed(hall: Hall) -> None:
    zones = hall.section("zones")["value"][:1]  # zone B gone; screen-b is in it
    body = hall.refused(
        "PUT", "/admin/settings/zones", "boss", 422, "invalid_settings", json={"value": zones, "version": 0}
    )
    index = [d.name for d in hall.hub.config.devices].index("screen-b")
    assert body["problems"][0]["field"] == f"devices[{index}].settings.zone", body
    assert "unknown zone 'B'" in body["problems"][0]["message"]
    assert hall.section("zones")["version"] == 0


# -- a zoned screen's voice test ---------------------------------------------------------------------


def test_a_zoned_screens_voice_test_is_said_in_its_zone(hall: Hall) -> None:
    a, b, whole = (screen_socket(hall, name) for name in ("screen-a", "screen-b", "screen-hall"))
    body = hall.ok("POST", "/admin/devices/screen-a/test", json={})
    assert body["test"] == "display+voice" and body["ok"] is True, body
    wait_until(lambda: heard(a) == [("A", "123")], "screen-a hears its test phrase in zone A")
    assert heard(b) == [] and heard(whole) == [], "nobody else hears it"
    body = hall.ok("POST", "/admin/devices/screen-hall/test", json={})
    wait_until(lambda: heard(whole) == [(None, "123")], "a screen of no zone: the whole hall's announcer")
    assert heard(a) == [] and heard(b) == []


def test_the_settings_list_names_zones_and_devices(hall: Hall) -> None:
    sections = hall.ok("GET", "/admin/settings")["sections"]
    assert [z["code"] for z in sections["zones"]["value"]] == ["A", "B"]
    assert {d["name"] for d in sections["devices"]["value"]} >= {"screen-a", "screen-b", "screen-hall"}
    assert hall.call("GET", "/admin/settings/devices", "ann").status_code == 403
    assert PREFIX == "/api/v1"


def test_an_import_takes_the_files_devices_and_the_hub_runs_the_files_other_devices(hall: Hall) -> None:
    """The CLI's import (no version) may carry other devices; once saved, the printers are the file's."""
    value = devices(hall)
    printer = next(d for d in value if d["kind"] == "printer")
    printer["settings"]["path"] = "/tmp/elsewhere"
    screen(value, "screen-a")["settings"]["layout"] = "portrait"
    current = hall.hub.config
    day = hall.hub.core.hall.calendar.business_day(T0)
    _config, saved = hall.hub.settings.save(current, {"devices": value}, Actor("cli", "local"), T0, day)
    assert [s.section for s in saved] == ["devices"]
    effective = hall.hub.settings.effective()
    assert effective.lobby_screen("screen-a") is not None
    assert effective.lobby_screen("screen-a").layout == "portrait"  # type: ignore[union-attr]
    [file_printer] = [d for d in effective.devices if d.kind == "printer"]
    assert file_printer.settings["path"] != "/tmp/elsewhere", "the file's printer, not the saved copy"


def test_the_hubs_device_kind_words_are_the_admin_pages() -> None:
    """A refusal names a kind of device as the admin page's list names it (``server/screens.py``'s
    ``KIND_NAMES``, ``counter_ui/admin.js``'s ``kind.*``): the two tables say the same, word for word
    in Chinese, and in English but for the page's capital."""
    script = (Path(__file__).resolve().parents[1] / "counter_ui" / "admin.js").read_text(encoding="utf-8")
    found = re.findall(r'"kind\.([a-z_]+)": "([^"]*)"', script)
    zh = dict(found[: len(found) // 2])
    en = dict(found[len(found) // 2 :])
    assert zh.keys() == en.keys(), "the page's two languages list the same kinds"
    assert {kind: (zh[kind], en[kind].lower()) for kind in KIND_NAMES} == {
        kind: (words[0], words[1].lower()) for kind, words in KIND_NAMES.items()
    }
