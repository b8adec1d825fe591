"""The board of device states: what the admin page and the kiosks show about hardware.

Drivers and agents report states here; the board remembers the last one of
each device, and tells the screens only when a state changes. A device that
never reported is ``unknown``, never assumed fine — but not an alarm either:
a screen nobody has switched on yet is listed as "not seen yet", and only a
device that fails or goes away after it worked raises the admin page's banner.

A page that connects under a name the site file does not know (a token named
differently from the configured devices) is listed as such (``configured:
false``), never as an alarm on a configured device. Every detail is given in
both languages (``detail_zh``, ``detail_en``): the page shows the one it speaks.

Where several hub processes serve the hall, each printer, serial device and
the voice says which process drives it (``driven_by``: the holder of its
lease, server/devices/leases.py); the other processes list it as ``unknown``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..core.calendar import Clock
from .push import Publish
from .rooms import STAFF

#: States in which a device does its job; anything else is an alert on the admin page.
HEALTHY = frozenset({"online", "paper_near_end"})

DEVICE_STATUS = "device_status"

#: The details the hub and its drivers give, in Chinese: (pattern over the English, Chinese template).
DETAILS_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), zh)
    for pattern, zh in (
        (r"^its page is not connected$", "页面未连接"),
        (r"^announcer started$", "播报程序已启动"),
        (r"^announcer monitor failed$", "播报监控失败"),
        (r"^waiting for agent (?P<x>.+)$", "等待设备代理 {x}"),
        (r"^agent (?P<x>.+) is not connected$", "设备代理 {x} 未连接"),
        (r"^worker cannot render: (?P<x>.*)$", "语音进程无法合成（技术信息：{x}）"),
        (r"^worker restarted after: (?P<x>.*)$", "语音进程已重启（原因：{x}）"),
        (r"^cannot start the worker: (?P<x>.*)$", "语音进程无法启动（技术信息：{x}）"),
        (r"^cannot reach the worker: (?P<x>.*)$", "无法联系语音进程（技术信息：{x}）"),
        (r"^the print queue is full$", "打印队列已满"),
        (r"^not in the site file$", "站点配置中没有此设备"),
        (r"^driven by hub process (?P<x>.+)$", "由集群中的进程 {x} 驱动"),
    )
)


def detail_zh(detail: str) -> str:
    """The Chinese of a detail the hub gives; a driver's own text (an OS error) kept, marked as such."""
    if not detail:
        return ""
    for pattern, zh in DETAILS_ZH:
        found = pattern.match(detail)
        if found:
            return zh.format(**found.groupdict())
    return f"技术信息：{detail}"


@dataclass(frozen=True)
class DeviceStatus:
    name: str
    kind: str
    state: str
    detail: str
    since: str
    #: False: a page that connected under a name the site file does not list.
    configured: bool = True

    @property
    def healthy(self) -> bool:
        return self.state in HEALTHY

    @property
    def alarm(self) -> bool:
        """Needs someone: a configured device that worked and now does not (never seen is no alarm)."""
        return self.configured and not self.healthy and self.state != "unknown"

    def public(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "healthy": self.healthy,
            "alarm": self.alarm,
            "detail_zh": detail_zh(self.detail),
            "detail_en": self.detail,
        }


class DeviceBoard:
    """The last known state of every configured device."""

    def __init__(
        self,
        devices: dict[str, str],
        clock: Clock,
        publish: Publish,
        driven_by: Callable[[str], str | None] | None = None,
    ) -> None:
        """``driven_by(name)``: the process that drives the device, where several serve the hall."""
        self._driven_by = driven_by or (lambda name: None)
        self._clock = clock
        self._publish = publish
        self._lock = threading.Lock()
        now = clock().isoformat()
        self._listeners: list[Callable[[DeviceStatus], None]] = []
        self._states = {name: DeviceStatus(name, kind, "unknown", "", now) for name, kind in devices.items()}

    def subscribe(self, listener: Callable[[DeviceStatus], None]) -> None:
        """Be told of every new state after the screens are (the supervisor's feed)."""
        self._listeners.append(listener)

    def register(self, name: str, kind: str) -> None:
        """A device the hub has without a config entry (its own voice)."""
        with self._lock:
            if name not in self._states:
                self._states[name] = DeviceStatus(name, kind, "unknown", "", self._clock().isoformat())

    def report(self, name: str, state: str, detail: str = "", kind: str | None = None) -> DeviceStatus | None:
        """Record a device's state; tell the screens when it changed.

        A name the board does not know is ignored, unless ``kind`` is given (a page
        connected with a device token): then it is listed, as not configured.
        """
        with self._lock:
            old = self._states.get(name)
            if old is None:
                if kind is None:
                    return None
                old = DeviceStatus(name, kind, "unknown", "", self._clock().isoformat(), configured=False)
            if old.state == state and old.detail == detail and name in self._states:
                return old
            new = DeviceStatus(name, old.kind, state, detail, self._clock().isoformat(), old.configured)
            self._states[name] = new
        self._publish(DEVICE_STATUS, self.public(new), STAFF)
        for listener in self._listeners:
            listener(new)
        return new

    def get(self, name: str) -> DeviceStatus | None:
        return self._states.get(name)

    def public(self, status: DeviceStatus) -> dict[str, Any]:
        """What the admin page shows of a device: its state, and who drives it (several processes)."""
        return {**status.public(), "driven_by": self._driven_by(status.name)}

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            states = list(self._states.values())
        return [self.public(status) for status in states]
