"""Cancel, re-queue, no-show on call-next and the journey, through a real hub process's REST API.

A visitor cancels with the ticket id their phone holds; staff cancel and
re-queue at their own counter; the journey (legs) is for staff and admins
only. Every refusal is a 4xx JSON ``{"error", "code"}``, never a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support import ADMIN_PASSWORD, HubProcess, bearer, issue, login

pytestmark = pytest.mark.slow

TIMEOUT = 20


def post(hub: HubProcess, path: str, token: str | None = None, body: Any = None) -> requests.Response:
    headers = bearer(token) if token else {}
    return requests.post(f"{hub.url}/api/v1{path}", json=body, headers=headers, timeout=TIMEOUT)


def get(hub: HubProcess, path: str, token: str | None = None) -> requests.Response:
    headers = bearer(token) if token else {}
    return requests.get(f"{hub.url}/api/v1{path}", headers=headers, timeout=TIMEOUT)


def refused(answer: requests.Response, status: int, code: str) -> str:
    assert answer.status_code == status, f"{answer.status_code} {answer.text[:300]}"
    body = answer.json()
    assert body["code"] == code and isinstance(body["error"], str) and body["error"], body
    return str(body["error"])


def waiting(hub: HubProcess, token: str, service: str = "PAY") -> int:
    snapshot = get(hub, "/queue", token).json()
    return int(next(s["waiting"] for s in snapshot["services"] if s["code"] == service))


def test_a_visitor_cancels_with_the_ticket_id_and_staff_at_their_counter(hub: HubProcess, site: Any) -> None:
    kiosk, display = site.creds.kiosk, site.creds.display
    first = issue(hub, kiosk)
    second = issue(hub, kiosk)
    assert waiting(hub, display) == 2

    # The phone: no token, just the id it holds.
    answer = post(hub, f"/tickets/{second['id']}/cancel", body={})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled" and answer.json()["number"] == second["number"]
    assert waiting(hub, display) == 1
    message = refused(post(hub, f"/tickets/{second['id']}/cancel", body={}), 409, "not_cancellable")
    assert "不能取消" in message and "cannot be cancelled" in message
    refused(post(hub, "/tickets/nosuchticket/cancel", body={}), 404, "unknown_ticket")
    refused(post(hub, f"/tickets/{first['id']}/cancel", body={"why": "x"}), 400, "bad_request")
    history = get(hub, f"/tickets/{second['id']}").json()["history"]
    assert history[-1]["kind"] == "cancelled" and history[-1]["detail"] == {"by": "visitor"}

    # The console: the clerk of counter 1 cancels the visitor at the counter.
    clerk1 = login(hub.url, "clerk1", 1)
    clerk2 = login(hub.url, "clerk2", 2)
    post(hub, "/counters/1/call-next", clerk1, {}).raise_for_status()
    refused(post(hub, "/counters/2/cancel", clerk1, {}), 403, "forbidden")
    refused(post(hub, "/counters/2/cancel", clerk2, {}), 409, "invalid_transition")  # nobody at 2
    refused(post(hub, "/counters/2/cancel", clerk2, {"ticket_id": first["id"]}), 409, "invalid_transition")
    acted = post(hub, "/counters/1/cancel", clerk1, {})
    assert acted.status_code == 200, acted.text
    assert acted.json()["ticket"]["status"] == "cancelled" and acted.json()["counter"]["current"] is None
    assert waiting(hub, display) == 0
    assert "Traceback" not in hub.log()


def test_journey_is_for_staff_and_admins_and_follows_the_transfers(hub: HubProcess, site: Any) -> None:
    kiosk, display = site.creds.kiosk, site.creds.display
    ticket = issue(hub, kiosk, "PAY")
    clerk1 = login(hub.url, "clerk1", 1)
    clerk2 = login(hub.url, "clerk2", 2)
    admin = login(hub.url, "admin", None, ADMIN_PASSWORD)
    post(hub, "/counters/1/call-next", clerk1, {}).raise_for_status()
    post(hub, "/counters/1/start", clerk1, {}).raise_for_status()
    moved = post(hub, "/counters/1/transfer", clerk1, {"service": "ASK"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["ticket"]["call_count"] == 0 and moved.json()["ticket"]["called_at"] is None
    post(hub, "/counters/2/call-next", clerk2, {}).raise_for_status()

    for token in (clerk2, admin):
        journey = get(hub, f"/tickets/{ticket['id']}/legs", token).json()
        assert (journey["owner"], journey["leg"], journey["number"]) == ("clerk1", 2, ticket["number"])
        legs = [
            (leg["leg"], leg["service"], leg["counter"], leg["outcome"], leg["calls"])
            for leg in journey["legs"]
        ]
        assert legs == [(1, "PAY", 1, "transferred", 1), (2, "ASK", 2, None, 1)]
    refused(get(hub, f"/tickets/{ticket['id']}/legs"), 401, "unauthorized")
    refused(get(hub, f"/tickets/{ticket['id']}/legs", kiosk), 403, "forbidden")
    refused(get(hub, f"/tickets/{ticket['id']}/legs", display), 403, "forbidden")
    refused(get(hub, "/tickets/nosuchticket/legs", admin), 404, "unknown_ticket")
    # The public ticket names no staff.
    public = get(hub, f"/tickets/{ticket['id']}").json()
    assert "owner" not in public and all("staff" not in e for e in public["history"])
    transferred = next(e for e in public["history"] if e["kind"] == "transferred")
    assert transferred["detail"]["from_service"] == "PAY" and transferred["detail"]["to_service"] == "ASK"


def test_call_next_makes_a_no_show_and_the_late_visitor_is_re_queued_by_number(
    hub: HubProcess, site: Any
) -> None:
    kiosk = site.creds.kiosk
    late = issue(hub, kiosk)
    others = [issue(hub, kiosk) for _ in range(4)]
    clerk1 = login(hub.url, "clerk1", 1)
    post(hub, "/counters/1/call-next", clerk1, {}).raise_for_status()
    called = post(hub, "/counters/1/call-next", clerk1, {}).json()
    assert called["ticket"]["id"] == others[0]["id"]
    assert get(hub, f"/tickets/{late['id']}").json()["status"] == "no_show"  # never "done"

    refused(post(hub, "/counters/1/requeue", clerk1, {"number": "a1"}), 400, "bad_request")
    refused(post(hub, "/counters/1/requeue", clerk1, {"number": "Z999"}), 404, "unknown_ticket")
    back = post(hub, "/counters/1/requeue", clerk1, {"number": late["number"]})
    assert back.status_code == 200, back.text
    assert back.json()["ticket"]["status"] == "waiting"
    view = get(hub, "/counters/1", clerk1).json()
    # [calls] requeue_position defaults to 3: after the 3rd waiting ticket.
    assert [t["number"] for t in view["waiting"]] == [
        others[1]["number"],
        others[2]["number"],
        others[3]["number"],
        late["number"],
    ]
    assert "Traceback" not in hub.log()
