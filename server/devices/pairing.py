"""Pairing a kiosk or a screen by a code it shows: nobody types a device token on a TV remote.

A kiosk, lobby or counter screen opened without a token asks for a pairing
code and shows it with a QR of the admin's pairing page. An admin scans it on
a phone (logged in), picks the device's name among the configured devices of
that kind and confirms: the hub makes the device's token (audited) and keeps
it for the waiting screen, which collects it with the claim it was given at
the start (the code alone is on the screen for everyone to see, so it must not
be enough to take the token).

Codes live in the hub's database (``pairing_codes``, server/store/limits.py), so
in a cluster a code shown by one process is confirmed and collected on any
other: they last ``TTL_SECONDS`` and are used once. Nothing secret is stored:
the token the screen gets is derived from its claim (:func:`device_token`),
and the row keeps only the hashes of the claim and of that token; the
confirming admin's process makes the token's ``device_tokens`` row from the
hash alone. Starts are braked per client address and in total (counted windows
shared by every process), so a script on the LAN cannot fill the desk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from ..store.limits import Ask, SqlLimits

#: Which configured device kinds may pair, and the device-token role each one gets.
PAIRING_ROLES = {"kiosk": "kiosk", "lobby_screen": "display", "counter_screen": "display"}
#: Seconds a code may wait for an admin, and then for its screen to collect the token.
TTL_SECONDS = 600.0
#: Letters and digits that read unambiguously on a screen across the hall (no 0/O, 1/I).
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
#: Codes one client address may start within TTL_SECONDS (a screen asks again when its code expires).
PER_ADDRESS = 10
#: Codes all client addresses together may start within TTL_SECONDS (the hall's brake).
MAX_PENDING = 100
#: Seconds an admin's confirmation may take before another admin may confirm the code instead.
CONFIRMING_SECONDS = 30.0


#: A pairing code that is unknown or expired, in Chinese.
_NO_CODE_ZH = "没有这个配对码，或它已过期"


class PairingRefused(Exception):
    """A refused pairing step: ``status`` and ``code`` for the JSON refusal; ``message_zh`` and
    ``message_en`` where the admin's page shows the hub's own words in both languages."""

    def __init__(
        self, status: int, message: str, code: str, message_zh: str = "", message_en: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


def already_paired(name: str) -> PairingRefused:
    """The code's token was made by an earlier confirmation (its hash is the screen's claim's) as
    ``name``, another device than the one chosen now (or revoked since). Choosing ``name`` finishes the
    pairing (the route does); for another device the screen needs a new code. Not "a live token of that
    name exists", which would send the admin to rotate a token that is not in the way."""
    zh = f"此配对码已配对为 {name}：请选择 {name} 完成配对，或在设备上获取新的配对码"
    en = (
        f"this pairing code was paired as {name} already: choose {name} to finish, "
        "or get a new code on the device"
    )
    return PairingRefused(409, f"{zh} / {en}", "already_paired", zh, en)


@dataclass
class Pairing:
    """One code on one waiting screen."""

    code: str
    kind: str
    claim_hash: str
    #: The hash of the token the screen will be given (:func:`device_token` of its claim).
    token_hash: str
    address: str
    expires: float
    #: Set when an admin confirmed: the device the screen becomes.
    name: str | None = None
    counter: int | None = None
    #: Set only when the screen collects: the token, derived from its claim.
    token: str | None = None

    @property
    def role(self) -> str:
        return PAIRING_ROLES[self.kind]


def _digest(claim: str) -> str:
    return hashlib.sha256(claim.encode()).hexdigest()


def device_token(role: str, claim: str) -> str:
    """The device token a screen holding ``claim`` is given: only it (and whoever it tells) can make it.

    Why derived, not drawn: the admin confirms on whichever process nginx chose, the screen
    collects on another, and no process may keep the token in the shared database; the claim is
    192 random bits the screen alone holds, so this is as strong a secret as a drawn token.
    """
    mac = hmac.new(claim.encode(), b"qcall.pairing.token", hashlib.sha256).digest()[:24]
    return f"qd_{role}_{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def _pairing(row: dict[str, Any]) -> Pairing:
    return Pairing(
        row["code"],
        row["kind"],
        row["claim_hash"],
        row["token_hash"],
        row["address"],
        float(row["expires"]),
        row["name"],
        row["counter"],
    )


def normal_code(code: str) -> str:
    """A code as typed or scanned: upper case, spaces and dashes dropped."""
    return code.strip().upper().replace("-", "").replace(" ", "")


class PairingDesk:
    """The codes waiting for an admin or for their screen, in the hub's database; clock injectable."""

    def __init__(self, store: SqlLimits, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def start(self, kind: str, address: str) -> tuple[Pairing, str]:
        """A new code for a screen of ``kind``, and the claim (secret) the screen collects with."""
        if kind not in PAIRING_ROLES:
            kinds = ", ".join(PAIRING_ROLES)
            raise PairingRefused(
                400, f"'kind' must be one of {kinds}", "bad_request", f"kind 须为 {kinds} 之一"
            )
        claim = secrets.token_urlsafe(24)
        digest = hashlib.sha256(device_token(PAIRING_ROLES[kind], claim).encode()).hexdigest()
        now = self.clock()
        asks = [
            Ask(f"pairing:address:{address[:64]}", PER_ADDRESS, now + TTL_SECONDS),
            Ask("pairing:all", MAX_PENDING, now + TTL_SECONDS),
        ]
        for _ in range(5):  # a code drawn twice while live (one in 10^9 per live code): draw again
            pairing = Pairing(self._new_code(), kind, _digest(claim), digest, address[:64], now + TTL_SECONDS)
            row = {
                "code": pairing.code,
                "kind": kind,
                "claim_hash": pairing.claim_hash,
                "token_hash": digest,
                "address": pairing.address,
                "expires": pairing.expires,
            }
            try:
                refused = self.store.add_code(asks, now, secrets.token_hex(8), row)
            except IntegrityError:
                continue
            if refused is not None:
                raise PairingRefused(
                    429,
                    "too many pairing codes; try again in a few minutes",
                    "too_many",
                    "配对码太多，请几分钟后再试",
                )
            return pairing, claim
        raise PairingRefused(
            503, "no pairing code could be drawn; try again", "unavailable", "未能生成配对码，请重试"
        )

    def waiting(self, code: str) -> Pairing:
        """The code an admin is about to confirm (404 when unknown or expired, 409 confirmed already).

        Why one place (:meth:`_refuse`): showing a code to the admin and confirming it must refuse
        the same codes with the same words, or a code the phone was shown could fail on the tap.
        """
        row = self.store.code(normal_code(code))
        if row is None or row["expires"] <= self.clock() or row["name"] is not None:
            self._refuse(row)
        assert row is not None
        return _pairing(row)

    def _refuse(self, row: dict[str, Any] | None) -> None:
        """Why a code cannot be confirmed now: unknown or expired (404), or used or in use (409)."""
        if row is None or row["expires"] <= self.clock():
            raise PairingRefused(404, "no such pairing code, or it has expired", "not_found", _NO_CODE_ZH)
        if row["name"] is not None:
            raise PairingRefused(409, "this pairing code was used already", "conflict", "此配对码已被使用")
        raise PairingRefused(
            409, "another admin is confirming this pairing code", "conflict", "另一位管理员正在确认此配对码"
        )

    def confirm(self, code: str, make_token: Callable[[Pairing], tuple[str, int | None]]) -> Pairing:
        """Confirm once: ``make_token`` makes the device's token row (audited) → (name, counter).

        The code is marked as being confirmed first (a conditional UPDATE), so two admins on two
        processes confirming the same code make one token; the mark is taken off if it fails.
        """
        key = normal_code(code)
        now = self.clock()
        row = self.store.claim_confirmation(key, now, now + CONFIRMING_SECONDS)
        if row is None:
            self._refuse(self.store.code(key))
        assert row is not None
        pairing = _pairing(row)
        try:
            pairing.name, pairing.counter = make_token(pairing)
        except BaseException:
            self.store.end_confirmation(key, None)
            raise
        pairing.expires = self.clock() + TTL_SECONDS
        self.store.end_confirmation(
            key, {"name": pairing.name, "counter": pairing.counter, "expires": pairing.expires}
        )
        return pairing

    def collect(self, code: str, claim: str) -> Pairing | None:
        """The screen's poll: the confirmed pairing (once, then the code is gone) or None while waiting.

        A wrong claim is answered as an unknown code: the code on the screen reveals nothing.
        """
        key = normal_code(code)
        row = self.store.code(key)
        if (
            row is None
            or row["expires"] <= self.clock()
            or not hmac.compare_digest(row["claim_hash"], _digest(claim))
        ):
            raise PairingRefused(404, "no such pairing code, or it has expired", "not_found", _NO_CODE_ZH)
        pairing = _pairing(row)
        if pairing.name is None:
            return None
        if not self.store.collect_code(key):  # another poll of the same screen took it first
            raise PairingRefused(404, "no such pairing code, or it has expired", "not_found", _NO_CODE_ZH)
        pairing.token = device_token(pairing.role, claim)
        return pairing

    def seconds_left(self, pairing: Pairing) -> int:
        return max(0, int(pairing.expires - self.clock()))

    @staticmethod
    def _new_code() -> str:
        return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
