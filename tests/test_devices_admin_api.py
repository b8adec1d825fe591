"""Devices and accounts from the admin's side, against a real hub: rotating a token, pairing a screen
by its code, testing a printer (the slip decoded from the virtual printer's bytes), the board's view
of pages it knows and does not know. One hub for the module; each test makes what it needs.

The pairing desk's clock (expiry) and brake are tested on the desk itself, without a hub.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from drivers.twins.virtual_printer import VirtualPrinter
from server.devices.board import DeviceBoard, detail_zh
from server.devices.pairing import PER_ADDRESS, TTL_SECONDS, PairingDesk, PairingRefused
from server.store import make_engine
from server.store.limits import SqlLimits
from tests.support import (
    ADMIN_PASSWORD,
    Credentials,
    HubProcess,
    bearer,
    kiosk_printer_toml,
    login,
    provision,
    running_hub,
    write_site,
)
from tests.waiting import WAIT, SocketListener, wait_until

pytestmark = pytest.mark.slow

#: The screens of the test site, as a hall configures them.
SCREENS_TOML = """
[[devices]]
name = "lobby-1"
kind = "lobby_screen"

[[devices]]
name = "counter-1"
kind = "counter_screen"
counter = 1
"""


@dataclass
class DeviceHall:
    hub: HubProcess
    creds: Credentials
    twin: VirtualPrinter
    admin: str


def device_site(folder: Path, twin: VirtualPrinter) -> tuple[Path, Credentials]:
    """The test site with a kiosk (test-kiosk) printing on ``twin``, a lobby screen and counter 1's screen."""
    path = write_site(folder / "site.toml", f"sqlite:///{folder / 'qcall.db'}", counters=2)
    path.write_text(path.read_text() + kiosk_printer_toml(twin.port) + SCREENS_TOML, encoding="utf-8")
    return path, provision(path, 2)


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceHall]:
    folder = tmp_path_factory.mktemp("devices-admin")
    twin = VirtualPrinter("127.0.0.1", 0).start()
    try:
        path, creds = device_site(folder, twin)
        with running_hub(path, folder) as hub:
            yield DeviceHall(hub, creds, twin, login(hub.url, "admin", None, ADMIN_PASSWORD))
            assert "Traceback" not in hub.log(), hub.log()[-4000:]
    finally:
        twin.stop()


def call(hall: DeviceHall, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
    headers = bearer(token) if token else {}
    return requests.request(method, f"{hall.hub.url}/api/v1{path}", headers=headers, timeout=WAIT, **kw)


def ok(answer: requests.Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, f"{answer.status_code} {answer.text[:500]}"
    body: dict[str, Any] = answer.json()
    return body


def refused(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, f"expected {status}, got {answer.status_code}: {answer.text[:500]}"
    body: dict[str, Any] = answer.json()
    assert body["code"] == code and body["error"], body
    return body


def audit(hall: DeviceHall, action: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = ok(call(hall, "GET", f"/admin/audit?action={action}", hall.admin))[
        "entries"
    ]
    return entries


# -- rotate ---------------------------------------------------------------------------------------


def test_rotate_revokes_and_reissues_in_one_step_and_drops_the_old_sockets(hall: DeviceHall) -> None:
    made = ok(
        call(hall, "POST", "/admin/tokens", hall.admin, json={"role": "display", "name": "lobby-1"}), 201
    )
    assert made["url"].endswith(f"/display/lobby?token={made['token']}") and made["qr"].startswith(
        "data:image/svg"
    )
    ok(call(hall, "GET", "/queue", made["token"]))
    listed = {t["id"]: t for t in ok(call(hall, "GET", "/admin/tokens", hall.admin))["tokens"]}
    assert listed[made["id"]]["last_used_at"] is not None  # seen by this hub just now
    assert "token" not in listed[made["id"]]
    with SocketListener(hall.hub.url, {"token": made["token"]}) as screen:
        screen.wait_for("snapshot")
        rotated = ok(call(hall, "POST", f"/admin/tokens/{made['id']}/rotate", hall.admin), 201)
        assert screen.gone.wait(WAIT), "the old token's socket was not dropped"
    assert (rotated["name"], rotated["role"], rotated["replaces"]) == ("lobby-1", "display", made["id"])
    assert rotated["id"] != made["id"] and rotated["token"] != made["token"]
    refused(call(hall, "GET", "/queue", made["token"]), 401, "unauthorized")
    ok(call(hall, "GET", "/queue", rotated["token"]))
    [entry] = [e for e in audit(hall, "token.rotate") if e["detail"]["before"] == made["id"]]
    assert entry["detail"] == {"role": "display", "before": made["id"], "after": rotated["id"]}
    assert entry["actor"] == "admin"
    refused(call(hall, "POST", f"/admin/tokens/{made['id']}/rotate", hall.admin), 409, "conflict")
    refused(call(hall, "POST", "/admin/tokens/0123456789ab/rotate", hall.admin), 404, "not_found")


# -- pairing --------------------------------------------------------------------------------------


def test_a_screen_pairs_by_its_code_once_and_only_an_admin_confirms(hall: DeviceHall) -> None:
    start = ok(call(hall, "POST", "/pairing", json={"kind": "lobby_screen"}), 201)
    code, claim = start["code"], start["claim"]
    assert len(code) == 6 and start["url"].endswith(f"/counter/pair.html?code={code}")
    assert start["qr"].startswith("data:image/svg+xml;base64,") and 590 <= start["expires_in"] <= 600
    assert ok(call(hall, "POST", f"/pairing/{code}/collect", json={"claim": claim})) == {"state": "waiting"}

    # Nobody but an admin sees or confirms it.
    clerk = login(hall.hub.url, "clerk1", 1)
    for token in (clerk, hall.creds.kiosk, hall.creds.display):
        refused(call(hall, "GET", f"/admin/pairing/{code}", token), 403, "forbidden")
        refused(
            call(hall, "POST", f"/admin/pairing/{code}", token, json={"name": "lobby-1"}), 403, "forbidden"
        )
    refused(call(hall, "GET", f"/admin/pairing/{code}"), 401, "unauthorized")

    shown = ok(call(hall, "GET", f"/admin/pairing/{code.lower()}", hall.admin))
    assert (shown["kind"], shown["role"], shown["devices"]) == (
        "lobby_screen",
        "display",
        [{"name": "lobby-1", "counter": None}],
    )
    # Only a configured device of the code's kind.
    refused(
        call(hall, "POST", f"/admin/pairing/{code}", hall.admin, json={"name": "counter-1"}),
        400,
        "bad_request",
    )
    refused(call(hall, "POST", f"/admin/pairing/{code}", hall.admin, json={}), 400, "bad_request")
    done = ok(call(hall, "POST", f"/admin/pairing/{code}", hall.admin, json={"name": "lobby-1"}))
    assert (done["name"], done["role"]) == ("lobby-1", "display")
    refused(
        call(hall, "POST", f"/admin/pairing/{code}", hall.admin, json={"name": "lobby-1"}), 409, "conflict"
    )

    # The code alone is not enough: the claim the screen was given is.
    refused(call(hall, "POST", f"/pairing/{code}/collect", json={"claim": "someone-else"}), 404, "not_found")
    paired = ok(call(hall, "POST", f"/pairing/{code}/collect", json={"claim": claim}))
    assert (paired["state"], paired["name"], paired["counter"]) == ("paired", "lobby-1", None)
    ok(call(hall, "GET", "/queue", paired["token"]))
    refused(
        call(hall, "POST", f"/pairing/{code}/collect", json={"claim": claim}), 404, "not_found"
    )  # used once
    [entry] = [e for e in audit(hall, "token.pair") if e["detail"].get("code") == code]
    assert entry["detail"]["kind"] == "lobby_screen" and entry["target"].startswith("lobby-1 (")


def pair(hall: DeviceHall, kind: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A screen of ``kind`` asks for a code, the admin confirms it as ``name``: (confirmed, collected)."""
    start = ok(call(hall, "POST", "/pairing", json={"kind": kind}), 201)
    done = ok(call(hall, "POST", f"/admin/pairing/{start['code']}", hall.admin, json={"name": name}))
    paired = ok(call(hall, "POST", f"/pairing/{start['code']}/collect", json={"claim": start["claim"]}))
    return done, paired


def live_ids(hall: DeviceHall, name: str) -> list[str]:
    tokens = ok(call(hall, "GET", "/admin/tokens", hall.admin))["tokens"]
    return [t["id"] for t in tokens if t["name"] == name and t["revoked_at"] is None]


def test_re_pairing_a_screen_rotates_its_token_and_drops_the_old_socket(hall: DeviceHall) -> None:
    # Monday: the installer pairs the lobby screen (it may have a live token from earlier tests: that
    # one is replaced the same way), then pairs it again after its browser was wiped.
    _first, before = pair(hall, "lobby_screen", "lobby-1")
    [old_id] = live_ids(hall, "lobby-1")
    with SocketListener(hall.hub.url, {"token": before["token"]}) as screen:
        screen.wait_for("snapshot")
        done, after = pair(hall, "lobby_screen", "lobby-1")
        assert screen.gone.wait(WAIT), "the replaced token's socket was not dropped"
    assert done["replaces"] == old_id
    [new_id] = live_ids(hall, "lobby-1")  # one live token of the name, and not the old one
    assert new_id != old_id
    refused(call(hall, "GET", "/queue", before["token"]), 401, "unauthorized")
    ok(call(hall, "GET", "/queue", after["token"]))
    # One transaction, audited both ways: the old token's revocation names its successor, the pairing
    # names the token it replaced.
    [revoked] = [e for e in audit(hall, "token.revoke") if e["target"] == f"lobby-1 ({old_id})"]
    assert (revoked["actor"], revoked["detail"]) == ("admin", {"role": "display", "replaced_by": new_id})
    [paired] = [e for e in audit(hall, "token.pair") if e["target"] == f"lobby-1 ({new_id})"]
    assert paired["detail"]["replaces"] == [old_id]
    # The admin's own POST /admin/tokens still refuses the name: replacing is pairing's and rotate's.
    answer = call(hall, "POST", "/admin/tokens", hall.admin, json={"role": "display", "name": "lobby-1"})
    assert "exists already" in refused(answer, 409, "conflict")["error"]
    assert live_ids(hall, "lobby-1") == [new_id]


def test_a_counter_screen_learns_its_counter_and_bad_starts_are_refused(hall: DeviceHall) -> None:
    start = ok(call(hall, "POST", "/pairing", json={"kind": "counter_screen"}), 201)
    ok(call(hall, "POST", f"/admin/pairing/{start['code']}", hall.admin, json={"name": "counter-1"}))
    paired = ok(call(hall, "POST", f"/pairing/{start['code']}/collect", json={"claim": start["claim"]}))
    assert (paired["name"], paired["counter"]) == ("counter-1", 1)
    refused(call(hall, "POST", "/pairing", json={"kind": "printer"}), 400, "bad_request")
    refused(call(hall, "POST", "/pairing", json={}), 400, "bad_request")
    refused(call(hall, "GET", "/admin/pairing/ZZZZZZ", hall.admin), 404, "not_found")


def test_pairing_codes_expire_and_starts_are_braked(database_url: str) -> None:
    now = [1_000_000.0]
    desk = PairingDesk(SqlLimits(make_engine(database_url)), clock=lambda: now[0])
    pairing, claim = desk.start("kiosk", "10.0.0.7")
    assert desk.collect(pairing.code, claim) is None
    now[0] += TTL_SECONDS
    with pytest.raises(PairingRefused) as gone:
        desk.collect(pairing.code, claim)
    assert gone.value.status == 404
    with pytest.raises(PairingRefused):
        desk.waiting(pairing.code)
    # One address may start PER_ADDRESS codes in a window, then 429 until it has passed.
    for _ in range(PER_ADDRESS):
        desk.start("kiosk", "10.0.0.7")
    with pytest.raises(PairingRefused) as braked:
        desk.start("kiosk", "10.0.0.7")
    assert (braked.value.status, braked.value.code) == (429, "too_many")
    desk.start("kiosk", "10.0.0.8")  # another screen is not held up
    now[0] += TTL_SECONDS
    desk.start("kiosk", "10.0.0.7")


# -- device tests ---------------------------------------------------------------------------------


def test_test_print_lands_on_the_virtual_printer_and_is_audited(hall: DeviceHall) -> None:
    before = len(hall.twin.documents)
    answer = ok(call(hall, "POST", "/admin/devices/printer-1/test", hall.admin))
    assert (answer["test"], answer["ok"], answer["state"]) == ("print", True, "queued")
    assert answer["detail_zh"] == "测试页已送往打印机。" and answer["detail_en"]
    slip = wait_until(lambda: hall.twin.documents[before:], "the test slip printed")[0]
    texts = [line.text.strip() for line in slip.lines]
    assert "TEST" in texts and slip.cut, texts
    assert any("打印测试" in t for t in texts) and any("Test print" in t for t in texts), texts
    entry = audit(hall, "device.test")[0]
    assert (entry["target"], entry["detail"]) == (
        "printer-1",
        {"kind": "printer", "test": "print", "ok": True},
    )
    # Nothing of a visitor's: no ticket was issued.
    assert all(not s["waiting"] for s in ok(call(hall, "GET", "/queue", hall.creds.kiosk))["services"])


def test_device_tests_say_what_happened_and_are_for_admins_only(hall: DeviceHall) -> None:
    # A counter screen that is not connected: nothing shown, and said so.
    answer = ok(call(hall, "POST", "/admin/devices/counter-1/test", hall.admin))
    assert (answer["ok"], answer["detail_zh"]) == (False, "此屏幕未连接，无法显示测试画面。")
    # The screen's token: counter-1 paired earlier (the pairing test) has a live one, which an admin
    # rotates (a second live token of one name is refused); otherwise a new one.
    tokens = ok(call(hall, "GET", "/admin/tokens", hall.admin))["tokens"]
    live = [t["id"] for t in tokens if t["name"] == "counter-1" and t["revoked_at"] is None]
    made = (
        call(hall, "POST", f"/admin/tokens/{live[0]}/rotate", hall.admin)
        if live
        else call(hall, "POST", "/admin/tokens", hall.admin, json={"role": "display", "name": "counter-1"})
    )
    screen_token = ok(made, 201)["token"]
    with SocketListener(hall.hub.url, {"token": screen_token}) as screen:
        screen.wait_for("snapshot")
        wait_until(lambda: board(hall)["counter-1"]["state"] == "online", "counter-1 online")
        answer = ok(call(hall, "POST", "/admin/devices/counter-1/test", hall.admin))
        assert answer["ok"] and answer["test"] == "display"
        screen.wait_for("device_test")
    refused(call(hall, "POST", "/admin/devices/nothing-here/test", hall.admin), 404, "not_found")
    clerk = login(hall.hub.url, "clerk2", 2)
    before = len(audit(hall, "device.test"))
    for token in (clerk, hall.creds.kiosk):
        refused(call(hall, "POST", "/admin/devices/printer-1/test", token), 403, "forbidden")
    refused(call(hall, "POST", "/admin/devices/printer-1/test"), 401, "unauthorized")
    assert len(audit(hall, "device.test")) == before


# -- the board ------------------------------------------------------------------------------------


def board(hall: DeviceHall) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in ok(call(hall, "GET", "/devices", hall.admin))["devices"]}


def test_the_board_knows_its_pages_and_lists_strangers_without_an_alarm(hall: DeviceHall) -> None:
    devices = board(hall)
    # Configured and never seen: listed, not an alarm.
    assert devices["lobby-1"]["configured"] is True
    assert devices["test-kiosk"]["state"] in ("unknown", "online") and not devices["test-kiosk"]["alarm"]
    # test-display (the provisioned token) is no configured device: shown as such once it connects.
    with SocketListener(hall.hub.url, {"token": hall.creds.display}) as stranger:
        stranger.wait_for("snapshot")
        seen = wait_until(lambda: board(hall).get("test-display"), "the stranger on the board")
        assert (seen["configured"], seen["alarm"], seen["state"], seen["kind"]) == (
            False,
            False,
            "online",
            "display",
        )
        assert (seen["detail_en"], seen["detail_zh"]) == ("not in the site file", "站点配置中没有此设备")
    gone = wait_until(
        lambda: board(hall)["test-display"]["state"] == "disconnected" and board(hall)["test-display"],
        "the stranger gone",
    )
    assert gone["alarm"] is False
    # The alarms are the configured screens earlier tests connected and closed, never the stranger.
    alarms = {d["name"]: d for d in board(hall).values() if d["alarm"]}
    assert "test-display" not in alarms
    # Nor is a stranger part of the hall's health.
    assert "test-display" not in {d["name"] for d in ok(call(hall, "GET", "/health"))["devices"]}
    for alarm in alarms.values():
        assert (alarm["state"], alarm["detail_zh"]) == ("disconnected", "页面未连接"), alarm


def test_every_detail_the_hub_gives_has_its_chinese() -> None:
    assert detail_zh("its page is not connected") == "页面未连接"
    assert detail_zh("waiting for agent back-office") == "等待设备代理 back-office"
    assert detail_zh("announcer started") == "播报程序已启动"
    assert detail_zh("[Errno 111] Connection refused").startswith("技术信息：")
    assert detail_zh("") == ""
    published: list[tuple[Any, ...]] = []
    the_board = DeviceBoard(
        {"printer-1": "printer"}, lambda: datetime(2026, 1, 1, tzinfo=UTC), lambda *a: published.append(a)
    )
    assert the_board.get("printer-1") is not None and not the_board.get("printer-1").alarm  # type: ignore[union-attr]
    the_board.report("printer-1", "offline", "its page is not connected")
    state = the_board.get("printer-1")
    assert state is not None and state.alarm and state.public()["detail_zh"] == "页面未连接"
    assert published and published[-1][1]["detail_zh"] == "页面未连接"
    assert the_board.report("who", "online") is None  # a driver's report for no configured name is ignored
