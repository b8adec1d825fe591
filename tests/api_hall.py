"""A hall driven over the REST API in-process (the Flask app's test client, a hand-moved clock).

Why one place: the notices, staff, supervisor and display-name tests open the
hub the same way (its clock at T0, users with one password, logins kept by
name) and ask it the same three ways — as someone holding a token, as a
stranger with no token and none of the logins' cookies, and expecting a
refusal with its code and a sentence — and each module wrote the same set-up
and helpers again. A module adds only what is its own (its site file, how far
its clock moves, its reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.app import create_app
from server.config import load_config
from server.hub import Hub

PREFIX = "/api/v1"
#: Tuesday 10 March 2026, 09:00 in Shanghai (the test site's zone).
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
PASSWORD = "clerk-password"

H = TypeVar("H", bound="ApiHall")


@dataclass
class ApiHall:
    app: Flask
    hub: Hub
    client: FlaskClient
    now: list[datetime]
    tokens: dict[str, str]

    def call(self, method: str, path: str, who: str | None = None, **kwargs: Any) -> Any:
        if who is None:  # a stranger: no token and none of the logins' cookies
            return self.app.test_client().open(PREFIX + path, method=method, **kwargs)
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.open(PREFIX + path, method=method, headers=headers, **kwargs)

    def ok(self, method: str, path: str, who: str | None = None, status: int = 200, **kwargs: Any) -> Any:
        answer = self.call(method, path, who, **kwargs)
        assert answer.status_code == status, answer.get_data(as_text=True)
        return answer.get_json()

    def refused(self, method: str, path: str, who: str | None, status: int, code: str, **kwargs: Any) -> Any:
        answer = self.call(method, path, who, **kwargs)
        body = answer.get_json()
        assert (answer.status_code, body["code"]) == (status, code), body
        assert isinstance(body["error"], str) and body["error"]
        return body

    def log_in(self, name: str, username: str, counter: int | None = None, **more: Any) -> Any:
        """Log ``username`` in (at ``counter``); on success its token is kept as ``name``."""
        body = {"username": username, "password": PASSWORD, **more}
        if counter is not None:
            body["counter"] = counter
        answer = self.client.post(PREFIX + "/auth/login", json=body)
        if answer.status_code == 200:
            self.tokens[name] = answer.get_json()["token"]
        return answer


def open_hall(
    kind: type[H],
    path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    users: Iterable[tuple[str, str]],
) -> H:
    """The hub of the site file at ``path``, in-process, its clock at T0 until moved; ``users`` added.

    Nobody is logged in yet and no device has a token: the caller closes the hub (``hall.hub.close()``).
    """
    monkeypatch.setenv("QCALL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("QCALL_SECRET_KEY", raising=False)
    now = [T0]
    app = create_app(load_config(path), clock=lambda: now[0], async_mode="threading")
    hub: Hub = app.extensions["qcall"]
    for username, role in users:
        hub.accounts.add_user(username, role, PASSWORD, T0)
    return kind(app, hub, app.test_client(), now, {})


def device_tokens(hall: ApiHall) -> None:
    """A kiosk's, a lobby screen's and a counter keypad's tokens, kept as "kiosk", "display" and "pad"."""
    for name, kind, device in (
        ("kiosk", "kiosk", "kiosk-1"),
        ("display", "display", "lobby-1"),
        ("pad", "pad", "pad-1"),
    ):
        hall.tokens[name] = hall.hub.accounts.create_device_token(kind, device, T0)
