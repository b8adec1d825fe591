"""Pairing a kiosk or a screen by a code it shows: nobody types a device token on a TV remote.

A kiosk, lobby or counter screen opened without a token asks for a pairing
code and shows it with a QR of the admin's pairing page. An admin scans it on
a phone (logged in), picks the device's name among the configured devices of
that kind and confirms: the hub makes the device's token (audited) and keeps
it for the waiting screen, which collects it with the claim it was given at
the start (the code alone is on the screen for everyone to see, so it must not
be enough to take the token).

Codes live in memory: they last ``TTL_SECONDS``, are used once, and a hub that
restarts simply asks the screens for new ones. Starts are braked per client
address and in total, so a script on the LAN cannot fill the desk.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Which configured device kinds may pair, and the device-token role each one gets.
PAIRING_ROLES = {"kiosk": "kiosk", "lobby_screen": "display", "counter_screen": "display"}
#: Seconds a code may wait for an admin, and then for its screen to collect the token.
TTL_SECONDS = 600.0
#: Letters and digits that read unambiguously on a screen across the hall (no 0/O, 1/I).
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
#: Codes one client address may start within TTL_SECONDS (a screen asks again when its code expires).
PER_ADDRESS = 10
#: Codes waiting at once on the whole hub.
MAX_PENDING = 100


class PairingRefused(Exception):
    """A refused pairing step: ``status`` and ``code`` for the JSON refusal."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


@dataclass
class Pairing:
    """One code on one waiting screen."""

    code: str
    kind: str
    claim_hash: str
    address: str
    expires: float
    #: Set when an admin confirmed: the device's token, waiting for its screen.
    token: str | None = None
    name: str | None = None
    counter: int | None = None

    @property
    def role(self) -> str:
        return PAIRING_ROLES[self.kind]


def _digest(claim: str) -> str:
    return hashlib.sha256(claim.encode()).hexdigest()


def normal_code(code: str) -> str:
    """A code as typed or scanned: upper case, spaces and dashes dropped."""
    return code.strip().upper().replace("-", "").replace(" ", "")


class PairingDesk:
    """The codes waiting for an admin or for their screen; thread-safe, clock injectable."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, Pairing] = {}
        self._starts: dict[str, list[float]] = {}

    def start(self, kind: str, address: str) -> tuple[Pairing, str]:
        """A new code for a screen of ``kind``, and the claim (secret) the screen collects with."""
        if kind not in PAIRING_ROLES:
            kinds = ", ".join(PAIRING_ROLES)
            raise PairingRefused(400, f"'kind' must be one of {kinds}", "bad_request")
        claim = secrets.token_urlsafe(24)
        with self._lock:
            now = self.clock()
            self._expire(now)
            starts = [t for t in self._starts.get(address, []) if now - t < TTL_SECONDS]
            if len(starts) >= PER_ADDRESS or len(self._codes) >= MAX_PENDING:
                raise PairingRefused(429, "too many pairing codes; try again in a few minutes", "too_many")
            starts.append(now)
            self._starts[address] = starts
            code = self._new_code()
            pairing = Pairing(code, kind, _digest(claim), address, now + TTL_SECONDS)
            self._codes[code] = pairing
        return pairing, claim

    def waiting(self, code: str) -> Pairing:
        """The code an admin is about to confirm (404 when unknown, expired or confirmed already)."""
        with self._lock:
            return self._unconfirmed(code)

    def _unconfirmed(self, code: str) -> Pairing:
        """The code still waiting for an admin, under the lock (404 unknown or expired, 409 used).

        Why one place: showing a code to the admin and confirming it must refuse the same codes
        with the same words, or a code the phone was shown could fail on the tap with another reason.
        """
        self._expire(self.clock())
        pairing = self._codes.get(normal_code(code))
        if pairing is None:
            raise PairingRefused(404, "no such pairing code, or it has expired", "not_found")
        if pairing.token is not None:
            raise PairingRefused(409, "this pairing code was used already", "conflict")
        return pairing

    def confirm(self, code: str, make_token: Callable[[Pairing], tuple[str, str, int | None]]) -> Pairing:
        """Confirm once: ``make_token`` makes the device's token (audited) → (token, name, counter).

        Runs under the desk's lock, so two admins confirming the same code make one token.
        """
        with self._lock:
            pairing = self._unconfirmed(code)
            pairing.token, pairing.name, pairing.counter = make_token(pairing)
            pairing.expires = self.clock() + TTL_SECONDS
            return pairing

    def collect(self, code: str, claim: str) -> Pairing | None:
        """The screen's poll: the confirmed pairing (once, then the code is gone) or None while waiting.

        A wrong claim is answered as an unknown code: the code on the screen reveals nothing.
        """
        with self._lock:
            self._expire(self.clock())
            key = normal_code(code)
            pairing = self._codes.get(key)
            if pairing is None or not hmac.compare_digest(pairing.claim_hash, _digest(claim)):
                raise PairingRefused(404, "no such pairing code, or it has expired", "not_found")
            if pairing.token is None:
                return None
            del self._codes[key]
            return pairing

    def seconds_left(self, pairing: Pairing) -> int:
        return max(0, int(pairing.expires - self.clock()))

    def _new_code(self) -> str:
        while True:
            code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self._codes:
                return code

    def _expire(self, now: float) -> None:
        for code in [c for c, p in self._codes.items() if p.expires <= now]:
            del self._codes[code]
        for address in [a for a, ts in self._starts.items() if all(now - t >= TTL_SECONDS for t in ts)]:
            del self._starts[address]
