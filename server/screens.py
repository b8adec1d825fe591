"""The lobby screens in the ``devices`` section saved from the admin page: the only devices it may change.

A lobby screen is a browser page: its layout, how many calls it shows and its
voice zone are read at request time (``GET /api/v1/screen``) and at each call,
so a save applies at once. Every other device holds something open — a
printer's port, an RS-485 bus, a speaker's player, a kiosk's printer — that
the hub opens once at start: those are changed in the site file and take a
restart. A save of the ``devices`` section is therefore refused (422
``invalid_settings``, the field named) unless all it does is add or remove a
lobby screen, or change a lobby screen's ``layout``, ``recent`` or ``zone``.
"""

from __future__ import annotations

from typing import Any

from .config import SiteConfig
from .core.bilingual import Problem

#: The kind the admin page may add, remove and set.
LOBBY_SCREEN = "lobby_screen"
#: The keys of a lobby screen's ``settings`` a save may change.
SCREEN_KEYS = frozenset({"layout", "recent", "zone"})
#: Why the other devices are not changed here, in each language (the form shows the hub's words).
IN_THE_FILE = (
    "此处只能修改大厅屏（布局、显示的叫号条数和分区）；打印机、取号机、窗口屏、LED 显示屏、呼叫器、"
    "评价器和语音播报占用着串口、USB 等端口：请在配置文件中修改并重启服务",
    "only lobby screens (their layout, recent calls and zone) are changed here; "
    "printers, kiosks, counter screens, LED displays, keypads, evaluation pads and voice hold serial, "
    "USB and other ports: change them in the site file and restart the hub",
)
#: Each kind of device as the admin page names it (counter_ui/admin.js, ``kind.*``; a test keeps the two
#: tables the same), in each language.
KIND_NAMES: dict[str, tuple[str, str]] = {
    "printer": ("打印机", "printer"),
    "kiosk": ("取号机", "kiosk"),
    "lobby_screen": ("大厅屏", "lobby screen"),
    "counter_screen": ("窗口屏", "counter screen"),
    "led_display": ("LED 显示屏", "LED display"),
    "speaker": ("语音播报", "voice"),
    "keypad": ("呼叫器", "keypad"),
    "evaluation_pad": ("评价器", "evaluation pad"),
}


def kind_names(kind: str) -> tuple[str, str]:
    """A kind of device in each language (its code where the page has no name for it)."""
    return KIND_NAMES.get(kind, (kind, kind))


def screen_changes_only(before: SiteConfig, after: SiteConfig) -> list[Problem]:
    """The problems (field, both languages) of a ``devices`` save that changes more than lobby screens.

    ``before``: the config the hub runs with; ``after``: the same with the saved section (checked by
    ``SiteConfig``). Fields are indexed in the saved list; a device taken away is named by its index
    in the list as it was. Order does not matter: the page may list the screens first.
    """
    old = _by_name(before)
    new = _by_name(after)
    problems: list[Problem] = []
    for index, device in enumerate(_dump(after)):
        field = f"devices[{index}]"
        was = old.get(device["name"])
        kind, name = device["kind"], repr(device["name"])
        if was is None:
            if kind != LOBBY_SCREEN:
                zh, en = kind_names(kind)
                problems.append(
                    _problem(f"{field}.kind", f"不能在此添加{zh}", f"a new {en} cannot be added here")
                )
            elif extra := sorted(set(device) - {"name", "kind", "settings"}):
                problems.append(
                    _problem(
                        f"{field}.{extra[0]}", "大厅屏在此没有这一项", "a lobby screen has no such key here"
                    )
                )
            elif extra := sorted(set(device.get("settings", {})) - SCREEN_KEYS):
                problems.append(
                    _problem(
                        f"{field}.settings.{extra[0]}", "这不是大厅屏的设置", "not a lobby screen's setting"
                    )
                )
            continue
        changed = _changed_key(was, device)
        if changed is not None:
            zh, en = kind_names(was["kind"])
            zh, en = f"{zh} {name} 不能在此修改", f"the {en} {name} cannot change here"
            problems.append(_problem(f"{field}.{changed}", zh, en))
    for index, device in enumerate(_dump(before)):
        if device["name"] not in new and device["kind"] != LOBBY_SCREEN:
            zh, en = kind_names(device["kind"])
            zh, en = f"{zh} {device['name']!r} 不能在此删除", f"the {en} {device['name']!r} cannot go here"
            problems.append(_problem(f"devices[{index}]", zh, en))
    return problems


def _changed_key(was: dict[str, Any], now: dict[str, Any]) -> str | None:
    """The first key a save may not change between a device as it was and as saved (None: none)."""
    for key in sorted(set(was) | set(now)):
        if key != "settings" and was.get(key) != now.get(key):
            return key
    settings_was, settings_now = was.get("settings", {}), now.get("settings", {})
    allowed = SCREEN_KEYS if was["kind"] == LOBBY_SCREEN else frozenset()
    for key in sorted(set(settings_was) | set(settings_now)):
        if key not in allowed and settings_was.get(key) != settings_now.get(key):
            return f"settings.{key}"
    return None


def _problem(field: str, zh: str, en: str) -> Problem:
    return Problem(field, f"{zh}：{IN_THE_FILE[0]}", f"{en}: {IN_THE_FILE[1]}")


def _dump(config: SiteConfig) -> list[dict[str, Any]]:
    devices: list[dict[str, Any]] = config.model_dump(mode="json", include={"devices"}, exclude_none=True)[
        "devices"
    ]
    return devices


def _by_name(config: SiteConfig) -> dict[str, dict[str, Any]]:
    return {device["name"]: device for device in _dump(config)}


def over_the_files_devices(file_config: SiteConfig, saved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``devices`` the hub runs with when the section was saved: the file's other devices as the file
    says them now (an installer's edit of a printer is taken at the restart it needs), then the saved
    lobby screens."""
    others = [device for device in _dump(file_config) if device["kind"] != LOBBY_SCREEN]
    return others + [device for device in saved if device.get("kind") == LOBBY_SCREEN]
