"""The hub's parts held together: config, queue core, store, accounts, live snapshot.

One :class:`Hub` lives in ``app.extensions["qcall"]``; the REST and Socket.IO
adapters reach the core through it and nothing else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import SiteConfig
from .core.calendar import Clock, utc_now
from .core.events import EventBus, HallEvent
from .core.queue import QueueCore
from .devices import DeviceBoard
from .store import SqlStore, open_store
from .store.accounts import Accounts
from .store.audit import AuditLog
from .store.health import StoreHealth

if TYPE_CHECKING:
    from .counter_devices import CounterDevices
    from .printing import PrintService
    from .voice import VoiceService


class SnapshotCache:
    """The last snapshot, dropped whenever the hall changes.

    A thousand screens reconnecting after a network blip must not each cost
    the database a round of queries.
    """

    def __init__(self, build: Any) -> None:
        self._build = build
        self._value: dict[str, Any] | None = None
        self._version = 0
        self._lock = threading.Lock()

    def invalidate(self, _event: HallEvent | None = None) -> None:
        with self._lock:
            self._version += 1
            self._value = None

    def get(self) -> dict[str, Any]:
        with self._lock:
            if self._value is not None:
                return self._value
            version = self._version
        value = self._build()
        with self._lock:
            if version == self._version:
                self._value = value
        return value


@dataclass
class Hub:
    config: SiteConfig
    store: SqlStore
    core: QueueCore
    accounts: Accounts
    clock: Clock
    devices: DeviceBoard
    snapshots: SnapshotCache = field(init=False)
    audit: AuditLog = field(init=False)
    #: Whether the store takes writes now (``/api/v1/health``; 503 ``store_unavailable``).
    store_health: StoreHealth = field(init=False)
    #: Set by the app factory; None where nothing prints (CLI commands).
    printing: PrintService | None = None
    counter_devices: CounterDevices | None = None
    voice: VoiceService | None = None

    def __post_init__(self) -> None:
        self.snapshots = SnapshotCache(self._build_snapshot)
        self.audit = AuditLog(self.store.engine)
        self.store_health = StoreHealth(self.store.engine, self.config.hub.database_url)
        self.core.bus.subscribe(self.snapshots.invalidate)

    def _build_snapshot(self) -> dict[str, Any]:
        snapshot = self.core.snapshot()
        site = self.config.site
        snapshot["site"].update(
            notice_zh=site.notice_zh,
            notice_en=site.notice_en,
            languages=site.languages,
            timezone=site.timezone,
        )
        return snapshot


def build_hub(config: SiteConfig, clock: Clock = utc_now) -> Hub:
    """Open (and migrate) the store named in the config and wire the core to it."""
    url = config.hub.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    store = open_store(url)
    hall = config.hall()
    store.ensure_counters(hall.counters)
    core = QueueCore(hall, store, EventBus(), clock)
    devices = DeviceBoard({d.name: d.kind for d in config.devices}, clock)
    return Hub(config, store, core, Accounts(store.engine), clock, devices)
