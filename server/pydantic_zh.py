"""pydantic's refusals said in Chinese: one sentence per error ``type``, its ``ctx`` filled in.

The English comes from ``config.describe_problem``; this gives the Chinese
beside it for the admin page (``server/settings.py``'s ``problems_of``). Our own
checks carry their Chinese themselves (:class:`~server.core.bilingual.Bilingual`);
a type not listed here falls back to a generic Chinese sentence naming the field,
with the English words: never an English-only refusal, and no table of every
message that grows with each check.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails

from .core.bilingual import Bilingual, shown

#: Expected shapes of the site file's patterned keys (by the key's name), in each language.
PATTERN_HINTS: dict[str, tuple[str, str]] = {
    "prefix": ("须为 1 到 2 个大写字母，如 A", "expected 1 or 2 capital letters such as 'A'"),
    "code": (
        "须为不超过 32 个字母、数字、“_”或“-”，如 PAY",
        "expected up to 32 letters, digits, '_' or '-' such as 'PAY'",
    ),
    "name": (
        "须为不超过 64 个字母、数字、“.”、“_”或“-”，如 kiosk-1",
        "expected up to 64 letters, digits, '.', '_' or '-' such as 'kiosk-1'",
    ),
    "hall": (
        "须为不超过 32 个小写字母、数字、“_”或“-”，如 hall-07",
        "expected up to 32 lower-case letters, digits, '_' or '-' such as 'hall-07'",
    ),
    "region": (
        "须为不超过 32 个小写字母、数字、“_”或“-”，如 east",
        "expected up to 32 lower-case letters, digits, '_' or '-' such as 'east'",
    ),
    "url": (
        "须为中心服务的地址，如 https://central.example.com",
        "expected the central service's address such as 'https://central.example.com'",
    ),
}

#: What a request body's patterned field expects, by its pattern: (Chinese, English, whole). A
#: refusal of a request never shows the pattern itself (a visitor reads some: the phone page's
#: complaint form) nor the value sent (a phone is personal). ``whole``: the words name what the
#: field is (a phone number, a ticket number) and stand alone; else they follow the field's name.
#: Every pattern of the API's bodies is here (tests/test_validation_words.py checks it).
REQUEST_PATTERNS: dict[str, tuple[str, str, bool]] = {
    r"^\+?[0-9 ()-]{5,24}$": (
        "电话号码只能有数字、空格、+、-、括号，5–24 位",
        "A phone number has 5–24 digits, spaces, +, - or brackets",
        True,
    ),
    r"^\+?[0-9]{5,20}$": (
        "电话号码须为 5–20 位数字，可以 + 开头",
        "A phone number has 5–20 digits, with a + before them or not",
        True,
    ),
    r"^[A-Z]{1,2}[0-9]{2,4}$": (
        "号码须为字母加数字，如 A012",
        "A ticket number is letters then digits, e.g. A012",
        True,
    ),
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$": (
        "须为日期，格式 YYYY-MM-DD，如 2026-10-01",
        "expected a date as YYYY-MM-DD",
        False,
    ),
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$": (
        "须为时间，格式 HH:MM，如 09:30",
        "expected a time as HH:MM, e.g. 09:30",
        False,
    ),
    r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$": (
        "须为时间，格式 HH:MM（可到 24:00），如 17:30",
        "expected a time as HH:MM (up to 24:00), e.g. 17:30",
        False,
    ),
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([+-][0-9]{2}:[0-9]{2}|Z)$": (
        "须为带时区的日期和时间，如 2026-10-01T09:30+08:00",
        "expected a date and time with its offset, e.g. 2026-10-01T09:30+08:00",
        False,
    ),
    r"^[A-Za-z0-9_-]{1,32}$": (
        "须为不超过 32 个字母、数字、“_”或“-”，如 PAY",
        "expected up to 32 letters, digits, '_' or '-' such as 'PAY'",
        False,
    ),
    r"^[A-Za-z0-9._-]{1,64}$": (
        "须为不超过 64 个字母、数字、“.”、“_”或“-”，如 ann",
        "expected up to 64 letters, digits, '.', '_' or '-' such as 'ann'",
        False,
    ),
    r"^[A-Za-z0-9]{4,16}$": ("须为 4–16 个字母或数字", "expected 4 to 16 letters or digits", False),
    r"^[A-Za-z0-9-]{1,40}$": (
        "须为不超过 40 个字母、数字或“-”，如 K7M2Q-X9HD4",
        "expected up to 40 letters, digits or '-' such as 'K7M2Q-X9HD4'",
        False,
    ),
    r"^[^\x00]*$": ("不能含有空字符（NUL）", "must not hold a NUL character", False),
}
#: A pattern the table does not know: still never the pattern itself.
UNKNOWN_PATTERN = ("格式不符", "has the wrong form", False)


def pattern_hint(pattern: str) -> tuple[str, str, bool]:
    """What a request body's field of ``pattern`` expects, in words: (Chinese, English, whole)."""
    return REQUEST_PATTERNS.get(pattern, UNKNOWN_PATTERN)


#: pydantic's error types in Chinese, ``{name}`` filled from the error's ``ctx``. Each is a sentence
#: about the value; the field is named by the problem's ``field``.
_ZH: dict[str, str] = {
    "missing": "缺少这一必填项",
    "extra_forbidden": "没有这一项，请检查拼写",
    "int_type": "须为整数",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数，不能带小数",
    "float_type": "须为数字",
    "float_parsing": "须为数字",
    "bool_type": "须为 true 或 false",
    "bool_parsing": "须为 true 或 false",
    "string_type": "须为文字",
    "list_type": "须为列表",
    "dict_type": "须为一组键和值",
    "model_type": "须为一组键和值",
    "model_attributes_type": "须为一组键和值",
    "date_type": "须为日期，如 2026-10-01",
    "date_parsing": "须为日期，如 2026-10-01",
    "date_from_datetime_parsing": "须为日期，如 2026-10-01",
    "greater_than": "须大于 {gt}",
    "greater_than_equal": "须不小于 {ge}",
    "less_than": "须小于 {lt}",
    "less_than_equal": "须不大于 {le}",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "string_pattern_mismatch": "格式不符，应符合 {pattern}",
    "literal_error": "须为 {expected} 之一",
    "enum": "须为 {expected} 之一",
}

#: Types whose Chinese sentence is followed by the value that was given (as the English one is).
_SHOWS_INPUT = frozenset(_ZH) - {"missing", "extra_forbidden"}


def in_chinese(error: ErrorDetails, field: str, english: str, *, site_file: bool = True) -> str:
    """pydantic's ``error`` said in Chinese; ``english`` (its English sentence) when no sentence fits.

    ``field``: where it is (``services[2].code``), named in the fallback sentence.
    ``site_file``: the error is of the site file's settings (an admin's own values): the value
    given is quoted as the English quotes it, and a pattern named like a site key gets that key's
    hint. False for a request body (``routes.parse``): its English never quotes the value, and
    neither may the Chinese (a password, a phone, a name), nor may a site key's hint describe a
    field of the API that shares its name (an appointment's ``code`` is not a service's).
    """
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    cause = ctx.get("error")
    if isinstance(cause, Bilingual):
        return cause.message_zh
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "不能为空，请填写内容"
    last = error["loc"][-1] if error["loc"] else None
    if kind == "string_pattern_mismatch" and site_file and isinstance(last, str) and last in PATTERN_HINTS:
        text = PATTERN_HINTS[last][0]
    elif kind in _ZH:
        if "expected" in ctx:
            ctx["expected"] = str(ctx["expected"]).replace(" or ", " 或 ").replace(", ", "、")
        try:
            text = _ZH[kind].format(**ctx)
        except (KeyError, IndexError):  # a ctx this pydantic version does not give: the generic sentence
            return _fallback(field, english)
    else:
        return _fallback(field, english)
    if site_file and kind in _SHOWS_INPUT and "input" in error and not isinstance(error["input"], dict):
        text = f"{text}，收到 {shown(error['input'])}"
    return text


def _fallback(field: str, english: str) -> str:
    where = f"「{field}」" if field else "该项"
    return f"{where}的值不符合要求（{english}）"
