"""What goes on paper: one ticket, as plain data.

The hub builds a :class:`PrintTicket` from a committed ticket and hands it to a
spooler (or, as JSON, to a device agent). The driver never looks anything up:
everything the paper shows is in here.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class PrintTicket:
    ticket_id: str
    number: str  # "A012"
    site_name_zh: str
    site_name_en: str
    service_name_zh: str
    service_name_en: str
    waiting_ahead: int
    estimated_wait_minutes: int | None
    issued_at: str  # local time as printed, "2026-11-25 09:05"
    status_url: str  # the QR payload
    footer_zh: str = ""
    footer_en: str = ""
    #: The print job's own id (a reprint is a new job of the same ticket); "" means the ticket id.
    job_id: str = ""
    #: Issued at an appointment's check-in: the paper says "预约 Appointment" under the number.
    appointment: bool = False
    #: No counter was open for the service at issue: the paper says the wait cannot be estimated.
    no_estimate: bool = False
    #: The job may be on paper already (its driver died while sending it): the paper says "补打 COPY".
    copy: bool = False

    @property
    def job_key(self) -> str:
        """What printers remember as printed: the job, so a reprint is not mistaken for a resend."""
        return self.job_id or self.ticket_id

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the ``ticket`` of a ``print_job`` message); ``no_estimate`` and ``copy`` only
        when true, so an agent older than them still takes every ticket that has neither."""
        data = asdict(self)
        for flag in ("no_estimate", "copy"):
            if not data[flag]:
                del data[flag]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrintTicket:
        """The inverse of :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"PrintTicket: unknown key {unknown[0]!r}")
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in data]
        if missing:
            raise ValueError(f"PrintTicket: missing key {missing[0]!r}")
        return cls(**data)
