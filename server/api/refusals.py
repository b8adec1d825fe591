"""Every refusal as JSON: ``{"error": sentence, "code": machine_code}``.

A kiosk or console must never show a traceback or an HTML error page, so HTTP
errors, the core's refusals and even unexpected bugs all leave as JSON here.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..core import appointments as appointment_errors
from ..core import cases as case_errors
from ..core import complaints as complaint_errors
from ..core import errors as core_errors
from ..core import rota as rota_errors
from ..core.stats import BadStatsQuery
from ..store.health import store_failure

log = logging.getLogger(__name__)

#: Seconds a client should wait before retrying a write the store could not take.
STORE_RETRY_AFTER = 5

#: HTTP status of each refusal of the queue core.
CORE_STATUS: dict[type[core_errors.QueueError], int] = {
    core_errors.UnknownService: 400,
    core_errors.UnknownCounter: 404,
    core_errors.UnknownTicket: 404,
    core_errors.NobodyWaiting: 404,
    core_errors.InvalidTransition: 409,
    core_errors.DailyLimitReached: 409,
    core_errors.HallClosed: 409,
    core_errors.CounterPaused: 409,
    core_errors.NothingToEvaluate: 409,
    core_errors.UnknownCategory: 400,
    core_errors.PriorityNotAllowed: 403,
    appointment_errors.UnknownAppointment: 404,
    appointment_errors.BadBooking: 409,
    appointment_errors.ImportRefused: 400,
    core_errors.VisitorNotStarted: 409,
    core_errors.RecallLimitReached: 409,
    core_errors.NotCancellable: 409,
    core_errors.NotCalled: 409,
    core_errors.AlreadyOnTheWay: 409,
    core_errors.ServiceClosed: 409,
    core_errors.HalfDayFull: 409,
    case_errors.UnknownCase: 404,
    case_errors.CaseClosed: 409,
    case_errors.StepNotActive: 409,
    case_errors.CaseRefused: 409,
    core_errors.CounterClosed: 409,
    core_errors.OnPostElsewhere: 409,
    core_errors.CounterStaffed: 409,
    core_errors.TicketAtCounter: 409,
    core_errors.UnknownBreakReason: 400,
    rota_errors.RotaImportRefused: 400,
    rota_errors.BadRotaEntry: 409,
    core_errors.UnknownRating: 400,
    core_errors.AlreadyRated: 409,
    core_errors.EvaluationClosed: 409,
    BadStatsQuery: 400,
    complaint_errors.UnknownComplaint: 404,
    complaint_errors.UnknownComplaintCategory: 400,
    complaint_errors.ComplaintClosed: 409,
    complaint_errors.ReturnCallRequired: 409,
    complaint_errors.ComplaintRefused: 409,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


class ApiError(Exception):
    """A refusal raised by the adapters (bad body, missing token, wrong counter)."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _HTTP_CODES.get(status, "error")


def error_response(status: int, message: str, code: str) -> tuple[Response, int]:
    return jsonify(error=message, code=code), status


def register(app: Flask) -> None:
    """Install the JSON error handlers on the whole app."""

    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> tuple[Response, int]:
        return error_response(exc.status, exc.message, exc.code)

    @app.errorhandler(core_errors.QueueError)
    def _core(exc: core_errors.QueueError) -> tuple[Response, int]:
        status = CORE_STATUS.get(type(exc), 409)
        if isinstance(
            exc,
            appointment_errors.AppointmentRefusal
            | case_errors.CaseRefusal
            | complaint_errors.ComplaintRefusal,
        ):
            # A visitor reads it at the kiosk: both languages, each on its own for the page to place.
            body: dict[str, Any] = {
                "error": exc.message,
                "code": exc.code,
                "error_zh": exc.message_zh,
                "error_en": exc.message_en,
            }
            if isinstance(exc, appointment_errors.ImportRefused):
                body["lines"] = exc.lines
            if isinstance(exc, rota_errors.RotaImportRefused):  # each line's problem, on its field
                body["problems"] = [p.public() for p in exc.problems]
            if isinstance(exc, rota_errors.BadRotaEntry) and exc.field:
                body["field"] = exc.field  # the admin form's field it is about, as bad_notice names one
            return jsonify(body), status
        if isinstance(exc, core_errors.Reopens):
            # Closed now (hall, service, half-day): both languages and when tickets are issued again.
            opens_at = exc.opens_at.isoformat() if exc.opens_at else None
            reopens = {"error_zh": exc.message_zh, "error_en": exc.message_en, "opens_at": opens_at}
            return jsonify(error=exc.message, code=exc.code, **reopens), status
        if isinstance(exc, core_errors.OnPostElsewhere):
            # Where the clerk is on post now: the console offers to move from there.
            return jsonify(error=exc.message, code=exc.code, counter=exc.counter), status
        return error_response(status, exc.message, exc.code)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            message = f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        response, status = error_response(status, message, _HTTP_CODES.get(status, "error"))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # HTTP requires it on a 405
        return response, status

    @app.errorhandler(SQLAlchemyError)
    @app.errorhandler(sqlite3.Error)
    def _store(exc: Exception) -> tuple[Response, int]:
        detail = store_failure(exc)
        if detail is None:
            return _bug(exc)
        return store_unavailable(detail)

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> tuple[Response, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "the hub hit an unexpected error; it was logged", "internal_error")


def store_unavailable(detail: str) -> tuple[Response, int]:
    """503 ``store_unavailable``: the store could not take the write, so nothing was recorded.

    The transaction was rolled back whole (a ticket is answered 201 only after
    its commit), so the client may simply try again; ``/health`` turns 503 at
    once instead of waiting for its next probe.
    """
    log.error("store unavailable on %s %s: %s", request.method, request.path, detail)
    hub = current_app.extensions.get("qcall")
    if hub is not None:
        hub.store_health.failed(detail)
    response, status = error_response(
        503,
        f"the hub cannot save anything right now ({detail}); nothing was recorded, please try again shortly",
        "store_unavailable",
    )
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER)
    return response, status
