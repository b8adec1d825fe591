"""What is said: one template per language, numbers read the way a hall reads them.

A ticket number is read character by character, as halls do: letters spelled,
digits one at a time, zero said as 零 / "zero" (never "十二" or "twelve" for
"12"), so that A012 is "A 零 一 二" in Mandarin and "A zero one two" in English.
Counter and room names come from the caller, as configured for the site
("3号窗口" / "counter 3", "5号诊室" / "consulting room 5"), and are spoken as
written.

A template has three placeholders: ``{number}`` (the number as read aloud),
``{counter}`` (the counter's name in that language) and ``{name}``: the
visitor's booked name, already masked by the hub (张*明), where a hospital
calls patients by name (``[appointments] call_by_name``). A call without a
name leaves ``{name}`` out cleanly, with the separator that follows it
("请{name}，{number}号…" says "请A 零 一 二号…"). A masked character is said as
某 in Mandarin and left out in English. A recall may use its own template
(``recall_templates``), otherwise the same one.

:func:`build_phrases` also keeps which part of a phrase is the number, so
that recorded segments can be picked for it character by character
(see :mod:`drivers.voice.engines`).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

LANGUAGES = ("zh", "en")

DEFAULT_TEMPLATES: dict[str, str] = {
    "zh": "请{number}号到{counter}",
    "en": "Number {number}, please go to {counter}",
}

PLACEHOLDERS = frozenset({"number", "counter", "name"})
#: What may follow ``{name}`` in a template and goes with it when there is no name.
NAME_SEPARATORS = "，,、：: "
#: How a masked character (``*``) of a name is said, per language.
MASKED_SAID = {"zh": "某", "en": ""}

ZH_DIGITS = "零一二三四五六七八九"
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Announcement:
    """One call to announce, as plain data (the hub builds it from a committed ``TicketCalled``).

    ``languages`` and ``repeat`` left as None take the site's settings.
    ``ticket_id`` is the identity used to collapse repeats still waiting in the queue.
    """

    ticket_id: str
    number: str  # "A012"
    counter_name_zh: str  # "3号窗口"
    counter_name_en: str  # "counter 3"
    recall: bool = False
    languages: tuple[str, ...] | None = None
    repeat: int | None = None
    #: This call's own words per language (the service's or the counter kind's phrasing,
    #: e.g. "请{number}号到{counter}取药"), over the site's ``templates``; None: the site's.
    templates: Mapping[str, str] | None = None
    #: The visitor's booked name, masked by the hub (张*明), for a ``{name}`` in the
    #: template; None: no name (the site does not call by name, or none was booked).
    name: str | None = None

    def __post_init__(self) -> None:
        if self.templates is not None:
            object.__setattr__(self, "templates", dict(self.templates))
            for lang, template in self.templates.items():
                check_template(template, f"Announcement.templates.{lang}")
        if self.languages is not None:
            object.__setattr__(self, "languages", tuple(self.languages))
            check_languages(self.languages)
        if self.repeat is not None and not 1 <= self.repeat <= 5:
            raise ValueError(f"Announcement.repeat: 1–5, got {self.repeat}")

    def counter_name(self, lang: str) -> str:
        return self.counter_name_zh if lang == "zh" else self.counter_name_en

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.languages is not None:
            data["languages"] = list(self.languages)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Announcement:
        """The inverse of :meth:`to_dict`; unknown keys are an error, not silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Announcement: unknown key {unknown[0]!r}")
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in data]
        if missing:
            raise ValueError(f"Announcement: missing key {missing[0]!r}")
        values = dict(data)
        if values.get("languages") is not None:
            values["languages"] = tuple(values["languages"])
        return cls(**values)


@dataclass(frozen=True)
class Part:
    """A piece of a phrase: template text, a counter name, or the number (``tokens``: its characters)."""

    kind: str  # "text" | "counter" | "number" | "name" (a masked name)
    text: str
    tokens: tuple[str, ...] = ()  # for "number": "A", "0", "1", "2"


@dataclass(frozen=True)
class Phrase:
    lang: str
    text: str
    parts: tuple[Part, ...]


def check_languages(languages: Iterable[str]) -> None:
    langs = list(languages)
    if not langs:
        raise ValueError("languages: at least one of 'zh', 'en'")
    for lang in langs:
        if lang not in LANGUAGES:
            raise ValueError(f"languages: {lang!r} is not one of 'zh', 'en'")
    if len(set(langs)) != len(langs):
        raise ValueError(f"languages: {langs} names a language twice")


def check_template(template: str, where: str = "template") -> None:
    """A template's placeholders must be ``{number}``, ``{counter}`` and ``{name}`` only;
    ``{{``/``}}`` are braces."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc} in {template!r}") from exc
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            raise ValueError(
                f"{where}: unknown placeholder {{{field}}} in {template!r}; "
                "use {number}, {counter}, {name}"
            )
        if spec or conversion:
            raise ValueError(f"{where}: {{{field}}} takes no format spec or conversion")
    if "{number}" not in template:
        raise ValueError(f"{where}: {template!r} never says the {{number}}")


def number_tokens(number: str) -> tuple[str, ...]:
    """The characters of a ticket number that are read aloud: letters (upper case) and digits.

    Separators ("-", spaces) are not read. Letters and digits outside ASCII are refused.
    """
    tokens = []
    for ch in number.strip():
        if ch.isascii() and ch.isalpha():
            tokens.append(ch.upper())
        elif ch.isascii() and ch.isdigit():
            tokens.append(ch)
        elif ch in "- _./":
            continue
        else:
            raise ValueError(f"ticket number {number!r}: cannot read {ch!r} aloud")
    if not tokens:
        raise ValueError(f"ticket number {number!r} has nothing to read aloud")
    return tuple(tokens)


def say_token(token: str, lang: str) -> str:
    """One character of a number in words: "0" → "零" / "zero"; a letter stays a letter."""
    if token.isdigit():
        return ZH_DIGITS[int(token)] if lang == "zh" else EN_DIGITS[int(token)]
    return token


def read_number(number: str, lang: str) -> str:
    """A012 → "A 零 一 二" (zh), "A zero one two" (en)."""
    return " ".join(say_token(t, lang) for t in number_tokens(number))


def say_name(masked: str, lang: str) -> str:
    """A masked name as said aloud: 张*明 → "张某明" (zh); in English the stars are not read."""
    said = MASKED_SAID.get(lang, "")
    return " ".join("".join(said if ch == "*" else ch for ch in masked).split())


def build_phrase(announcement: Announcement, template: str, lang: str) -> Phrase:
    parts: list[Part] = []
    drop_separator = False
    for literal, field, _, _ in string.Formatter().parse(template):
        if drop_separator:
            literal = literal.lstrip(NAME_SEPARATORS)
            drop_separator = False
        if literal:
            parts.append(Part("text", literal))
        if field == "name":
            name = say_name(announcement.name, lang) if announcement.name else ""
            if name:
                parts.append(Part("name", name))
            else:
                drop_separator = True  # "请{name}，{number}号" without a name: "请{number}号"
        elif field == "number":
            tokens = number_tokens(announcement.number)
            parts.append(Part("number", " ".join(say_token(t, lang) for t in tokens), tokens))
        elif field == "counter":
            parts.append(Part("counter", announcement.counter_name(lang).strip()))
        elif field is not None:
            raise ValueError(f"template {template!r}: unknown placeholder {{{field}}}")
    return Phrase(lang, "".join(p.text for p in parts), tuple(parts))


def build_phrases(
    announcement: Announcement,
    templates: Mapping[str, str] | None = None,
    recall_templates: Mapping[str, str] | None = None,
    languages: Iterable[str] | None = None,
) -> list[Phrase]:
    """One phrase per language, in the announcement's (else the given, else zh, en) order."""
    templates = {**DEFAULT_TEMPLATES, **(templates or {}), **(announcement.templates or {})}
    own = announcement.templates or {}
    langs = tuple(announcement.languages or languages or LANGUAGES)
    check_languages(langs)
    out = []
    for lang in langs:
        template = templates[lang]
        # The site's recall words stand for its own templates; a call's own phrasing is said on recall too.
        if announcement.recall and recall_templates and recall_templates.get(lang) and lang not in own:
            template = recall_templates[lang]
        out.append(build_phrase(announcement, template, lang))
    return out


def phrases(
    announcement: Announcement,
    templates: Mapping[str, str] | None = None,
    recall_templates: Mapping[str, str] | None = None,
    languages: Iterable[str] | None = None,
) -> list[tuple[str, str]]:
    """``[(lang, text), …]`` in the order said.

    A012 at 3号窗口 / counter 3: ``[("zh", "请A 零 一 二号到3号窗口"),
    ("en", "Number A zero one two, please go to counter 3")]``.
    """
    return [(p.lang, p.text) for p in build_phrases(announcement, templates, recall_templates, languages)]
