"""Satisfaction (满意度): the levels a visitor may give, what each is worth, and which service they rate.

A hall is assessed on the share of satisfied visitors against a target (at
least 80), per window and per clerk. So a rating is given to one *leg* of a
ticket's journey — the station that served the visitor — and credited to the
clerk who served it and the counter it was served at; the verdict is kept as
it was when given (its score, whether it counted as satisfied), so a later
change of ``[satisfaction]`` does not rewrite last month's assessment.

Two sets of levels: three (非常满意 / 满意 / 不满意, the codes the evaluation
pads have always sent) and five (非常满意 … 非常不满意, as 政务服务"好差评"
grades). The three codes of the first are among the five, so a hall that
moves from three to five keeps its old ratings readable, and a three-key
serial pad may stay on a five-level site.

Plain data and pure functions: the core asks, the store keeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .errors import AlreadyRated, EvaluationClosed, NothingToEvaluate, UnknownRating
from .journey import TicketLeg
from .model import LegOutcome, Rating

#: The codes of each set of levels, best first.
LEVEL_CODES: Mapping[int, tuple[str, ...]] = {
    3: (Rating.VERY_SATISFIED, Rating.SATISFIED, Rating.DISSATISFIED),
    5: (
        Rating.VERY_SATISFIED,
        Rating.SATISFIED,
        Rating.BASICALLY_SATISFIED,
        Rating.DISSATISFIED,
        Rating.VERY_DISSATISFIED,
    ),
}
#: What each level is called, in both languages.
LEVEL_NAMES: Mapping[str, tuple[str, str]] = {
    Rating.VERY_SATISFIED: ("非常满意", "Very satisfied"),
    Rating.SATISFIED: ("满意", "Satisfied"),
    Rating.BASICALLY_SATISFIED: ("基本满意", "Fairly satisfied"),
    Rating.DISSATISFIED: ("不满意", "Dissatisfied"),
    Rating.VERY_DISSATISFIED: ("非常不满意", "Very dissatisfied"),
}
#: The score of each level toward the 0–100 satisfaction index, by default.
DEFAULT_SCORES: Mapping[int, Mapping[str, int]] = {
    3: {Rating.VERY_SATISFIED: 100, Rating.SATISFIED: 80, Rating.DISSATISFIED: 0},
    5: {
        Rating.VERY_SATISFIED: 100,
        Rating.SATISFIED: 80,
        Rating.BASICALLY_SATISFIED: 60,
        Rating.DISSATISFIED: 40,
        Rating.VERY_DISSATISFIED: 0,
    },
}
#: The levels that count as satisfied, by default (好评: 非常满意, 满意, 基本满意 on five).
DEFAULT_SATISFIED: Mapping[int, tuple[str, ...]] = {
    3: (Rating.VERY_SATISFIED, Rating.SATISFIED),
    5: (Rating.VERY_SATISFIED, Rating.SATISFIED, Rating.BASICALLY_SATISFIED),
}


@dataclass(frozen=True)
class Level:
    """One answer a visitor may give, its score (0–100) and whether it counts as satisfied."""

    code: str
    name_zh: str
    name_en: str
    score: int
    satisfied: bool

    def public(self) -> dict[str, Any]:
        """What a pad or a phone needs to draw the button (not the score: that is the hall's business)."""
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "satisfied": self.satisfied,
        }


@dataclass(frozen=True)
class Reason:
    """Why a visitor was not satisfied (等候太久, 态度…), offered on a low rating."""

    code: str
    name_zh: str
    name_en: str

    def public(self) -> dict[str, Any]:
        return {"code": self.code, "name_zh": self.name_zh, "name_en": self.name_en}


DEFAULT_REASONS = (
    Reason("waited_too_long", "等候时间太长", "Waited too long"),
    Reason("attitude", "服务态度不好", "Staff attitude"),
    Reason("not_competent", "业务不熟练", "Not competent"),
    Reason("environment", "环境设施不好", "Environment and facilities"),
    Reason("other", "其他", "Other"),
)


def make_levels(
    count: int, scores: Mapping[str, int] | None = None, satisfied: Sequence[str] | None = None
) -> tuple[Level, ...]:
    """The ``count`` levels (3 or 5) with their scores and satisfied marks (defaults where not given)."""
    codes = LEVEL_CODES[count]
    given = {**DEFAULT_SCORES[count], **(scores or {})}
    glad = set(DEFAULT_SATISFIED[count] if satisfied is None else satisfied)
    return tuple(Level(c, *LEVEL_NAMES[c], score=given[c], satisfied=c in glad) for c in codes)


@dataclass(frozen=True)
class Verdict:
    """A rating as it is kept: the level, its score and mark at the time, and the reason given."""

    rating: str
    score: int
    satisfied: bool
    reason: str | None = None

    def detail(self, leg: int, source: str | None) -> dict[str, Any]:
        """The evaluated event's detail: the rated leg, the verdict, who sent it (a pad's name, "phone")."""
        detail: dict[str, Any] = {
            "rating": self.rating,
            "score": self.score,
            "satisfied": self.satisfied,
            "leg": leg,
            "source": source,
        }
        if self.reason is not None:
            detail["reason"] = self.reason
        return detail


@dataclass(frozen=True)
class Satisfaction:
    """``[satisfaction]`` as the core sees it."""

    levels: tuple[Level, ...] = field(default_factory=lambda: make_levels(3))
    reasons: tuple[Reason, ...] = DEFAULT_REASONS
    #: The share satisfied (in percent) a hall must reach.
    target: int = 80
    #: How long after a service ends the pad at its counter may rate it.
    pad_window: timedelta = timedelta(minutes=10)
    #: How long after a service ends the visitor's phone may rate it.
    phone_window: timedelta = timedelta(minutes=60)

    def level(self, code: str) -> Level:
        for level in self.levels:
            if level.code == code:
                return level
        choices = ", ".join(level.code for level in self.levels)
        raise UnknownRating(
            f"没有这个评价等级 {code!r} / unknown rating {code!r} (expected one of: {choices})"
        )

    def verdict(self, rating: str, reason: str | None = None) -> Verdict:
        """The verdict for ``rating`` (and ``reason``, asked only on a level that is not satisfied)."""
        level = self.level(rating)
        if reason is not None:
            if level.satisfied:
                raise UnknownRating(
                    "只有不满意的评价才需要说明原因 / "
                    "a reason is given only with a rating that is not satisfied"
                )
            if reason not in {r.code for r in self.reasons}:
                choices = ", ".join(r.code for r in self.reasons)
                raise UnknownRating(
                    f"没有这个原因 {reason!r} / unknown reason {reason!r} (expected one of: {choices})"
                )
        return Verdict(level.code, level.score, level.satisfied, reason)

    def public(self) -> dict[str, Any]:
        """The levels and reasons a pad or a phone offers (``GET /satisfaction``)."""
        return {
            "levels": [level.public() for level in self.levels],
            "reasons": [r.public() for r in self.reasons],
        }


def rateable(leg: TicketLeg) -> bool:
    """Whether a leg is a service a visitor may rate: finished, or served and then sent on.

    A transfer of a visitor called but never started rates nobody's work; a
    no-show or a cancel was no service at all.
    """
    if leg.outcome is LegOutcome.DONE:
        return True
    return leg.outcome is LegOutcome.TRANSFERRED and leg.started_at is not None


def chosen_leg(legs: Sequence[TicketLeg], asked: int | None, now: datetime, window: timedelta) -> TicketLeg:
    """The leg a visitor's phone rates: the one asked for, else the latest that may be rated.

    Refuses (bilingual: the visitor reads it) a leg that may not be rated, one
    rated already, or one whose window has passed.
    """
    if asked is not None:
        leg = next((leg for leg in legs if leg.leg == asked), None)
        if leg is None or not rateable(leg):
            raise NothingToEvaluate(f"这一段服务不能评价 / stage {asked} of this ticket cannot be rated")
    else:
        candidates = [leg for leg in legs if rateable(leg)]
        unrated = [leg for leg in candidates if leg.rating is None]
        if not candidates:
            raise NothingToEvaluate("还没有可评价的服务 / there is no finished service to rate yet")
        leg = (unrated or candidates)[-1]
    if leg.rating is not None:
        raise AlreadyRated("这次服务已经评价过了，谢谢 / this service has been rated already, thank you")
    if leg.finished_at is None or now - leg.finished_at > window:
        raise EvaluationClosed("评价时间已过 / the time to rate this service has passed")
    return leg


def offer(legs: Sequence[TicketLeg], now: datetime, window: timedelta) -> TicketLeg | None:
    """The leg a phone may rate now (latest first), or None."""
    for leg in reversed(legs):
        if (
            rateable(leg)
            and leg.rating is None
            and leg.finished_at is not None
            and now - leg.finished_at <= window
        ):
            return leg
    return None


def offer_view(
    leg: TicketLeg | None, window: timedelta, services: Mapping[str, Any], counters: Mapping[int, Any]
) -> dict[str, Any] | None:
    """The service a phone may rate, as the phone shows it: where and what, and until when.

    Never the clerk's name: a visitor rates the service, the hall knows who gave it.
    """
    if leg is None or leg.finished_at is None:
        return None
    service = services.get(leg.service)
    counter = counters.get(leg.counter) if leg.counter is not None else None
    return {
        "leg": leg.leg,
        "service": leg.service,
        "service_name_zh": service.name_zh if service else leg.service,
        "service_name_en": service.name_en if service else leg.service,
        "counter": leg.counter,
        "counter_name_zh": counter.name_zh if counter else None,
        "counter_name_en": counter.name_en if counter else None,
        "until": (leg.finished_at + window).isoformat(),
    }
