"""Caller keypads (呼叫器) and evaluation pads (评价器) on a serial bus.

A keypad frame carries the keypad's address, a command (a key, or an
evaluation) and one code byte, with a checksum — by default the
``keypad-a5`` format (:data:`~drivers.signs.frames.FRAME_PRESETS`)::

    A5 | address | 'K' (4B) key / 'E' (45) evaluation / 'P' (50) poll | code | xor(address..code) | 5A

:class:`KeypadListener` is a receiver on the :class:`~drivers.bus.SerialBus`:
it sees every byte the bus reads, finds the frames, and acts only on a frame
whose checksum is right *and* whose address is a configured keypad (for keys)
or evaluation pad (for ratings). Everything else is logged at WARNING and
kept in :attr:`KeypadListener.rejected`; it never reaches a callback.

Two ways to hear the keypads on a half-duplex RS-485 line:

* ``unsolicited`` (default): the keypad sends its frame when a key is pressed;
  the bus worker reads whenever it is not writing. A frame that arrives while
  the worker waits for a display's ACK is still delivered (every byte read goes
  to the receivers). A keypad that talks over a display frame garbles both: the
  display is retried, the keypad's frame fails its checksum (rejected) and the
  visitor presses again — cheap keypads repeat until they see the display change.
* ``poll``: the master asks each keypad in turn (``A5 addr 'P' 00 xor 5A``) when
  the bus is otherwise idle; the keypad answers with its key frame, or with
  code ``00`` (nothing pressed). No collisions; a keypad that does not answer
  its polls is marked faulty. Latency: up to the poll interval per keypad.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from drivers.bus import DeviceState, Frame, Reply, ReplyMatcher, SerialBus

from .frames import DecodedFrame, FrameFormat, Rejected

log = logging.getLogger(__name__)

__all__ = [
    "ACTIONS",
    "DEFAULT_KEYS",
    "DEFAULT_RATINGS",
    "FIVE_LEVEL_RATINGS",
    "RATINGS",
    "KeypadListener",
    "KeypadRejected",
]

#: The counter actions a keypad key may stand for (the same words as the console's).
ACTIONS = ("call_next", "recall", "pause", "resume", "transfer", "start", "finish", "no_show")
#: Code byte → action.
DEFAULT_KEYS: dict[int, str] = {i + 1: action for i, action in enumerate(ACTIONS)}
#: The ratings an evaluation pad may send: a three-level site takes the first, second and fourth,
#: a five-level site all five (the hub's ``[satisfaction] levels``).
RATINGS = ("very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied")
#: Code byte → rating on a three-level site (1 very satisfied, 2 satisfied, 3 dissatisfied).
DEFAULT_RATINGS: dict[int, str] = {1: "very_satisfied", 2: "satisfied", 3: "dissatisfied"}
#: Code byte → rating on a five-level site: the keys in order, best first.
FIVE_LEVEL_RATINGS: dict[int, str] = {i + 1: rating for i, rating in enumerate(RATINGS)}

KEYPAD = "keypad"
EVALUATION_PAD = "evaluation_pad"

OnKey = Callable[[int, str], Any]
OnRating = Callable[[int, str], Any]


class KeypadRejected(Rejected):
    """A frame not acted on: bad checksum, unknown address, unknown key, wrong kind of device."""


class KeypadListener:
    """Turns keypad and evaluation pad frames on ``bus`` into ``on_key`` / ``on_rating`` calls.

    ``pads`` maps each address to ``"keypad"`` or ``"evaluation_pad"`` (and
    ``names`` each address to its device name, for health). Callbacks run on
    the bus's worker thread: ``on_key(address, action)``,
    ``on_rating(address, rating)`` — keep them short (hand over to the hub).
    """

    def __init__(
        self,
        bus: SerialBus,
        fmt: FrameFormat,
        pads: Mapping[int, str],
        *,
        on_key: OnKey | None = None,
        on_rating: OnRating | None = None,
        names: Mapping[int, str] | None = None,
        keys: Mapping[int, str] | None = None,
        ratings: Mapping[int, str] | None = None,
        mode: str = "unsolicited",
        poll_interval: float = 0.2,
        remember_rejected: int = 100,
    ) -> None:
        if fmt.payload_size != 1:
            raise ValueError(f"keypad format {fmt.name}: payload_size must be 1 (the key code)")
        for address, kind in pads.items():
            if kind not in (KEYPAD, EVALUATION_PAD):
                raise ValueError(f"address {address}: {KEYPAD!r} or {EVALUATION_PAD!r}, got {kind!r}")
            fmt.encode_address(address)
        if mode not in ("unsolicited", "poll"):
            raise ValueError(f"mode: 'unsolicited' or 'poll', got {mode!r}")
        if mode == "poll" and "poll" not in fmt.commands:
            raise ValueError(f"mode 'poll': format {fmt.name} has no 'poll' command")
        self.bus = bus
        self.format = fmt
        self.pads = dict(pads)
        self.names = {a: (names or {}).get(a, f"{kind}@{a}") for a, kind in self.pads.items()}
        self.keys = dict(DEFAULT_KEYS if keys is None else keys)
        self.ratings = dict(DEFAULT_RATINGS if ratings is None else ratings)
        for code, action in self.keys.items():
            if action not in ACTIONS:
                raise ValueError(f"keys.{code}: one of {list(ACTIONS)}, got {action!r}")
        self.mode = mode
        self.on_key = on_key
        self.on_rating = on_rating
        self.rejected: collections.deque[KeypadRejected] = collections.deque(maxlen=remember_rejected)
        self.accepted = 0
        self._parser = fmt.parser()
        self._lock = threading.Lock()
        self._commands = {v: k for k, v in fmt.commands.items()}
        for address in self.pads:
            bus.add_device(self.names[address])
            if mode == "poll":
                poll = fmt.encode(address, b"\x00", "poll")
                bus.set_poll(self.names[address], [Frame(poll, self._answer(address))], poll_interval)
        bus.add_receiver(self.feed)

    def feed(self, data: bytes) -> None:
        """Bytes read from the bus (the bus calls this; tests may too)."""
        with self._lock:
            found = self._parser.feed(data)
        for item in found:
            if isinstance(item, Rejected):
                self._reject(item.reason, item.raw, item.address)
            else:
                self._frame(item)

    # -- one frame -----------------------------------------------------------------------

    def _frame(self, frame: DecodedFrame) -> None:
        command = self._commands.get(frame.command, "") if self.format.needs_command else ""
        if command == "poll":
            return  # our own poll, heard back (RS-485 adapters with echo)
        kind = self.pads.get(frame.address)
        if kind is None:
            self._reject("unknown address", frame.raw, frame.address)
            return
        code = frame.payload[0]
        if self.format.needs_command and command not in ("key", "rating"):
            self._reject(f"unknown command {frame.command.hex()}", frame.raw, frame.address)
            return
        self.bus.report(self.names[frame.address], DeviceState.OK)
        if code == 0:
            return  # "nothing pressed" (the answer to a poll)
        is_rating = command == "rating" if command else kind == EVALUATION_PAD
        if is_rating:
            rating = self.ratings.get(code)
            if kind != EVALUATION_PAD:
                self._reject("a rating from a keypad", frame.raw, frame.address)
            elif rating is None:
                self._reject(f"unknown rating code {code}", frame.raw, frame.address)
            else:
                self._call(self.on_rating, frame.address, rating)
            return
        action = self.keys.get(code)
        if kind != KEYPAD:
            self._reject("a key from an evaluation pad", frame.raw, frame.address)
        elif action is None:
            self._reject(f"unknown key code {code}", frame.raw, frame.address)
        else:
            self._call(self.on_key, frame.address, action)

    def _call(self, callback: Callable[[int, str], Any] | None, address: int, value: str) -> None:
        self.accepted += 1
        log.info("keypad %s (address %d): %s", self.names[address], address, value)
        if callback is None:
            return
        try:
            callback(address, value)
        except Exception:
            log.exception("keypad %s: callback failed", self.names.get(address, address))

    def _reject(self, reason: str, raw: bytes, address: int | None) -> None:
        self.rejected.append(KeypadRejected(reason, raw, address))
        log.warning(
            "keypad frame rejected on %s: %s (address %s, bytes %s)",
            self.bus.name,
            reason,
            address,
            raw.hex(" "),
        )

    def _answer(self, address: int) -> ReplyMatcher:
        """A poll is answered by any frame of this format from the polled address."""
        fmt = self.format

        def match(received: bytes) -> Reply | None:
            for found in fmt.parser().feed(received):
                if isinstance(found, DecodedFrame) and found.address == address:
                    if fmt.needs_command and found.command == fmt.commands.get("poll"):
                        continue
                    return Reply(True)
            return None

        return match
