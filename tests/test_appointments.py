"""Appointments (预约) through the core on a real store (SQLite and PostgreSQL), a clock moved by hand.

Each test states one rule: the quota per half-day, the check-in window, a code
used once, no-shows marked by time, the no-show limit on a phone, names
masked and erased.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from server.core.appointments import (
    CODE_ALPHABET,
    Actor,
    AppointmentBook,
    AppointmentRules,
    AppointmentStatus,
    AppointmentUsed,
    BadBooking,
    BookingDraft,
    BookingRefused,
    ImportRefused,
    NotToday,
    SlotFull,
    TooEarly,
    TooLate,
    UnknownAppointment,
    claim_for,
    mask_name,
    mask_phone,
    new_code,
    normalize_code,
    parse_csv,
)
from server.core.calendar import HallCalendar
from server.core.errors import DailyLimitReached
from server.core.model import Counter, Service
from server.core.queue import Hall, Issued, IssueRequest, QueueCore
from server.store import open_store
from server.store.appointments import SqlAppointments
from server.store.schema import appointment_quota, audit_log, tickets

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 10)
CLERK = Actor("clerk1", "127.0.0.1")


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


# -- pure functions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张小明", "张*明"),
        ("欧阳小明", "欧**明"),
        ("John Smith", "J*** S****"),
        ("Li", "L*"),
        ("王", "*"),
        (None, None),
        ("", None),
    ],
)
def test_names_are_masked(name: str | None, masked: str | None) -> None:
    assert mask_name(name) == masked


def test_phones_are_masked() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("123456") == "****56"
    assert mask_phone(None) is None


def test_codes_are_unambiguous_and_read_forgivingly() -> None:
    for _ in range(200):
        code = new_code()
        assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
        assert not set(code) & set("01OI")
    assert normalize_code(" k7m-2qx ") == "K7M2QX"
    assert normalize_code("https://hall.example.cn/a/K7M2QX") == "K7M2QX"
    assert normalize_code("qcall:appt?code=k7m2qx") == "K7M2QX"
    assert normalize_code("2026O1I") == "2026011"  # a booking system's digits typed as letters
    assert normalize_code("K7") is None
    assert normalize_code("K7M2QX!") is None


def test_csv_of_a_booking_system_with_chinese_headers_and_a_bom() -> None:
    text = (
        "\ufeff预约码,科室,日期,时间,电话,姓名\n"
        "k7m2qx,REG,2026-03-10,09:30,138 1234 5678,张小明\n"
        ",REG,2026-03-10,14:00,,\n"
    )
    drafts = parse_csv(text, {"REG"})
    assert [(d.code, d.start, d.phone, d.name, d.source) for d in drafts] == [
        ("K7M2QX", time(9, 30), "13812345678", "张小明", "import"),
        (None, time(14, 0), None, None, "import"),
    ]


def test_csv_errors_name_every_bad_line() -> None:
    text = (
        "code,service,date,start,phone,name\n"
        ",REG,2026-03-10,09:30,,\n"
        ",XXX,2026-03-10,09:30,,\n"
        ",REG,10/03/2026,09:30,,\n"
        "\n"
        ",REG,2026-03-10,9h30,,\n"
        ",REG,2026-03-10,10:00,call me,\n"
    )
    with pytest.raises(ImportRefused) as refused:
        parse_csv(text, {"REG"})
    lines = refused.value.lines
    assert [line.split(":")[0] for line in lines] == ["line 3", "line 4", "line 6", "line 7"]
    assert "XXX" in lines[0] and "date" in lines[1] and "start" in lines[2] and "phone" in lines[3]
    with pytest.raises(ImportRefused, match="nothing was saved"):
        parse_csv("service,date\nREG,2026-03-10\n", {"REG"})
    with pytest.raises(ImportRefused):
        parse_csv("", {"REG"})


# -- on a store --------------------------------------------------------------------------


@dataclass
class Desk:
    """A queue core and an appointment book on one store, and the clock both read."""

    core: QueueCore
    book: AppointmentBook
    store: SqlAppointments
    now: list[datetime]

    def at(self, moment: datetime) -> None:
        self.now[0] = moment

    def draft(
        self, start: time, phone: str | None = None, code: str | None = None, **kw: object
    ) -> BookingDraft:
        return BookingDraft("REG", kw.pop("day", DAY), start, "phone", code=code, phone=phone, **kw)  # type: ignore[arg-type]

    def check_in(self, code: str) -> Issued:
        appointment, how = self.book.for_code(code)
        request = IssueRequest(
            appointment.service, issued_by="kiosk-1", appointment=claim_for(appointment, how)
        )
        outcome = self.core.issue_many([request])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def status(self, appointment_id: str) -> AppointmentStatus:
        with self.store.read() as tx:
            found = tx.get(appointment_id)
        assert found is not None
        return found.status


def make_desk(url: str, rules: AppointmentRules, daily_limit: int | None = None) -> Desk:
    store = open_store(url)
    now = [local(8, 0)]
    calendar = HallCalendar(timezone="Asia/Shanghai")
    services = {
        "REG": Service("REG", "挂号", "Registration", "R", daily_limit=daily_limit),
        "PAY": Service("PAY", "缴费", "Payment", "P"),
    }
    hall = Hall("医院", "Hospital", services, {1: Counter(1, "1号", "No. 1", ("REG", "PAY"))}, calendar)
    core = QueueCore(hall, store, clock=lambda: now[0])
    appointments = SqlAppointments(store.engine)
    book = AppointmentBook(appointments, calendar, services, rules, clock=lambda: now[0])
    return Desk(core, book, appointments, now)


RULES = AppointmentRules(
    capacity={"REG": {"am": 2, "pm": 1}},
    slot_minutes=20,
    early_minutes=30,
    late_minutes=15,
    late="refuse",
    no_show_limit=3,
    no_show_days=90,
    call_by_name=True,
    name_retention_days=30,
)


@pytest.fixture
def desk(database_url: str) -> Iterator[Desk]:
    made = make_desk(database_url, RULES)
    yield made
    made.store.engine.dispose()


def test_quota_per_half_day_and_all_or_nothing(desk: Desk) -> None:
    first = desk.book.book([desk.draft(time(9, 0))], CLERK)[0]
    assert first.half == "am" and first.slot_end - first.slot_start == timedelta(minutes=20)
    assert first.slot_start == local(9, 0) and len(first.code) == 6
    # Two more in the morning in one batch: the second overflows, so neither is kept.
    with pytest.raises(SlotFull) as full:
        desk.book.book([desk.draft(time(10, 0)), desk.draft(time(11, 0))], CLERK)
    assert "号源已满" in full.value.message_zh and "fully booked" in full.value.message_en
    assert [a.id for a in desk.book.day(DAY)] == [first.id]
    with desk.store.read() as tx:
        assert tx.booked("REG", DAY, "am") == 1
    # The afternoon has its own quota; cancelling gives a place back.
    desk.book.book([desk.draft(time(14, 0))], CLERK)
    with pytest.raises(SlotFull):
        desk.book.book([desk.draft(time(15, 0))], CLERK)
    desk.book.book([desk.draft(time(10, 0))], CLERK)
    desk.book.cancel(first.id, CLERK)
    desk.book.book([desk.draft(time(11, 0))], CLERK)
    with desk.store.transaction() as tx:
        rows = tx.conn.execute(select(appointment_quota.c.half, appointment_quota.c.booked)).all()
        actions = list(tx.conn.scalars(select(audit_log.c.action).order_by(audit_log.c.id)))
    assert sorted(rows) == [("am", 2), ("pm", 1)]
    assert actions.count("appointment.create") == 4 and actions.count("appointment.cancel") == 1


def test_refusals_of_a_booking(desk: Desk) -> None:
    with pytest.raises(BadBooking, match="takes no appointments"):
        desk.book.book([BookingDraft("PAY", DAY, time(9, 0), "web")], CLERK)
    with pytest.raises(BadBooking, match="past"):
        desk.book.book([desk.draft(time(9, 0), day=DAY - timedelta(days=1))], CLERK)
    taken = desk.book.book([desk.draft(time(9, 0), code="K7M2QX")], CLERK)[0]
    assert taken.code == "K7M2QX"
    with pytest.raises(BadBooking, match="taken"):
        desk.book.book([desk.draft(time(9, 0), code="K7M2QX")], CLERK)
    # The same code on another day is fine: codes are unique per day.
    desk.book.book([desk.draft(time(9, 0), code="K7M2QX", day=DAY + timedelta(days=1))], CLERK)


def test_check_in_issues_a_due_ticket_once(desk: Desk) -> None:
    booked = desk.book.book([desk.draft(time(9, 0), name="张小明")], CLERK)[0]
    assert booked.name == "张小明"  # kept: this site calls by name
    desk.at(local(8, 40))
    issued = desk.check_in(booked.code.lower())
    ticket = issued.ticket
    assert ticket.due_at == booked.slot_start and ticket.appointment == booked.id
    assert ticket.public()["appointment"] is True and "张" not in str(ticket.public())
    assert desk.status(booked.id) is AppointmentStatus.CHECKED_IN
    stored = desk.core.ticket(ticket.id)[0]
    assert (stored.due_at, stored.appointment) == (booked.slot_start, booked.id)
    assert stored.history[0].detail["appointment"] == booked.id
    with pytest.raises(AppointmentUsed) as used:
        desk.check_in(booked.code)
    assert "已使用" in used.value.message_zh and "used" in used.value.message_en
    with pytest.raises(UnknownAppointment):
        desk.check_in("ZZZZZZ")


def test_two_kiosks_racing_for_one_code_get_one_ticket(desk: Desk) -> None:
    booked = desk.book.book([desk.draft(time(9, 0))], CLERK)[0]
    desk.at(local(9, 0))
    appointment, how = desk.book.for_code(booked.code)
    request = IssueRequest("REG", appointment=claim_for(appointment, how))
    outcomes = desk.core.issue_many([request, request, IssueRequest("REG")])
    assert isinstance(outcomes[0], Issued) and isinstance(outcomes[1], AppointmentUsed)
    assert isinstance(outcomes[2], Issued) and outcomes[2].ticket.number == "R002"  # no number lost
    with desk.store.read() as tx:
        assert tx.conn.scalar(select(func.count()).select_from(tickets)) == 2


def test_a_refused_ticket_gives_the_booking_back(database_url: str) -> None:
    desk = make_desk(database_url, RULES, daily_limit=1)
    try:
        booked = desk.book.book([desk.draft(time(9, 0))], CLERK)[0]
        desk.at(local(9, 0))
        desk.core.issue("REG")  # the day's one ticket
        with pytest.raises(DailyLimitReached):
            desk.check_in(booked.code)
        assert desk.status(booked.id) is AppointmentStatus.BOOKED
    finally:
        desk.store.engine.dispose()


def test_check_in_window(desk: Desk) -> None:
    booked = desk.book.book([desk.draft(time(9, 0)), desk.draft(time(14, 0))], CLERK)
    desk.at(local(8, 29))
    with pytest.raises(TooEarly) as early:
        desk.check_in(booked[0].code)
    assert "08:30" in early.value.message_zh and "08:30" in early.value.message_en
    desk.at(local(9, 16))
    with pytest.raises(TooLate) as late:
        desk.check_in(booked[0].code)
    assert "09:15" in late.value.message_en
    desk.at(local(9, 0, day=DAY + timedelta(days=1)))
    with pytest.raises(UnknownAppointment):  # tomorrow, the code is not a code of the day
        desk.check_in(booked[1].code)


def test_not_today(desk: Desk) -> None:
    tomorrow = desk.book.book(
        [desk.draft(time(9, 0), day=DAY + timedelta(days=1), phone="13800000000")], CLERK
    )
    with pytest.raises(UnknownAppointment):
        desk.book.for_phone("13800000000")
    from server.core.appointments import arrival

    with pytest.raises(NotToday):
        arrival(tomorrow[0], desk.now[0], desk.book.calendar, RULES)


def test_late_visitor_becomes_a_walk_in_where_configured(database_url: str) -> None:
    rules = AppointmentRules(capacity={"REG": {"am": 5, "pm": 5}}, late_minutes=15, late="walk_in")
    desk = make_desk(database_url, rules)
    try:
        booked = desk.book.book([desk.draft(time(9, 0))], CLERK)[0]
        desk.at(local(9, 20))
        assert desk.book.sweep() == 1
        assert desk.status(booked.id) is AppointmentStatus.NO_SHOW
        issued = desk.check_in(booked.code)
        assert issued.ticket.due_at is None and issued.ticket.appointment is None
        assert desk.core.ticket(issued.ticket.id)[0].history[0].detail["appointment"] == booked.id
        assert desk.status(booked.id) is AppointmentStatus.CHECKED_IN
        with pytest.raises(AppointmentUsed):
            desk.check_in(booked.code)
    finally:
        desk.store.engine.dispose()


def test_no_shows_by_the_clock_and_the_limit_on_a_phone(desk: Desk) -> None:
    phone = "13812345678"
    for offset in range(3):
        day = DAY + timedelta(days=offset)
        booked = desk.book.book([desk.draft(time(9, 0), phone=phone, day=day)], CLERK)[0]
        desk.at(local(9, 15, day=day))
        assert desk.book.sweep() == 0  # the late window is still open at 09:15
        desk.at(local(9, 16, day=day))
        assert [a.status for a in desk.book.day(day)] == [AppointmentStatus.NO_SHOW]  # marked at read
        assert desk.status(booked.id) is AppointmentStatus.NO_SHOW
    later = DAY + timedelta(days=5)
    with pytest.raises(BookingRefused) as refused:
        desk.book.book([desk.draft(time(9, 0), phone="138 1234 5678".replace(" ", ""), day=later)], CLERK)
    assert "爽约" in refused.value.message_zh and "missed" in refused.value.message_en
    desk.book.book([desk.draft(time(9, 0), phone="13900000000", day=later)], CLERK)  # another phone books
    desk.at(local(9, 0, day=DAY + timedelta(days=92)))  # 90 days on, the old misses no longer count
    desk.book.book([desk.draft(time(10, 0), phone=phone, day=DAY + timedelta(days=92))], CLERK)


def test_check_in_by_phone_lists_the_bookings_ready_now(desk: Desk) -> None:
    phone = "13812345678"
    booked = desk.book.book(
        [
            desk.draft(time(9, 0), phone=phone),
            desk.draft(time(9, 10), phone=phone),
            desk.draft(time(14, 0), phone=phone),
        ],
        CLERK,
    )
    desk.at(local(8, 50))
    ready = desk.book.for_phone("138-1234-5678")
    assert [a.id for a, _ in ready] == [booked[0].id, booked[1].id]
    view = ready[0][0].kiosk_view(desk.book.calendar)
    assert view["slot_start"] == "09:00" and phone not in str(view)
    staff = booked[0].staff_view(desk.book.calendar)
    assert staff["phone"] == "138****5678"


def test_names_are_erased_after_the_retention(desk: Desk) -> None:
    booked = desk.book.book([desk.draft(time(9, 0), name="张小明")], CLERK)[0]
    desk.at(local(9, 0, day=DAY + timedelta(days=30)))
    assert desk.book.erase_names() == 0
    desk.at(local(9, 0, day=DAY + timedelta(days=31)))
    assert desk.book.erase_names() == 1
    with desk.store.read() as tx:
        assert tx.get(booked.id).name is None  # type: ignore[union-attr]
    assert desk.book.erase_names() == 0


def test_names_are_not_kept_where_the_site_does_not_call_by_name(database_url: str) -> None:
    desk = make_desk(database_url, AppointmentRules(capacity={"REG": {"am": 5, "pm": 5}}))
    try:
        assert desk.book.book([desk.draft(time(9, 0), name="张小明")], CLERK)[0].name is None
    finally:
        desk.store.engine.dispose()
