"""What can go wrong in the hall, as errors with a stable code.

The core does not know HTTP; each error carries a ``code`` that adapters map to
a status (the API) or a translated message (the pages).
"""

from __future__ import annotations

from datetime import datetime


class QueueError(Exception):
    """Base of every refusal by the queue core."""

    code = "queue_error"

    def __init__(self, message: str, zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: The same refusal, whole, in Chinese (None: the API says its code's Chinese sentence).
        self.message_zh = zh


class UnknownService(QueueError):
    code = "unknown_service"


class UnknownCounter(QueueError):
    code = "unknown_counter"


class UnknownTicket(QueueError):
    code = "unknown_ticket"


class NobodyWaiting(QueueError):
    code = "nobody_waiting"


class InvalidTransition(QueueError):
    """The ticket or counter is not in a state that allows the action."""

    code = "invalid_transition"


class DailyLimitReached(QueueError):
    code = "daily_limit_reached"


class Reopens(QueueError):
    """A refusal that says when tickets are issued again: a visitor reads it at the kiosk.

    Both languages on their own (``message_zh``, ``message_en``) for the page to
    place, and the moment (``opens_at``, None when no opening is known).
    """

    def __init__(self, message_zh: str, message_en: str, opens_at: datetime | None = None) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en
        self.opens_at = opens_at


class HallClosed(Reopens):
    """Outside the hall's hours (or past its last ticket); the service has no hours of its own."""

    code = "hall_closed"


class ServiceClosed(Reopens):
    """Outside the hours of a service with hours of its own (or past its last ticket)."""

    code = "service_closed"


class HalfDayFull(Reopens):
    """The service's walk-in tickets of this half-day (上午/下午号源) are all taken."""

    code = "half_day_full"


class CounterPaused(QueueError):
    code = "counter_paused"


class NothingToEvaluate(QueueError):
    """No service just finished at that counter, or it was rated already."""

    code = "nothing_to_evaluate"


class UnknownCategory(QueueError):
    """A priority category the site does not have (the kiosk shows the message: both languages)."""

    code = "unknown_category"


class PriorityNotAllowed(QueueError):
    """The caller may not give this priority category (a kiosk asking for a staff-only one)."""

    code = "priority_not_allowed"


class VisitorNotStarted(QueueError):
    """Call-next while the called visitor has not been started, where the site refuses it.

    The clerk decides: start, no-show or re-queue (``[calls] on_call_next_while_called``).
    """

    code = "visitor_not_started"


class RecallLimitReached(QueueError):
    """A recall beyond the service's ``max_recalls`` (``[calls] on_recall_beyond_max = "refuse"``)."""

    code = "recall_limit"


class NotCancellable(QueueError):
    """The ticket is being served or has ended; a visitor sees this, so the message is bilingual."""

    code = "not_cancellable"


class NotCalled(QueueError):
    """The visitor's "on my way" for a ticket that is not being called now; a visitor sees this: bilingual."""

    code = "not_called"


class AlreadyOnTheWay(QueueError):
    """The visitor said "on my way" already since this call (once a call): bilingual, a visitor reads it."""

    code = "already_on_the_way"


class CounterClosed(QueueError):
    """Nobody is on post at the counter (no clerk logged in at it): it calls nobody, takes no break and
    no transfer."""

    code = "counter_closed"


class OnPostElsewhere(QueueError):
    """The clerk is on post at another counter; the login may ask to move (``move: true``)."""

    code = "on_post_elsewhere"

    def __init__(self, message: str, counter: int) -> None:
        super().__init__(message)
        #: Where the clerk is on post now (the console offers "move here").
        self.counter = counter


class CounterStaffed(QueueError):
    """Another clerk is on post at the counter: one counter, one clerk."""

    code = "counter_staffed"


class TicketAtCounter(QueueError):
    """A logout with a visitor still called or being served at the counter (``force`` hands it back)."""

    code = "ticket_at_counter"


class UnknownBreakReason(QueueError):
    """A break reason the site does not list (``[staff] break_reasons``)."""

    code = "unknown_break_reason"


class UnknownRating(QueueError):
    """A rating level or a reason the site does not offer (the visitor's page shows it: both languages)."""

    code = "unknown_rating"


class AlreadyRated(QueueError):
    """The service was rated already: one rating per leg of a ticket, never a second."""

    code = "already_rated"


class EvaluationClosed(QueueError):
    """The service ended longer ago than ``[satisfaction]`` lets it be rated."""

    code = "evaluation_closed"
