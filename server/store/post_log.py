"""The post log on SQLAlchemy Core: ``post_events`` rows written and read inside the store's transactions.

The queue core writes a post event in the transaction that changes the
counter (a clerk on post, off it, a break); attendance and the break list read
them by time. Functions on a connection, so :class:`~server.store.sql.SqlTx`
keeps them inside the transaction it is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ..core.posts import PostEvent, PostKind
from .schema import post_events

_INSERT = insert(post_events)


def add_post_events(conn: Connection, batch: Sequence[PostEvent]) -> None:
    """Append ``batch`` to the post log, in ``conn``'s transaction."""
    if batch:
        conn.execute(_INSERT, [_row(e) for e in batch])


def post_events_between(conn: Connection, since: datetime, until: datetime) -> list[PostEvent]:
    """The post log's entries from ``since`` (included) to ``until`` (not), in the order they happened."""
    query = (
        select(post_events)
        .where(post_events.c.at >= since, post_events.c.at < until)
        .order_by(post_events.c.at, post_events.c.id)
    )
    return [_event(row) for row in conn.execute(query).mappings()]


def _row(event: PostEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "business_day": event.business_day,
        "kind": event.kind.value,
        "username": event.username,
        "counter": event.counter,
        "reason": event.reason,
        "detail": event.detail,
    }


def _event(row: Any) -> PostEvent:
    return PostEvent(
        PostKind(row["kind"]),
        row["at"],
        row["business_day"],
        row["username"],
        row["counter"],
        row["reason"],
        dict(row["detail"] or {}),
    )
