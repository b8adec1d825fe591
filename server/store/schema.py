"""The tables. Alembic migrations in ``migrations/`` create them; this module
is their one description in Python, used by the store's queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

#: The statuses of a ticket that stands in a queue (``core.model.CALLABLE``), as SQL.
#: Written out, not bound: SQLite uses a partial index only for a query whose WHERE
#: has the index's own predicate, literally.
CALLABLE_SQL = "status IN ('waiting', 'transferred')"
#: The callable tickets of an appointment (migration 0008's ``ix_tickets_due``).
DUE_SQL = CALLABLE_SQL + " AND due_at IS NOT NULL"
#: The rows of ``device_tokens`` that still open the hub: the partial unique index on their name.
LIVE_TOKEN_SQL = "revoked_at IS NULL"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


tickets = Table(
    "tickets",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("number", String(16), nullable=False),
    Column("service", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("business_day", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    #: The priority category code (never on a public payload; see priority_ledger).
    Column("category", String(32)),
    #: A checked-in appointment's slot start (the calling policy puts appointments due now first).
    Column("due_at", UTCDateTime),
    #: The id of the appointment this ticket was issued for at check-in.
    Column("appointment", String(32)),
    Column("counter", Integer),
    Column("target_counter", Integer),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("queue_at", UTCDateTime, nullable=False),
    Column("called_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("call_count", Integer, nullable=False, default=0),
    #: 首问负责: the first staff member who served the ticket (migration 0009).
    Column("owner", String(64)),
    #: The current leg of the ticket's journey (``ticket_legs``).
    Column("leg", Integer, nullable=False, default=1, server_default="1"),
    #: The wait the hub estimated at issue, in seconds (None: no counter was open for it), so
    #: reports can measure the estimate against the real wait (migration 0012).
    Column("estimate_seconds", Integer),
    #: When the called visitor last said "on my way" from the phone (migration 0019): the no-show
    #: timer of that call waits ``[phone] on_my_way_minutes`` more, once.
    Column("on_my_way_at", UTCDateTime),
    UniqueConstraint("business_day", "number", name="uq_ticket_number_per_day"),
    Index("ix_tickets_queue", "business_day", "status", "service", "priority", "queue_at"),
)
# The callable tickets of one service in queue order (core.policy.queue_order): the heads
# of a queue and a ticket's place in it are read from this index alone, however many
# tickets of the day are done.
Index(
    "ix_tickets_callable",
    tickets.c.business_day,
    tickets.c.service,
    tickets.c.priority.desc(),
    tickets.c.queue_at,
    tickets.c.seq,
    sqlite_where=text(CALLABLE_SQL),
    postgresql_where=text(CALLABLE_SQL),
)

# Checked-in appointments still waiting, by due time: the one due now is found at once.
Index(
    "ix_tickets_due",
    tickets.c.business_day,
    tickets.c.service,
    tickets.c.due_at,
    sqlite_where=text(DUE_SQL),
    postgresql_where=text(DUE_SQL),
)

#: How many callable tickets each service has per priority, per business day. Kept by
#: triggers on ``tickets`` (migration 0006), so every write path keeps it right: issuing a
#: ticket reads its people-ahead here in O(1), whatever the length of the queue.
queue_counts = Table(
    "queue_counts",
    metadata,
    Column("business_day", Date, primary_key=True),
    Column("service", String(32), primary_key=True),
    Column("priority", Integer, primary_key=True),
    Column("waiting", Integer, nullable=False),
)

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(32), ForeignKey("tickets.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("counter", Integer),
    Column("staff", String(64)),
    Column("detail", JSON, nullable=False, default=dict),
    Index("ix_ticket_events_kind_at", "kind", "at"),
)

#: Each station of a ticket's journey (core.journey.TicketLeg): a view of ``ticket_events`` kept
#: in the same transaction as each event, so every station's report reads its own times and calls.
ticket_legs = Table(
    "ticket_legs",
    metadata,
    Column("ticket_id", String(32), ForeignKey("tickets.id"), primary_key=True),
    Column("leg", Integer, primary_key=True, autoincrement=False),
    Column("business_day", Date, nullable=False),
    Column("service", String(32), nullable=False),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("transfer", Boolean, nullable=False, default=False),
    Column("counter", Integer),
    Column("staff", String(64)),
    Column("called_at", UTCDateTime),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("calls", Integer, nullable=False, default=0),
    Column("outcome", String(16)),
    #: The leg's latest call or recall, and its wait and service against the targets (migration 0011;
    #: core.targets says what is measured). A verdict is null without a target or while undecided.
    #: The statistics read the same two durations (server/store/stats.py).
    Column("last_called_at", UTCDateTime),
    Column("wait_seconds", Float),
    Column("wait_met", Boolean),
    Column("service_seconds", Float),
    Column("service_met", Boolean),
    #: The visitor's rating of this station, kept from its ``evaluated`` event (migration 0015):
    #: the level, its score and satisfied mark as they were when given, the reason on a low one.
    Column("rating", String(24)),
    Column("rating_score", Integer),
    Column("rating_satisfied", Boolean),
    Column("rating_reason", String(32)),
    Column("rated_at", UTCDateTime),
    Index("ix_ticket_legs_day_service", "business_day", "service"),
    #: The service an evaluation pad rates: the last one ended at its counter (migration 0015).
    Index("ix_ticket_legs_counter_finished", "counter", "finished_at"),
)

sequences = Table(
    "ticket_sequences",
    metadata,
    Column("service", String(32), primary_key=True),
    Column("business_day", Date, primary_key=True),
    Column("last_seq", Integer, nullable=False),
    #: The highest number carried over into the day at a closing (0: none); the day's daily limit
    #: counts the numbers after it (migration 0010).
    Column("carried", Integer, nullable=False, server_default="0"),
)

#: Walk-in tickets issued per service and half-day (上午/下午号源, ``half`` "am" or "pm"), kept in
#: the issuing transaction like the numbers: a service's half-day cap reads and counts here (0010).
half_day_counts = Table(
    "half_day_counts",
    metadata,
    Column("service", String(32), primary_key=True),
    Column("business_day", Date, primary_key=True),
    Column("half", String(2), primary_key=True),
    Column("issued", Integer, nullable=False),
)

counter_states = Table(
    "counter_states",
    metadata,
    Column("number", Integer, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("current_ticket_id", String(32), ForeignKey("tickets.id")),
    Column("staff", String(64)),
    #: Priority calls in a row at this counter: the calling policy's cap survives a restart.
    Column("priority_run", Integer, nullable=False, default=0, server_default="0"),
    #: The clerk on post (logged in at this counter) and the session holding the post (its
    #: token's hash): the counter is open only while they are (migration 0014).
    Column("post", String(64)),
    Column("post_session", String(64)),
    Column("post_since", UTCDateTime),
    #: The break the clerk on post is on (status paused): its reason code and start.
    Column("break_reason", String(32)),
    Column("break_since", UTCDateTime),
)

#: The post log (core.posts.PostEvent): a clerk going on post at a counter and leaving it,
#: breaks starting and ending with their reason and length. Written in the transaction of
#: the change; append-only. Attendance and reports are read from it. Staff data: admins and
#: supervisors only, never a public screen.
post_events = Table(
    "post_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("business_day", Date, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("username", String(64), nullable=False),
    Column("counter", Integer, nullable=False),
    Column("reason", String(32), nullable=False, default=""),
    Column("detail", JSON, nullable=False, default=dict),
    Index("ix_post_events_day_user", "business_day", "username"),
    Index("ix_post_events_at", "at"),
)

#: The rota (排班, core.rota.RotaEntry): who should be at which counter on a business day, from
#: ``start_time`` to ``end_time`` (local "HH:MM"; "24:00" ends the day).
rota = Table(
    "rota",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("business_day", Date, nullable=False),
    Column("username", String(64), nullable=False),
    Column("counter", Integer, nullable=False),
    Column("start_time", String(5), nullable=False),
    Column("end_time", String(5), nullable=False),
    Index("ix_rota_day", "business_day", "counter"),
)

#: Every grant, request, confirmation and change of a ticket's priority category: who
#: (user or kiosk name and role), when, from what to what, and why. Written in the
#: transaction of the change; append-only. Read by admins and by staff for a ticket at
#: their counter; never on a public screen.
priority_ledger = Table(
    "priority_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(32), ForeignKey("tickets.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_category", String(32)),
    Column("to_category", String(32)),
    Column("from_priority", Integer, nullable=False, default=0),
    Column("to_priority", Integer, nullable=False, default=0),
    Column("reason", String(200), nullable=False, default=""),
)

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(256), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    #: What the public sees of this user (the doctors-on-duty card): never the user name. Null: none.
    Column("display_name", String(40)),
)

device_tokens = Table(
    "device_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

#: A name has at most one live (not revoked) token: the name is the device's identity on the devices
#: board and in its leases, so two live tokens of one name would be two devices seen as one. The rule
#: lives here, not in a read-then-insert, so two admins (or processes) racing cannot both pass it.
Index(
    "uq_device_tokens_live_name",
    device_tokens.c.name,
    unique=True,
    sqlite_where=text(LIVE_TOKEN_SQL),
    postgresql_where=text(LIVE_TOKEN_SQL),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False),
    Column("counter", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    #: SHA-256 of the id the session cookie carries (never the token itself).
    Column("cookie_hash", String(64)),
    Index("ix_staff_sessions_cookie_hash", "cookie_hash", unique=True),
    Index("ix_staff_sessions_username", "username"),
)

#: Every change made by an administrator or a staff member outside the queue
#: itself (tokens, users, reprints, settings): who, what, when, from where.
#: Append-only: the hub never updates or deletes a row.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(48), nullable=False),
    Column("target", String(128), nullable=False, default=""),
    Column("detail", JSON, nullable=False, default=dict),
    Column("address", String(64), nullable=False, default=""),
    Index("ix_audit_log_at", "at"),
)

#: Every ticket sent (or to be sent) to a printer, written with the ticket in one
#: transaction: the hub resumes the unfinished ones at start. ``id`` is the job's
#: own id (a reprint is a new job of the same ticket); what the paper needs that
#: the ticket row does not keep (people ahead, the QR payload) is kept here.
print_jobs = Table(
    "print_jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("ticket_id", String(32), ForeignKey("tickets.id"), nullable=False, index=True),
    Column("printer", String(64), nullable=False),
    Column("kiosk", String(64)),
    Column("kind", String(16), nullable=False, default="issue"),
    Column("waiting_ahead", Integer, nullable=False, default=0),
    Column("status_url", String(512), nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("detail", String(256), nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Index("ix_print_jobs_state", "state"),
)

#: Who drives each device when several hub processes share the hall (issue 15): one row per
#: printer, serial bus or voice zone. ``holder`` names the process (host, pid, a random
#: instance id); ``generation`` grows with every change of holder, so a job's "printed" mark
#: from a holder that lost the lease is refused (fencing); ``expires_at`` is the database's
#: clock plus the lease's time to live (server.store.leases).
device_leases = Table(
    "device_leases",
    metadata,
    Column("device", String(255), primary_key=True),
    Column("holder", String(120), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

#: Bookings (预约): a service (and optionally a counter or a named resource such as a
#: doctor) and a slot, with a short code unique per business day. ``phone`` is never
#: shown publicly (masked in staff lists); ``name`` is kept only where the site calls by
#: name, and erased after the configured retention (server.core.appointments).
appointments = Table(
    "appointments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("code", String(16), nullable=False),
    Column("business_day", Date, nullable=False),
    #: "am" or "pm": the half-day whose quota (号源) the booking takes.
    Column("half", String(2), nullable=False),
    Column("service", String(32), nullable=False),
    Column("counter", Integer),
    Column("resource", String(64)),
    Column("slot_start", UTCDateTime, nullable=False),
    Column("slot_end", UTCDateTime, nullable=False),
    Column("phone", String(32)),
    Column("name", String(64)),
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("checked_in_at", UTCDateTime),
    UniqueConstraint("business_day", "code", name="uq_appointment_code_per_day"),
    Index("ix_appointments_day_status", "business_day", "status"),
    Index("ix_appointments_phone", "phone"),
)

#: Live bookings per service, business day and half-day, kept with an upsert in the
#: booking's own transaction: the quota (号源) holds even when two bookings race.
appointment_quota = Table(
    "appointment_quota",
    metadata,
    Column("service", String(32), primary_key=True),
    Column("business_day", Date, primary_key=True),
    Column("half", String(2), primary_key=True),
    Column("booked", Integer, nullable=False),
)

#: One row the hub rewrites to prove the store takes writes (``/api/v1/health``):
#: a committed write is the only honest answer on a full disk.
store_probe = Table(
    "store_probe",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False, default=0),
)

#: Cases that span days (server.core.cases): one row per case. ``code`` is the visitor's key to
#: its progress; ``contact_name`` and ``contact_phone`` never leave for a visitor and are erased
#: ``[cases] contact_retention_days`` after the case is closed. ``updated_at`` is written by every
#: change, which takes the row's lock first: two changes of one case run one after the other.
cases = Table(
    "cases",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("code", String(16), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("service", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    #: 首问负责: the owner of the ticket it was opened from (else the clerk who opened it).
    Column("owner", String(64), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("opened_by", String(64), nullable=False),
    Column("counter", Integer),
    Column("ticket_id", String(32), ForeignKey("tickets.id")),
    Column("contact_name", String(64)),
    Column("contact_phone", String(32)),
    Column("closed_at", UTCDateTime),
    Column("reason", String(200)),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("code", name="uq_case_code"),
    Index("ix_cases_status_owner", "status", "owner"),
    Index("ix_cases_status_service", "status", "service"),
)

#: The steps of each case, in order, with the names and working days it was opened with.
case_steps = Table(
    "case_steps",
    metadata,
    Column("case_id", String(32), ForeignKey("cases.id"), primary_key=True),
    Column("step", Integer, primary_key=True, autoincrement=False),
    Column("code", String(32), nullable=False),
    Column("name_zh", String(40), nullable=False),
    Column("name_en", String(60), nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("owner", String(64)),
    #: The step's last working day, and when it ends (the next midnight, hall time) in UTC.
    Column("due_on", Date),
    Column("due_at", UTCDateTime),
    Column("active_at", UTCDateTime),
    Column("done_at", UTCDateTime),
    Column("done_by", String(64)),
    # The overdue steps: the active ones whose end has passed.
    Index("ix_case_steps_status_due", "status", "due_at"),
)

#: Each change of a case (opened, step done, handed off, ticket, done, cancelled): who and when.
#: Written in the change's own transaction; append-only.
case_events = Table(
    "case_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("step", Integer),
    Column("detail", JSON, nullable=False, default=dict),
)

#: The tickets of a case: the one it was opened from, and each taken for a later step (linked in
#: the ticket's own transaction). A ticket belongs to one case at most; plain tickets have no row.
case_tickets = Table(
    "case_tickets",
    metadata,
    Column("ticket_id", String(32), ForeignKey("tickets.id"), primary_key=True),
    Column("case_id", String(32), ForeignKey("cases.id"), nullable=False, index=True),
    Column("number", String(16), nullable=False),
    Column("business_day", Date, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("step", Integer),
    Column("linked_by", String(64)),
)

#: Complaints and suggestions (server.core.complaints): the current state of each, for quick lists.
#: ``complaint_events`` is its log and the figures' one source. ``contact_phone`` is personal data:
#: shown whole to admins, supervisors and the owner only, never logged, pushed or exported.
#: ``updated_at`` is written by every change, which takes the row's lock first.
complaints = Table(
    "complaints",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("category", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("text", String(500), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(64), nullable=False),
    #: The last working day, and the instant after it ends (hall time) in UTC: overdue from then.
    Column("due_on", Date, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    #: 首问负责: the supervisor on duty or the configured owner at recording; reassignable.
    Column("owner", String(64)),
    Column("ticket_id", String(32), ForeignKey("tickets.id")),
    Column("ticket_number", String(16)),
    Column("case_code", String(16)),
    #: The clerk concerned (the ticket's latest served leg's, unless staff named another).
    Column("clerk", String(64)),
    Column("counter", Integer),
    Column("service", String(32)),
    Column("contact_phone", String(32)),
    Column("return_at", UTCDateTime),
    Column("return_by", String(64)),
    Column("return_satisfaction", String(24)),
    Column("return_note", String(200)),
    Column("closed_at", UTCDateTime),
    Column("closed_by", String(64)),
    Column("result", String(200)),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_complaints_status_due", "status", "due_at"),
    Index("ix_complaints_owner_status", "owner", "status"),
    Index("ix_complaints_ticket", "ticket_id"),
)

#: Each change of a complaint (recorded, note, owner, return_call, closed): who, when, what.
#: Written in the change's own transaction; append-only. The figures read it.
complaint_events = Table(
    "complaint_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("complaint_id", String(32), ForeignKey("complaints.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    Index("ix_complaint_events_kind_at", "kind", "at"),
)

#: The sections of the site config an admin saved from the browser (or ``settings import``):
#: the stored value wins over the file's (server/settings.py). ``version`` counts the saves of
#: the section (1 for the first); a save based on an older version is refused.
settings_sections = Table(
    "settings_sections",
    metadata,
    Column("section", String(32), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changed_by", String(64), nullable=False),
)

#: What the lobby screens and kiosks post besides the queue (公告, 电价/水价, 停电计划, 服务热线):
#: bilingual, each shown from ``starts_at`` until ``ends_at`` unless withdrawn (migration 0018).
#: ``tariff`` holds a tariff's table ({"columns": [{"zh", "en"}], "rows": [[cell, …]]}); ``area_*`` and
#: ``outage_from``/``outage_to`` a planned power cut's. Rows are never deleted: a withdrawn notice
#: stays for the audit log's before → after to point at.
notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("title_zh", String(80), nullable=False),
    Column("title_en", String(120), nullable=False),
    Column("body_zh", String(500), nullable=False),
    Column("body_en", String(1000), nullable=False),
    Column("tariff", JSON, nullable=True),
    Column("area_zh", String(120), nullable=False),
    Column("area_en", String(200), nullable=False),
    Column("outage_from", UTCDateTime, nullable=True),
    Column("outage_to", UTCDateTime, nullable=True),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("position", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("withdrawn_at", UTCDateTime, nullable=True),
    Column("withdrawn_by", String(64), nullable=True),
    Index("ix_notices_ends_at", "ends_at"),
)

#: The outbox's own marks (migration 0021): how far each stream of the hall's log has been shipped to
#: the central service (``stream:<name>``, the last id it acknowledged), and which version of each
#: central template was taken (``template:<id>``). The central store keeps its own cursor too.
outbox_marks = Table(
    "outbox_marks",
    metadata,
    Column("name", String(48), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: Counted limits shared by every hub process of a hall (migration 0025, server.store.limits): one row
#: per window of a limit: the hall's phone tickets this hour (``hall:phone``), a client address's
#: (``address:<address>``), a phone's tickets of a business day (``phone:<id>:<day>``), pairing starts
#: (``pairing:…``). A window opens with its first count and closes at ``ends`` (epoch seconds); a
#: reservation counts in it with one conditional upsert, so two processes racing for its last place
#: cannot both pass. ``ticket`` and ``busy_until`` are a phone's: its last ticket, and a reservation
#: of it in flight. ``stamp`` names the reservation that last counted in the row.
limit_windows = Table(
    "limit_windows",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("cap", Integer, nullable=False),
    Column("ends", Float, nullable=False),
    Column("ticket", String(32)),
    Column("busy_until", Float),
    Column("stamp", String(32), nullable=False),
    Index("ix_limit_windows_ends", "ends"),
)

#: Pairing codes shown by waiting screens (migration 0025, server.devices.pairing), so a code shown
#: by one hub process may be confirmed and collected on another. Nothing secret is kept: the hashes
#: of the screen's claim and of the token it will be given (derived from the claim at collection).
pairing_codes = Table(
    "pairing_codes",
    metadata,
    Column("code", String(8), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("claim_hash", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    #: Epoch seconds: until an admin confirms, then until the screen collects.
    Column("expires", Float, nullable=False),
    #: An admin's confirmation in flight (two admins confirming one code make one token).
    Column("confirming_until", Float),
    #: Set when confirmed: the device the screen becomes.
    Column("name", String(64)),
    Column("counter", Integer),
    Index("ix_pairing_codes_expires", "expires"),
)
