"""Replay a simulated week's pace log (sim/pace_log.py) through today's estimator; say where it misses.

    .venv/bin/python -m sim.pace_replay /tmp/bank7.pickle [--zone Asia/Shanghai]

Rebuilds a PaceModel with the week's rules and counters, tells it what the core told the hub's model
in the same order, and asks it again at every issue. Prints one JSON object: the mean absolute error
(minutes) of the replayed estimate and of the old rule (five minutes a person ahead) and their ratio,
and the ratio the estimates would reach with the best factor per service and people ahead, chosen
knowing the real waits (``ratio_rescaled_knowing_the_waits``: how far a better calibrated figure
could go; the rest is how much waits spread around any figure said at issue),
over the tickets ``sim.week`` measures (called, with an estimate), then the same broken down by
service, people ahead, hour of the day, priority, whether a counter of the service was paused at
issue, and what happened to the service during the wait (a call that jumped the line, a transfer in,
a no-show, a counter paused) — each group with its share of the week's whole error, which says where
to look first, and the share of its tickets called later than said (``late``: about half where the
estimate is the median it means to be; far from it, a bias to look for).
"""

from __future__ import annotations

import argparse
import bisect
import json
import pickle
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from server.core.estimate import PaceModel


def replay(log: dict[str, Any]) -> list[dict[str, Any]]:
    """Each measured ticket with the replayed estimate and what stood around it at issue."""
    model = PaceModel(log["counters"], log["rules"])
    by_key = {}
    for row in log["tickets"]:
        by_key[(row["service"], _naive(row["issued_at"]), row["ahead"])] = row
    found = []
    for name, args, kwargs in log["steps"]:
        if name != "issue":
            told = getattr(model, name, None)
            if told is not None:  # an estimator from before a change the log records is told less
                told(*args, **kwargs)
            continue
        asked = {k: v for k, v in kwargs.items() if k != "answer"}
        service, ahead, now = args
        row = by_key.get((service, _naive(now), ahead))
        answer = model.wait_seconds(*args, **asked)
        if row is None or row["called_at"] is None or row["estimate_seconds"] is None or answer is None:
            continue
        paused = any(
            (pace := model.counter(number)) is not None and not pace.open and pace.staffed
            for number, counter in log["counters"].items()
            if service in counter.services
        )
        real = max(0.0, (_naive(row["called_at"]) - _naive(now)).total_seconds())
        found.append(
            {
                **row,
                "estimate": float(round(answer)),
                "recorded": kwargs["answer"],
                "real": real,
                "fixed": row["ahead"] * 300.0,
                "paused": paused,
                "kind": _kind(asked),
            }
        )
    return found


def during_wait(log: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Mark each ticket with what happened to its service between its issue and its call: calls that
    jumped the line (priority, appointments), transfers in, no-shows (a call never started), pauses."""
    counters = log["counters"]
    happened: list[tuple[datetime, str, str]] = []
    calls: dict[int, tuple[str, datetime, bool]] = {}  # counter → (service, called at, started)
    joined: list[str] = []  # services a ticket joined out of line since their last call
    for name, args, kwargs in log["steps"]:
        if name == "joined":
            joined.append(args[0])
        elif name == "called":
            number, service, at = args[:3]
            if kwargs.get("carried", args[4] if len(args) > 4 else False):
                happened.append((_naive(at), "transfer", service))
            elif service in joined:
                happened.append((_naive(at), "jump", service))  # about when one that joined out of line went
            joined = [code for code in joined if code != service]
            calls[number] = (service, _naive(at), False)
        elif name == "started" and args[0] in calls:
            calls[args[0]] = (*calls[args[0]][:2], True)
        elif name == "leg_ended" and args[0] in calls:
            service, at, started = calls.pop(args[0])
            if not started:
                happened.append((at, "no-show", service))
        elif name == "counter_set" and not args[1] and args[0] in counters:
            happened += [(_naive(args[3]), "pause", code) for code in counters[args[0]].services]
    happened.sort(key=lambda event: event[0])
    moments = [event[0] for event in happened]
    for row in rows:
        first = bisect.bisect_right(moments, _naive(row["issued_at"]))
        last = bisect.bisect_left(moments, _naive(row["called_at"]))
        kinds = {kind for _, kind, service in happened[first:last] if service == row["service"]}
        row["during"] = ",".join(sorted(kinds)) or "nothing"


def _kind(asked: dict[str, Any]) -> str:
    if asked.get("due_at"):
        return "appointment"
    return "priority" if asked.get("priority") else "walk-in"


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def _band(ahead: int) -> str:
    for top, name in ((0, "0"), (1, "1"), (3, "2-3"), (7, "4-7"), (15, "8-15")):
        if ahead <= top:
            return name
    return "16+"


def breakdown(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    whole = sum(abs(r["estimate"] - r["real"]) for r in rows) or 1.0
    out = {}
    for name in sorted(groups, key=str):
        group = groups[name]
        ours = sum(abs(r["estimate"] - r["real"]) for r in group)
        fixed = sum(abs(r["fixed"] - r["real"]) for r in group)
        out[str(name)] = {
            "n": len(group),
            "mae": round(ours / len(group) / 60, 2),
            "fixed": round(fixed / len(group) / 60, 2),
            "bias": round(sum(r["estimate"] - r["real"] for r in group) / len(group) / 60, 2),
            "real": round(sum(r["real"] for r in group) / len(group) / 60, 2),
            "late": round(sum(1 for r in group if r["real"] > r["estimate"]) / len(group), 2),
            "share": round(ours / whole, 3),
        }
    return out


def rescaled(rows: list[dict[str, Any]]) -> float:
    """The least mean absolute error (seconds) any one factor per service and people ahead could give the
    estimates, chosen knowing the real waits: what is left is not a bias of the estimate but how much
    waits spread around any figure said at issue. Per group, the best factor is the median of real over
    estimate weighed by the estimate (the sum of |f·e − r| is the sum of e·|f − r/e|, plus the waits
    of the estimates of 0, which no factor moves)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["service"], _band(row["ahead"]))].append(row)
    best = 0.0
    for group in groups.values():
        factor = _weighted_median(
            [(r["real"] / r["estimate"], r["estimate"]) for r in group if r["estimate"] > 0]
        )
        best += sum(abs(factor * r["estimate"] - r["real"]) for r in group)
    return best / len(rows)


def _weighted_median(pairs: list[tuple[float, float]]) -> float:
    """The value at which half the weight lies on either side (0 with none)."""
    pairs = sorted(pairs)
    half = sum(weight for _, weight in pairs) / 2
    seen = 0.0
    for value, weight in pairs:
        seen += weight
        if seen >= half:
            return value
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--zone", default="Asia/Shanghai")
    args = parser.parse_args()
    log = pickle.loads(args.log.read_bytes())
    rows = replay(log)
    during_wait(log, rows)
    zone = ZoneInfo(args.zone)
    ours = sum(abs(r["estimate"] - r["real"]) for r in rows) / len(rows)
    fixed = sum(abs(r["fixed"] - r["real"]) for r in rows) / len(rows)
    same = sum(1 for r in rows if r["recorded"] is not None and abs(round(r["recorded"]) - r["estimate"]) < 1)
    figures = {
        "tickets": len(rows),
        "replayed_as_recorded": round(same / len(rows), 4),
        "mae_minutes": round(ours / 60, 3),
        "fixed_rule_mae_minutes": round(fixed / 60, 3),
        "ratio": round(ours / fixed, 3),
        "ratio_rescaled_knowing_the_waits": round(rescaled(rows) / fixed, 3),
        "by_service": breakdown(rows, lambda r: r["service"]),
        "by_ahead": breakdown(rows, lambda r: _band(r["ahead"])),
        "by_hour": breakdown(
            rows, lambda r: r["issued_at"].replace(tzinfo=ZoneInfo("UTC")).astimezone(zone).hour
        ),
        "by_kind": breakdown(rows, lambda r: r["kind"]),
        "by_paused": breakdown(rows, lambda r: r["paused"]),
        "by_during_wait": breakdown(rows, lambda r: r["during"]),
        "by_day": breakdown(rows, lambda r: r["issued_at"].date().isoformat()),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
