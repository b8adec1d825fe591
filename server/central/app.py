"""The central service: ``python -m server central run`` — its own Flask app on its own store.

- ``POST /api/v1/central/ingest``: a hall's batch (its token: ``Authorization: Bearer qc_hall_…``);
  answers the cursors and the templates the hall has not taken (server/outbox.py is the caller).
- ``GET /api/v1/central/halls``: every hall live (its last event, waiting, serving, counters open,
  link up or down, lag) — viewers and admins. ``POST`` registers a hall (admins, audited).
- ``GET /api/v1/central/reports/daily?day=&scope=`` and ``/monthly?month=&scope=``: the hall's
  reports across halls (server/central/reports.py), ``scope`` company, ``region:<r>`` or ``hall:<h>``.
- ``GET|PUT /api/v1/central/templates[/<name>]``: config templates and what each hall did with them.
- ``GET /api/v1/central/audit``: every change made here (admins).
- ``/central/``: the page (halls live, reports, templates), in Chinese and English.

Every refusal is JSON ``{"error", "code", "error_zh", "error_en"}`` with a 4xx status, as the hall
hub's (server/api/refusals.py ``refusal_body``): ``error`` the English sentence, each language whole
beside it; nothing here answers 500 for bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_from_directory
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ..api.refusals import STATUS_ZH, STORE_RETRY_AFTER, refusal_body
from ..core.calendar import Clock, utc_now
from ..core.stats import BadStatsQuery
from ..reports.figures import Period, day_period, month_period
from ..security import CONTENT_SECURITY_POLICY
from ..store.health import driver_message, store_failure
from .deadlines import live as deadlines_now
from .reports import CentralReports
from .store import CentralStore, Refused, Who

log = logging.getLogger(__name__)
PAGE = Path(__file__).parent / "page"
#: A hall not heard from for this long is shown with its link down.
STALE_SECONDS = 60
#: The central tokens' roles as a refusal names them in Chinese.
ROLE_ZH = {"admin": "管理员", "viewer": "查看者"}

F = TypeVar("F", bound=Callable[..., Any])


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Refused(400, "bad_request", "expected a JSON object", zh="请求内容须为 JSON 对象")
    return body


def live(
    halls: list[dict[str, Any]],
    cursors: dict[str, dict[str, int]],
    now: datetime,
    deadlines: dict[str, dict[str, int | None]] | None = None,
) -> list[dict[str, Any]]:
    """Each hall as the live view shows it: its queue, its last event, the link and how far behind, and
    its complaints and cases open and overdue (``deadlines``: server/central/deadlines.py ``live``)."""
    shown = []
    for hall in halls:
        seen: datetime | None = hall["last_seen_at"]
        last: datetime | None = hall["last_event_at"]
        silent = None if seen is None else (now - seen).total_seconds()
        link = "never" if seen is None else "up" if silent is not None and silent <= STALE_SECONDS else "down"
        profile = hall["profile"] or {}
        shown.append(
            {
                "hall": hall["hall_id"],
                "region": hall["region"],
                "name_zh": profile.get("name_zh", ""),
                "name_en": profile.get("name_en", ""),
                "link": link,
                "last_seen_at": seen.isoformat() if seen else None,
                "last_event_at": last.isoformat() if last else None,
                "silent_seconds": None if silent is None else round(silent, 1),
                "pending_events": hall["pending"],
                "waiting": hall["waiting"],
                "serving": hall["serving"],
                "open_counters": hall["open_counters"],
                "cursors": cursors.get(hall["hall_id"], {}),
                **(deadlines or {}).get(hall["hall_id"], {}),
            }
        )
    return shown


@dataclass(frozen=True)
class Central:
    """What the routes need, in ``app.extensions["qcall_central"]``."""

    store: CentralStore
    reports: CentralReports
    clock: Clock


def central() -> Central:
    found: Central = current_app.extensions["qcall_central"]
    return found


def requires(*roles: str) -> Callable[[F], F]:
    """A central token (``Authorization: Bearer``) of one of ``roles``: 401 without one, 403 for others."""

    def decorate(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            token = _bearer()
            if not token:
                raise Refused(
                    401,
                    "unauthorized",
                    "a central token is required (Authorization: Bearer)",
                    zh="需要公司总览的访问令牌（Authorization: Bearer）",
                )
            found = central().store.token_role(token)
            if found is None:
                raise Refused(401, "unauthorized", "unknown or revoked token", zh="令牌无效或已吊销")
            if found[1] not in roles:
                raise Refused(
                    403,
                    "forbidden",
                    f"this needs the role {' or '.join(roles)}",
                    zh=f"此操作需要{'或'.join(ROLE_ZH[r] for r in roles)}的令牌",
                )
            request.environ["qcall.central.who"] = Who(found[0], request.remote_addr or "")
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return decorate


def who() -> Who:
    found: Who = request.environ["qcall.central.who"]
    return found


api = Blueprint("central", __name__)


@api.post("/api/v1/central/ingest")
def ingest() -> Response:
    """A hall's batch, with the hall's own token: the hall is the token's, never the body's."""
    token = _bearer()
    the = central()
    hall = the.store.hall_of(token) if token else None
    if hall is None:
        raise Refused(
            401, "unauthorized", "a registered hall's token is required", zh="需要已登记营业厅的令牌"
        )
    return jsonify(the.store.ingest(hall, _body(), the.clock()))


@api.get("/api/v1/central/halls")
@requires("admin", "viewer")
def halls() -> Response:
    the = central()
    every, now = the.store.halls(), the.clock()
    counted = deadlines_now(the.store.engine, [h["hall_id"] for h in every], now)
    return jsonify(halls=live(every, the.store.cursors(), now, counted))


@api.post("/api/v1/central/halls")
@requires("admin")
def add_hall() -> tuple[Response, int]:
    body = _body()
    hall, region = str(body.get("hall", "")), str(body.get("region", "default"))
    the = central()
    token = the.store.add_hall(hall, region, who(), the.clock())
    return jsonify(hall=hall, region=region, token=token), 201


@api.get("/api/v1/central/reports/daily")
@requires("admin", "viewer")
def daily() -> Response:
    return _report(day_period(request.args.get("day")))


@api.get("/api/v1/central/reports/monthly")
@requires("admin", "viewer")
def monthly() -> Response:
    return _report(month_period(request.args.get("month")))


def _report(period: Period) -> Response:
    """The report of ``period`` over every hall, grouped by ``?scope=`` (company, region or hall)."""
    the = central()
    return jsonify(the.reports.report(the.store.halls(), request.args.get("scope"), period, the.clock()))


@api.get("/api/v1/central/templates")
@requires("admin", "viewer")
def templates() -> Response:
    return jsonify(templates=central().store.templates())


@api.put("/api/v1/central/templates/<name>")
@requires("admin")
def save_template(name: str) -> Response:
    """Create or replace a template for the company, a region (``region``) or some halls (``halls``)."""
    body = _body()
    region, halls = body.get("region"), body.get("halls")
    if region is not None and not isinstance(region, str):
        raise Refused(
            400, "bad_template", "region: expected a region's name or null", zh="region：须为区域名称或 null"
        )
    if halls is not None and (not isinstance(halls, list) or not all(isinstance(h, str) for h in halls)):
        raise Refused(
            400,
            "bad_template",
            "halls: expected a list of hall ids or null",
            zh="halls：须为营业厅编号的列表或 null",
        )
    the = central()
    section = str(body.get("section", ""))
    return jsonify(
        the.store.save_template(name, section, body.get("value"), region, halls, who(), the.clock())
    )


@api.get("/api/v1/central/audit")
@requires("admin")
def audit() -> Response:
    return jsonify(entries=central().store.audit())


@api.get("/central/")
def page() -> Response:
    return send_from_directory(PAGE, "index.html")


@api.get("/central/<path:name>")
def page_file(name: str) -> Response:
    return send_from_directory(PAGE, name)


def refused(exc: Refused) -> tuple[Response, int]:
    return jsonify(refusal_body(exc.status, str(exc), exc.code, exc.zh)), exc.status


def bad_query(exc: BadStatsQuery) -> tuple[Response, int]:
    return jsonify(refusal_body(400, str(exc), "bad_request", exc.message_zh)), 400


def store_error(exc: SQLAlchemyError) -> tuple[Response, int]:
    """The database's word, the last guard behind the checks of a batch (server/central/wire.py ``decode``).

    A value the database would not take (DataError, IntegrityError) is the sender's: 400
    ``bad_batch``. A database down or unreachable is this service's: 503 ``store_unavailable`` with
    ``Retry-After``, as the hall hub answers (server/api/refusals.py); the transaction was rolled back
    whole, so the hall sends the same batch again later. Anything else is a bug: 500, logged.
    """
    if isinstance(exc, DataError | IntegrityError):
        log.warning("a value the database refused on %s: %s", request.path, driver_message(exc))
        body = refusal_body(
            400,
            "a value in the batch does not fit the central store's tables",
            "bad_batch",
            "上传的数据有值不符合中心数据库的表",
        )
        return jsonify(body), 400
    detail = store_failure(exc)
    if detail is None:
        log.exception("unexpected database error on %s %s", request.method, request.path)
        body = refusal_body(
            500,
            "the central service hit an unexpected error; it was logged",
            "internal_error",
            "中心服务出现意外错误，已记录，请稍后再试",
        )
        return jsonify(body), 500
    log.error("central store unavailable on %s %s: %s", request.method, request.path, detail)
    body = refusal_body(
        503,
        "the central store cannot be reached right now; nothing was recorded, please try again shortly",
        "store_unavailable",
        "中心数据库暂时无法访问，本次没有记录，请稍后再试",
    )
    response = jsonify(body)
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER)
    return response, 503


def http_error(exc: HTTPException) -> tuple[Response, int]:
    """Werkzeug's refusals (no such URL, a method not taken, a body too large) in both languages."""
    status = exc.code or 400
    code = (exc.name or "error").lower().replace(" ", "_")
    zh = "没有这个地址，请检查网址" if status == 404 else STATUS_ZH.get(status)
    return jsonify(refusal_body(status, exc.description or exc.name, code, zh)), status


def headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_central_app(store: CentralStore, clock: Clock = utc_now) -> Flask:
    """The central service's app over ``store`` (its tables migrated by ``migrate.migrate``)."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024
    app.extensions["qcall_central"] = Central(store, CentralReports(store.engine), clock)
    app.register_blueprint(api)
    app.register_error_handler(Refused, refused)
    app.register_error_handler(BadStatsQuery, bad_query)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(SQLAlchemyError, store_error)
    app.after_request(headers)
    return app
