"""The evaluation pad (评价器): the visitor rates the service just finished at its counter."""

from __future__ import annotations

from typing import Any

import requests

from server.bootstrap import bootstrap
from server.config import load_config
from server.core.calendar import utc_now
from tests.support import HubProcess, bearer, login, provision, write_site

PAD_DEVICE = '\n[[devices]]\nname = "pad-{n}"\nkind = "evaluation_pad"\ncounter = {n}\n'


def start_hall(tmp_path: Any) -> tuple[HubProcess, dict[str, str], Any]:
    config = write_site(tmp_path / "site.toml", f"sqlite:///{tmp_path / 'q.db'}", counters=2)
    config.write_text(config.read_text() + PAD_DEVICE.format(n=1) + PAD_DEVICE.format(n=2), encoding="utf-8")
    creds = provision(config, 2)
    made = bootstrap(load_config(config))
    pads = {name: made.accounts.create_device_token("pad", name, utc_now()) for name in ("pad-1", "pad-2")}
    made.store.engine.dispose()
    hub = HubProcess(config, tmp_path)
    hub.start()
    return hub, pads, creds


def test_a_rating_is_stored_with_the_finished_ticket(tmp_path: Any) -> None:
    hub, pads, creds = start_hall(tmp_path)
    try:
        url = hub.url + "/api/v1"
        ticket = requests.post(
            f"{url}/tickets", json={"service": "PAY"}, headers=bearer(creds.kiosk), timeout=10
        )
        clerk = bearer(login(hub.url, "clerk1", 1))
        rate = f"{url}/counters/1/evaluation"

        nothing = requests.post(rate, json={"rating": "satisfied"}, headers=bearer(pads["pad-1"]), timeout=10)
        assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_to_evaluate"

        assert requests.post(f"{url}/counters/1/call-next", headers=clerk, timeout=10).status_code == 200
        assert requests.post(f"{url}/counters/1/finish", headers=clerk, timeout=10).status_code == 200

        wrong_pad = requests.post(
            rate, json={"rating": "satisfied"}, headers=bearer(pads["pad-2"]), timeout=10
        )
        assert wrong_pad.status_code == 403
        staff = requests.post(rate, json={"rating": "very_satisfied"}, headers=clerk, timeout=10)
        assert staff.status_code == 403, "staff must not rate their own service"
        bad = requests.post(rate, json={"rating": "great"}, headers=bearer(pads["pad-1"]), timeout=10)
        assert bad.status_code == 400 and bad.json()["code"] == "unknown_rating"

        rated = requests.post(
            rate, json={"rating": "very_satisfied"}, headers=bearer(pads["pad-1"]), timeout=10
        )
        assert rated.status_code == 200, rated.text
        assert rated.json()["ticket"]["id"] == ticket.json()["id"]
        again = requests.post(
            rate, json={"rating": "dissatisfied"}, headers=bearer(pads["pad-1"]), timeout=10
        )
        assert again.status_code == 409 and again.json()["code"] == "already_rated"

        shown = requests.get(f"{url}/tickets/{ticket.json()['id']}", timeout=10).json()
        assert shown["evaluation"] == "very_satisfied"
        assert shown["history"][-1]["kind"] == "evaluated"
        assert shown["history"][-1]["detail"] == {
            "rating": "very_satisfied",
            "score": 100,
            "satisfied": True,
            "leg": 1,
            "source": "pad-1",
        }
    finally:
        hub.stop()
