"""What every driver's settings model shares: strict pydantic models and one-line errors.

A driver owns the settings of its devices (``drivers.printing.printer_settings``,
``drivers.signs.sign_settings``); the hub's site file and the device agent's
file both validate through those models, so a key means the same thing, and is
refused or accepted the same way, wherever it is written. A mistake comes back
as one line, ``key: what is wrong``, which each caller prefixes with its file
and table (the person installing the hall reads that line and nothing else).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import ErrorDetails


class DriverSettings(BaseModel):
    """Base of every driver settings model: unknown keys refused, no silent type coercion.

    Strict, because ``baudrate = "9600"`` quietly becoming 9600 in one reader
    and an error in another is how the three printer checks drifted apart.
    Frozen: settings are read once and shared between threads.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, str_strip_whitespace=True)


def whole_number(low: int, high: int) -> BeforeValidator:
    """An int from ``low`` to ``high``; a string such as ``"0x0416"`` is read as a number (USB ids).

    TOML has hex integers, but settings also arrive as JSON or as strings from
    older files; the range message names both bounds, which pydantic's own does not.
    """

    def check(value: object) -> int:
        if isinstance(value, str):
            try:
                value = int(value, 0)
            except ValueError:
                raise ValueError(f"a whole number from {low} to {high}, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"a whole number from {low} to {high}, got {value!r}")
        return value

    return BeforeValidator(check)


def positive_number(high: float | None = None) -> BeforeValidator:
    """A number above 0 (and at most ``high``): seconds, mostly. An int is taken as a float."""
    limit = "" if high is None else f", at most {high:g}"

    def check(value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or value <= 0
            or (high is not None and value > high)
        ):
            raise ValueError(f"a positive number{limit}, got {value!r}")
        return float(value)

    return BeforeValidator(check)


def location(loc: tuple[int | str, ...]) -> str:
    """``("registers", "text")`` → ``registers.text``; ``("keys", 0)`` → ``keys[0]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def first_problem(
    exc: ValidationError, describe: Callable[[ErrorDetails, str], str | None] | None = None
) -> str:
    """One line, ``key: what is wrong``, for the first error that matters.

    A misspelt key also makes its right spelling "missing": the typo is named
    first. ``describe(error, key)`` may word an error its own way (None: the
    default wording).
    """
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    key = location(error["loc"])
    if describe is not None:
        own = describe(error, key)
        if own is not None:
            return own
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key; check its spelling"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    if error["type"] != "value_error" and "input" in error and not isinstance(error["input"], Mapping):
        shown = repr(error["input"])
        message = f"{message}, got {shown if len(shown) <= 60 else shown[:57] + '...'}"
    return f"{key}: {message}" if key else message
