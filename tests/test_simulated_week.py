"""A simulated week of each sample hall (``python -m sim.week``): the estimate given at issue against
the old rule of five minutes a person ahead, on the same tickets (issue 12's acceptance: at most half
its mean absolute error), and the wait targets marked on the clerks' consoles before they are breached.
Seven days on one hub per site, fixed seed, full scale: a smaller hall has no queues, and with no
queue both rules are right. Each week runs as the command an operator runs, in a process of its own;
its figures are read by every test below."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT
from tests.weeks import SITES, WEEKS_DIR, background_weeks, week_command

SHORT_OF_HALF: set[str] = set()

#: The weeks started in this process (their JSON is a few kB: it waits in the pipe until read).
_RUNNING: dict[str, subprocess.Popen[str]] = {}


def start_weeks() -> None:
    """Start every site's week, once per test session (a week nobody reads is stopped at exit)."""
    for site in SITES:
        if site in _RUNNING:
            continue
        if not _RUNNING:
            atexit.register(_stop_weeks)
        _RUNNING[site] = subprocess.Popen(
            week_command(site),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def _stop_weeks() -> None:
    for process in _RUNNING.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def weeks() -> dict[str, dict[str, Any]]:
    """Every site's week; the JSON each prints."""
    folder = os.environ.get(WEEKS_DIR)
    if folder:
        return background_weeks(Path(folder))
    start_weeks()
    found = {}
    for site, process in _RUNNING.items():
        out, err = process.communicate(timeout=1200)
        assert process.returncode == 0, f"{site}: exit {process.returncode}\n{err[-3000:]}\n{out[-2000:]}"
        found[site] = json.loads(out)
    return found


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("site", SITES)
def test_a_week_the_estimate_beats_five_minutes_a_person(
    site: str, weeks: dict[str, dict[str, Any]], request: pytest.FixtureRequest
) -> None:
    figures = weeks[site]
    assert figures["ok"], figures["problems"]
    assert not figures["refused_at_issue"], figures["refused_at_issue"]
    assert (figures["simulation"], figures["days"]) == ("hall_week", 7)
    estimate = figures["estimate"]
    assert estimate["checked_against_fixed"], "the old rule was measured on the same tickets"
    assert estimate["tickets"] > 1000
    assert estimate["mae_minutes"] < estimate["fixed_rule_mae_minutes"]
    assert estimate["within_5_minutes"] > estimate["fixed_rule_within_5_minutes"]
    if site in SHORT_OF_HALF:
        request.applymarker(pytest.mark.xfail(strict=True, reason="short of half the old rule's error"))
    assert estimate["ratio"] <= 0.5, estimate


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("site", SITES)
def test_a_week_the_consoles_mark_each_breach_nearly_due_before_it(
    site: str, weeks: dict[str, dict[str, Any]], record_property: Any
) -> None:
    assert_flagged_before_breach(weeks[site])
    record_property("targets_flagged", weeks[site]["targets_flagged"])


def assert_flagged_before_breach(figures: dict[str, Any]) -> None:
    """What the clerks' consoles showed of the wait targets (sim/consoles.py), against the kept legs.

    Every ``wait_due_at`` a console was sent is exactly the leg's ``queued_at`` plus the target the
    site file gives (and the lead its ``warn_before_minutes``), so every breach that a console showed
    in the lead before it was marked "nearly due" strictly before it, and nothing was marked early or
    overdue within its target. The breaches are those the core's share within target counts.
    """
    flagged = figures["targets_flagged"]
    assert flagged["targets"] in ("site", "lent by the simulation")
    assert flagged["problems"] == []
    assert flagged["console_reads"] > 0 and flagged["sightings_checked"] >= flagged["legs_seen"] > 0
    assert flagged["due_mismatches"] == 0, "a console was sent a due time other than queued_at + target"
    assert flagged["verdict_mismatches"] == 0, "a leg's wait_met disagrees with its due time"
    assert flagged["flagged_early"] == 0
    assert flagged["overdue_within_target"] == 0
    wait = figures["within_target"]["hall"]["wait"]
    assert flagged["breached"] == wait["with_target"] - wait["met"] > 0
    assert flagged["flagged_before_breach"] == flagged["seen_near_before_breach"] > 0
    assert flagged["seen_before_breach"] >= flagged["seen_near_before_breach"]
    assert flagged["share"] == round(flagged["flagged_before_breach"] / flagged["breached"], 4)
    services = flagged["services"].values()
    assert sum(s["breached"] for s in services) == flagged["breached"]
    assert sum(s["flagged_before_breach"] for s in services) == flagged["flagged_before_breach"]
