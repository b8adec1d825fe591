"""A hall driven over the REST API in-process (the Flask app's test client, a hand-moved clock).

Why one place: the notices, staff, supervisor and display-name tests ask the
hub the same three ways — as someone holding a token, as a stranger with no
token and none of the logins' cookies, and expecting a refusal with its code
and a sentence — and each module wrote the same helpers again. A module adds
only what is its own (how far its clock moves, its logins, its reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from server.hub import Hub

PREFIX = "/api/v1"


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
