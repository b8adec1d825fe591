"""How an announcement is phrased when calls pile up: the one rule, decided by the announcer.

A full announcement (chime, Mandarin and English, said twice) lasts about 19 s.
When six counters call within a second, saying each one in full makes the
sixth visitor wait a minute and a half. So the announcer, at the moment it
takes a call off its queue, looks at how many calls wait behind it and how
late it already is, and shortens it by the site's steps (``backlog_shorten``),
in their order::

    repeat            say it once, not ``repeat`` times
    second_language   only the first language (zh of ["zh", "en"])
    chime             no chime before it
    rate              speak at ``backlog_rate`` (faster) instead of ``rate``

Nothing is ever dropped and the order never changes: every call is still said,
at least once in the first language. How far it is shortened::

    pressure = calls waiting behind it + whole ``backlog_late_s`` it has waited
    steps    = pressure - backlog_after + 1, at most every step that applies

A step that changes nothing (``repeat`` when the site says it once,
``second_language`` with one language, ``chime`` with the chime off, ``rate``
when the speech comes from recorded clips or is already that fast) is skipped,
so the first step taken is the first one that actually saves time.

A recall is said for someone who missed the first call: it keeps its chime
(which turns heads) and its normal rate (so it is understood the first time);
its repeat and its second language may go like any other call's.

This is written once, here, and applied in the hub's process (the
:class:`~drivers.voice.announcer.Announcer`): the worker renders what it is
told, and the lobby screens play what the worker rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .phrasing import Announcement

if TYPE_CHECKING:
    from .settings import VoiceSettings

REPEAT = "repeat"
SECOND_LANGUAGE = "second_language"
CHIME = "chime"
RATE = "rate"

#: Every shortening step, in the default order: the first dropped first.
STEPS: tuple[str, ...] = (REPEAT, SECOND_LANGUAGE, CHIME, RATE)

#: Steps a recall never takes: its chime turns heads, its normal rate is understood the first time.
KEPT_BY_RECALL = frozenset({CHIME, RATE})


@dataclass(frozen=True)
class Phrasing:
    """How one announcement is said, as plain (picklable, JSON-able) data for the worker.

    ``shortened`` names the steps taken, in order; empty: said in full.
    """

    languages: tuple[str, ...]
    repeat: int
    chime: bool
    rate: int  # words per minute for synthesised speech
    shortened: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "languages": list(self.languages),
            "repeat": self.repeat,
            "chime": self.chime,
            "rate": self.rate,
            "shortened": list(self.shortened),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Phrasing:
        return cls(
            languages=tuple(data["languages"]),
            repeat=int(data["repeat"]),
            chime=bool(data["chime"]),
            rate=int(data["rate"]),
            shortened=tuple(data.get("shortened", ())),
        )


def full_phrasing(settings: VoiceSettings, announcement: Announcement) -> Phrasing:
    """The announcement as the site says it when nobody waits: its own languages/repeat, else the site's."""
    return Phrasing(
        languages=tuple(announcement.languages or settings.languages),
        repeat=announcement.repeat or settings.repeat,
        chime=settings.chime,
        rate=settings.rate,
    )


def _apply(phrasing: Phrasing, step: str, settings: VoiceSettings) -> Phrasing | None:
    """``phrasing`` shortened by ``step``, or None when the step would change nothing."""
    p = phrasing
    if step == REPEAT and p.repeat > 1:
        return Phrasing(p.languages, 1, p.chime, p.rate, (*p.shortened, step))
    if step == SECOND_LANGUAGE and len(p.languages) > 1:
        return Phrasing(p.languages[:1], p.repeat, p.chime, p.rate, (*p.shortened, step))
    if step == CHIME and p.chime:
        return Phrasing(p.languages, p.repeat, False, p.rate, (*p.shortened, step))
    hurried = settings.hurried_rate()
    if step == RATE and settings.segments_dir is None and hurried > p.rate:
        return Phrasing(p.languages, p.repeat, p.chime, hurried, (*p.shortened, step))
    return None


def shortenings(settings: VoiceSettings, announcement: Announcement) -> list[Phrasing]:
    """Every phrasing this announcement can be given, from full to shortest (one step more each)."""
    out = [full_phrasing(settings, announcement)]
    for step in settings.backlog_shorten:
        if announcement.recall and step in KEPT_BY_RECALL:
            continue
        shorter = _apply(out[-1], step, settings)
        if shorter is not None:
            out.append(shorter)
    return out


def pressure(settings: VoiceSettings, waiting: int, late: float) -> int:
    """Calls waiting behind it, plus one for every whole ``backlog_late_s`` it has already waited."""
    lateness = int(late // settings.backlog_late_s) if settings.backlog_late_s and late > 0 else 0
    return max(0, waiting) + lateness


def choose_phrasing(
    settings: VoiceSettings, announcement: Announcement, waiting: int, late: float
) -> Phrasing:
    """The phrasing of an announcement taken off the queue now.

    ``waiting``: calls queued behind it; ``late``: seconds since it was called.
    """
    options = shortenings(settings, announcement)
    steps = pressure(settings, waiting, late) - settings.backlog_after + 1
    return options[min(max(steps, 0), len(options) - 1)]


def is_shortest(settings: VoiceSettings, announcement: Announcement, waiting: int, late: float) -> bool:
    """Whether more calls could shorten it no further (the announcer stops gathering then)."""
    chosen = choose_phrasing(settings, announcement, waiting, late)
    return chosen == shortenings(settings, announcement)[-1]


__all__ = [
    "CHIME",
    "KEPT_BY_RECALL",
    "RATE",
    "REPEAT",
    "SECOND_LANGUAGE",
    "STEPS",
    "Phrasing",
    "choose_phrasing",
    "full_phrasing",
    "is_shortest",
    "pressure",
    "shortenings",
]
