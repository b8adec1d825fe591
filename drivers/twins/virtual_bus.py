"""A virtual RS-485 bus on a pty, with virtual counter displays, VFDs and keypads on it.

:class:`VirtualSerialBus` opens a pseudo-terminal and (optionally) points a
symlink you choose at its slave side; the driver opens that path with pyserial
exactly as it would open ``/dev/ttyUSB0``. Every byte the driver writes reaches
every virtual device on the bus (as on a real RS-485 line); each device parses
the stream with its own protocol, checks checksums (a frame with a wrong one is
counted in :attr:`VirtualSerialBus.rejected` and never shown), answers when it
is addressed, and keeps what it shows:

* :class:`VirtualFramedDisplays` — displays of one :class:`~drivers.signs.frames.FrameFormat`
  (``texts[address]``), ACK/NAK as the format says;
* :class:`VirtualModbusDisplays` — Modbus RTU units (``registers[unit][register]``),
  decoded with pymodbus's RTU framer and PDU classes, CRC checked, answered like a real unit;
* :class:`VirtualVfd` — a CD5220 / Epson two-line VFD (``lines``);
* :class:`VirtualKeypad` — a caller keypad or evaluation pad: ``press("call_next")``,
  ``rate("satisfied")``, sent at once (unsolicited) or when polled.

``unplug()`` closes the pty and removes the symlink (the adapter is pulled);
``replug()`` opens a new pty and points the same symlink at it. With
``power_cycle=True`` (the default) the displays come back blank, as displays
that lost power with their converter do — so only the driver's re-send can
make them show the right thing again.

    bus = VirtualSerialBus(link=tmp_path / "ttyVIRT0")
    leds = bus.add(VirtualFramedDisplays(FrameFormat(FRAME_PRESETS["generic-stx"]), [1, 2, 3]))
    with bus:
        ...  # SerialBus(str(bus.path)) and FramedDisplays on it
        bus.wait_for(lambda: leds.texts.get(3) == "A012", timeout=1)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import select
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    WriteMultipleRegistersRequest,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterRequest,
    WriteSingleRegisterResponse,
)

from drivers.signs.frames import FRAME_PRESETS, DecodedFrame, FrameFormat, Rejected
from drivers.signs.keypad import DEFAULT_KEYS, DEFAULT_RATINGS
from drivers.signs.vfd import COMMAND_SETS

log = logging.getLogger(__name__)

__all__ = [
    "TwinRejected",
    "VirtualDevice",
    "VirtualFramedDisplays",
    "VirtualKeypad",
    "VirtualModbusDisplays",
    "VirtualSerialBus",
    "VirtualVfd",
]


@dataclass(frozen=True)
class TwinRejected:
    """A frame a virtual device refused: which device kind, why, the bytes, the address if known."""

    device: str
    reason: str
    raw: bytes
    address: int | None = None


class VirtualDevice:
    """Something on the virtual line: gets every byte the master writes, may answer."""

    bus: VirtualSerialBus | None = None
    kind = "device"

    def feed(self, data: bytes) -> bytes:
        """Bytes from the master; returns the bytes to answer with. Called with the bus's lock held."""
        return b""

    def power_off(self) -> None:
        """Lose what is shown (the converter and the displays lost power)."""

    def _rejected(self, reason: str, raw: bytes, address: int | None = None) -> None:
        assert self.bus is not None
        self.bus.note_rejected(TwinRejected(self.kind, reason, raw, address))


class VirtualFramedDisplays(VirtualDevice):
    """Counter displays of one frame format at ``addresses``; ``silent``: addresses that never answer.

    ``texts[address]``: what each shows (padding stripped); ``shown``: every
    (address, text) in order; ``on_show(address, text)`` is called (on the
    bus's thread, lock not held) for each accepted frame.
    """

    kind = "framed"

    def __init__(
        self,
        fmt: FrameFormat,
        addresses: Iterable[int],
        *,
        silent: Iterable[int] = (),
        on_show: Callable[[int, str], Any] | None = None,
    ) -> None:
        self.format = fmt
        self.addresses = set(addresses)
        self.silent = set(silent)
        self.texts: dict[int, str] = {}
        self.shown: list[tuple[int, str]] = []
        self.on_show = on_show
        self._parser = fmt.parser()
        self._commands = {v: k for k, v in fmt.commands.items()}

    def feed(self, data: bytes) -> bytes:
        answers = b""
        for item in self._parser.feed(data):
            if isinstance(item, Rejected):
                self._rejected(item.reason, item.raw, item.address)
                if item.address in self.addresses and item.address not in self.silent:
                    answers += self._reply(item.address, ok=False)
                continue
            if item.address not in self.addresses:
                continue  # another device's frame (or an ACK on the line)
            command = self._commands.get(item.command, "show") if self.format.needs_command else "show"
            if command not in ("show", "clear"):
                continue  # its own kind of answer (ack/nak) or something it does not know
            text = "" if command == "clear" else self.format.decode_text(item.payload)
            self.texts[item.address] = text
            self.shown.append((item.address, text))
            if self.on_show is not None and self.bus is not None:
                self.bus.call_later(self.on_show, item.address, text)
            if item.address not in self.silent:
                answers += self._reply(item.address, ok=True)
        return answers

    def _reply(self, address: int, ok: bool) -> bytes:
        fmt = self.format
        fixed = fmt.ack if ok else fmt.nak
        if fixed is not None:
            return fixed
        command = fmt.ack_command if ok else fmt.nak_command
        return fmt.encode(address, b"", command) if command is not None else b""

    def power_off(self) -> None:
        self.texts.clear()


class VirtualModbusDisplays(VirtualDevice):
    """Modbus RTU display units: ``registers[unit]`` holds every holding register written.

    Understands function 3 (read), 6 (write one) and 16 (write several); other
    functions get exception 1 (illegal function). Frames with a wrong CRC are
    rejected (counted) and not answered, as a real unit does.
    """

    kind = "modbus"

    def __init__(self, units: Iterable[int], *, size: int = 1024, silent: Iterable[int] = ()) -> None:
        self.units = set(units)
        self.silent = set(silent)
        self.size = size
        self.registers: dict[int, dict[int, int]] = {u: {} for u in self.units}
        self._decoder = DecodePDU(is_server=True)
        self._framer = FramerRTU(DecodePDU(is_server=False))
        self._buf = bytearray()

    def text(self, unit: int, first: int, count: int, encoding: str = "ascii") -> str:
        """Registers ``first`` .. ``first+count-1`` read as text, two bytes each, high byte first."""
        regs = self.registers.get(unit, {})
        data = b"".join(regs.get(r, 0).to_bytes(2, "big") for r in range(first, first + count))
        return data.decode(encoding, errors="replace").replace("\x00", " ").strip()

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        answers = b""
        while len(self._buf) >= 4:
            pdu_class = self._decoder.lookupPduClass(bytes(self._buf))
            if pdu_class is None:
                self._rejected("unknown function", bytes(self._buf[:2]), self._buf[0])
                del self._buf[:1]
                continue
            try:
                size = pdu_class.calculateRtuFrameSize(bytes(self._buf))
            except (ModbusException, IndexError):
                # pymodbus's base PDU raises NotImplementedException (a ModbusException) for a class
                # without an RTU size rule; a few classes index the byte count without a length check.
                size = 0
            if not size:
                break  # the byte count is not in yet
            if len(self._buf) < size:
                break
            frame = bytes(self._buf[:size])
            del self._buf[:size]
            crc = int.from_bytes(frame[-2:], "big")  # pymodbus's check_CRC takes it as sent, byte-swapped
            if not FramerRTU.check_CRC(frame[:-2], crc):
                self._rejected("crc", frame, frame[0])
                continue
            unit = frame[0]
            request = self._decoder.decode(frame[1:-2])
            if request is None:
                self._rejected("undecodable", frame, unit)
                continue
            if unit not in self.units:
                continue  # another unit's request
            response = self._execute(unit, request)
            if unit not in self.silent and response is not None:
                response.dev_id = unit
                answers += self._framer.buildFrame(response)
        return answers

    def _execute(self, unit: int, request: Any) -> Any:
        regs = self.registers[unit]
        if isinstance(request, WriteMultipleRegistersRequest):
            if request.byte_count != 2 * request.count or len(request.registers) != request.count:
                return ExceptionResponse(request.function_code, 3)
            if request.address + request.count > self.size:
                return ExceptionResponse(request.function_code, 2)
            for i, value in enumerate(request.registers):
                regs[request.address + i] = value
            return WriteMultipleRegistersResponse(address=request.address, count=request.count)
        if isinstance(request, WriteSingleRegisterRequest):
            if request.address >= self.size:
                return ExceptionResponse(request.function_code, 2)
            regs[request.address] = request.registers[0]
            return WriteSingleRegisterResponse(address=request.address, registers=[request.registers[0]])
        if isinstance(request, ReadHoldingRegistersRequest):
            if request.address + request.count > self.size:
                return ExceptionResponse(request.function_code, 2)
            values = [regs.get(request.address + i, 0) for i in range(request.count)]
            return ReadHoldingRegistersResponse(registers=values)
        return ExceptionResponse(request.function_code, 1)

    def power_off(self) -> None:
        for regs in self.registers.values():
            regs.clear()


class VirtualVfd(VirtualDevice):
    """A two-line VFD (``cd5220`` or ``epson`` command set): ``lines`` is what it shows.

    ``ESC @`` initialises (blank, cursor home), ``FF`` clears, ``ESC l x y`` /
    ``US $ x y`` move the cursor (1-based); printable bytes are written at the
    cursor, which moves right and wraps to the next line. Unknown control bytes
    are counted in ``unknown``.
    """

    kind = "vfd"

    def __init__(self, command_set: str = "cd5220", width: int = 20, encoding: str = "ascii") -> None:
        self.command_set = command_set
        self.width = width
        self.encoding = encoding
        self.unknown = 0
        self.inits = 0
        self._cursor_command = COMMAND_SETS[command_set]
        self._buf = bytearray()
        self._screen = [bytearray(b" " * width), bytearray(b" " * width)]
        self._x = self._y = 0

    @property
    def lines(self) -> tuple[str, str]:
        """Both lines, trailing blanks stripped."""
        return tuple(  # type: ignore[return-value]
            bytes(line).decode(self.encoding, errors="replace").rstrip() for line in self._screen
        )

    def feed(self, data: bytes) -> bytes:
        self._buf += data
        buf = self._buf
        while buf:
            byte = buf[0]
            if byte == 0x1B or byte == 0x1F:
                if len(buf) < 2:
                    break
                if byte == 0x1B and buf[1] == 0x40:  # ESC @
                    self.inits += 1
                    self._blank()
                    del buf[:2]
                    continue
                if bytes(buf[:2]) == self._cursor_command:
                    if len(buf) < 4:
                        break
                    x, y = buf[2], buf[3]
                    if 1 <= x <= self.width and 1 <= y <= 2:
                        self._x, self._y = x - 1, y - 1
                    else:
                        self.unknown += 1
                    del buf[:4]
                    continue
                self.unknown += 1
                del buf[:1]
            elif byte == 0x0C:  # FF: clear
                self._blank()
                del buf[:1]
            elif byte >= 0x20:
                if self._y < 2:
                    self._screen[self._y][self._x] = byte
                    self._x += 1
                    if self._x >= self.width:
                        self._x, self._y = 0, self._y + 1
                del buf[:1]
            else:
                self.unknown += 1
                del buf[:1]
        return b""

    def _blank(self) -> None:
        self._screen = [bytearray(b" " * self.width), bytearray(b" " * self.width)]
        self._x = self._y = 0

    def power_off(self) -> None:
        self._blank()


class VirtualKeypad(VirtualDevice):
    """A caller keypad or evaluation pad at ``address``, speaking ``fmt`` (``keypad-a5`` by default).

    ``press(action)`` / ``rate(rating)`` send the frame at once in
    ``unsolicited`` mode; in ``poll`` mode they wait for the master's next poll
    to this address (which is answered with code 00 when nothing is waiting).
    ``send_frame(code, command, corrupt=True)`` sends a frame with a wrong checksum.
    """

    kind = "keypad"

    def __init__(self, address: int, fmt: FrameFormat | None = None, *, mode: str = "unsolicited") -> None:
        self.address = address
        self.format = fmt or FrameFormat(FRAME_PRESETS["keypad-a5"], name="keypad-a5")
        self.mode = mode
        self.polls = 0
        self._waiting: list[bytes] = []
        self._parser = self.format.parser()
        self._keys = {v: k for k, v in DEFAULT_KEYS.items()}
        self._ratings = {v: k for k, v in DEFAULT_RATINGS.items()}

    def frame(
        self, code: int, command: str = "key", *, address: int | None = None, corrupt: bool = False
    ) -> bytes:
        data = bytearray(
            self.format.encode(self.address if address is None else address, bytes([code]), command)
        )
        if corrupt:
            layout = self.format.layout
            checksum_at = sum(self.format.field_size(f) or 0 for f in layout[: layout.index("checksum")])
            data[checksum_at] ^= 0xFF
        return bytes(data)

    def press(self, action: str) -> None:
        self.send_frame(self._keys[action], "key")

    def rate(self, rating: str) -> None:
        self.send_frame(self._ratings[rating], "rating")

    def send_frame(
        self, code: int, command: str = "key", *, address: int | None = None, corrupt: bool = False
    ) -> None:
        data = self.frame(code, command, address=address, corrupt=corrupt)
        assert self.bus is not None, "add the keypad to a VirtualSerialBus first"
        if self.mode == "poll":
            self.bus.snapshot(lambda: self._waiting.append(data))
        else:
            self.bus.write(data)

    def feed(self, data: bytes) -> bytes:
        if self.mode != "poll":
            return b""
        answers = b""
        for item in self._parser.feed(data):
            if not isinstance(item, DecodedFrame) or item.address != self.address:
                continue
            if item.command != self.format.commands.get("poll"):
                continue
            self.polls += 1
            answers += self._waiting.pop(0) if self._waiting else self.frame(0, "key")
        return answers


class VirtualSerialBus:
    """A pty with virtual devices on it; ``path`` is what the driver opens (the symlink when given)."""

    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self.link = Path(link) if link is not None else None
        self.devices: list[VirtualDevice] = []
        self.received = bytearray()
        self.plugged = False
        self._rejected: list[TwinRejected] = []
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._master: int | None = None
        self._slave: int | None = None
        self._tty: str | None = None
        self._thread: threading.Thread | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    # -- devices and what they saw --------------------------------------------------

    def add(self, device: VirtualDevice) -> Any:
        with self._cond:
            device.bus = self
            self.devices.append(device)
        return device

    @property
    def path(self) -> str:
        if self.link is not None:
            return str(self.link)
        assert self._tty is not None, "start the bus first"
        return self._tty

    @property
    def tty(self) -> str | None:
        """The slave side of the latest pty (``/dev/pts/N``: the symlink points at it); None before start."""
        return self._tty

    @property
    def rejected(self) -> list[TwinRejected]:
        with self._cond:
            return list(self._rejected)

    def note_rejected(self, rejected: TwinRejected) -> None:
        """Count a frame a device refused.

        Public for :class:`VirtualDevice`: devices call it from ``feed``, with the bus's lock held.
        """
        self._rejected.append(rejected)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate()`` (evaluated with the bus's lock held) is true; False on timeout."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def snapshot(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` with the bus's lock held (a consistent read of the devices)."""
        with self._cond:
            return fn()

    def write(self, data: bytes) -> None:
        """Bytes from a device to the master (a keypad speaking up); dropped while unplugged."""
        with self._write_lock:
            if self._master is None:
                return
            with contextlib.suppress(OSError):
                os.write(self._master, data)

    # -- plugging ---------------------------------------------------------------------------

    def start(self) -> VirtualSerialBus:
        self.replug(power_cycle=False)
        return self

    def stop(self) -> None:
        self.unplug()

    def __enter__(self) -> VirtualSerialBus:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def replug(self, power_cycle: bool = True) -> None:
        """A new pty; the symlink (if any) now points at it. ``power_cycle``: the displays come back blank."""
        if self.plugged:
            return
        with self._cond:
            if power_cycle:
                for device in self.devices:
                    device.power_off()
            self._cond.notify_all()
        master, slave = os.openpty()
        # Raw: no echo, no line discipline. Holding our own slave fd keeps the master from EIO
        # while the driver has the port closed.
        tty.setraw(slave)
        self._tty = os.ttyname(slave)
        if self.link is not None:
            fresh = self.link.with_name(self.link.name + ".new")
            with contextlib.suppress(FileNotFoundError):
                fresh.unlink()
            os.symlink(self._tty, fresh)
            os.replace(fresh, self.link)
        self._wake_r, self._wake_w = os.pipe()
        with self._write_lock:
            self._master, self._slave = master, slave
        self.plugged = True
        self._thread = threading.Thread(target=self._serve, name=f"virtual-bus:{self._tty}", daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        """The adapter is pulled: the pty closes (the driver's reads fail) and the symlink disappears."""
        if not self.plugged:
            return
        self.plugged = False
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        with self._write_lock:
            fds = [self._master, self._slave, self._wake_r, self._wake_w]
            self._master = self._slave = self._wake_r = self._wake_w = None
        for fd in fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        with self._cond:
            self._cond.notify_all()

    # -- the line ---------------------------------------------------------------------------

    def call_later(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` after the lock is released (device callbacks).

        Public for :class:`VirtualDevice` subclasses: their ``feed`` runs with the bus's lock
        held, so a callback into a test must wait until the bus's thread has let go of it.
        """
        self._calls.append((fn, args))

    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        assert master is not None and wake is not None
        while True:
            try:
                ready, _, _ = select.select([master, wake], [], [])
            except (OSError, ValueError):
                return
            if wake in ready:
                return
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            answers = b""
            with self._cond:
                self.received += data
                for device in self.devices:
                    answers += device.feed(data)
                calls, self._calls = self._calls, []
                self._cond.notify_all()
            if answers:
                self.write(answers)
            for fn, args in calls:
                try:
                    fn(*args)
                except Exception:  # a test's callback must not kill the line
                    log.exception("virtual bus: callback failed")


# --------------------------------------------------------------------------- by hand


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drivers.twins.virtual_bus",
        description="A virtual RS-485 bus with framed LED displays on a pty; prints what each shows. "
        "Type 'key ADDR ACTION' or 'rate ADDR RATING' to press a virtual keypad, 'unplug'/'replug'.",
    )
    parser.add_argument("--link", default="tmp/ttyVIRT0", help="symlink to the pty (default tmp/ttyVIRT0)")
    parser.add_argument(
        "--format", default="generic-stx", choices=[k for k in FRAME_PRESETS if "keypad" not in k]
    )
    parser.add_argument("--addresses", default="1,2,3", help="display addresses, comma-separated")
    parser.add_argument("--keypads", default="", help="keypad addresses, comma-separated")
    args = parser.parse_args(argv)
    Path(args.link).parent.mkdir(parents=True, exist_ok=True)
    bus = VirtualSerialBus(args.link)
    addresses = [int(a) for a in args.addresses.split(",") if a]

    def shown(address: int, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} display {address}: {text!r}", flush=True)

    bus.add(
        VirtualFramedDisplays(FrameFormat(FRAME_PRESETS[args.format], args.format), addresses, on_show=shown)
    )
    pads = {int(a): bus.add(VirtualKeypad(int(a))) for a in args.keypads.split(",") if a}
    bus.start()
    print(f"virtual bus on {bus.path} -> {bus.tty}: {args.format} displays {addresses}", flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            try:
                if words[:1] == ["unplug"]:
                    bus.unplug()
                elif words[:1] == ["replug"]:
                    bus.replug()
                elif words[:1] == ["key"]:
                    pads[int(words[1])].press(words[2])
                elif words[:1] == ["rate"]:
                    pads[int(words[1])].rate(words[2])
            except (KeyError, IndexError, ValueError) as exc:
                print(f"? {exc}", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        bus.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
