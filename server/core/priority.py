"""Reading the priority ledger: what a ticket asked for and nobody has answered yet.

A kiosk visitor may ask for a ``confirm`` category (孕妇, 残疾人…): the request
is written to the ledger and the ticket waits as a normal one until staff
confirm it (or change it). The ledger is the one record of that request, so
the question "is there an open request?" is answered from it alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from .model import LedgerAction, PriorityChange


def pending_request(ledger: Sequence[PriorityChange]) -> str | None:
    """The category a kiosk asked for that staff have not yet answered (confirmed or changed)."""
    for change in reversed(ledger):
        if change.action is LedgerAction.REQUEST:
            return change.to_category
        if change.action in (LedgerAction.CONFIRM, LedgerAction.CHANGE):
            return None
    return None
