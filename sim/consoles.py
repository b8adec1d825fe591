"""What the clerks' consoles showed of the waiting-time targets, checked against what happened.

A clerk's console reads the counter's next-up list (``GET /counters/{n}/next``):
each waiting ticket with ``wait_due_at`` (when its wait target is breached), the
hub's ``now`` and ``warn_before_seconds``; the page marks a ticket "快超时 Nearly
due" from ``wait_due_at − warn_before`` and "已超时 Overdue" from ``wait_due_at``
(counter_ui/targets.js). The simulated clerks read that list whenever they look
at the console (each time they are free to call: before each call-next, and when
a ticket wakes an idle one), and :class:`ConsoleWatch` keeps, per leg of a
ticket, the moments it was on a console and the due time the hub published.

At the end, :func:`flag_figures` takes each leg's verdict from the kept legs
(``ticket_legs``: joined the queue at ``queued_at``, ``wait_met``) and the wait
target from the site file as the simulation read it, not from the hub, and says:

- whether every published due time was exactly ``queued_at`` + the target (and
  the lead exactly the site's ``warn_before_minutes``);
- for each leg that breached its target, whether a console marked it "nearly
  due" at a moment strictly before the breach; and, to tell a wrong mark from a
  clerk who was not looking, whether a console showed it at all in the last
  ``warn_before`` before its breach (it must then have been marked);
- that no leg was marked before ``warn_before`` ahead of its breach, nor marked
  overdue while within its target.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

#: The console asks for this many tickets (counter_ui/counter.js: ``/next?limit=20``).
CONSOLE_LIMIT = 20


@dataclass
class Sighting:
    """One leg of a ticket as the consoles showed it: the service, each due time published, each moment."""

    service: str
    dues: set[str | None] = field(default_factory=set)
    seen: list[datetime] = field(default_factory=list)


@dataclass
class ConsoleWatch:
    """Every look at a console: which legs it showed, when, with which due time."""

    reads: int = 0
    leads: set[int] = field(default_factory=set)
    legs: dict[tuple[str, int], Sighting] = field(default_factory=dict)

    def saw(self, answer: Mapping[str, Any], leg_of: Callable[[str], int]) -> None:
        """A console's next-up answer; ``leg_of``: each ticket's leg now, as the simulation knows it."""
        self.reads += 1
        self.leads.add(int(answer["warn_before_seconds"]))
        now = datetime.fromisoformat(answer["now"])
        for entry in answer["next"]:
            tid = entry["ticket_id"]
            key = (tid, leg_of(tid))
            sighting = self.legs.get(key)
            if sighting is None:
                sighting = self.legs[key] = Sighting(entry["service"])
            sighting.dues.add(entry.get("wait_due_at"))
            sighting.seen.append(now)


@dataclass(frozen=True)
class KeptLeg:
    """A leg as ``ticket_legs`` kept it: enough to know when it breached its wait target."""

    ticket_id: str
    leg: int
    service: str
    queued_at: datetime
    called_at: datetime | None
    wait_seconds: float | None
    wait_met: bool | None


@dataclass
class Count:
    breached: int = 0
    flagged_before_breach: int = 0

    def as_dict(self) -> dict[str, Any]:
        share = self.flagged_before_breach / self.breached if self.breached else None
        return {
            "breached": self.breached,
            "flagged_before_breach": self.flagged_before_breach,
            "share": None if share is None else round(share, 4),
        }


@dataclass
class Tally:
    """The hall's count, with the checks that must come out zero."""

    hall: Count = field(default_factory=Count)
    services: dict[str, Count] = field(default_factory=lambda: defaultdict(Count))
    legs_with_target: int = 0
    legs_seen: int = 0
    sightings_checked: int = 0
    seen_before_breach: int = 0
    seen_near_before_breach: int = 0
    flagged_overdue: int = 0
    problems: list[str] = field(default_factory=list)
    due_mismatches: int = 0
    flagged_early: int = 0
    overdue_within_target: int = 0
    verdict_mismatches: int = 0


def wait_targets(data: Mapping[str, Any]) -> tuple[dict[str, timedelta | None], timedelta]:
    """Each service's wait target and the warning's lead, read from the site file's data as a
    person reads it: a service's ``wait_target_minutes``, else ``[targets] wait_minutes``."""
    section = data.get("targets", {})
    default = section.get("wait_minutes")
    targets = {}
    for service in data.get("services", []):
        minutes = service.get("wait_target_minutes", default)
        targets[service["code"]] = None if minutes is None else timedelta(minutes=minutes)
    return targets, timedelta(minutes=section.get("warn_before_minutes", 3))


def flag_figures(
    watch: ConsoleWatch,
    kept: Iterable[KeptLeg],
    targets: Mapping[str, timedelta | None],
    lead: timedelta,
) -> dict[str, Any]:
    """``targets_flagged``: the breaches, those a console marked "nearly due" before them, and the checks."""
    tally = Tally()
    published_lead = sorted(watch.leads)
    if published_lead and published_lead != [int(lead.total_seconds())]:
        tally.problems.append(f"the consoles were told a lead of {published_lead} s, the site says {lead}")
    # The page marks by the lead it was told (the last answer's; one value all day here).
    shown_lead = timedelta(seconds=published_lead[-1]) if published_lead else lead
    for leg in kept:
        target = targets.get(leg.service)
        if target is None:
            continue
        tally.legs_with_target += 1
        sighting = watch.legs.get((leg.ticket_id, leg.leg))
        _judge(tally, leg, leg.queued_at + target, lead, shown_lead, sighting)
    return {
        **tally.hall.as_dict(),
        "warn_before_minutes": lead.total_seconds() / 60,
        "console_reads": watch.reads,
        "legs_with_target": tally.legs_with_target,
        "legs_seen": tally.legs_seen,
        "sightings_checked": tally.sightings_checked,
        "seen_before_breach": tally.seen_before_breach,
        "seen_near_before_breach": tally.seen_near_before_breach,
        "flagged_overdue": tally.flagged_overdue,
        "due_mismatches": tally.due_mismatches,
        "flagged_early": tally.flagged_early,
        "overdue_within_target": tally.overdue_within_target,
        "verdict_mismatches": tally.verdict_mismatches,
        "services": {code: count.as_dict() for code, count in sorted(tally.services.items())},
        "problems": tally.problems[:20],
    }


def _judge(
    tally: Tally,
    leg: KeptLeg,
    due: datetime,
    lead: timedelta,
    shown_lead: timedelta,
    sighting: Sighting | None,
) -> None:
    """One leg with a wait target: its verdict against its due time, and what the consoles showed of it."""
    breached = leg.wait_met is False
    # The leg's own verdict agrees with the due time: breached exactly when called (or given up) after it.
    ended = leg.called_at or (leg.queued_at + timedelta(seconds=leg.wait_seconds or 0))
    if leg.wait_met is not None and breached != (ended > due):
        tally.verdict_mismatches += 1
        tally.problems.append(f"{leg.ticket_id} leg {leg.leg}: wait_met {leg.wait_met}, due {due}, {ended}")
    if breached:
        tally.hall.breached += 1
        tally.services[leg.service].breached += 1
    if sighting is None:
        return
    tally.legs_seen += 1
    tally.sightings_checked += len(sighting.seen)
    if sighting.service != leg.service:
        tally.problems.append(f"{leg.ticket_id} leg {leg.leg} was shown for {sighting.service}")
    published = {None if d is None else datetime.fromisoformat(d) for d in sighting.dues}
    if published != {due}:
        # A waiting leg with a target always has a due time, and it is exactly queued_at + target
        # (a leg re-queued after its first call has none: its wait was judged then).
        requeued = leg.called_at is not None and published == {None} and sighting.seen[0] > leg.called_at
        if requeued:
            return
        tally.due_mismatches += 1
        tally.problems.append(f"{leg.ticket_id} leg {leg.leg}: consoles said due {published}, legs {due}")
    shown = min((d for d in published if d is not None), default=None)
    if shown is None:
        return
    # What the page marked at each look, from what the hub published (counter_ui/targets.js) ...
    marked_near = [t for t in sighting.seen if t >= shown - shown_lead]
    marked_overdue = [t for t in sighting.seen if t >= shown]
    # ... against the truth: the leg's own due time and the site's lead.
    if marked_near and marked_near[0] < due - lead:
        tally.flagged_early += 1
        tally.problems.append(
            f"{leg.ticket_id} leg {leg.leg} marked nearly due at {marked_near[0]}, due {due}"
        )
    if marked_overdue:
        tally.flagged_overdue += 1
        if leg.wait_met is True:
            tally.overdue_within_target += 1
            tally.problems.append(f"{leg.ticket_id} leg {leg.leg} marked overdue, then called within target")
    if not breached:
        return
    if any(t < due for t in sighting.seen):
        tally.seen_before_breach += 1
    if any(due - lead <= t < due for t in sighting.seen):
        tally.seen_near_before_breach += 1
    if marked_near and marked_near[0] < due:
        tally.hall.flagged_before_breach += 1
        tally.services[leg.service].flagged_before_breach += 1
