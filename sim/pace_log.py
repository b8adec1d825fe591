"""What the pace model was told and asked during a simulated week, kept to be replayed (a diagnostic).

    .venv/bin/python -m sim.week --site bank_branch --seed 7 --pace-log /tmp/bank7.pickle
    .venv/bin/python -m sim.pace_replay /tmp/bank7.pickle [--by service,ahead,hour,...]

The simulated hall does not look at the estimates (no visitor leaves or stays for what a ticket
says), so the week's world is the same whatever the estimator says: recording every change the
core tells the model (``counter_set``, ``called``, ``leg_ended``, ``freed``, ``reshape``, ``warm``)
and every estimate asked at issue, with each ticket's real wait, lets a changed estimator be
measured on the same week in seconds instead of minutes (sim/pace_replay.py).
"""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path
from typing import Any

from server.core.estimate import PaceModel

#: The model's methods that change it, recorded when called from outside the model.
CHANGES = ("counter_set", "joined", "called", "started", "leg_ended", "freed", "reshape", "warm")


def _caller() -> str:
    """The name of the function that asked the model (the issue path, or a screen's figure)."""
    frame = inspect.currentframe()
    for _ in range(2):
        frame = frame.f_back if frame is not None else None
    return frame.f_code.co_name if frame is not None else ""


class PaceLog:
    """Wraps one PaceModel's methods (on the instance) and keeps what it was told and asked at issue."""

    def __init__(self, pace: PaceModel, counters: Any) -> None:
        self.rules = pace.rules
        self.counters = dict(counters)
        self.steps: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self._depth = 0
        for name in CHANGES:
            setattr(pace, name, self._wrap(getattr(pace, name), name))
        asked = pace.wait_seconds

        def wait_seconds(*args: Any, **kwargs: Any) -> float | None:
            answer = asked(*args, **kwargs)
            if self._depth == 0 and _caller() == "_issue_service":
                waiting = kwargs.get("waiting")
                kept = {**kwargs, "waiting": None if waiting is None else dict(waiting)}
                self.steps.append(("issue", args, {**kept, "answer": answer}))
            return answer

        pace.wait_seconds = wait_seconds  # type: ignore[method-assign]

    def _wrap(self, method: Any, name: str) -> Any:
        def recorded(*args: Any, **kwargs: Any) -> Any:
            if self._depth == 0:
                self.steps.append((name, args, dict(kwargs)))
            self._depth += 1
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1

        return recorded

    def save(self, path: Path, tickets: list[dict[str, Any]]) -> None:
        """The log, the rules and counters to rebuild the model, and the week's tickets with their waits."""
        with path.open("wb") as out:
            pickle.dump(
                {"rules": self.rules, "counters": self.counters, "steps": self.steps, "tickets": tickets}, out
            )
