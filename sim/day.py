"""A simulated day of a sample hall, through the hub's real API, on a fake clock.

    .venv/bin/python -m sim.day --site hospital_outpatient [--seed 7] [--scale 1.0] [--days 1]
    .venv/bin/python -m sim.week --site bank_branch [--seed 7]      (seven days: sim/week.py)

The sample site (``config/samples/<site>.toml``) runs with its own services,
counters, hours and rules, on a throw-away SQLite file, with no device at all (no
printer, serial port or voice: nothing leaves this process). The clock is the
simulation's: it starts at the first opening of a Tuesday and jumps from one
event to the next, so a day of a hospital takes seconds.

What happens is drawn from one seeded random generator (the same seed, the same
day): walk-ins arrive as a Poisson process per service; some follow a journey
through several stations (the hospital's registration → clinic → cashier →
pharmacy), handed on by the clerk with a transfer; some never come when called
(a no-show). Every visitor-facing and staff action is a request to the Flask
app (``app.test_client()``) with the token of a kiosk or a logged-in clerk.

Service times are exponential (``--service-cv 1``, the default: the most spread textbook case, in
which the time a visitor has already had at the counter says nothing of what is left); a smaller
``--service-cv`` draws them lognormal with that spread, as time studies of counter work find them.
Clerks are not all alike: each counter's clerk works at a speed of their own
(drawn once), and where the hall stays open at noon each clerk pauses the
counter for lunch at a time of their own. Several days run one after another on
the same hub (``--days``), so what it learnt yesterday is there in the morning.
The estimated wait given at issue is compared with the real wait (issue → first
call), and so is the old rule of five minutes a person ahead (``estimate``).

At the end the event log is read back and checked: every ticket ends in a final
state; each call of a ticket went to one counter; no ticket was served twice at
a station. The figures go to stdout as one JSON object (see ``Day.figures``).

After each call the clerk's console redraws (``GET /counters/{n}/next``, as the
page reads it): ``targets_flagged`` says which legs breached their wait target
and whether a console marked them "nearly due" before the breach, and checks
every due time the consoles were sent against the kept legs and the site file
(sim/consoles.py). A sample without wait targets is lent some (LENT_TARGETS).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import random
import statistics
import sys
import tempfile
import tomllib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from sim.consoles import CONSOLE_LIMIT, ConsoleWatch, KeptLeg, flag_figures, wait_targets

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "config" / "samples"

#: A Tuesday: every sample hall is open on it.
DAY = date(2026, 12, 1)
PASSWORD = "simulated-day-password"


@dataclass(frozen=True)
class Profile:
    """How a kind of hall's visitors behave: arrivals per hour and service minutes, by service."""

    arrivals_per_hour: dict[str, float]
    service_minutes: dict[str, float]
    #: After a visit to the key service, the next station and the share of visitors who go on.
    journeys: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    no_show_share: float = 0.04
    #: Visitors who take a green-channel ticket at the kiosk (a category the kiosk may grant).
    priority_share: float = 0.08
    #: Visitors a triage nurse gives a staff-only category (急诊), where the site has a triage desk.
    triage_share: float = 0.03
    #: The share of each service's appointment quota (号源) booked before the day.
    booked_share: float = 0.6
    #: Booked visitors who never come (the booking becomes a no-show by itself).
    booking_no_show_share: float = 0.08
    #: Walk-ins who give up after a while and cancel from their phone's status page.
    cancel_share: float = 0.03
    #: How much clerks differ: each counter's service times are multiplied by a factor drawn once
    #: from this range (a new clerk is slow, an old hand fast).
    clerk_speed: tuple[float, float] = (0.75, 1.35)
    #: A lunch pause at a counter where the hall stays open at noon: minutes, from–to.
    lunch_minutes: tuple[float, float] = (30.0, 45.0)
    #: How much one visitor's service time differs from the next at the same counter (the standard
    #: deviation over the mean; 1.0: exponential, drawn as such).
    service_cv: float = 1.0


PROFILES: dict[str, Profile] = {
    "hospital_outpatient": Profile(
        arrivals_per_hour={"REG": 60.0},
        service_minutes={
            "REG": 1.5,
            "MED": 6.0,
            "SURG": 7.0,
            "PAED": 6.0,
            "GYN": 8.0,
            "OPH": 7.0,
            "CASH": 1.5,
            "PHARM": 2.0,
        },
        journeys={
            "REG": [("MED", 0.35), ("SURG", 0.2), ("PAED", 0.2), ("GYN", 0.1), ("OPH", 0.1)],
            "MED": [("CASH", 0.8)],
            "SURG": [("CASH", 0.8)],
            "PAED": [("CASH", 0.8)],
            "GYN": [("CASH", 0.8)],
            "OPH": [("CASH", 0.8)],
            "CASH": [("PHARM", 0.85)],
        },
    ),
    "utility_hall": Profile(
        arrivals_per_hour={"NEW": 6.0, "PAY": 20.0, "INFO": 10.0, "FAULT": 4.0, "COMPLAINT": 1.0},
        service_minutes={"NEW": 15.0, "PAY": 3.0, "INFO": 5.0, "FAULT": 8.0, "COMPLAINT": 12.0},
        journeys={"INFO": [("NEW", 0.15), ("PAY", 0.2)]},
    ),
    "bank_branch": Profile(
        # About 85 % of six counters' time: queues form at the peaks, as in a branch.
        arrivals_per_hour={"CASH": 20.0, "NONCASH": 12.0, "CORP": 5.0, "VIP": 3.0},
        service_minutes={"CASH": 5.0, "NONCASH": 8.0, "CORP": 12.0, "VIP": 15.0},
    ),
}


class FakeClock:
    """The hub's clock: the simulation moves it; nothing else does."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass(order=True)
class Event:
    at: datetime
    seq: int
    action: Callable[[], None] = field(compare=False)


@dataclass
class Visitor:
    """One person with one ticket, on a journey of one or more stations."""

    ticket_id: str
    number: str
    service: str
    comes: bool = True
    category: str | None = None
    appointment: bool = False
    #: People ahead when the ticket was issued (the old rule's estimate: five minutes each).
    ahead: int = 0
    #: The leg of the journey the ticket is on (1 at issue; each transfer begins the next).
    leg: int = 1


#: Waiting-time targets the simulation lends a sample hall that sets none (``[targets] wait_minutes``
#: and some services' own ``wait_target_minutes``), so that its consoles' marks can be measured too.
#: The sample files themselves are not changed: which targets a hall promises is its own business.
#: The hospital's clinics promise a call within half an hour (gynaecology 40 minutes), its desks
#: nothing; the bank a quarter of an hour at its counters and ten minutes in its VIP room.
LENT_TARGETS: dict[str, tuple[int | None, dict[str, int]]] = {
    "hospital_outpatient": (None, {"MED": 30, "SURG": 30, "PAED": 30, "GYN": 40, "OPH": 30}),
    "bank_branch": (15, {"VIP": 10}),
}


def lend_targets(site: str, data: dict[str, Any]) -> str:
    """Give a sample without any wait target the simulation's (LENT_TARGETS); say whose they are."""
    if "wait_minutes" in data.get("targets", {}) or any(
        "wait_target_minutes" in s for s in data.get("services", [])
    ):
        return "site"
    lent = LENT_TARGETS.get(site)
    if lent is None:
        return "none"
    minutes, own = lent
    if minutes is not None:
        data["targets"] = {**data.get("targets", {}), "wait_minutes": minutes}
    for service in data.get("services", []):
        if service["code"] in own:
            service["wait_target_minutes"] = own[service["code"]]
    return "lent by the simulation"


def site_data(site: str, folder: Path) -> dict[str, Any]:
    """The sample's TOML, with nothing that reaches past this process: no devices, no voice, a local file."""
    data = tomllib.loads((SAMPLES / f"{site}.toml").read_text(encoding="utf-8"))
    data["hub"] = {
        **data.get("hub", {}),
        "database_url": f"sqlite:///{folder / 'qcall.db'}",
        "host": "127.0.0.1",
    }
    data["devices"] = []
    for desk in data.get("triage_desks", []):
        desk.pop("printer", None)
    data.pop("serial", None)
    data["voice"] = {**data.get("voice", {}), "enabled": False}
    return data


class Day:
    """One simulated day of one sample hall."""

    def __init__(
        self, site: str, seed: int, scale: float, folder: Path, days: int = 1, service_cv: float | None = None
    ) -> None:
        from server.app import create_app
        from server.config import SiteConfig
        from server.security import IssueLimiter

        self.site = site
        self.random = random.Random(seed)
        self.scale = scale
        data = site_data(site, folder)
        self.targets_from = lend_targets(site, data)
        self.wait_targets, self.warn_before = wait_targets(data)
        self.console = ConsoleWatch()
        config = SiteConfig.model_validate(data)
        config.place_in(folder)
        self.config = config
        self.profile = _profile(site, config)
        if service_cv is not None:
            self.profile = replace(self.profile, service_cv=service_cv)
        zone = config.site.timezone
        self.days = [DAY + timedelta(days=n) for n in range(days)]
        self.day = DAY
        self.spans = _hours(config, zone, DAY)
        self.opening, self.closing = self.spans[0][0], self.spans[-1][1]
        self.clock = FakeClock(self.opening)
        self.app = create_app(config, clock=self.clock, async_mode="threading")
        # The kiosk brake counts tickets per minute of the hall's (simulated) time, not of this process's.
        self.app.extensions["qcall_issue_limiter"] = IssueLimiter(
            config.hub.ticket_burst, config.hub.tickets_per_minute, clock=lambda: self.clock().timestamp()
        )
        self.hub = self.app.extensions["qcall"]
        # The hub's periodic tasks run at the simulation's time, asked by the simulation (their
        # own loops would look at the fake clock at random moments of real time).
        self.hub.sweeper.close()
        self.hub.no_show_watch.close()
        self.hub.closing.close()
        # Every simulated actor sends its own bearer token, as a kiosk or a console of its own does:
        # no cookie jar shared by them all (the last login's session cookie rode along on every request).
        self.client = self.app.test_client(use_cookies=False)
        self.events: list[Event] = []
        self.seq = itertools.count()
        self.visitors: dict[str, Visitor] = {}
        self.idle: set[int] = set()
        self.serves = {c.number: set(c.services) for c in config.counters}
        self.kiosk_categories = [p.code for p in config.priority if p.grant == "kiosk"]
        self.staff_categories = [p.code for p in config.priority if p.grant == "staff"]
        self.desk = config.triage_desks[0].name if config.triage_desks else None
        self.refusals: Counter[str] = Counter()
        self.arrivals_left = 0  # visitors still to come
        self.booked = 0
        self.checked_in = 0
        self.cancelled = 0
        self.no_shows_by_rule = 0
        self.refused_transfers: Counter[str] = Counter()
        self.open_tickets = 0  # tickets not yet in a final state, as the clerks know them
        self.lunch_due: dict[int, float] = {}  # counter → minutes of the lunch pause it owes
        self.paused: set[int] = set()
        self.speed = {c.number: self.random.uniform(*self.profile.clerk_speed) for c in config.counters}
        self.kiosk = self._provision()

    # -- set-up -------------------------------------------------------------------------

    def _provision(self) -> str:
        from werkzeug.security import generate_password_hash

        from server.store import accounts as store_accounts

        def light_hash(password: str) -> str:
            return generate_password_hash(password, method="pbkdf2:sha256:1000")

        now = self.clock()
        accounts = self.hub.accounts
        kiosk: str = accounts.create_device_token("kiosk", "sim-kiosk", now)
        self.booking: str = accounts.create_device_token("booking", "sim-booking-system", now)
        self.triage = ""
        # The simulated staff's passwords are stored with a light hash: every login still checks the
        # password, but scrypt's deliberate cost (a fifth of a second a login, a login per clerk per
        # day) is no part of what a simulated day measures.
        with mock.patch.object(store_accounts, "generate_password_hash", light_hash):
            if self.config.triage_desks:
                accounts.add_user("nurse", "triage", PASSWORD, now)
            for counter in self.config.counters:
                accounts.add_user(f"clerk{counter.number}", "staff", PASSWORD, now)
        if self.config.triage_desks:
            self.nurse_logs_in()
        self.clerks: dict[int, str] = {}
        for counter in self.config.counters:
            self.log_in(counter.number)
        return kiosk

    def nurse_logs_in(self) -> None:
        """The triage nurse logs in (again, when the session ran out: a week outlasts it)."""
        answer = self.client.post("/api/v1/auth/login", json={"username": "nurse", "password": PASSWORD})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        self.triage = answer.get_json()["token"]

    def log_in(self, counter: int) -> None:
        """The clerk of ``counter`` logs in there (again, when the session ran out mid-day)."""
        body = {"username": f"clerk{counter}", "password": PASSWORD, "counter": counter}
        answer = self.client.post("/api/v1/auth/login", json=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        self.clerks[counter] = answer.get_json()["token"]

    def at_counter(self, counter: int, action: str, body: dict[str, Any] | None = None) -> Any:
        """A clerk's action at their counter; a clerk whose session ended logs in again first."""
        answer = self.request("POST", f"/counters/{counter}/{action}", self.clerks[counter], body)
        if answer.status_code == 401:
            self.log_in(counter)
            answer = self.request("POST", f"/counters/{counter}/{action}", self.clerks[counter], body)
        return answer

    def at(self, moment: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self.events, Event(moment, next(self.seq), action))

    def after(self, minutes: float, action: Callable[[], None]) -> None:
        self.at(self.clock() + timedelta(minutes=minutes), action)

    def request(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.client.open(
            f"/api/v1{path}", method=method, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        if answer.status_code >= 500:
            raise AssertionError(f"{method} {path} → {answer.status_code}: {answer.get_data(as_text=True)}")
        return answer

    # -- the day ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        zone = self.config.site.timezone
        for day in self.days:
            spans = _hours(self.config, zone, day)
            if not spans:
                continue  # the hall is closed that day
            self.day, self.spans = day, spans
            self.opening, self.closing = spans[0][0], spans[-1][1]
            self.clock.now = max(self.clock.now, self.opening)
            self._run_day()
        return self.figures()

    def _run_day(self) -> None:
        self.idle.clear()
        for service, per_hour in self.profile.arrivals_per_hour.items():
            self._schedule_arrivals(service, per_hour * self.scale)
        self._book_appointments()
        for counter in self.config.counters:
            self.at(self.opening, lambda n=counter.number: self.clerk_free(n))
        if len(self.spans) == 1:
            self._schedule_lunches()
        while self.events:
            event = heapq.heappop(self.events)
            self.clock.now = max(self.clock.now, event.at)
            event.action()

    def _schedule_lunches(self) -> None:
        """Where the hall stays open at noon, each clerk pauses the counter once, between 11:00 and 13:30
        of the hall's time, when the visitor at the counter is done."""
        zone = ZoneInfo(self.config.site.timezone)
        start = datetime.combine(self.day, time(11, 0), zone).astimezone(UTC)
        for counter in self.config.counters:
            moment = start + timedelta(minutes=self.random.uniform(0.0, 150.0))
            minutes = self.random.uniform(*self.profile.lunch_minutes)
            if self.opening < moment < self.closing:
                self.at(moment, lambda n=counter.number, m=minutes: self.lunch(n, m))

    def lunch(self, counter: int, minutes: float) -> None:
        """Lunch time for the clerk of ``counter``: at once if idle, else after the visitor at the counter."""
        self.lunch_due[counter] = minutes
        if counter in self.idle:
            self.idle.discard(counter)
            self.clerk_free(counter)

    def _take_lunch(self, counter: int) -> bool:
        """The clerk pauses the counter for the lunch owed, if any; it resumes by itself afterwards."""
        minutes = self.lunch_due.pop(counter, None)
        if minutes is None:
            return False
        answer = self.at_counter(counter, "pause")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        self.paused.add(counter)
        self.after(minutes, lambda: self._back_from_lunch(counter))
        return True

    def _back_from_lunch(self, counter: int) -> None:
        answer = self.at_counter(counter, "resume")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        self.paused.discard(counter)
        self.clerk_free(counter)

    def _schedule_arrivals(self, service: str, per_hour: float) -> None:
        """Poisson arrivals while the service issues tickets: none in a lunch break, none after the
        last ticket before a closing (``last_ticket_minutes``), as the hall's calendar says."""
        if per_hour <= 0:
            return
        for window in self.hub.core.hall.calendar.windows(self.day, service):
            moment = window.opens
            while True:
                moment += timedelta(hours=self.random.expovariate(per_hour))
                if moment >= window.last_ticket:
                    break
                self.arrivals_left += 1
                self.at(moment, lambda s=service: self.arrive(s))

    def _book_appointments(self) -> None:
        """The booking system pushes the day's bookings at opening; each booked visitor comes around the slot.

        Slots are on each service's grid within the opening spans, from half an
        hour after opening; most come early, a few come late, some never come.
        """
        rules = self.config.appointment_rules()
        zone = ZoneInfo(self.config.site.timezone)
        for service in self.config.services:
            capacity = rules.capacity.get(service.code)
            if not capacity:
                continue
            minutes = rules.slot_minutes_by_service.get(service.code, rules.slot_minutes)
            slots = [
                moment
                for opening, closing in self.spans
                for moment in _grid(opening + timedelta(minutes=30), closing, minutes)
            ]
            noon = datetime.combine(self.day, rules.noon, zone)
            for half in ("am", "pm"):
                mine = [m for m in slots if (m < noon) == (half == "am")]
                wanted = round(capacity[half] * self.profile.booked_share * self.scale)
                for start in sorted(self.random.choices(mine, k=wanted)) if mine else []:
                    self._book(service.code, start, zone)

    def _book(self, service: str, start: datetime, zone: ZoneInfo) -> None:
        local = start.astimezone(zone)
        phone = "1" + "".join(self.random.choice("0123456789") for _ in range(10))
        body = {
            "service": service,
            "date": self.day.isoformat(),
            "start": local.strftime("%H:%M"),
            "phone": phone,
        }
        answer = self.request("POST", "/appointments", self.booking, body)
        if answer.status_code != 201:
            self.refusals["booking:" + answer.get_json().get("code", str(answer.status_code))] += 1
            return
        code = answer.get_json()["appointment"]["code"]
        self.booked += 1
        if self.random.random() < self.profile.booking_no_show_share:
            return
        comes = start + timedelta(minutes=self.random.uniform(-25.0, 8.0))
        self.arrivals_left += 1
        self.at(max(comes, self.opening), lambda: self.check_in(code))

    def check_in(self, code: str) -> None:
        """A booked visitor checks in at the kiosk with the code (typed, or scanned from the SMS's QR)."""
        self.arrivals_left -= 1
        answer = self.request("POST", "/appointments/check-in", self.kiosk, {"code": code})
        if answer.status_code != 201:
            self.refusals["check_in:" + answer.get_json().get("code", str(answer.status_code))] += 1
            return
        ticket = answer.get_json()
        self.checked_in += 1
        comes = self.random.random() >= self.profile.no_show_share
        self.open_tickets += 1
        self.visitors[ticket["id"]] = Visitor(
            ticket["id"],
            ticket["number"],
            ticket["service"],
            comes,
            appointment=bool(ticket.get("appointment")),
            ahead=ticket["waiting_ahead"],
        )
        self.wake(ticket["service"])

    def arrive(self, service: str) -> None:
        self.arrivals_left -= 1
        body: dict[str, Any] = {"service": service}
        category = None
        issuer = self.kiosk
        draw = self.random.random()
        if self.kiosk_categories and draw < self.profile.priority_share:
            category = self.random.choice(self.kiosk_categories)
        elif (
            self.desk
            and self.staff_categories
            and draw < self.profile.priority_share + self.profile.triage_share
        ):
            category = self.random.choice(self.staff_categories)
            body["desk"] = self.desk
            issuer = self.triage
        if category is not None:
            body["category"] = category
        answer = self.request("POST", "/tickets", issuer, body)
        if answer.status_code == 401 and issuer == self.triage:
            self.nurse_logs_in()
            answer = self.request("POST", "/tickets", self.triage, body)
        if answer.status_code != 201:
            self.refusals[answer.get_json().get("code", str(answer.status_code))] += 1
            return
        ticket = answer.get_json()
        comes = self.random.random() >= self.profile.no_show_share
        self.open_tickets += 1
        self.wake(service)
        if comes and self.random.random() < self.profile.cancel_share:
            self.after(self.random.uniform(5.0, 30.0), lambda: self.cancel(ticket["id"]))
        self.visitors[ticket["id"]] = Visitor(
            ticket["id"], ticket["number"], service, comes, category, ahead=ticket["waiting_ahead"]
        )

    def clerk_free(self, counter: int, woken_for: str | None = None) -> None:
        """The clerk calls the next visitor (or goes to lunch first, when it is time)."""
        if counter in self.paused or self._take_lunch(counter):
            if woken_for is not None:  # not this clerk: the next idle one sees the ticket
                self.wake(woken_for, after=counter)
            return
        answer = self.at_counter(counter, "call-next")
        if answer.status_code != 200:
            # Nobody to call: the clerk waits for the console to show someone (see wake()).
            self.idle.add(counter)
            if woken_for is not None:  # another counter took the ticket first: the next idle clerk tries
                self.wake(woken_for, after=counter)
            return
        self.look(counter)
        ticket = answer.get_json()["ticket"]
        if woken_for is not None and ticket["service"] != woken_for:
            self.wake(woken_for, after=counter)  # it called another service's: the one it saw waits on
        visitor = self.visitors[ticket["id"]]
        if not visitor.comes:
            self.nobody_comes(counter, visitor)
            return
        walk = self.random.uniform(0.3, 1.5)
        self.after(walk, lambda: self.clerk_start(counter, visitor))

    def look(self, counter: int) -> None:
        """The console redraws after a call and the clerk sees the counter's next-up list, as the page
        reads it (``targets_flagged``). Not when nobody was there to call: the list was empty then.
        The ticket just called is no longer on it; seen at its call, it was not seen before a breach
        (a call before its due time is no breach)."""
        if not any(self.wait_targets.get(s) for s in self.serves[counter]):
            return  # no target here: the console marks nothing
        path = f"/counters/{counter}/next?limit={CONSOLE_LIMIT}"
        answer = self.request("GET", path, self.clerks[counter])
        if answer.status_code == 401:
            self.log_in(counter)
            answer = self.request("GET", path, self.clerks[counter])
        assert answer.status_code == 200, answer.get_data(as_text=True)
        self.console.saw(answer.get_json(), lambda tid: self.visitors[tid].leg)

    def wake(self, service: str, after: int = 0) -> None:
        """A ticket is waiting for ``service``: the idle clerks who serve it see it on their consoles,
        and the first of them (by counter number, above ``after``) calls it. The others stay idle: had
        they all pressed call-next, the first would have taken it and each other found nobody."""
        for counter in sorted(self.idle):
            if counter > after and service in self.serves[counter]:
                self.idle.discard(counter)
                self.at(self.clock(), lambda n=counter: self.clerk_free(n, service))
                return

    def nobody_comes(self, counter: int, visitor: Visitor) -> None:
        """The called visitor does not come. Where the service has a no-show timer, the clerk
        recalls as often as allowed and the hub's watch makes it a no-show when the time is up;
        elsewhere the clerk waits two minutes and marks the no-show.
        """
        rules = self.hub.core.hall.rules.service(visitor.service)
        if rules.no_show_after_seconds is None:
            self.after(2.0, lambda: self.clerk_no_show(counter))
            return
        recalls = rules.max_recalls if rules.max_recalls is not None else 1
        gap = rules.no_show_after_seconds / 60 / 2
        for n in range(1, recalls + 1):
            self.after(gap * n, lambda: self.at_counter(counter, "recall"))
        last_call = gap * recalls
        self.after(last_call + rules.no_show_after_seconds / 60 + 1 / 60, lambda: self.watch_expires(counter))

    def watch_expires(self, counter: int) -> None:
        """The hub's no-show watch looks (at the simulation's time); the clerk then calls the next."""
        expired = self.hub.no_show_watch.once()
        self.no_shows_by_rule += len(expired)
        self.open_tickets -= len(expired)
        if not expired:  # the rule did not fire: the clerk marks it
            self.at_counter(counter, "no-show")
            self.open_tickets -= 1
        self.clerk_free(counter)

    def clerk_no_show(self, counter: int) -> None:
        self.at_counter(counter, "no-show")
        self.open_tickets -= 1
        self.clerk_free(counter)

    def cancel(self, ticket_id: str) -> None:
        """A visitor tired of waiting cancels on the phone (no token: the ticket's id is the right)."""
        answer = self.client.post(f"/api/v1/tickets/{ticket_id}/cancel", json={})
        if answer.status_code >= 500:
            raise AssertionError(f"cancel → {answer.status_code}: {answer.get_data(as_text=True)}")
        if answer.status_code == 200:
            self.cancelled += 1
            self.open_tickets -= 1

    def clerk_start(self, counter: int, visitor: Visitor) -> None:
        self.at_counter(counter, "start")
        mean = self.profile.service_minutes.get(visitor.service, 5.0) * self.speed[counter]
        self.after(self.service_minutes(mean), lambda: self.clerk_done(counter, visitor))

    def service_minutes(self, mean: float) -> float:
        """One visitor's service: exponential at a spread of 1.0, else lognormal with that spread."""
        cv = self.profile.service_cv
        if cv == 1.0:
            return self.random.expovariate(1 / mean)
        sigma2 = math.log(1.0 + cv * cv)
        return self.random.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))

    def clerk_done(self, counter: int, visitor: Visitor) -> None:
        onward = self._next_station(visitor.service)
        if onward is not None:
            answer = self.at_counter(counter, "transfer", {"service": onward})
            if answer.status_code == 200:
                visitor.service = onward
                visitor.leg += 1
                self.wake(onward)
                self.clerk_free(counter)
                return
            self.refused_transfers[answer.get_json().get("code", str(answer.status_code))] += 1
        self.at_counter(counter, "finish")
        self.open_tickets -= 1
        self.clerk_free(counter)

    def _next_station(self, service: str) -> str | None:
        draw = self.random.random()
        for onward, share in self.profile.journeys.get(service, []):
            if draw < share:
                return onward
            draw -= share
        return None

    # -- the check ----------------------------------------------------------------------

    def estimate_figures(self) -> dict[str, Any]:
        """The estimate given at issue against the real wait (issue → first call), beside the old rule
        of five minutes a person ahead on the same tickets; the hub's own report says ours per service."""
        from server.store.estimates import WITHIN_SECONDS, estimate_accuracy, estimate_errors

        first, last = self.days[0], self.days[-1]
        ours, by_service = estimate_accuracy(self.hub.store.engine, first, last)
        engine = self.hub.store.engine
        fixed_errors = []
        from sqlalchemy import and_, select

        from server.store.schema import ticket_legs, tickets

        query = (
            select(tickets.c.id, tickets.c.issued_at, ticket_legs.c.called_at)
            .join(ticket_legs, and_(ticket_legs.c.ticket_id == tickets.c.id, ticket_legs.c.leg == 1))
            .where(tickets.c.estimate_seconds.is_not(None), ticket_legs.c.called_at.is_not(None))
        )
        with engine.connect() as conn:
            for tid, issued_at, called_at in conn.execute(query):
                real = max(0.0, (called_at - issued_at).total_seconds())
                fixed_errors.append(self.visitors[tid].ahead * 300.0 - real)
        fixed_mae = statistics.fmean(abs(e) for e in fixed_errors) / 60 if fixed_errors else math.nan
        ours_mae = (ours.mean_abs_error_seconds or math.nan) / 60
        without = sum(1 for errors in estimate_errors(engine, first, last).values() for _ in errors)
        return {
            "tickets": ours.tickets,
            "checked_against_fixed": len(fixed_errors) == without,
            "mae_minutes": _round2(ours_mae),
            "within_5_minutes": ours.as_dict()["within_5_minutes"],
            "mean_error_minutes": ours.as_dict()["mean_error_minutes"],
            "fixed_rule_mae_minutes": _round2(fixed_mae),
            "fixed_rule_within_5_minutes": _round2(
                sum(1 for e in fixed_errors if abs(e) <= WITHIN_SECONDS) / len(fixed_errors)
                if fixed_errors
                else math.nan,
                4,
            ),
            "ratio": _round2(ours_mae / fixed_mae if fixed_mae else math.nan, 3),
            "by_service": [a.as_dict() for a in by_service],
        }

    def flag_figures(self) -> dict[str, Any]:
        """``targets_flagged``: the legs that breached their wait target, and whether a clerk's console
        marked them "nearly due" before the breach (sim/consoles.py), from the kept legs."""
        from sqlalchemy import select

        from server.store.schema import ticket_legs as legs

        columns = [legs.c[f.name] for f in fields(KeptLeg)]
        with self.hub.store.engine.connect() as conn:
            kept = [KeptLeg(*row) for row in conn.execute(select(*columns))]
        figures = flag_figures(self.console, kept, self.wait_targets, self.warn_before)
        return {"targets": self.targets_from, **figures}

    def target_figures(self) -> dict[str, Any]:
        """The share within target over the simulated days, for the hall, per service and per counter
        (the core's own report, read from the legs as the admin page reads it)."""
        report = self.hub.core.target_report(self.days[0], self.days[-1])
        return {
            "hall": report.hall.as_dict(),
            "services": {code: shares.as_dict() for code, shares in report.services.items()},
            "counters": {str(n): shares.as_dict() for n, shares in report.counters.items()},
        }

    def figures(self) -> dict[str, Any]:
        """Read the day back from the event log; check it; say it in numbers."""
        from sqlalchemy import select

        from server.store.schema import ticket_events, tickets

        engine = self.hub.store.engine
        with engine.connect() as conn:
            rows = conn.execute(select(tickets)).mappings().all()
            events = conn.execute(select(ticket_events).order_by(ticket_events.c.id)).mappings().all()
        by_ticket: dict[str, list[Any]] = defaultdict(list)
        for e in events:
            by_ticket[e["ticket_id"]].append(e)
        cap = self.config.calling.priority_cap
        by_prefix = {s.prefix: s.code for s in self.config.services}
        first = {r["id"]: by_prefix[r["number"].rstrip("0123456789")] for r in rows}
        longest_run = longest_priority_run(rows, events, self.serves, first)
        flagged = self.flag_figures()
        problems = [*check_final(rows), *check_calls(by_ticket), *flagged["problems"]]
        if longest_run > cap:
            problems.append(
                f"a counter called {longest_run} priority tickets in a row over a waiting normal one"
            )
        all_legs = legs(by_ticket, first)
        waits = [_minutes(called - joined) for _, _, joined, called in all_legs]
        priority_ids = {r["id"] for r in rows if r["priority"] > 0}
        priority_waits = [
            _minutes(called - joined) for tid, _, joined, called in all_legs if tid in priority_ids
        ]
        normal_waits = [
            _minutes(called - joined) for tid, _, joined, called in all_legs if tid not in priority_ids
        ]
        due = {r["id"]: r["due_at"] for r in rows if r["appointment"]}
        booked_services = {first[tid] for tid in due}
        # An appointment holder's wait counts from the later of check-in and the slot's start
        # (coming early is their choice); a walk-in's from joining that service's queue.
        booked_legs = {}  # the booked leg: the first of the ticket (later ones are walk-in legs)
        for tid, _, joined, called in all_legs:
            if tid in due:
                booked_legs.setdefault(tid, (joined, called))
        appointment_waits = [
            _minutes(called - max(joined, due[tid])) for tid, (joined, called) in booked_legs.items()
        ]
        walk_in_waits = [
            _minutes(called - joined)
            for tid, service, joined, called in all_legs
            if tid not in due and tid not in priority_ids and service in booked_services
        ]
        return {
            "simulation": "hall_day",
            "site": self.site,
            "day": DAY.isoformat(),
            "days": len(self.days),
            "opening": self.opening.isoformat(),
            "closing": self.closing.isoformat(),
            "tickets": len(rows),
            "by_status": dict(Counter(r["status"] for r in rows)),
            "transfers": sum(1 for e in events if e["kind"] == "transferred"),
            "refused_at_issue": dict(self.refusals),
            "refused_transfers": dict(self.refused_transfers),
            "cancelled_from_phone": self.cancelled,
            "no_show_timer": self.hub.core.hall.rules.watches_calls,
            "no_shows_by_the_hubs_timer": self.no_shows_by_rule,
            "wait_minutes_p50": _round(_percentile(waits, 50)),
            "wait_minutes_p90": _round(_percentile(waits, 90)),
            "wait_minutes_max": _round(max(waits) if waits else math.nan),
            "priority_tickets": len(priority_ids),
            "priority_wait_minutes_mean": _round(_mean(priority_waits)),
            "normal_wait_minutes_mean": _round(_mean(normal_waits)),
            "normal_wait_minutes_max": _round(max(normal_waits) if normal_waits else math.nan),
            "priority_cap": cap,
            "appointments_booked": self.booked,
            "appointments_checked_in": self.checked_in,
            "appointment_wait_past_slot_minutes_mean": _round(_mean(appointment_waits)),
            "walk_in_wait_minutes_mean_same_services": _round(_mean(walk_in_waits)),
            "longest_priority_run_over_a_waiting_normal": longest_run,
            "estimate": self.estimate_figures(),
            "within_target": self.target_figures(),
            "targets_flagged": flagged,
            "problems": problems[:20],
            "ok": not problems,
        }


def check_final(rows: list[Any]) -> Iterator[str]:
    final = {"done", "no_show", "cancelled"}
    for r in rows:
        if r["status"] not in final:
            yield f"ticket {r['number']} ended the day {r['status']}"


def check_calls(by_ticket: dict[str, list[Any]]) -> Iterator[str]:
    """Each call of a ticket went to one counter; a station never started a ticket twice."""
    for history in by_ticket.values():
        counter = None
        started = 0
        for e in history:
            if e["kind"] in ("called", "recalled"):
                if e["kind"] == "recalled" and counter is not None and e["counter"] != counter:
                    yield f"ticket {e['ticket_id']} recalled at {e['counter']} while called at {counter}"
                counter = e["counter"]
            elif e["kind"] == "started":
                started += 1
                if started > 1:
                    yield f"ticket {e['ticket_id']} started twice at one station"
            elif e["kind"] in ("transferred", "requeued"):
                counter, started = None, 0


def longest_priority_run(
    rows: list[Any], events: list[Any], serves: dict[int, set[str]], first: dict[str, str]
) -> int:
    """The most priority tickets any counter called in a row while a normal ticket waited for it.

    Replayed from the log: who waits for which service at each call (issued, or
    transferred to a service, and not called since), and each counter's run of
    priority calls. ``first``: each ticket's service at issue.
    """
    priority = {r["id"]: r["priority"] > 0 for r in rows}
    service_now = dict(first)
    waiting: dict[str, str] = {}  # ticket → the service it waits for
    runs: dict[int, int] = defaultdict(int)
    longest = 0
    for e in events:
        tid, kind, detail = e["ticket_id"], e["kind"], e["detail"] or {}
        if kind == "issued":
            waiting[tid] = service_now[tid]
        elif kind == "transferred":
            service_now[tid] = detail.get("to_service") or service_now[tid]
            if detail.get("to_counter") is None:
                waiting[tid] = service_now[tid]
        elif kind == "called" and e["counter"] is not None:
            counter = e["counter"]
            waiting.pop(tid, None)
            normal_waits = any(
                not priority[other] and service in serves.get(counter, set())
                for other, service in waiting.items()
            )
            runs[counter] = runs[counter] + 1 if priority[tid] and normal_waits else 0
            longest = max(longest, runs[counter])
    return longest


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def legs(by_ticket: dict[str, list[Any]], first: dict[str, str]) -> list[tuple[str, str, datetime, datetime]]:
    """Every leg that was called: (ticket, service, joined its queue, called)."""
    out = []
    for tid, history in by_ticket.items():
        service, joined = first[tid], None
        for e in history:
            if e["kind"] in ("issued", "requeued"):
                joined = e["at"]
            elif e["kind"] == "transferred":
                service, joined = (e["detail"] or {}).get("to_service") or service, e["at"]
            elif e["kind"] == "called" and joined is not None:
                out.append((tid, service, joined, e["at"]))
                joined = None
    return out


def _minutes(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds() / 60)


def _grid(start: datetime, end: datetime, minutes: int) -> Iterator[datetime]:
    """Slot starts every ``minutes`` from the first on the local clock's grid at or after ``start``."""
    local_minutes = start.hour * 60 + start.minute
    moment = start + timedelta(minutes=(-local_minutes) % minutes, seconds=-start.second)
    while moment < end:
        yield moment
        moment += timedelta(minutes=minutes)


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def add_service_cv(parser: argparse.ArgumentParser) -> None:
    """``--service-cv``: how much service times spread (the profile's 1.0, exponential, unless given)."""

    def positive(text: str) -> float:
        value = float(text)
        if not 0 < value <= 3:
            raise argparse.ArgumentTypeError(f"expected a spread above 0 and at most 3, got {text}")
        return value

    parser.add_argument(
        "--service-cv",
        type=positive,
        help="standard deviation over mean of service times: 1 exponential (default), below 1 lognormal",
    )


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 1)


def _round2(value: float, digits: int = 2) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def _profile(site: str, config: Any) -> Profile:
    profile = PROFILES.get(site)
    if profile is None or not profile.arrivals_per_hour:
        codes = [s.code for s in config.services]
        return Profile(dict.fromkeys(codes, 12.0), dict.fromkeys(codes, 6.0))
    return profile


def _hours(config: Any, zone: str, day: date = DAY) -> list[tuple[datetime, datetime]]:
    """The opening spans of a simulated day, in UTC ([] when the hall is closed that day; a site
    without hours for the first day is open 08:00–17:00)."""
    hours = config.hours.model_dump().get(day.strftime("%a").lower())
    if not hours and day == DAY:
        hours = ["08:00-17:00"]
    spans = [span.split("-") for span in hours]
    local = ZoneInfo(zone)

    def moment(hhmm: str) -> datetime:
        h, m = (int(x) for x in hhmm.split(":"))
        return datetime(day.year, day.month, day.day, h, m, tzinfo=local).astimezone(UTC)

    return [(moment(start), moment(end)) for start, end in spans]


@contextmanager
def simulated_day(
    site: str, seed: int = 7, scale: float = 1.0, days: int = 1, service_cv: float | None = None
) -> Iterator[Day]:
    # The throw-away database lives in memory where the machine has a tmpfs: a commit's fsync
    # (SQLite synchronous=FULL) is real disk work that says nothing about a simulated day.
    memory = Path("/dev/shm")
    place = str(memory) if memory.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="qcall-sim-", dir=place) as folder:
        day = Day(site, seed, scale, Path(folder), days, service_cv)
        try:
            yield day
        finally:
            day.hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", required=True, choices=sorted(p.stem for p in SAMPLES.glob("*.toml")))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="share of a full day's visitors (0.25: a quarter)"
    )
    parser.add_argument("--days", type=int, default=1, help="days one after another on the same hub")
    add_service_cv(parser)
    args = parser.parse_args()
    with simulated_day(args.site, args.seed, args.scale, args.days, args.service_cv) as day:
        figures = day.run()
    print(json.dumps(figures, ensure_ascii=False))
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
