"""A request body's patterned field refused in words, never its regular expression nor the value sent.

The phone page's complaint form with a phone ``138-abc`` once read "contact_phone：格式不符，应符合
^\\+?[0-9 ()-]{5,24}$": a visitor reads these refusals. Every pattern of the API's bodies has its
words (phone, date, time, ticket number, …), and the refusals of the forms say them in Chinese and
English (``error_zh``, ``error_en``), over the hub's Flask app.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

import server.api
from server.pydantic_zh import REQUEST_PATTERNS
from tests.api_hall import ApiHall, device_tokens, open_hall
from tests.support import write_site

PHONE_ZH = "电话号码只能有数字、空格、+、-、括号，5–24 位"
PHONE_EN = "A phone number has 5–24 digits, spaces, +, - or brackets"


def _metadata(annotation: Any) -> list[Any]:
    """Every constraint inside ``annotation`` (Annotated, unions, FieldInfo in Annotated)."""
    found: list[Any] = []
    if isinstance(annotation, FieldInfo):
        for meta in annotation.metadata:
            found += [meta, *_metadata(meta)]
        return found
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *metas = typing.get_args(annotation)
        for meta in metas:
            found += [meta, *_metadata(meta)]
        return found + _metadata(inner)
    for arg in typing.get_args(annotation):
        found += _metadata(arg)
    return found


def body_patterns() -> dict[str, list[str]]:
    """Each pattern of a field of the API's request bodies, with the fields that have it."""
    patterns: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(server.api.__path__):
        module = importlib.import_module(f"server.api.{info.name}")
        for name, model in vars(module).items():
            if (
                not (inspect.isclass(model) and issubclass(model, BaseModel))
                or model.__module__ != module.__name__
            ):
                continue
            for field_name, field in model.model_fields.items():
                for meta in [*field.metadata, *_metadata(field.annotation)]:
                    pattern = getattr(meta, "pattern", None)
                    if pattern:
                        patterns.setdefault(pattern, []).append(f"{info.name}.{name}.{field_name}")
    return patterns


def test_every_pattern_of_a_request_body_has_its_words() -> None:
    patterns = body_patterns()
    assert r"^\+?[0-9 ()-]{5,24}$" in patterns  # the walk finds the optional fields' patterns too
    missing = {p: fields for p, fields in patterns.items() if p not in REQUEST_PATTERNS}
    assert not missing, f"patterns without words (add them to REQUEST_PATTERNS): {missing}"
    for zh, en, _ in REQUEST_PATTERNS.values():
        assert "^" not in zh + en and "[" not in zh + en


@pytest.fixture
def hall(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiHall]:
    path = write_site(tmp_path / "site.toml", sqlite_url, counters=2)
    made = open_hall(ApiHall, path, tmp_path, monkeypatch, (("ann", "staff"), ("boss", "admin")))
    device_tokens(made)
    assert made.log_in("ann", "ann", 1).status_code == 200
    assert made.log_in("boss", "boss").status_code == 200
    try:
        yield made
    finally:
        made.hub.close()


def refused_in_words(hall: ApiHall, path: str, who: str | None, body: dict[str, Any], sent: str) -> Any:
    refused = hall.refused("POST", path, who, 400, "bad_request", json=body)
    text = " ".join(str(refused[k]) for k in ("error", "error_zh", "error_en"))
    assert "pattern" not in text and "^" not in text and "[0-9" not in text, refused
    assert sent not in text, refused  # the value sent is never echoed (a phone is personal)
    # Worded in both languages where it was made: the phone page and the console show the hub's words.
    assert refused["error"] == f"{refused['error_zh']} / {refused['error_en']}"
    return refused


def test_a_bad_phone_is_refused_in_words(hall: ApiHall) -> None:
    day = "2026-03-10"
    for path, who, body in (
        ("/complaints", None, {"category": "fees", "text": "slow", "contact_phone": "138-abc"}),
        ("/complaints", "ann", {"category": "fees", "text": "slow", "contact_phone": "138-abc"}),
        ("/cases", "ann", {"counter": 1, "kind": "licence", "contact_phone": "138-abc"}),
    ):
        refused = refused_in_words(hall, path, who, body, "138-abc")
        assert (refused["error_zh"], refused["error_en"]) == (PHONE_ZH, PHONE_EN), path
    booking = {"service": "PAY", "date": day, "start": "09:00", "phone": "138-abc"}
    refused = refused_in_words(hall, "/appointments", "boss", booking, "138-abc")
    assert refused["error_zh"] == "电话号码须为 5–20 位数字，可以 + 开头"
    assert refused["error_en"] == "A phone number has 5–20 digits, with a + before them or not"


def test_a_bad_date_time_or_ticket_number_is_refused_in_words(hall: ApiHall) -> None:
    booking = {"service": "PAY", "date": "2026-03-10", "start": "9h30"}
    refused = refused_in_words(hall, "/appointments", "boss", booking, "9h30")
    assert refused["error_zh"] == "start：须为时间，格式 HH:MM，如 09:30"
    assert refused["error_en"] == "'start': expected a time as HH:MM, e.g. 09:30"
    entry = {"date": "10/03/2026", "username": "ann", "counter": 1, "start": "09:00", "end": "12:00"}
    refused = refused_in_words(hall, "/staff/rota", "boss", entry, "10/03/2026")
    assert refused["error_zh"] == "date：须为日期，格式 YYYY-MM-DD，如 2026-10-01"
    assert refused["error_en"] == "'date': expected a date as YYYY-MM-DD"
    entry = {**entry, "date": "2026-03-10", "start": "25:00"}
    refused = refused_in_words(hall, "/staff/rota", "boss", entry, "25:00")
    assert refused["error_en"] == "'start': expected a time as HH:MM, e.g. 09:30"
    refused = refused_in_words(hall, "/counters/1/requeue", "ann", {"number": "a-12"}, "a-12")
    assert (refused["error_zh"], refused["error_en"]) == (
        "号码须为字母加数字，如 A012",
        "A ticket number is letters then digits, e.g. A012",
    )
