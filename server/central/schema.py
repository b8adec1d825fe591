"""The central store's tables: its own metadata, built by its own migrations (never the halls').

``server/central/migrations`` builds and upgrades these tables (``server.central.migrate``,
run at every start); a change here needs a central revision there, and
tests/test_central_migrations.py fails until the migrated schema equals this metadata again.
That holds for the copies of the hall's tables too: they take the hall's columns
from ``server.store.schema`` when this module loads, so a column added to a
copied hall table needs a central revision as well.

Every hall's shipped rows sit in a copy of the hall's table with the same columns
and ``hall_id`` in front of the key: the reports' SQL (server/store/stats.py) runs
over them unchanged, scoped by hall (:class:`server.store.stats.Source`). The key
of a shipped row is ``(hall_id, the row's own id)``, so a batch sent twice inserts
nothing twice (``INSERT … ON CONFLICT DO NOTHING``). ``tickets`` and ``ticket_legs``
change as a ticket moves on: each copy carries ``version``, the hall's id of the
last event of that ticket it reflects, and a row is replaced only by a newer one.
Complaints, cases and case steps likewise (their complaint's or case's last event),
in the columns shipped only (server/central/wire.py ``SHIPPED_COLUMNS``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from ..store import schema as hall
from ..store.schema import UTCDateTime
from .wire import shipped

metadata = MetaData()

HALL_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"


def _copy(
    name: str, source: Table, *extra: Column[object], indexes: tuple[tuple[str, ...], ...] = ()
) -> Table:
    """``central_<name>``: the hall table's shipped columns (no foreign keys, no defaults), after
    ``hall_id``."""
    columns: list[Column[object]] = [Column("hall_id", String(32), primary_key=True)]
    for shipped_name in shipped(source):
        column = source.c[shipped_name]
        columns.append(
            Column(
                column.name,
                column.type,
                primary_key=column.primary_key,
                nullable=bool(column.nullable) and not column.primary_key,
                autoincrement=False,
            )
        )
    table = Table(f"central_{name}", metadata, *columns, *extra)
    for n, names in enumerate(indexes):
        Index(f"ix_central_{name}_{n}", *(table.c[c] for c in names))
    return table


#: The halls' event logs and their views, as shipped (server/central/wire.py says which columns).
ticket_events = _copy("ticket_events", hall.ticket_events, indexes=(("hall_id", "at"),))
tickets = _copy(
    "tickets",
    hall.tickets,
    Column("version", Integer, nullable=False),
    indexes=(("business_day", "hall_id"),),
)
ticket_legs = _copy(
    "ticket_legs",
    hall.ticket_legs,
    Column("version", Integer, nullable=False),
    indexes=(("business_day", "service"),),
)
post_events = _copy("post_events", hall.post_events, indexes=(("business_day", "hall_id"),))
#: Complaints and cases as their figures need them, nothing personal (wire.py ``SHIPPED_COLUMNS``):
#: the columns a shipped row may carry, so a hall shipping a phone or a name is refused ``bad_batch``.
complaints = _copy(
    "complaints",
    hall.complaints,
    Column("version", Integer, nullable=False),
    indexes=(("recorded_at", "hall_id"), ("status", "due_at")),
)
cases = _copy(
    "cases",
    hall.cases,
    Column("version", Integer, nullable=False),
    indexes=(("opened_at", "hall_id"), ("status", "hall_id")),
)
case_steps = _copy(
    "case_steps", hall.case_steps, Column("version", Integer, nullable=False), indexes=(("status", "due_at"),)
)

#: Every hall the company has: who it is, where, and what it last said of itself (the live view).
halls = Table(
    "central_halls",
    metadata,
    Column("hall_id", String(32), primary_key=True),
    Column("region", String(32), nullable=False),
    #: SHA-256 of the hall's token (the hall sends it on every call; never kept itself).
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    #: The hall's profile as it last sent it: names, time zone, day start, satisfaction, services,
    #: counters (what a report needs to name its groups and judge its share satisfied).
    Column("profile", JSON, nullable=False, default=dict),
    #: The last call in, and what the hall said then: its queue now, its events not yet shipped.
    Column("last_seen_at", UTCDateTime),
    Column("last_event_at", UTCDateTime),
    Column("waiting", Integer, nullable=False, default=0),
    Column("serving", Integer, nullable=False, default=0),
    Column("open_counters", Integer, nullable=False, default=0),
    Column("pending", Integer, nullable=False, default=0),
)

#: How far each of a hall's streams has been taken in (the hall keeps its own copy: the outbox).
cursors = Table(
    "central_cursors",
    metadata,
    Column("hall_id", String(32), primary_key=True),
    Column("stream", String(16), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: Config templates (services, priority categories, notices) and the halls they are for.
templates = Table(
    "central_templates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("section", String(16), nullable=False),
    Column("value", JSON, nullable=False),
    #: Every save counts one up: a hall takes each version once.
    Column("version", Integer, nullable=False),
    #: The halls it is pushed to: every hall of ``region`` (None: the company), or these halls.
    Column("region", String(32)),
    Column("halls", JSON),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    UniqueConstraint("name", name="uq_central_template_name"),
)

#: What each hall did with each template version: applied, or refused and why.
template_results = Table(
    "central_template_results",
    metadata,
    Column("hall_id", String(32), primary_key=True),
    Column("template_id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("message", String(500), nullable=False, default=""),
    Column("at", UTCDateTime, nullable=False),
)

#: The central service's own tokens (admins change, viewers read); a hall's token is on its row.
tokens = Table(
    "central_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

#: Every change made on the central service (halls, tokens, templates): who, what, when. Append-only.
audit_log = Table(
    "central_audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(48), nullable=False),
    Column("target", String(128), nullable=False, default=""),
    Column("detail", JSON, nullable=False, default=dict),
    Column("address", String(64), nullable=False, default=""),
)
