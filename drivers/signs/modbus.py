"""Modbus RTU counter displays: the text and numbers go into holding registers (function 16).

The frames are built and the answers checked with pymodbus's own PDU classes
and RTU framer (CRC16 included); the bytes travel over the shared
:class:`~drivers.bus.SerialBus` like every other display's, so a Modbus display
can share the port's worker, its back-off and its re-send after a reconnect.
pymodbus's client is not used: it would want the port to itself.

The register map (``registers`` in the display's settings), every entry optional
but at least one of ``text``/``number``::

    text = 0             # first register of the text, two characters a register, high byte first
    text_registers = 4   # how many (8 characters), padded with spaces
    number = 10          # the number in the text as an integer: "A012" → 12
    counter = 11         # the counter's number
    brightness = 20      # written after every (re)connect with the ``brightness`` setting

Registers next to each other are written in one request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse
from pymodbus.pdu.register_message import WriteMultipleRegistersRequest, WriteMultipleRegistersResponse

from drivers.bus import Frame, Reply, ReplyMatcher, SerialBus

from .base import BusDisplays

__all__ = ["DEFAULT_REGISTERS", "ModbusDisplays", "RegisterMap", "text_registers"]

DEFAULT_REGISTERS: dict[str, int] = {"text": 0, "text_registers": 4}

MAX_REGISTERS_PER_WRITE = 123  # the Modbus limit for function 16


class RegisterMap:
    """The checked ``registers`` table."""

    KEYS = ("text", "text_registers", "number", "counter", "brightness")

    def __init__(self, spec: Mapping[str, Any] | None = None) -> None:
        spec = dict(DEFAULT_REGISTERS if spec is None else spec)
        unknown = set(spec) - set(self.KEYS)
        if unknown:
            raise ValueError(
                f"registers: unknown key(s) {sorted(unknown)}; expected some of {list(self.KEYS)}"
            )
        for key, value in spec.items():
            if not isinstance(value, int) or not 0 <= value <= 0xFFFF:
                raise ValueError(f"registers.{key}: a register number 0-65535, got {value!r}")
        self.text: int | None = spec.get("text")
        self.text_registers: int = spec.get("text_registers", 4 if self.text is not None else 0)
        if self.text is not None and not 1 <= self.text_registers <= MAX_REGISTERS_PER_WRITE:
            raise ValueError(f"registers.text_registers: 1-{MAX_REGISTERS_PER_WRITE}")
        self.number: int | None = spec.get("number")
        self.counter: int | None = spec.get("counter")
        self.brightness: int | None = spec.get("brightness")
        if self.text is None and self.number is None:
            raise ValueError("registers: a display needs a 'text' or a 'number' register")


def text_registers(text: str, count: int, encoding: str = "ascii") -> list[int]:
    """Text → ``count`` registers, two bytes each, high byte first, padded with spaces."""
    data = " ".join(text.split()).encode(encoding, errors="replace")[: count * 2]
    data = data.ljust(count * 2, b" ")
    return [(data[i] << 8) | data[i + 1] for i in range(0, len(data), 2)]


def number_of(text: str) -> int:
    """The number shown: the digits of the ticket number ("A012" → 12), 0 without any."""
    digits = re.findall(r"\d+", text)
    return min(int(digits[0]), 0xFFFF) if digits else 0


def _runs(values: Mapping[int, int]) -> list[tuple[int, list[int]]]:
    """{register: value} → [(first register, [values...])] for consecutive registers."""
    runs: list[tuple[int, list[int]]] = []
    for register in sorted(values):
        if runs and runs[-1][0] + len(runs[-1][1]) == register and len(runs[-1][1]) < MAX_REGISTERS_PER_WRITE:
            runs[-1][1].append(values[register])
        else:
            runs.append((register, [values[register]]))
    return runs


class ModbusDisplays(BusDisplays):
    """Modbus RTU displays on one bus (``addresses``: unit ids 1-247)."""

    protocol = "modbus"

    def __init__(
        self,
        bus: SerialBus,
        addresses: Iterable[int] | Mapping[int, str],
        registers: RegisterMap | Mapping[str, Any] | None = None,
        *,
        counters: Mapping[int, int] | None = None,
        brightness: int | None = None,
        encoding: str = "ascii",
    ) -> None:
        self.registers = registers if isinstance(registers, RegisterMap) else RegisterMap(registers)
        self.counters = dict(counters or {})
        self.brightness = brightness
        self.encoding = encoding
        self._framer = FramerRTU(DecodePDU(is_server=False))
        super().__init__(bus, addresses)

    def check_address(self, address: int) -> None:
        if not 1 <= address <= 247:
            raise ValueError(f"modbus: a unit id is 1-247, got {address}")

    def frames_for(self, address: int, text: str) -> list[Frame]:
        regs = self.registers
        values: dict[int, int] = {}
        if regs.text is not None:
            for i, value in enumerate(text_registers(text, regs.text_registers, self.encoding)):
                values[regs.text + i] = value
        if regs.number is not None:
            values[regs.number] = number_of(text)
        if regs.counter is not None:
            values[regs.counter] = self.counters.get(address, address) if text else 0
        return [self._write(address, first, run) for first, run in _runs(values)]

    def init_frames(self, address: int) -> list[Frame] | None:
        if self.registers.brightness is None or self.brightness is None:
            return None
        return [self._write(address, self.registers.brightness, [self.brightness])]

    def _write(self, unit: int, first: int, values: list[int]) -> Frame:
        request = WriteMultipleRegistersRequest(address=first, registers=values, dev_id=unit)
        return Frame(self._framer.buildFrame(request), _written(unit, first, len(values)), silence=True)


def _written(unit: int, first: int, count: int) -> ReplyMatcher:
    """The answer to a write of ``count`` registers at ``first``: an echo, or an exception."""
    framer = FramerRTU(DecodePDU(is_server=False))

    def match(received: bytes) -> Reply | None:
        if not received:
            return None
        used, dev_id, _tid, pdu_bytes = framer.decode(received)
        if not used or not pdu_bytes:
            return None  # not complete (or garbled: wait for the timeout)
        pdu = framer.decoder.decode(pdu_bytes)
        if dev_id != unit or pdu is None:
            return None
        if isinstance(pdu, ExceptionResponse):
            return Reply(False, f"modbus exception {pdu.exception_code}")
        if isinstance(pdu, WriteMultipleRegistersResponse) and (pdu.address, pdu.count) == (first, count):
            return Reply(True)
        return Reply(False, f"unexpected answer {received.hex()}")

    return match
