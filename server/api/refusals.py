"""Every refusal as JSON: ``{"error", "code", "error_zh", "error_en"}``, and what each refusal adds.

A kiosk or console must never show a traceback or an HTML error page, so HTTP
errors, the core's refusals and even unexpected bugs all leave as JSON here.
Every refusal says it in Chinese and in English (``error_zh``, ``error_en``,
each whole, for the page to place); ``error`` stays the sentence it always was
(English, or "中文 / English" where a visitor reads it), as pages and scripts
read it. A refusal raised with its own Chinese (``ApiError(..., zh=...)``, the
core's bilingual refusals) says that; one whose sentence is "中文 / English"
is split at the slash; any other gets its code's Chinese sentence
(:data:`CODE_ZH`), else its status's (:data:`STATUS_ZH`): never English alone.
"""

from __future__ import annotations

import logging
import re
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


#: The Chinese of a refusal that brings none of its own, by its code: each a whole sentence.
CODE_ZH: dict[str, str] = {
    "unknown_service": "没有这项业务，请检查业务代码",
    "unknown_counter": "没有这个窗口，请检查窗口号",
    "unknown_ticket": "没有这张号票",
    "unknown_desk": "没有这个分诊台，请检查名称",
    "unknown_printer": "没有这台打印机，请检查名称",
    "unknown_clerk": "没有这位工作人员，请检查用户名",
    "nobody_waiting": "当前没有人在等候",
    "invalid_transition": "号票当前的状态不允许此操作，请刷新后再试",
    "daily_limit_reached": "该业务今天的号已取完",
    "counter_paused": "窗口正在暂停服务，请先恢复服务",
    "nothing_to_evaluate": "该窗口刚才没有办完的业务可供评价",
    "unknown_category": "没有这个优先类别",
    "priority_not_allowed": "这一优先类别须由工作人员办理",
    "visitor_not_started": "已叫到的办事人尚未开始办理，请先开始办理、过号或过号重排",
    "recall_limit": "重呼次数已达上限，请过号或过号重排",
    "not_cancellable": "号票已在办理或已结束，不能取消",
    "not_called": "该号票现在没有被叫到",
    "already_on_the_way": "您已告知正在前往，无需重复操作",
    "counter_closed": "该窗口没有工作人员在岗",
    "on_post_elsewhere": "您正在另一个窗口在岗，请先从那里离开或选择移到这里",
    "counter_staffed": "已有其他工作人员在该窗口在岗，一个窗口只能有一位工作人员",
    "ticket_at_counter": "窗口还有已叫到或正在办理的号票，请先办完或交回队列",
    "unknown_break_reason": "没有这种暂停原因，请从列出的原因中选择",
    "unknown_rating": "没有这个评价选项，请从列出的选项中选择",
    "already_rated": "这次服务已经评价过，不能再次评价",
    "evaluation_closed": "这次服务结束已久，已不能评价",
    "no_printer": "没有可用的打印机，请指定要使用的打印机",
    "conflict": "与当前状态冲突，请刷新后再试",
    "cross_origin": "此请求来自其他网站或端口，只接受本系统自己的页面发出的请求",
    "wrong_password": "当前密码不正确",
    "too_many_attempts": "尝试次数过多，请稍后再试",
    "too_many_requests": "这台设备的请求过于频繁，请稍候再试",
    "bad_import": "导入的文件有误，未导入任何内容",
    "store_unavailable": "系统暂时无法保存数据，本次操作没有记录，请稍后再试",
    "internal_error": "系统出现意外错误，已记录，请稍后再试",
    "phone_off": "本厅暂不支持手机取号，请到取号机取号",
}

#: The Chinese of a refusal by its status, where its code has none.
STATUS_ZH: dict[int, str] = {
    400: "请求有误，请检查后重试",
    401: "需要登录：请先登录，或使用设备的令牌",
    403: "您无权进行此操作",
    404: "所请求的内容不存在",
    405: "该地址不接受这种请求方式",
    409: "与当前状态冲突，请刷新后再试",
    413: "请求内容过大",
    415: "接口只接受 JSON 格式，请以 Content-Type: application/json 发送",
    422: "提交的内容不符合要求",
    429: "请求过于频繁，请稍后再试",
    500: "系统出现意外错误，已记录，请稍后再试",
    503: "系统暂时无法处理，请稍后再试",
}

#: Chinese characters and full-width forms: what makes a sentence Chinese.
_CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
#: An English sentence begins so (a ticket's number, "A012 号…", does not).
_ENGLISH_WORD = re.compile(r"\s*[A-Za-z]{2,}")


#: Werkzeug's HTTP errors whose Chinese is not their status's (:data:`STATUS_ZH`): a URL with no route.
_HTTP_ZH: dict[int, str] = {404: "没有这个地址，请检查网址"}


#: Each role as a refusal names it in Chinese (devices by what they are, people by their post).
ROLE_ZH: dict[str, str] = {
    "kiosk": "取号机",
    "display": "显示屏",
    "agent": "打印代理",
    "pad": "评价器",
    "booking": "预约系统",
    "staff": "窗口工作人员",
    "admin": "管理员",
    "triage": "分诊台",
    "supervisor": "值班长",
}


def role_zh(role: str) -> str:
    """A role's Chinese name (its code in quotes for a role this table does not know)."""
    return ROLE_ZH.get(role, f"“{role}”角色")


class ApiError(Exception):
    """A refusal raised by the adapters (bad body, missing token, wrong counter).

    ``message``: the English sentence (``error``); ``zh``: the same, whole, in
    Chinese (``error_zh``). Without ``zh``, the code's or status's Chinese
    sentence (:func:`both_languages`).
    """

    def __init__(self, status: int, message: str, code: str | None = None, zh: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _HTTP_CODES.get(status, "error")
        self.zh = zh


def both_languages(message: str, code: str, status: int, zh: str | None = None) -> tuple[str, str]:
    """``(error_zh, error_en)`` of a refusal whose ``error`` is ``message``.

    Given ``zh``, ``message`` is the English, whole, whatever it quotes (a service named
    ``挂号 / Registration`` stays in it). Else a refusal worded in both languages where it was
    made reads "中文 / English": Chinese, not begun by an English word, up to the first " / ",
    and none after it. Anything else (English that quotes Chinese a user typed, say) is not split: its
    Chinese is the code's, or the status's, sentence. One pass over the text, whatever its length.
    """
    if zh:
        said_both = message.startswith(zh + " / ")  # the same Chinese before the English
        return zh, message[len(zh) + 3 :] if said_both else message
    chinese, slash, english = message.partition(" / ")
    if slash and _CJK.search(chinese) and not _ENGLISH_WORD.match(chinese) and not _CJK.search(english):
        return chinese.strip(), english.strip()
    return CODE_ZH.get(code) or STATUS_ZH.get(status, "请求未被受理，请检查后重试"), message


def refusal_body(status: int, message: str, code: str, zh: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON of a refusal: ``error`` (as it always was), ``code``, both languages, then ``extra``."""
    error_zh, error_en = both_languages(message, code, status, zh)
    return {"error": message, "code": code, "error_zh": error_zh, "error_en": error_en, **extra}


def error_response(
    status: int, message: str, code: str, zh: str | None = None, **extra: Any
) -> tuple[Response, int]:
    return jsonify(refusal_body(status, message, code, zh, **extra)), status


def register(app: Flask) -> None:
    """Install the JSON error handlers on the whole app."""

    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> tuple[Response, int]:
        return error_response(exc.status, exc.message, exc.code, exc.zh)

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
            if isinstance(exc, appointment_errors.ImportRefused):  # bookings' or rota's CSV
                body["lines"] = exc.lines  # in English, as scripts read them before
                body["problems"] = [p.public() for p in exc.problems]  # each on its line and column
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
            zh = f"您正在 {exc.counter} 号窗口在岗，可先从那里离开，或选择移到这里"
            return error_response(status, exc.message, exc.code, zh, counter=exc.counter)
        # A core refusal with its own Chinese (a statistics query's), else its code's sentence.
        return error_response(status, exc.message, exc.code, getattr(exc, "message_zh", None))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        message = exc.description or exc.name
        zh = _HTTP_ZH.get(status)
        if status == 413:
            limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
            message = f"the request body is larger than {limit} bytes"
            zh = f"请求内容超过 {limit} 字节，请缩小后再发送"
        response, status = error_response(status, message, _HTTP_CODES.get(status, "error"), zh)
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
        return error_response(
            500,
            "the hub hit an unexpected error; it was logged",
            "internal_error",
            "系统出现意外错误，已记录，请稍后再试",
        )


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
        "系统暂时无法保存数据，本次操作没有记录，请稍后再试",
    )
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER)
    return response, status
