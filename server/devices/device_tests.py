"""Device tests from the admin page: a test slip, a test frame, a test phrase.

An installer standing at a printer or under an LED display wants to know
that the hub reaches it, through the same path a ticket or a call takes. Each
test answers with what happened, in both languages; the API route audits it.
Nothing here touches the queue: a test is no ticket and no call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .board import DeviceBoard
from .push import Publish
from .rooms import device_room

if TYPE_CHECKING:
    from ..hub import Hub

#: The event a kiosk or screen page hears for its test frame.
DEVICE_TEST = "device_test"
#: Kinds whose page shows a test frame when told over its socket.
PAGE_KINDS = ("kiosk", "lobby_screen", "counter_screen")


class UnknownDevice(Exception):
    """No configured (or hub-made) device of that name."""


class NotTestable(Exception):
    """A device with nothing to test from the hub (a keypad only sends)."""


@dataclass(frozen=True)
class TestResult:
    device: str
    kind: str
    test: str  # print | display | voice
    ok: bool
    detail_zh: str
    detail_en: str
    extra: dict[str, Any]

    def public(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "kind": self.kind,
            "test": self.test,
            "ok": self.ok,
            "detail_zh": self.detail_zh,
            "detail_en": self.detail_en,
            **self.extra,
        }


def run_test(hub: Hub, name: str) -> TestResult:
    """Test the device ``name`` the way its kind allows."""
    status = hub.devices.get(name)
    if status is None:
        raise UnknownDevice(name)
    kind = status.kind
    if kind == "printer":
        return _test_print(hub, name)
    if kind == "led_display":
        return _test_led(hub, name)
    if kind == "speaker":
        return _test_voice(hub, name)
    if kind in PAGE_KINDS:
        result = _test_page(hub.devices, hub.push.publish, name, kind)
        if kind == "lobby_screen":
            voice = _test_voice(hub, name)
            return TestResult(
                name,
                kind,
                "display+voice",
                result.ok,
                f"{result.detail_zh}；{voice.detail_zh}",
                f"{result.detail_en}; {voice.detail_en}",
                {},
            )
        return result
    raise NotTestable(f"a {kind} has nothing the hub can test (it only sends)")


#: What each outcome says, in Chinese and English.
SAID: dict[str, tuple[str, str]] = {
    "print.queued": ("测试页已送往打印机。", "The test slip went to the printer."),
    "print.full": ("打印队列已满，测试页未送出。", "The print queue is full."),
    "print.elsewhere": (
        "此打印机由进程 {who} 驱动（多进程部署），测试页未送出：请在该进程上测试。",
        "Hub process {who} drives this printer (several processes): test it there.",
    ),
    "print.waiting": (
        "打印机当前不可用（{why}），测试页将在其恢复后打印。",
        "The printer is not ready ({why}); the test slip prints when it is.",
    ),
    "led.absent": ("此显示屏不在串口总线上。", "This display is not on the serial bus."),
    "led.shown": (
        "{counter} 号窗口的显示屏显示 8888，5 秒后恢复。",
        "The display of counter {counter} shows 8888 for 5 seconds.",
    ),
    "page.absent": ("此屏幕未连接，无法显示测试画面。", "This screen is not connected."),
    "page.shown": ("屏幕显示测试画面 5 秒。", "The screen shows a test frame for 5 seconds."),
    "voice.off": ("本厅未启用语音播报。", "Voice is off in this hall."),
    "voice.said": ("正在播放测试语音。", "The test phrase is being announced."),
}


def _said(
    name: str, kind: str, test: str, ok: bool, key: str, extra: dict[str, Any] | None = None, **words: Any
) -> TestResult:
    zh, en = SAID[key]
    return TestResult(name, kind, test, ok, zh.format(**words), en.format(**words), extra or {})


def _test_print(hub: Hub, name: str) -> TestResult:
    answer = hub.printing.test_print(name)
    state = answer.get("state")
    if state == "queued":
        return _said(name, "printer", "print", True, "print.queued", answer)
    if state == "failed" and "driven_by" in answer:
        return _said(name, "printer", "print", False, "print.elsewhere", answer, who=answer["driven_by"])
    if state == "failed":
        return _said(name, "printer", "print", False, "print.full", answer)
    why = answer.get("detail") or "unknown"
    return _said(name, "printer", "print", False, "print.waiting", answer, why=why)


def _test_led(hub: Hub, name: str) -> TestResult:
    counter = next((d.counter for d in hub.config.devices if d.name == name), None)
    shown = hub.counter_devices.test_display(counter) if counter is not None else []
    if not shown:
        return _said(name, "led_display", "display", False, "led.absent")
    return _said(name, "led_display", "display", True, "led.shown", {"counter": counter}, counter=counter)


def _test_page(board: DeviceBoard, publish: Publish, name: str, kind: str) -> TestResult:
    state = board.get(name)
    if state is None or state.state != "online":
        return _said(name, kind, "display", False, "page.absent")
    publish(DEVICE_TEST, {"test": "display", "seconds": 5}, device_room(name))
    return _said(name, kind, "display", True, "page.shown")


def _test_voice(hub: Hub, name: str) -> TestResult:
    """The test phrase where this screen or speaker listens: its zone's announcer when it has a zone."""
    device = next((d for d in hub.config.devices if d.name == name), None)
    zone = device.settings.get("zone") if device is not None else None
    if not hub.voice.test_phrase(zone if isinstance(zone, str) else None):
        return _said(name, "speaker", "voice", False, "voice.off")
    return _said(name, "speaker", "voice", True, "voice.said")
