"""A simulated day of each sample hall through the hub's real API on a fake clock (sim/day.py).

Seeded arrivals, green-channel and triage visitors, appointments booked by the
booking system and checked in at the kiosk, journeys by transfer, no-shows
(by the hub's timer where the site sets one) and cancellations from the phone;
the event log is read back at the end. A whole day takes seconds per site; each
site's day is simulated once and read by every test below.

The simulated weeks (tests/test_simulated_week.py) run on the other test worker
meanwhile (scripts/test: two workers, the long modules first).
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.day import SAMPLES, simulated_day
from tests.test_simulated_week import assert_flagged_before_breach

SITES = sorted(p.stem for p in SAMPLES.glob("*.toml"))


@pytest.fixture(scope="module", params=SITES)
def day(request: pytest.FixtureRequest) -> dict[str, Any]:
    """One site's simulated day (seed 11, full scale): its figures."""
    with simulated_day(request.param, seed=11, scale=1.0) as simulated:
        figures: dict[str, Any] = simulated.run()
    return figures


def test_a_day_ends_with_every_ticket_final_and_the_rules_kept(day: dict[str, Any]) -> None:
    figures = day
    assert figures["ok"], figures["problems"]
    assert figures["tickets"] > 100
    assert set(figures["by_status"]) <= {"done", "no_show", "cancelled"}
    assert figures["by_status"].get("no_show", 0) > 0, "the day had visitors who never came"
    if figures["no_show_timer"]:
        assert figures["no_shows_by_the_hubs_timer"] > 0, "the hub's no-show watch marked them, not the clerk"
    assert figures["by_status"].get("cancelled", 0) == figures["cancelled_from_phone"]
    assert figures["longest_priority_run_over_a_waiting_normal"] <= figures["priority_cap"]
    assert figures["priority_tickets"] > 0
    assert figures["priority_wait_minutes_mean"] <= figures["normal_wait_minutes_mean"]
    assert not figures["refused_at_issue"], figures["refused_at_issue"]
    if figures["appointments_booked"]:
        assert figures["appointments_checked_in"] > 0
        # Appointment holders due now go before walk-ins: they wait less past their slot than
        # walk-ins wait in the same clinics.
        booked = figures["appointment_wait_past_slot_minutes_mean"]
        assert booked < figures["walk_in_wait_minutes_mean_same_services"]


def test_a_day_the_consoles_mark_each_breach_nearly_due_before_it(
    day: dict[str, Any], record_property: Any
) -> None:
    assert_flagged_before_breach(day)
    record_property("targets_flagged", day["targets_flagged"])
