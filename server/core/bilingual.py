"""Refusals a hall manager reads, each whole in Chinese and in English, marked on the field they are about.

The admin page shows the hub's words under the input they are about (a settings
section's ``services[2].code``, a rota CSV's line and column), so a refusal is a
:class:`Problem`: where (``field``, and ``line`` for a file), and one sentence in
each language with no English inside the Chinese. The sentences do not repeat
where: the page puts them under the input, or after the path or line. (A check
not yet worded here, a plain ``ValueError``, reaches the page through
``server/pydantic_zh.py``'s fallback: a Chinese frame naming the field around
its English words, never English alone.)

A check says both languages where it is made (:class:`Bilingual`, a
``ValueError`` pydantic keeps in the error's ``ctx``); pydantic's own checks are
said in Chinese by ``server/pydantic_zh.py``. Plain Python, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Bilingual(ValueError):
    """A check's refusal in both languages, each whole (``message_zh``, ``message_en``).

    A ``ValueError``, so a pydantic validator may raise it (pydantic keeps it as
    the error's ``ctx["error"]``) and code that reads ``str()`` still gets the
    English, with ``where`` before it for a check of the whole file
    (``counters[0].services: unknown service 'NOPE'``).
    """

    def __init__(self, zh: str, en: str, where: str = "") -> None:
        super().__init__(f"{where}: {en}" if where else en)
        self.message_zh = zh
        self.message_en = en
        self.where = where


@dataclass(frozen=True)
class Problem:
    """One refusal marked on its field (``""``: none), and the line of a file it is on (None: no file)."""

    field: str
    zh: str
    en: str
    line: int | None = None

    def public(self) -> dict[str, Any]:
        """As JSON: ``message`` is the English as before (pages and scripts read it), then both languages."""
        body: dict[str, Any] = {
            "field": self.field,
            "message": self.en,
            "error_zh": self.zh,
            "error_en": self.en,
        }
        if self.line is not None:
            body["line"] = self.line
        return body


def shown(value: Any) -> str:
    """A value as a refusal quotes it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
