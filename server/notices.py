"""The hall's notice board: notices posted, edited and withdrawn, and the screens told when they change.

Every screen (lobby, kiosk, console) hears ``notices_changed`` in the hall
room after a change has committed, and reads ``GET /api/v1/notices`` again.
A notice also starts and ends *by its schedule*, when nothing happens in the
hub: :class:`NoticeWatch` keeps the next start or end in memory and, each
half second, compares it with the hub's clock (a fake one in tests); when it
has come, the screens are told (``{"reason": "schedule"}``) and the next one
is read. So a screen never keeps an expired notice more than a second, and
an idle hall costs one comparison per round, not a query.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from .core.calendar import Clock
from .core.notices import Notice, NoticeDraft, checked, next_change
from .periodic import Periodic
from .store.notices import SqlNotices

log = logging.getLogger(__name__)

#: Seconds between two looks at the clock: a notice starts or ends on the screens at most this late.
WATCH_SECONDS = 0.5
#: Seconds after which the next start or end is read again anyway (a change the hub did not make).
REREAD_SECONDS = 60.0


class NoticeBoard:
    """Notices through the store, each change told to the screens after its commit."""

    def __init__(
        self,
        store: SqlNotices,
        clock: Clock,
        default_days: int,
        zone: tzinfo,
        tell_screens: Callable[[dict[str, Any]], None],
        spawn: Callable[..., object],
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.default_days = default_days
        self.zone = zone
        self.tell_screens = tell_screens
        self.watch = NoticeWatch(self, spawn, on_store_failure=on_store_failure)

    def showing(self) -> tuple[datetime, list[Notice], datetime | None]:
        """The hub's now, the notices showing now in display order, and the next start or end."""
        now = self.clock()
        upcoming = self.store.upcoming(now)
        return now, [n for n in upcoming if n.showing(now)], next_change(upcoming, now)

    def all(self) -> list[Notice]:
        return self.store.all()

    def create(self, draft: NoticeDraft, actor: str, address: str = "") -> Notice:
        now = self.clock()
        notice = self.store.create(checked(draft, now, self.default_days, self.zone), now, actor, address)
        self._changed("created", notice)
        return notice

    def edit(self, notice_id: int, draft: NoticeDraft, actor: str, address: str = "") -> Notice:
        now = self.clock()
        fields = checked(draft, now, self.default_days, self.zone)
        notice = self.store.edit(notice_id, fields, now, actor, address)
        self._changed("edited", notice)
        return notice

    def withdraw(self, notice_id: int, actor: str, address: str = "") -> Notice:
        notice = self.store.withdraw(notice_id, self.clock(), actor, address)
        self._changed("withdrawn", notice)
        return notice

    def close(self) -> None:
        self.watch.close()

    def _changed(self, reason: str, notice: Notice) -> None:
        """Tell every screen (the id and why: the screen reads what shows now) and watch the new schedule."""
        self.watch.forget()
        self.tell_screens({"reason": reason, "id": notice.id})


class NoticeWatch(Periodic[bool]):
    """Each round: has the next start or end of a notice come by the hub's clock? Then tell the screens."""

    def __init__(
        self,
        board: NoticeBoard,
        spawn: Callable[..., object],
        every: float = WATCH_SECONDS,
        on_store_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__("the notice watch", self._look, False, every, spawn, on_store_failure)
        self.board = board
        self._lock = threading.Lock()
        #: The next start or end (None: none to come); unknown until read.
        self._next: datetime | None = None
        self._known = False
        self._read_at: datetime | None = None

    def forget(self) -> None:
        """A notice changed: read the next start or end again at the next round."""
        with self._lock:
            self._known = False

    def look(self) -> bool:
        """One look now (a test's, at its fake time): whether the screens were told."""
        return self.once()

    def _look(self) -> bool:
        now = self.board.clock()
        with self._lock:
            known, upcoming, read_at = self._known, self._next, self._read_at
        stale = read_at is None or (now - read_at).total_seconds() >= REREAD_SECONDS or now < read_at
        came = known and upcoming is not None and now >= upcoming
        if known and not came and not stale:
            return False
        _, _, following = self.board.showing()
        with self._lock:
            self._next, self._known, self._read_at = following, True, now
        if came:
            log.info("notices: a notice started or ended by its schedule")
            self.board.tell_screens({"reason": "schedule"})
        return came
