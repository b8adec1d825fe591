"""What a hall ships and how: the streams, and a row as JSON and back (both sides read this module).

Two streams, each read in the order of its append-only log's id and resumed from a
cursor: ``tickets`` (``ticket_events``, with the current ``tickets`` and
``ticket_legs`` rows of the tickets the batch touches, which the statistics read)
and ``posts`` (``post_events``: clerks on post, breaks). A row crosses as a JSON
object of its columns; times as ISO 8601 in UTC, days as ``YYYY-MM-DD``; the
receiver turns them back by the column's type, so a row read at the central store
equals the hall's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, Table

from ..store import schema
from ..store.schema import UTCDateTime

#: The streams, in the order they are shipped, and the append-only table each one follows.
STREAMS: dict[str, Table] = {"tickets": schema.ticket_events, "posts": schema.post_events}
#: The hall's tables whose current rows travel with the ``tickets`` stream.
VIEWS: dict[str, Table] = {"tickets": schema.tickets, "legs": schema.ticket_legs}
#: The path of the ingest endpoint on the central service.
INGEST_PATH = "/api/v1/central/ingest"
#: Rows of a log in one batch at most (the central service refuses more).
MAX_BATCH = 2000


def encode(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON: times and days as ISO 8601 text, the rest as it is."""
    return {k: v.isoformat() if isinstance(v, (datetime, date)) else v for k, v in row.items()}


def decode(table: Table, data: Mapping[str, Any]) -> dict[str, Any]:
    """A shipped row back, by ``table``'s column types; a column the table has not is refused."""
    row: dict[str, Any] = {}
    for name, value in data.items():
        if name not in table.c:
            raise ValueError(f"{table.name} has no column {name!r}")
        kind = table.c[name].type
        if value is not None and isinstance(kind, UTCDateTime):
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                raise ValueError(f"{table.name}.{name}: a time without its UTC offset")
        elif value is not None and isinstance(kind, Date):
            value = date.fromisoformat(value)
        row[name] = value
    return row
