"""The limits on tickets taken from visitors' phones (``/phone/``), so nobody floods the queue.

A phone is known by a long-lived signed cookie (:class:`PhonePass`): a random
id, the business day, how many tickets it took that day and its last ticket.
The cookie is signed with the hub's secret key (itsdangerous), HttpOnly, and
says nothing about the visitor. The hall also remembers each phone's day (its
database), so an old copy of the cookie sent again does not reset its count.

What holds, and against whom (docs/architecture.md, "The visitor's phone"):

- per phone (the cookie): one active ticket at a time, ``tickets_per_day`` a
  business day. A phone that clears its cookies is a new phone: this limit
  binds an ordinary visitor, not a flooder;
- per client address: ``tickets_per_address`` within ``address_window_minutes``
  of its first, cookies or not (a phone that changes its address changes networks);
- the whole hall: ``tickets_per_hour`` phone tickets in an hour counted from its
  first, whatever the cookies and addresses: the ceiling on what a flood can add.

Each window opens with its first ticket and closes a fixed time later (the
next opens with the first ticket after): a counter in one row, which one
conditional upsert can check and count at once. A flood timed across two
windows can therefore place up to twice a cap in a short span, never more.

Every count lives in the hub's database (``limit_windows``, server/store/limits.py), so the
processes of a cluster count together: the hall's cap holds across them, a phone's one
active ticket too, and a restart forgets nothing. A reservation is one statement in a short
transaction of its own: it counts in the phone's, the address's and the hall's windows at
once, or (rolled back) in none.
The clock (epoch seconds) is injectable.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

from .store.limits import Ask, Counted, SqlLimits

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


#: The hall's window of phone tickets, and the prefixes of a client address's and a phone's.
HALL_KEY = "hall:phone"
HOUR_SECONDS = 3600.0
#: How long a phone's reservation may stay in flight (its issue) before another one of it may pass: a
#: process that died between the two is not held against the phone for longer.
BUSY_SECONDS = 30.0
#: How long a phone's row of a business day is kept (the key names the day; the sweep deletes it after).
PHONE_ROW_SECONDS = 2 * 86400.0


def phone_key(phone: PhonePass, day: date) -> str:
    return f"phone:{phone.phone}:{day.isoformat()}"


def address_key(address: str) -> str:
    return f"address:{address[:64]}"


@dataclass(frozen=True)
class Reservation:
    """A reservation's counts, to settle them (:meth:`PhoneLimits.issued`) or give them back."""

    key: str
    stamp: str
    counted: list[Counted]


@dataclass(frozen=True)
class PhoneCaps:
    """The ``[phone]`` caps a reservation is judged by (read at each one: settings change them live)."""

    tickets_per_day: int
    tickets_per_hour: int
    tickets_per_address: int
    address_window_seconds: float


class PhoneLimits:
    """Says whether a phone may take a ticket now, and counts the ones it takes, for the whole hall.

    :meth:`reserve` checks every limit and counts the ticket at once, in the
    database (two taps racing from one phone, on one process or two, cannot
    both pass); :meth:`issued` records the ticket as the phone's last,
    :meth:`release` takes the counts back when the issue was refused.
    """

    def __init__(
        self,
        store: SqlLimits,
        caps: Callable[[], PhoneCaps],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.caps = caps
        self.clock = clock

    def remembered(self, phone: PhonePass, day: date) -> PhonePass:
        """The phone's pass for ``day``: the higher count and the later ticket of cookie and hall."""
        phone = phone.on(day)
        known = self.store.window(phone_key(phone, day), self.clock())
        if known is None:
            return phone
        count, ticket = known
        return replace(phone, count=max(phone.count, count), last_ticket=ticket or phone.last_ticket)

    def reserve(
        self, phone: PhonePass, address: str, day: date
    ) -> tuple[PhonePass, Reservation] | PhoneRefusal:
        """Check every limit for one more ticket; on success it is counted everywhere (one statement)."""
        phone = phone.on(day)
        caps = self.caps()
        now = self.clock()
        stamp = secrets.token_hex(8)
        key = phone_key(phone, day)
        asks = [
            Ask(
                key,
                caps.tickets_per_day,
                now + PHONE_ROW_SECONDS,
                held=phone.count,
                ticket=phone.last_ticket,
                busy_until=now + BUSY_SECONDS,
            ),
            Ask(address_key(address), caps.tickets_per_address, now + caps.address_window_seconds),
            Ask(HALL_KEY, caps.tickets_per_hour, now + HOUR_SECONDS),
        ]
        counted = {c.key: c for c in self.store.take(asks, now, stamp)}
        if all(c.granted for c in counted.values()):
            mine = counted[key]
            held = replace(phone, count=mine.count - 1, last_ticket=mine.ticket)
            return held, Reservation(key, stamp, list(counted.values()))
        return _refusal(counted[key], counted[address_key(address)], counted[HALL_KEY], phone, now)

    def issued(self, phone: PhonePass, reservation: Reservation, ticket_id: str) -> PhonePass:
        """The reserved ticket was issued: the phone's new pass (to write into its cookie)."""
        count = self.store.settle(reservation.key, ticket_id)
        return replace(phone, count=max(phone.count + 1, count or 0), last_ticket=ticket_id)

    def release(self, reservation: Reservation) -> None:
        """The reserved ticket was refused (service closed, full): nothing is counted against anyone."""
        self.store.give_back(reservation.counted, reservation.stamp)


def _refusal(mine: Counted, address: Counted, hall: Counted, phone: PhonePass, now: float) -> PhoneRefusal:
    """Why a reservation was refused, in the order a visitor can act on: the phone's own ticket first."""
    if mine.active and mine.ticket is not None:
        return PhoneRefusal(
            "ticket_active",
            "您已有一张号票在排队，请先办理或取消 / you already have a ticket in the queue: "
            "use or cancel it first",
            ticket=mine.ticket,
        )
    if mine.busy_until is not None and mine.busy_until > now and not mine.granted:
        return PhoneRefusal(
            "ticket_active", "正在为您取号，请稍候 / your ticket is being issued: please wait", 2.0
        )
    if not mine.granted:
        count = max(phone.count, mine.count)
        return PhoneRefusal(
            "phone_day_limit",
            f"这部手机今天已取号 {count} 次，请到取号机取号 / this phone has taken "
            f"{count} tickets today: please use the kiosk in the hall",
        )
    if not address.granted:
        return PhoneRefusal(
            "address_limit",
            "同一网络取号太频繁，请稍后再试或到取号机取号 / too many tickets from this network: "
            "please try later or use the kiosk",
            max(0.0, address.ends - now),
        )
    return PhoneRefusal(
        "hall_hour_limit",
        "手机取号已达本小时上限，请到取号机取号 / phone tickets are full for this hour: "
        "please use the kiosk in the hall",
        max(0.0, hall.ends - now),
    )
