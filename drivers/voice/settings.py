"""A site's voice settings, as plain data: the ``[voice]`` table of the site TOML.

:meth:`VoiceSettings.from_mapping` checks every key and names the bad one, so
the hub can stop with one clear line (as it does for the rest of the config).
The settings are picklable: the worker process gets its own copy.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .backlog import STEPS
from .engines import DEFAULT_RATE_WPM, DEFAULT_VOICES
from .phrasing import DEFAULT_TEMPLATES, LANGUAGES, check_languages, check_template

#: The fastest and slowest speech espeak-ng is asked for (words per minute).
MIN_RATE, MAX_RATE = 80, 400
#: Without a ``backlog_rate``, a backlog is read this much faster than ``rate`` (150 → 210 wpm):
#: still clear, and it brings the shortest Mandarin call under 3 s, so six calls fit in 15 s.
HURRIED = 1.4


@dataclass(frozen=True)
class VoiceSettings:
    enabled: bool = True
    engine: str = "espeak"  # "espeak" | "pyttsx3"
    languages: tuple[str, ...] = ("zh", "en")
    repeat: int = 1  # times the languages are said in turn (1–5)
    volume: float = 1.0  # 0.0 – 1.0, applied to the whole announcement (chime, clips, speech)
    rate: int = DEFAULT_RATE_WPM  # words per minute (espeak's -s), 80–400
    voices: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_VOICES))
    templates: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    recall_templates: Mapping[str, str] = field(default_factory=dict)  # per language; empty: templates
    quiet_hours: tuple[tuple[dt.time, dt.time], ...] = ()  # local [start, end) ranges, may cross midnight
    timezone: str | None = None  # IANA name; None: the machine's local time
    segments_dir: str | None = None  # recorded clips; None: synthesis only
    cache_dir: str | None = None  # rendered WAVs; None: a directory under the system's temp dir
    cache_max_files: int = 2000
    chime: bool = True
    chime_gap_ms: int = 250  # silence after the chime
    gap_ms: int = 500  # silence between phrases
    sample_rate: int | None = None  # None: the clips' rate, else 22,050 (espeak-ng's)
    engine_timeout_s: float = 5.0  # one synthesis (espeak-ng subprocess)
    max_age_s: float | None = None  # a call waiting longer than this is reported failed, not said
    outputs: tuple[str, ...] = ("lobby",)  # "player" (this machine's speaker) and/or "lobby" (the screens)
    player_command: tuple[str, ...] | None = None  # e.g. ["aplay", "-q", "-D", "plughw:1", "{path}"]
    # When calls pile up (drivers/voice/backlog.py): what goes first, and when.
    backlog_shorten: tuple[str, ...] = STEPS  # steps in the order they are taken; () never shortens
    backlog_after: int = 1  # this many calls waiting behind an announcement: the first step is taken
    backlog_late_s: float | None = 3.0  # every this many seconds late counts as one more call waiting
    backlog_rate: int | None = None  # the "rate" step's speed; None: rate × 1.4 (at most 400)
    backlog_gather_s: float = 1.0  # a call into a silent hall waits this long for others made with it

    def __post_init__(self) -> None:
        self._check_types()
        check_languages(self.languages)
        self._check_sound()
        self._check_texts()
        self._check_places()
        self._check_backlog()

    def _check_types(self) -> None:
        """Numbers are numbers: ``repeat = "2"`` in the TOML is named, not a TypeError about ``<=``."""
        for name in _INTS:
            value = getattr(self, name)
            if value is not None and not _is_int(value):
                raise ValueError(f"{name}: a whole number, got {value!r}")
        for name in _NUMBERS:
            value = getattr(self, name)
            if value is not None and not _is_number(value):
                raise ValueError(f"{name}: a number, got {value!r}")
        for name in ("enabled", "chime"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: true or false, got {getattr(self, name)!r}")

    def _check_sound(self) -> None:
        """Engine and how it sounds: the numbers a speaker can actually play."""
        if self.engine not in ("espeak", "pyttsx3"):
            raise ValueError(f"engine: {self.engine!r} is not 'espeak' or 'pyttsx3'")
        if not 1 <= self.repeat <= 5:
            raise ValueError(f"repeat: 1–5, got {self.repeat}")
        if not 0.0 <= self.volume <= 1.0:
            raise ValueError(f"volume: 0.0–1.0, got {self.volume}")
        if not MIN_RATE <= self.rate <= MAX_RATE:
            raise ValueError(f"rate: {MIN_RATE}–{MAX_RATE} words per minute, got {self.rate}")
        if self.sample_rate is not None and not 8000 <= self.sample_rate <= 96000:
            raise ValueError(f"sample_rate: 8000–96000, got {self.sample_rate}")
        if self.gap_ms < 0 or self.chime_gap_ms < 0:
            raise ValueError("gap_ms, chime_gap_ms: not negative")

    def _check_texts(self) -> None:
        """Every spoken language has a voice and a template, and every template is well formed."""
        for lang in self.languages:
            if lang not in self.voices:
                raise ValueError(f"voices: no voice for {lang!r}")
            if lang not in self.templates:
                raise ValueError(f"templates: no template for {lang!r}")
        for key, templates in (("templates", self.templates), ("recall_templates", self.recall_templates)):
            for lang, template in templates.items():
                if lang not in LANGUAGES:
                    raise ValueError(f"{key}.{lang}: {lang!r} is not one of 'zh', 'en'")
                check_template(template, f"{key}.{lang}")

    def _check_places(self) -> None:
        """Where it reads, plays and whose clock it keeps."""
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"timezone: {self.timezone!r} is not an IANA time zone") from exc
        if self.segments_dir is not None and not os.path.isdir(self.segments_dir):
            raise ValueError(f"segments_dir: {self.segments_dir} is not a directory")
        for output in self.outputs:
            if output not in ("player", "lobby"):
                raise ValueError(f"outputs: {output!r} is not 'player' or 'lobby'")
        if self.player_command is not None and (
            not self.player_command or not all(isinstance(p, str) and p for p in self.player_command)
        ):
            raise ValueError("player_command: a list of words, e.g. ['aplay', '-q', '{path}']")

    def _check_backlog(self) -> None:
        """The backlog rule's keys (drivers/voice/backlog.py), each wrong value named."""
        if not isinstance(self.backlog_shorten, tuple) or not all(
            isinstance(step, str) for step in self.backlog_shorten
        ):
            raise ValueError(f"backlog_shorten: a list such as {list(STEPS)}, got {self.backlog_shorten!r}")
        for step in self.backlog_shorten:
            if step not in STEPS:
                raise ValueError(f"backlog_shorten: {step!r} is not one of {', '.join(map(repr, STEPS))}")
            if self.backlog_shorten.count(step) > 1:
                raise ValueError(f"backlog_shorten: {step!r} is named twice")
        if self.backlog_after < 1:
            raise ValueError(
                f"backlog_after: a whole number of waiting calls, 1 or more, got {self.backlog_after!r}"
            )
        if self.backlog_late_s is not None and not 0 < self.backlog_late_s <= 3600:
            raise ValueError(
                f"backlog_late_s: seconds, 0–3600 (0: lateness not counted), got {self.backlog_late_s!r}"
            )
        if self.backlog_rate is not None and not self.rate <= self.backlog_rate <= MAX_RATE:
            raise ValueError(
                f"backlog_rate: words per minute, from rate ({self.rate}) to {MAX_RATE}, "
                f"got {self.backlog_rate!r}"
            )
        if not 0 <= self.backlog_gather_s <= 10:
            raise ValueError(
                f"backlog_gather_s: seconds, 0–10 (0: never wait), got {self.backlog_gather_s!r}"
            )

    def hurried_rate(self) -> int:
        """Words per minute of the ``rate`` step: ``backlog_rate``, else ``rate`` × 1.4 (at most 400)."""
        return self.backlog_rate or min(MAX_RATE, round(self.rate * HURRIED))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, base_dir: str | None = None) -> VoiceSettings:
        """From the ``[voice]`` table; unknown keys are an error. Relative paths are from ``base_dir``.

        Empty values (``""``, ``[]``, ``0`` for ``sample_rate``/``max_age_s``) mean "not set".
        """
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"voice: unknown key {unknown[0]!r}")
        try:
            values = {key: _from_toml(key, value, base_dir) for key, value in data.items()}
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"voice: {exc}") from exc

    def cache_path(self) -> str:
        """Where rendered WAVs are kept (and served from): ``cache_dir``, else a folder under $TMPDIR."""
        return self.cache_dir or default_cache_dir()

    def zone(self) -> dt.tzinfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None

    def now(self) -> dt.datetime:
        """The hall's local time (the clock quiet hours are read against)."""
        return dt.datetime.now(self.zone()) if self.timezone else dt.datetime.now().astimezone()

    def is_quiet(self, when: dt.datetime) -> bool:
        """Inside one of the quiet-hour ranges (``when`` in the hall's local time)?"""
        t = when.time().replace(tzinfo=None)
        for start, end in self.quiet_hours:
            if start <= end:
                if start <= t < end:
                    return True
            elif t >= start or t < end:  # crosses midnight
                return True
        return False


def _from_toml(key: str, value: Any, base_dir: str | None) -> Any:
    """One ``[voice]`` value as the dataclass holds it (lists → tuples, relative paths, "not set" → None)."""
    if key in ("languages", "outputs"):
        return tuple(value)
    if key == "backlog_shorten":
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"backlog_shorten: a list such as {list(STEPS)}, got {value!r}")
        return tuple(value)
    if key == "player_command":
        return tuple(value) if value else None
    if key in ("voices", "templates", "recall_templates"):
        if not isinstance(value, Mapping):
            raise ValueError(f"voice.{key}: a table of language → text")
        base = {"voices": DEFAULT_VOICES, "templates": DEFAULT_TEMPLATES, "recall_templates": {}}[key]
        return {**base, **{str(k): str(v) for k, v in value.items()}}
    if key == "quiet_hours":
        return tuple(parse_range(r, f"voice.quiet_hours[{i}]") for i, r in enumerate(value))
    if key in ("segments_dir", "cache_dir"):
        path = str(value) if value else None
        if path and base_dir and not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        return path
    if key == "timezone":
        return str(value) or None
    if key in ("sample_rate", "max_age_s", "backlog_late_s", "backlog_rate"):
        return value or None  # 0 in the TOML: not set
    return value


#: The keys that must be whole numbers, and those that may be any number (None: not set).
_INTS = (
    "repeat",
    "rate",
    "cache_max_files",
    "chime_gap_ms",
    "gap_ms",
    "sample_rate",
    "backlog_after",
    "backlog_rate",
)
_NUMBERS = ("volume", "engine_timeout_s", "max_age_s", "backlog_late_s", "backlog_gather_s")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_range(text: Any, where: str) -> tuple[dt.time, dt.time]:
    """ "22:00-07:30" → (22:00, 07:30)."""
    if not isinstance(text, str) or text.count("-") != 1:
        raise ValueError(f"{where}: expected 'HH:MM-HH:MM', got {text!r}")
    a, b = (s.strip() for s in text.split("-"))
    try:
        start = dt.time.fromisoformat(a)
        end = dt.time.fromisoformat(b)
    except ValueError as exc:
        raise ValueError(f"{where}: expected 'HH:MM-HH:MM', got {text!r}") from exc
    if start == end:
        raise ValueError(f"{where}: {text!r} is empty")
    return start, end


def default_cache_dir() -> str:
    return os.path.join(tempfile.gettempdir(), f"qcall-voice-{os.getuid()}")
