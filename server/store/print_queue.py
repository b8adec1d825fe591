"""The print queue on disk: what the hub's printing side reads and updates outside the core.

The core writes a job with its ticket (:meth:`SqlTx.add_print_job`); from then
on the hub's :class:`~server.printing.PrintService` owns it: it resumes the
unfinished jobs at start, records each attempt and the final state, and adds
reprints (in the transaction of their audit row).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, exists, insert, select, true, update

from ..core.model import Ticket
from ..core.printjobs import FINISHED_STATES, PENDING_STATES, PrintJobRecord
from .leases import Fence
from .schema import device_leases, print_jobs, tickets
from .sql import _ticket, print_job, print_job_row, read_only


class PrintJobs:
    """Read and update ``print_jobs``; each call is its own short transaction.

    Lookups run read-only (no write lock on SQLite); updates on ``engine``.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reader = read_only(engine)

    def pending(self, printers: Collection[str] | None = None) -> list[tuple[PrintJobRecord, Ticket]]:
        """The jobs not printed nor failed (``printers``' only, if given), oldest first, with tickets."""
        query = (
            select(print_jobs, tickets)
            .join(tickets, tickets.c.id == print_jobs.c.ticket_id)
            .where(print_jobs.c.state.in_(PENDING_STATES))
            .order_by(print_jobs.c.created_at, print_jobs.c.id)
        )
        if printers is not None:
            query = query.where(print_jobs.c.printer.in_(list(printers)))
        with self.reader.begin() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            # Row._mapping is SQLAlchemy's public API (underscored so no column name can clash with it).
            job_part = {c.name: row._mapping[print_jobs.c[c.name]] for c in print_jobs.columns}  # noqa: SLF001
            ticket_part = {c.name: row._mapping[tickets.c[c.name]] for c in tickets.columns}  # noqa: SLF001
            out.append((print_job(job_part), _ticket(ticket_part)))
        return out

    def get(self, job_id: str) -> PrintJobRecord | None:
        with self.reader.begin() as conn:
            row = conn.execute(select(print_jobs).where(print_jobs.c.id == job_id)).mappings().first()
        return print_job(row) if row else None

    def of_ticket(self, ticket_id: str) -> list[PrintJobRecord]:
        query = (
            select(print_jobs).where(print_jobs.c.ticket_id == ticket_id).order_by(print_jobs.c.created_at)
        )
        with self.reader.begin() as conn:
            return [print_job(r) for r in conn.execute(query).mappings()]

    def add(self, job: PrintJobRecord, also: Callable[[Connection], Any] | None = None) -> None:
        """Insert a job (a reprint); ``also`` runs in the same transaction (its audit row)."""
        with self.engine.begin() as conn:
            conn.execute(insert(print_jobs).values(**print_job_row(job)))
            if also is not None:
                also(conn)

    def attempt(self, job_id: str, fence: Fence | None = None) -> bool:
        """One more try at the printer (the job is being sent); False: finished already, or fenced off."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(print_jobs)
                .where(print_jobs.c.id == job_id, print_jobs.c.state.in_(PENDING_STATES), fenced(fence))
                .values(state="printing", attempts=print_jobs.c.attempts + 1)
            )
        return result.rowcount == 1

    def finish(self, job_id: str, state: str, detail: str, now: datetime, fence: Fence | None = None) -> bool:
        """Record ``printed`` or ``failed``; False when the job was finished already (or unknown), or
        when ``fence`` is stale: another process took the printer over since (it resumes the job)."""
        if state not in FINISHED_STATES:
            raise ValueError(f"not a final state: {state!r}")
        with self.engine.begin() as conn:
            result = conn.execute(
                update(print_jobs)
                .where(print_jobs.c.id == job_id, print_jobs.c.state.in_(PENDING_STATES), fenced(fence))
                .values(state=state, detail=detail[:256], finished_at=now)
            )
        return result.rowcount == 1


def fenced(fence: Fence | None) -> ColumnElement[bool]:
    """The condition a driver's write carries: its lease is still the one it took (same holder, same
    generation). Checked in the write's own statement, so no takeover can slip in between."""
    if fence is None:
        return true()
    return exists().where(
        device_leases.c.device == fence.device,
        device_leases.c.holder == fence.holder,
        device_leases.c.generation == fence.generation,
    )
