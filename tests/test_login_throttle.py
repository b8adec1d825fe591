"""The login throttle: a real hub refuses a sixth guess, and the throttle itself on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from server.api.throttle import LoginThrottle, refusal_message
from tests.support import CLERK_PASSWORD, HubProcess

TIMEOUT = 20
WINDOW = 600.0


def try_login(hub: HubProcess, username: str, password: str, counter: int) -> requests.Response:
    return requests.post(
        f"{hub.url}/api/v1/auth/login",
        json={"username": username, "password": password, "counter": counter},
        timeout=TIMEOUT,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- against a real hub ----------------------------------------------------------------


@pytest.mark.slow
def test_five_wrong_passwords_lock_the_name_even_for_the_right_one(hub: HubProcess) -> None:
    for _ in range(5):
        answer = try_login(hub, "clerk1", "wrong-password", 1)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "unauthorized"
        assert answer.json()["error_zh"] == "用户名或密码错误"

    locked = try_login(hub, "clerk1", CLERK_PASSWORD, 1)
    assert locked.status_code == 429, locked.text
    assert locked.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = locked.json()
    assert body["code"] == "too_many_attempts"
    assert body["error"] == "too many failed logins; try again in 10 minutes"
    assert (body["error_zh"], body["error_en"]) == ("登录失败次数过多，请 10 分钟后再试", body["error"])
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 600

    # Another clerk on the same address is not locked out (5 failures are far below 20).
    other = try_login(hub, "clerk2", CLERK_PASSWORD, 2)
    assert other.status_code == 200, other.text
    assert other.json()["username"] == "clerk2"

    # And clerk1 stays locked: the refusal did not let the right password through.
    assert try_login(hub, "clerk1", CLERK_PASSWORD, 1).status_code == 429


# -- the throttle on a fake clock ------------------------------------------------------


def test_lockout_ends_when_the_window_has_passed() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.failed("clerk1", "10.0.0.1")
        clock.now += 10
    assert throttle.retry_after("clerk1", "10.0.0.1") is None
    throttle.failed("clerk1", "10.0.0.1")  # the fifth, at t0 + 40 s

    wait = throttle.retry_after("clerk1", "10.0.0.1")
    assert wait == pytest.approx(WINDOW - 40)  # until the first failure is 10 minutes old
    assert refusal_message(wait) == ("too many failed logins; try again in 10 minutes", 560)
    # The lock is per name: another name from another address may try.
    assert throttle.retry_after("clerk2", "10.0.0.2") is None

    clock.now += wait - 1
    assert throttle.retry_after("clerk1", "10.0.0.1") == pytest.approx(1)
    clock.now += 1
    # The first failure has left the window: four remain, so one more try is allowed.
    assert throttle.retry_after("clerk1", "10.0.0.1") is None
    clock.now += WINDOW
    assert throttle.retry_after("clerk1", "10.0.0.1") is None
    assert len(throttle) == 0  # everything expired was dropped


def test_a_successful_login_clears_the_names_failures() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.failed("clerk1", "10.0.0.1")
    throttle.succeeded("clerk1")
    for _ in range(4):
        throttle.failed("clerk1", "10.0.0.1")
    assert throttle.retry_after("clerk1", "10.0.0.1") is None  # 4, not 8
    throttle.failed("clerk1", "10.0.0.1")
    assert throttle.retry_after("clerk1", "10.0.0.1") is not None


def test_twenty_failures_from_one_address_lock_the_address() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock)
    for n in range(20):
        assert throttle.retry_after(f"user{n}", "10.0.0.9") is None
        throttle.failed(f"user{n}", "10.0.0.9")
    assert throttle.retry_after("clerk1", "10.0.0.9") == pytest.approx(WINDOW)
    assert throttle.retry_after("clerk1", "10.0.0.8") is None
    clock.now += WINDOW
    assert throttle.retry_after("clerk1", "10.0.0.9") is None


def test_memory_stays_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock=clock, max_keys=50)
    for n in range(1000):
        throttle.failed(f"user{n}", f"10.0.{n // 256}.{n % 256}")
    assert len(throttle) <= 100
    # The freshest entries are the ones kept.
    for _ in range(4):
        throttle.failed("user999", "10.0.3.231")
    assert throttle.retry_after("user999", "10.0.3.231") is not None
