"""The hub process answers and the loop ticket → call works over HTTP."""

import requests

from tests.support import bearer, login


def test_ticket_then_call(hub, site):
    answer = requests.post(
        f"{hub.url}/api/v1/tickets", json={"service": "PAY"}, headers=bearer(site.creds.kiosk), timeout=10
    )
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["number"] == "A001"
    token = login(hub.url, "clerk1", 1)
    called = requests.post(f"{hub.url}/api/v1/counters/1/call-next", headers=bearer(token), timeout=10)
    assert called.status_code == 200
    assert called.json()["ticket"]["id"] == ticket["id"]
