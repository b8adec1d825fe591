"""The limits on tickets taken from visitors' phones (``/phone/``), so nobody floods the queue.

A phone is known by a long-lived signed cookie (:class:`PhonePass`): a random
id, the business day, how many tickets it took that day and its last ticket.
The cookie is signed with the hub's secret key (itsdangerous), HttpOnly, and
says nothing about the visitor. The hub also remembers each phone's day in
memory, so an old copy of the cookie sent again does not reset its count.

What holds, and against whom (docs/architecture.md, "The visitor's phone"):

- per phone (the cookie): one active ticket at a time, ``tickets_per_day`` a
  business day. A phone that clears its cookies is a new phone: this limit
  binds an ordinary visitor, not a flooder;
- per client address: ``tickets_per_address`` within ``address_window_minutes``,
  cookies or not (a phone that changes its address changes networks);
- the whole hall: ``tickets_per_hour`` phone tickets in any hour, whatever
  the cookies and addresses: the ceiling on what a flood can add to the queue.

The address and hour windows and the memory of phones live in this process:
a restart of the hub starts them afresh (the cookies stay). Plain Python,
thread-safe, the clock injectable; memory bounded by ``max_keys``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

#: The cookie's name and life: a year, renewed with every ticket.
COOKIE = "qcall_phone"
COOKIE_MAX_AGE = 366 * 24 * 3600
_SALT = "qcall.phone"


@dataclass(frozen=True)
class PhonePass:
    """What the phone's cookie carries: its id, its business day, the tickets of that day, the last one."""

    phone: str
    day: str = ""
    count: int = 0
    last_ticket: str | None = None

    @classmethod
    def new(cls) -> PhonePass:
        return cls(secrets.token_urlsafe(12))

    def on(self, day: date) -> PhonePass:
        """This pass as of ``day``: a new business day starts its count afresh (the last ticket stays)."""
        return self if self.day == day.isoformat() else replace(self, day=day.isoformat(), count=0)


def read_pass(secret: str | bytes, cookie: str | None) -> PhonePass:
    """The phone's pass from its cookie; a new one when there is none or it was not signed by this hub."""
    if not cookie:
        return PhonePass.new()
    try:
        data = URLSafeSerializer(secret, salt=_SALT).loads(cookie)
    except BadSignature:
        return PhonePass.new()
    if not isinstance(data, dict) or not isinstance(data.get("p"), str) or not data["p"]:
        return PhonePass.new()
    count = data.get("n")
    last = data.get("t")
    return PhonePass(
        phone=data["p"][:32],
        day=str(data.get("d") or "")[:10],
        count=count if isinstance(count, int) and count >= 0 else 0,
        last_ticket=last if isinstance(last, str) else None,
    )


def write_pass(secret: str | bytes, phone: PhonePass) -> str:
    """The signed cookie value of ``phone``."""
    payload: dict[str, Any] = {"p": phone.phone, "d": phone.day, "n": phone.count, "t": phone.last_ticket}
    return URLSafeSerializer(secret, salt=_SALT).dumps(payload)


@dataclass(frozen=True)
class PhoneRefusal:
    """Why a phone may not take a ticket now: a code, the words in both languages, and when to try again."""

    code: str
    message: str
    retry_after: float | None = None
    #: The phone's ticket still active (``ticket_active``), for the page to go back to it.
    ticket: str | None = None


class _Window:
    """Times of recent tickets per key within ``window`` seconds (a sliding window, bounded)."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.times: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may take one more; None: now."""
        times = self.times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self.times[key]
            return None
        return times[0] + self.window - now if len(times) >= self.limit else None

    def add(self, key: str, now: float) -> None:
        times = self.times.pop(key, None) or deque(maxlen=self.limit)
        times.append(now)
        self.times[key] = times
        while len(self.times) > self.max_keys:
            self.times.popitem(last=False)

    def undo(self, key: str, now: float) -> None:
        """Take back the time added at ``now`` (the ticket it was for was not issued)."""
        times = self.times.get(key)
        if times and times[-1] == now:
            times.pop()


#: The hall-wide window's one key.
_HALL = "hall"


class PhoneLimits:
    """Says whether a phone may take a ticket now, and counts the ones it takes.

    :meth:`reserve` checks every limit and counts the ticket at once (two
    taps racing from one phone cannot both pass); :meth:`issued` records the
    ticket, :meth:`release` takes the count back when the issue was refused.
    ``active(ticket_id)`` says whether a ticket still waits or is at a counter.
    """

    def __init__(
        self,
        tickets_per_day: int,
        tickets_per_hour: int,
        tickets_per_address: int,
        address_window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.tickets_per_day = tickets_per_day
        self.clock = clock
        self.max_keys = max_keys
        self._hour = _Window(tickets_per_hour, 3600.0, 1)
        self._addresses = _Window(tickets_per_address, address_window_seconds, max_keys)
        self._phones: OrderedDict[str, PhonePass] = OrderedDict()
        self._pending: set[str] = set()
        self._lock = threading.Lock()

    def remembered(self, phone: PhonePass, day: date) -> PhonePass:
        """The phone's pass for ``day``, the higher count and the later ticket of its cookie and memory."""
        phone = phone.on(day)
        with self._lock:
            known = self._phones.get(phone.phone)
        if known is None:
            return phone
        known = known.on(day)
        return replace(
            phone, count=max(phone.count, known.count), last_ticket=known.last_ticket or phone.last_ticket
        )

    def reserve(
        self, phone: PhonePass, address: str, day: date, active: Callable[[str], bool]
    ) -> tuple[PhonePass, float] | PhoneRefusal:
        """Check every limit for one more ticket; on success it is counted (the pass and its stamp)."""
        phone = self.remembered(phone, day)
        if phone.last_ticket is not None and active(phone.last_ticket):
            return PhoneRefusal(
                "ticket_active",
                "您已有一张号票在排队，请先办理或取消 / you already have a ticket in the queue: "
                "use or cancel it first",
                ticket=phone.last_ticket,
            )
        with self._lock:
            now = self.clock()
            if phone.phone in self._pending:
                return PhoneRefusal(
                    "ticket_active", "正在为您取号，请稍候 / your ticket is being issued: please wait", 2.0
                )
            if phone.count >= self.tickets_per_day:
                return PhoneRefusal(
                    "phone_day_limit",
                    f"这部手机今天已取号 {phone.count} 次，请到取号机取号 / this phone has taken "
                    f"{phone.count} tickets today: please use the kiosk in the hall",
                )
            wait = self._addresses.wait(address, now)
            if wait is not None:
                return PhoneRefusal(
                    "address_limit",
                    "同一网络取号太频繁，请稍后再试或到取号机取号 / too many tickets from this network: "
                    "please try later or use the kiosk",
                    wait,
                )
            wait = self._hour.wait(_HALL, now)
            if wait is not None:
                return PhoneRefusal(
                    "hall_hour_limit",
                    "手机取号已达本小时上限，请到取号机取号 / phone tickets are full for this hour: "
                    "please use the kiosk in the hall",
                    wait,
                )
            self._addresses.add(address, now)
            self._hour.add(_HALL, now)
            self._pending.add(phone.phone)
        return phone, now

    def issued(self, phone: PhonePass, ticket_id: str) -> PhonePass:
        """The reserved ticket was issued: the phone's new pass (to write into its cookie)."""
        taken = replace(phone, count=phone.count + 1, last_ticket=ticket_id)
        with self._lock:
            self._pending.discard(phone.phone)
            self._phones.pop(phone.phone, None)
            self._phones[phone.phone] = taken
            while len(self._phones) > self.max_keys:
                self._phones.popitem(last=False)
        return taken

    def release(self, phone: PhonePass, address: str, stamp: float) -> None:
        """The reserved ticket was refused (service closed, full): nothing is counted against anyone."""
        with self._lock:
            self._pending.discard(phone.phone)
            self._addresses.undo(address, stamp)
            self._hour.undo(_HALL, stamp)
