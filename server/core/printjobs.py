"""Print jobs as the core sees them: plain data, no I/O.

A ticket the kiosk is told will print must survive a crash of the hub as well
as the ticket itself does, so the job is written in the ticket's own store
transaction (:meth:`~server.core.queue.QueueCore.issue`). Each job has its own
id: a reprint is a new job of the same ticket, and the printers' "never print
the same job twice" memory keys on the job, not on the ticket.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

#: A job not finished yet: the hub resumes it at start.
PENDING_STATES = ("queued", "waiting", "printing")
FINISHED_STATES = ("printed", "failed")

ISSUE = "issue"
REPRINT = "reprint"


def new_job_id() -> str:
    """A job id; random like a ticket id, with a prefix so logs never confuse the two."""
    return "j" + secrets.token_urlsafe(9)


@dataclass(frozen=True)
class PrintRequest:
    """What the API asks the core to queue along with a new ticket (decided before the transaction)."""

    printer: str
    kiosk: str | None
    #: Where visitors' status pages live; the QR payload is ``{url_base}/t/{ticket id}`` (the id is
    #: made inside the transaction). "" prints the ticket without a QR code (no address a phone can open).
    url_base: str

    def status_url(self, ticket_id: str) -> str:
        return f"{self.url_base}/t/{ticket_id}" if self.url_base else ""


@dataclass(frozen=True)
class PrintJobRecord:
    """One row of ``print_jobs``: enough to lay the ticket out again after a restart."""

    id: str
    ticket_id: str
    printer: str
    kiosk: str | None
    waiting_ahead: int
    status_url: str
    created_at: datetime
    kind: str = ISSUE
    state: str = "queued"
    detail: str = ""
    attempts: int = 0
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES
