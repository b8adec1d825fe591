"""Every refusal as JSON: ``{"error": sentence, "code": machine_code}``.

A kiosk or console must never show a traceback or an HTML error page, so HTTP
errors, the core's refusals and even unexpected bugs all leave as JSON here.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..core import errors as core_errors

log = logging.getLogger(__name__)

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
        return error_response(CORE_STATUS.get(type(exc), 409), exc.message, exc.code)

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

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> tuple[Response, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "the hub hit an unexpected error; it was logged", "internal_error")
