"""The supervisor's view (值班长/大堂经理): the hall now at a glance, and what needs someone's eyes.

The supervisor's wall screen answers three questions: how long do people wait
(per service: how many, the longest wait, the estimate), who is at which
counter (open, on a break and why since when, unstaffed; the rota against who
is on post), and what is about to go wrong (alerts). This module turns what
the hub read into that view; plain Python, no I/O, so the rules are tested
with a hand-made clock and the REST answer and the Socket.IO room send the
same thing.

Alerts that fall due with time and no event (a waiting ticket nearing its wait
target, a ticket at a counter nearing its service target, a counter idle for
too long while people wait) carry ``from``: the moment they begin. The view
lists them ahead of time and the page shows each from that moment on the hub's
clock, so nobody needs a hub timer and an alert is on time even when the hall
is quiet. Each alert is one sentence in Chinese and English that names
counters, services and ticket numbers, never a visitor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .model import CounterState, CounterStatus
from .posts import BreakReason
from .queue import Hall
from .rota import CounterStaffing

#: A counter free this long while people wait for one of its services is an alert (a moment between
#: two visitors is not): long enough for a clerk to press "call next", short enough to matter.
IDLE_AFTER = timedelta(seconds=60)
#: At most this many waiting tickets per service are watched for their wait target, soonest due first:
#: without an event the order of their due times does not change, so the next ones fall due only after
#: these have (and a wall of twenty alerts per service says enough).
WATCHED_PER_SERVICE = 20


@dataclass(frozen=True)
class WaitingTicket:
    """A ticket waiting now: its number, service, when it joined this queue, when its wait target falls."""

    number: str
    service: str
    queued_at: datetime
    #: None: no wait target, or this leg was called before (re-queued; its wait was judged then).
    wait_due_at: datetime | None = None


@dataclass(frozen=True)
class AtCounter:
    """The ticket at a counter now and when its service target falls (None: no target)."""

    number: str
    service: str
    service_due_at: datetime | None = None


@dataclass(frozen=True)
class DeviceState:
    """A device as the device board keeps it."""

    name: str
    kind: str
    state: str
    since: datetime
    healthy: bool


@dataclass(frozen=True)
class CaseDue:
    """A case's active step (业扩报装 and the like) and when it ends: overdue, or the next to be."""

    code: str
    kind_zh: str
    kind_en: str
    step_zh: str
    step_en: str
    owner: str | None
    due_on: date
    due_at: datetime


@dataclass(frozen=True)
class HallNow:
    """Everything the view is made from, read by the hub at one moment."""

    now: datetime
    #: Per service code: ``{"waiting": n, "estimate_minutes": m | None}`` (the lobby's queue state).
    queues: Mapping[str, Mapping[str, Any]]
    waiting: Sequence[WaitingTicket]
    states: Sequence[CounterState]
    staffing: Sequence[CounterStaffing]
    current: Mapping[int, AtCounter]
    #: When each counter last became free while open (the estimate's pace model); None: unknown.
    free_since: Mapping[int, datetime | None]
    devices: Sequence[DeviceState]
    #: How many open cases have an active step overdue now (all of them, not a list's worth).
    cases_overdue_count: int = 0
    #: The overdue case whose deadline is the oldest.
    case_oldest: CaseDue | None = None
    #: The open case whose active step ends next (after now), listed ahead as a case alert from then.
    case_next: CaseDue | None = None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _alert(
    kind: str, key: str, zh: str, en: str, start: datetime, now: datetime, **more: Any
) -> dict[str, Any]:
    return {
        "kind": kind,
        "key": key,
        "zh": zh,
        "en": en,
        "from": start.isoformat(),
        "active": start <= now,
        **more,
    }


def view(hall: Hall, now: HallNow) -> dict[str, Any]:
    """The supervisor's view: services, counters, clerks on break, alerts (docs/contract.md, "Supervisor")."""
    services = _services(hall, now)
    counters = _counters(hall, now)
    alerts = [
        *_wait_alerts(hall, now),
        *_service_alerts(hall, now),
        *_idle_alerts(hall, now),
        *_rota_alerts(hall, now),
        *_device_alerts(now),
        *_case_alerts(now),
    ]
    alerts.sort(key=lambda a: (a["from"], a["key"]))
    return {
        "now": now.now.isoformat(),
        "timezone": hall.calendar.timezone,
        "warn_before_seconds": int(hall.targets.warn_before.total_seconds()),
        "idle_after_seconds": int(IDLE_AFTER.total_seconds()),
        "services": services,
        "counters": counters,
        "breaks": [_on_break(c) for c in counters if c["break"] is not None],
        "devices": [
            {
                "name": d.name,
                "kind": d.kind,
                "state": d.state,
                "since": d.since.isoformat(),
                "healthy": d.healthy,
            }
            for d in now.devices
        ],
        "alerts": alerts,
    }


def _services(hall: Hall, now: HallNow) -> list[dict[str, Any]]:
    oldest: dict[str, datetime] = {}
    for ticket in now.waiting:
        if ticket.service not in oldest or ticket.queued_at < oldest[ticket.service]:
            oldest[ticket.service] = ticket.queued_at
    out = []
    for code, service in hall.services.items():
        queue = now.queues.get(code, {})
        since = oldest.get(code)
        targets = hall.targets.of(code)
        out.append(
            {
                "code": code,
                "name_zh": service.name_zh,
                "name_en": service.name_en,
                "waiting": int(queue.get("waiting", 0)),
                "estimate_minutes": queue.get("estimate_minutes"),
                "longest_since": _iso(since),
                "longest_seconds": max(0, int((now.now - since).total_seconds())) if since else None,
                "wait_target_seconds": int(targets.wait.total_seconds()) if targets.wait else None,
            }
        )
    return out


def _counters(hall: Hall, now: HallNow) -> list[dict[str, Any]]:
    states = {s.number: s for s in now.states}
    staffing = {s.counter: s for s in now.staffing}
    out = []
    for number, counter in hall.counters.items():
        state = states.get(number)
        status = _status(hall, state)
        plan = staffing.get(number)
        current = now.current.get(number)
        on_break = None
        if status is CounterStatus.PAUSED and state is not None and state.break_since is not None:
            on_break = {
                "reason": state.break_reason,
                **_reason_names(hall, state.break_reason),
                "since": state.break_since.isoformat(),
                "seconds": max(0, int((now.now - state.break_since).total_seconds())),
            }
        out.append(
            {
                "number": number,
                "name_zh": counter.name_zh,
                "name_en": counter.name_en,
                "services": list(counter.services),
                "status": status.value,
                "clerk": state.post if state else None,
                "post_since": _iso(state.post_since if state else None),
                "break": on_break,
                "staffing": plan.state.value if plan else None,
                "planned": sorted({e.username for e in plan.planned}) if plan else [],
                "current": None
                if current is None
                else {
                    "number": current.number,
                    "service": current.service,
                    "service_due_at": _iso(current.service_due_at),
                },
                "idle_since": _iso(_idle_since(hall, now, state)),
            }
        )
    return out


def _status(hall: Hall, state: CounterState | None) -> CounterStatus:
    if state is None:
        return CounterStatus.CLOSED if hall.posts_required else CounterStatus.OPEN
    return state.shown(hall.posts_required)


def _reason_names(hall: Hall, code: str | None) -> dict[str, str]:
    reason = hall.break_reasons.get(code or "") or BreakReason(code or "", code or "", code or "")
    return {"reason_zh": reason.name_zh, "reason_en": reason.name_en}


def _on_break(counter: Mapping[str, Any]) -> dict[str, Any]:
    return {"clerk": counter["clerk"], "counter": counter["number"], **counter["break"]}


def _idle_since(hall: Hall, now: HallNow, state: CounterState | None) -> datetime | None:
    """When an open counter with nobody at it became free (None: busy, closed or paused)."""
    if _status(hall, state) is not CounterStatus.OPEN or (state is not None and state.current_ticket_id):
        return None
    known = now.free_since.get(state.number if state else 0)
    began = state.post_since if state is not None else None
    # The pace model's moment, else since the clerk came on post, else (unknown) from now on.
    return known or began or now.now


def _wait_alerts(hall: Hall, now: HallNow) -> list[dict[str, Any]]:
    warn = hall.targets.warn_before
    due = sorted(
        (t for t in now.waiting if t.wait_due_at is not None), key=lambda t: t.wait_due_at or now.now
    )
    watched: dict[str, int] = {}
    out = []
    for ticket in due:
        if watched.get(ticket.service, 0) >= WATCHED_PER_SERVICE or ticket.wait_due_at is None:
            continue
        watched[ticket.service] = watched.get(ticket.service, 0) + 1
        service = hall.services.get(ticket.service)
        name_zh, name_en = (service.name_zh, service.name_en) if service else (ticket.service, ticket.service)
        out.append(
            _alert(
                "wait_due",
                f"wait:{ticket.number}",
                f"{ticket.number} 号等候快到时限（{name_zh}）",
                f"{ticket.number}: wait nearly at its target ({name_en})",
                ticket.wait_due_at - warn,
                now.now,
                due_at=ticket.wait_due_at.isoformat(),
                service=ticket.service,
                number=ticket.number,
            )
        )
    return out


def _service_alerts(hall: Hall, now: HallNow) -> list[dict[str, Any]]:
    out = []
    for number, current in sorted(now.current.items()):
        if current.service_due_at is None:
            continue
        counter = hall.counters.get(number)
        name_zh, name_en = (
            (counter.name_zh, counter.name_en) if counter else (f"{number}号窗口", f"Counter {number}")
        )
        out.append(
            _alert(
                "service_due",
                f"service:{number}",
                f"{name_zh}：{current.number} 号办理快到时限",
                f"{name_en}: {current.number}'s service nearly at its target",
                current.service_due_at - hall.targets.warn_before,
                now.now,
                due_at=current.service_due_at.isoformat(),
                counter=number,
                number=current.number,
            )
        )
    return out


def _idle_alerts(hall: Hall, now: HallNow) -> list[dict[str, Any]]:
    waiting: dict[str, int] = {code: int(q.get("waiting", 0)) for code, q in now.queues.items()}
    states = {s.number: s for s in now.states}
    out = []
    for number, counter in hall.counters.items():
        since = _idle_since(hall, now, states.get(number))
        served = [code for code in counter.services if waiting.get(code, 0) > 0]
        if since is None or not served:
            continue
        people = sum(waiting[code] for code in served)
        names = [hall.services[c] for c in served if c in hall.services]
        out.append(
            _alert(
                "idle",
                f"idle:{number}",
                f"{counter.name_zh}空闲，{'、'.join(s.name_zh for s in names)}有 {people} 人等候",
                f"{counter.name_en} idle while {people} wait for {', '.join(s.name_en for s in names)}",
                since + IDLE_AFTER,
                now.now,
                counter=number,
                waiting=people,
            )
        )
    return out


def _rota_alerts(hall: Hall, now: HallNow) -> list[dict[str, Any]]:
    """A counter the rota says is staffed now with nobody on post there."""
    out = []
    for item in now.staffing:
        if item.state.value != "missing":
            continue
        counter = hall.counters.get(item.counter)
        if counter is None:
            continue
        names = ", ".join(sorted({e.username for e in item.planned}))
        out.append(
            _alert(
                "unstaffed",
                f"unstaffed:{item.counter}",
                f"{counter.name_zh}按排班应由 {names} 值守，无人在岗",
                f"{counter.name_en}: {names} on the rota, nobody on post",
                now.now,
                now.now,
                counter=item.counter,
            )
        )
    return out


def _device_alerts(now: HallNow) -> list[dict[str, Any]]:
    out = []
    for device in now.devices:
        # A device that never reported (``unknown``: a voice that is switched off, a page not opened
        # yet) is listed with the devices, not raised: a wall of such alerts would hide the real ones.
        if device.healthy or device.state == "unknown":
            continue
        state_zh = DEVICE_STATES_ZH.get(device.state, device.state)
        out.append(
            _alert(
                "device",
                f"device:{device.name}",
                f"设备 {device.name} 异常：{state_zh}",
                f"Device {device.name}: {device.state.replace('_', ' ')}",
                min(device.since, now.now),
                now.now,
                device=device.name,
                state=device.state,
            )
        )
    return out


def _case_alerts(now: HallNow) -> list[dict[str, Any]]:
    """Cases with an overdue step: how many and the oldest (its code, kind, step, owner, last day).

    The open case whose step ends next is listed ahead with ``from`` its deadline, so the alert is on
    time with no event; it names that case only, with no count (the count is the overdue alert's, and
    the hub reads it again when the step falls due)."""
    out = []
    oldest = now.case_oldest
    if now.cases_overdue_count and oldest is not None:
        out.append(_overdue_alert(oldest, now.cases_overdue_count, now.now))
    upcoming = now.case_next
    if upcoming is not None and upcoming.due_at > now.now:
        out.append(_next_alert(upcoming, now.now))
    return out


def _overdue_alert(case: CaseDue, count: int, now: datetime) -> dict[str, Any]:
    owner = case.owner or "—"
    return _alert(
        "case_overdue",
        "cases_overdue",
        f"{count} 件事项逾期，最早：{case.kind_zh} {case.code}「{case.step_zh}」"
        f"（负责人 {owner}），应于 {case.due_on.isoformat()} 前办结",
        f"{count} case(s) overdue; the oldest: {case.kind_en} {case.code}, step “{case.step_en}” "
        f"(owner {owner}), due by {case.due_on.isoformat()}",
        case.due_at,
        now,
        count=count,
        code=case.code,
        due_at=case.due_at.isoformat(),
    )


def _next_alert(case: CaseDue, now: datetime) -> dict[str, Any]:
    owner = case.owner or "—"
    return _alert(
        "case_overdue",
        f"case_due:{case.code}",
        f"下一件到期：{case.kind_zh} {case.code}「{case.step_zh}」"
        f"（负责人 {owner}），{case.due_on.isoformat()} 到期",
        f"Next case falls due at the end of {case.due_on.isoformat()}: {case.kind_en} {case.code}, "
        f"step “{case.step_en}” (owner {owner})",
        case.due_at,
        now,
        code=case.code,
        due_at=case.due_at.isoformat(),
    )


#: The device board's states in Chinese (the English is the state itself).
DEVICE_STATES_ZH = {
    "offline": "离线",
    "paper_out": "缺纸",
    "paper_near_end": "纸将用完",
    "cover_open": "机盖打开",
    "error": "故障",
    "degraded": "降级运行",
    "disconnected": "断开",
}
