"""One serial line (RS-485, RS-232, or a serial-over-Ethernet converter) and the devices on it.

Counter displays, caller keypads and evaluation pads hang on a half-duplex
RS-485 bus, each with its own address. Only one frame may be on the wire at a
time, so :class:`SerialBus` owns the port in one worker thread and every
display's frames go through it, one after another:

    hub ─ show() ─► set_state(device, frames)   (returns at once; replaces that device's unsent state)
                         │
                         ▼
    worker: open port ─► write frame ─► wait for the device's reply (ACK) ─► next frame ...
                 ▲            │                │ nothing within reply_timeout: retry, then faulty
                 │            │                ▼
                 └─ back-off ◄┴── port lost    every byte read ─► receivers (the keypad listener)

*What a device shows is state, not a message*: the bus keeps each device's
current frames. A newer ``set_state`` for the same device replaces one not yet
sent (a dead bus holds one pending state per device, never a growing queue),
and after every (re)connect the bus sends the current state of every device
again — a display that lost power with its USB-serial adapter shows the right
number as soon as the line is back.

*Transport*: ``url`` is anything pyserial's ``serial_for_url`` opens — a
device path (``/dev/ttyUSB0``, ``/dev/serial/by-id/…``), ``socket://host:port``
(Ethernet-to-serial converters) or ``rfc2217://host:port``. 9600 8N1 unless
told otherwise. When the port fails (unplugged adapter, converter gone) the
worker closes it and opens it again with back-off; the hub's calls never wait.

*Receiving*: the worker reads whenever it is not writing: bytes that arrive
while it waits for an ACK are given to the reply's matcher *and* to the
receivers; bytes that arrive while idle go to the receivers (the keypad
listener). Devices that only speak when asked are polled
(:meth:`SerialBus.set_poll`); the poll goes through the same queue, so polls
and display frames never collide on the wire.

Health, through callbacks run on the worker thread (keep them short):
``on_bus(bus_name, BusState, detail)`` and ``on_device(device_id, DeviceState, detail)``.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import serial

log = logging.getLogger(__name__)


class BusState(enum.StrEnum):
    CONNECTING = "connecting"  # not opened yet
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # the port failed or cannot be opened; retrying with back-off
    CLOSED = "closed"


class DeviceState(enum.StrEnum):
    UNKNOWN = "unknown"  # nothing sent yet
    OK = "ok"  # its last frame was acknowledged (or, for a keypad, it answered its poll)
    UNCONFIRMED = "unconfirmed"  # frames written; this kind of device never answers
    FAULTY = "faulty"  # no answer, or a NAK, after every retry
    DISCONNECTED = "disconnected"  # the bus is down


@dataclass(frozen=True)
class Reply:
    """What a matcher made of the bytes received after a frame."""

    ok: bool
    detail: str = ""


class ReplyMatcher(Protocol):
    """Looks at every byte received since the frame was written; None while undecided."""

    def __call__(self, received: bytes) -> Reply | None: ...


@dataclass(frozen=True)
class Frame:
    """Bytes to write, and how to recognise the device's answer (None: it sends none).

    ``silence``: the line must have been quiet for 3.5 character times before
    this frame (Modbus RTU tells frames apart by that silence).
    """

    data: bytes
    expect: ReplyMatcher | None = None
    silence: bool = False


@dataclass(frozen=True)
class DeviceHealth:
    state: DeviceState
    detail: str
    since: float  # time.time()


@dataclass(frozen=True)
class BusHealth:
    name: str
    url: str
    state: BusState
    detail: str
    devices: dict[str, DeviceHealth]
    frames_sent: int
    reconnects: int


@dataclass(eq=False)
class _Device:
    id: str
    frames: tuple[Frame, ...] | None = None  # its current state
    init: tuple[Frame, ...] = ()  # sent before the state after every (re)connect
    needs_init: bool = True
    pending: bool = False
    retry_at: float | None = None  # a faulty device is tried again then
    poll: tuple[Frame, ...] | None = None
    poll_interval: float = 0.5
    next_poll: float = 0.0
    state: DeviceState = DeviceState.UNKNOWN
    detail: str = ""
    since: float = field(default_factory=time.time)


@dataclass(eq=False)
class _Job:
    device: _Device
    frames: tuple[Frame, ...]
    is_poll: bool
    had_init: bool


OnBus = Callable[[str, BusState, str], Any]
OnDevice = Callable[[str, DeviceState, str], Any]


class _PortLost(Exception):
    pass


class SerialBus:
    """One serial port, one worker, every device on it; see the module's docstring.

    ``reply_timeout``: how long a device may take to answer (after its frame
    left the wire); ``retries``: how many times a frame is sent again before
    the device is marked faulty; a faulty device is tried once every
    ``faulty_retry_interval`` seconds. Re-opening a lost port waits
    ``retry_interval``, doubling up to ``max_retry_interval``.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        reply_timeout: float = 0.2,
        retries: int = 2,
        faulty_retry_interval: float = 10.0,
        retry_interval: float = 0.2,
        max_retry_interval: float = 2.0,
        write_timeout: float = 2.0,
        on_bus: OnBus | None = None,
        on_device: OnDevice | None = None,
        start: bool = True,
    ) -> None:
        self.url = url
        self.name = name or url
        self.baudrate = baudrate
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits
        self.reply_timeout = reply_timeout
        self.retries = retries
        self.faulty_retry_interval = faulty_retry_interval
        self.retry_interval = retry_interval
        self.max_retry_interval = max_retry_interval
        self.write_timeout = write_timeout
        self._on_bus = on_bus
        self._on_device = on_device
        # One character on the wire: start bit + data + parity + stop bits.
        bits = 1 + bytesize + (0 if parity == "N" else 1) + stopbits
        self._char_time = bits / baudrate
        #: Modbus RTU wants 3.5 character times of silence between frames (1.75 ms above 19200 baud).
        self._gap = 3.5 * self._char_time if baudrate <= 19200 else 0.00175
        self._lock = threading.Condition()
        self._devices: dict[str, _Device] = {}
        self._order: collections.deque[str] = collections.deque()  # devices with a pending state, FIFO
        self._receivers: list[Callable[[bytes], Any]] = []
        self._port: Any = None
        self._fd: int | None = None
        self._state = BusState.CONNECTING
        self._detail = ""
        self._closed = False
        self._failures = 0
        self._line_busy_until = 0.0  # when the last byte written or read has left the wire
        self._idle = False
        self.frames_sent = 0
        self.reconnects = 0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name=f"serial-bus:{self.name}", daemon=True)
        if start:
            self.start()

    # -- what drivers call (any thread; never blocks on the port) -------------------

    def start(self) -> None:
        if not self._thread.is_alive() and not self._closed:
            self._thread.start()

    def add_device(self, device_id: str) -> None:
        """Make a device known (its health is ``unknown`` until something was sent)."""
        with self._lock:
            self._device(device_id)

    def set_state(self, device_id: str, frames: Sequence[Frame], init: Sequence[Frame] | None = None) -> None:
        """The device's current state: sent as soon as the bus is free, and again after every reconnect.

        Replaces a state of the same device not yet sent. ``init`` (if given)
        replaces the frames sent before the state after each (re)connect
        (a VFD's reset, a Modbus display's brightness); they are sent again
        only after a reconnect, or when they changed.
        """
        with self._lock:
            if self._closed:
                return
            device = self._device(device_id)
            device.frames = tuple(frames)
            if init is not None and [f.data for f in init] != [f.data for f in device.init]:
                device.init = tuple(init)
                device.needs_init = True  # changed init frames go out before the next state
            device.retry_at = None
            self._make_pending(device)
        self._wake()

    def set_poll(self, device_id: str, frames: Sequence[Frame] | None, interval: float = 0.2) -> None:
        """Ask this device every ``interval`` seconds (when the bus is otherwise idle); None stops it."""
        with self._lock:
            device = self._device(device_id)
            device.poll = tuple(frames) if frames else None
            device.poll_interval = interval
            device.next_poll = time.monotonic()
        self._wake()

    def add_receiver(self, receiver: Callable[[bytes], Any]) -> None:
        """``receiver(data)`` gets every byte read from the port (on the worker thread)."""
        with self._lock:
            self._receivers.append(receiver)

    def report(self, device_id: str, state: DeviceState, detail: str = "") -> None:
        """Health learned outside the queue (a keypad that spoke up unasked is alive)."""
        with self._lock:
            device = self._device(device_id)
        self._set_device(device, state, detail)

    def retry_now(self) -> None:
        """Re-open a lost port and re-try faulty devices now instead of after the back-off."""
        with self._lock:
            self._failures = 0
            now = time.monotonic()
            for device in self._devices.values():
                if device.retry_at is not None:
                    device.retry_at = now
            self._retry_open_at = now
        self._wake()

    @property
    def state(self) -> BusState:
        return self._state

    def health(self) -> BusHealth:
        with self._lock:
            devices = {d.id: DeviceHealth(d.state, d.detail, d.since) for d in self._devices.values()}
            return BusHealth(
                self.name, self.url, self._state, self._detail, devices, self.frames_sent, self.reconnects
            )

    def idle(self) -> bool:
        """Nothing waiting to be sent (faulty devices' later retries aside)."""
        with self._lock:
            return not self._order

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        self._wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        self._drop_port()
        self._set_bus(BusState.CLOSED, "")
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> SerialBus:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- bookkeeping (lock held) -----------------------------------------------------

    def _device(self, device_id: str) -> _Device:
        device = self._devices.get(device_id)
        if device is None:
            device = self._devices[device_id] = _Device(device_id)
        return device

    def _make_pending(self, device: _Device) -> None:
        if device.frames is not None and not device.pending:
            device.pending = True
            self._order.append(device.id)

    def _wake(self) -> None:
        if self._closed and not self._thread.is_alive():
            return  # the pipe may be closed (and its number reused)
        with contextlib.suppress(OSError):  # full (already woken) or closed
            os.write(self._wake_w, b"x")

    # -- the worker --------------------------------------------------------------------

    _retry_open_at = 0.0

    def _run(self) -> None:
        while not self._closed:
            try:
                if self._port is None:
                    self._connect()
                    continue
                job, wait = self._next_job()
                if job is not None:
                    self._run_job(job)
                else:
                    self._read_idle(wait)
            except _PortLost as exc:
                self._lost(str(exc))
            except Exception as exc:  # the worker must outlive any surprise
                log.exception("serial bus %s: unexpected error", self.name)
                self._lost(f"unexpected error: {exc}")

    def _connect(self) -> None:
        now = time.monotonic()
        if now < self._retry_open_at:
            self._wait_wake(self._retry_open_at - now)
            return
        port = None
        try:
            port = serial.serial_for_url(self.url, do_not_open=True)
            port.baudrate = self.baudrate
            port.bytesize = self.bytesize
            port.parity = self.parity
            port.stopbits = self.stopbits
            rfc2217 = self.url.startswith("rfc2217://")
            # Reads never block in pyserial: the worker selects on the descriptor (and its wake pipe).
            # rfc2217 has no descriptor (its own thread fills a queue): short blocking reads instead.
            port.timeout = 0.02 if rfc2217 else 0
            if not rfc2217:  # rfc2217 has no write timeout
                port.write_timeout = self.write_timeout
            port.open()
            fd = None
            if not rfc2217:
                with contextlib.suppress(AttributeError, OSError):
                    fd = port.fileno()
            with contextlib.suppress(Exception):
                port.reset_input_buffer()
        except Exception as exc:  # noqa: BLE001  SerialException, OSError, a bad URL, a handler: retry later
            if port is not None:
                with contextlib.suppress(Exception):
                    port.close()
            self._failures += 1
            delay = min(self.retry_interval * 2 ** (self._failures - 1), self.max_retry_interval)
            self._retry_open_at = time.monotonic() + delay
            self._set_bus(BusState.DISCONNECTED, f"cannot open: {exc}")
            return
        if self._closed:
            with contextlib.suppress(Exception):
                port.close()
            return
        self._port, self._fd = port, fd
        self._connected_at = time.monotonic()
        with self._lock:
            # Everything the devices should show goes out again, in the order they were added.
            self._order.clear()
            for device in self._devices.values():
                device.pending = False
                device.needs_init = True
                if device.state == DeviceState.FAULTY:
                    device.retry_at = None
                self._make_pending(device)
                device.next_poll = time.monotonic()
            # Devices that only speak unasked (keypads) are unknown again until they do.
            silent = [
                d
                for d in self._devices.values()
                if d.frames is None and d.poll is None and d.state == DeviceState.DISCONNECTED
            ]
        self._set_bus(BusState.CONNECTED, "")
        for device in silent:
            self._set_device(device, DeviceState.UNKNOWN, "not heard from since the port came back")
        log.info("serial bus %s: connected to %s", self.name, self.url)

    def _lost(self, why: str) -> None:
        self._drop_port()
        if self._closed:
            return
        if time.monotonic() - getattr(self, "_connected_at", 0.0) > self.max_retry_interval:
            self._failures = 0
        self._failures += 1
        self.reconnects += 1
        delay = min(self.retry_interval * 2 ** (self._failures - 1), self.max_retry_interval)
        self._retry_open_at = time.monotonic() + delay
        log.warning("serial bus %s: port lost (%s); reopening in %.1f s", self.name, why, delay)
        self._set_bus(BusState.DISCONNECTED, why)
        with self._lock:
            devices = [d for d in self._devices.values() if d.state != DeviceState.UNKNOWN]
        for device in devices:
            self._set_device(device, DeviceState.DISCONNECTED, why)

    def _drop_port(self) -> None:
        port, self._port, self._fd = self._port, None, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _next_job(self) -> tuple[_Job | None, float | None]:
        """The next thing to send, or (None, how long to idle before something is due)."""
        now = time.monotonic()
        with self._lock:
            while self._order:
                device = self._devices[self._order.popleft()]
                if not device.pending or device.frames is None:
                    continue
                device.pending = False
                init = device.init if device.needs_init else ()
                return _Job(device, init + device.frames, False, bool(init)), None
            due: list[float] = []
            for device in self._devices.values():
                if device.retry_at is not None:
                    if device.retry_at <= now:
                        device.retry_at = None
                        if device.frames is not None:
                            init = device.init if device.needs_init else ()
                            return _Job(device, init + device.frames, False, bool(init)), None
                    else:
                        due.append(device.retry_at)
            for device in self._devices.values():
                if device.poll is not None:
                    if device.next_poll <= now:
                        interval = device.poll_interval
                        if device.state == DeviceState.FAULTY:
                            interval = max(interval, self.faulty_retry_interval)
                        device.next_poll = now + interval
                        return _Job(device, device.poll, True, False), None
                    due.append(device.next_poll)
        return None, (min(due) - now if due else None)

    def _run_job(self, job: _Job) -> None:
        device = job.device
        attempts = 1 if device.state == DeviceState.FAULTY else 1 + self.retries
        answered = False
        failure = ""
        for _attempt in range(attempts):
            failure = ""
            answered = False
            for frame in job.frames:
                reply = self._transact(frame)
                if reply is None:
                    continue
                if not reply.ok:
                    failure = reply.detail or "no answer"
                    break
                answered = True
            if not failure:
                break
            with self._lock:
                superseded = device.pending and not job.is_poll
            if superseded:
                return  # a newer state is waiting: it goes out next, with its own retries
        if failure:
            with self._lock:
                if not job.is_poll:
                    device.retry_at = time.monotonic() + self.faulty_retry_interval
            self._set_device(device, DeviceState.FAULTY, failure)
            return
        if job.had_init:
            device.needs_init = False
        self._set_device(device, DeviceState.OK if answered else DeviceState.UNCONFIRMED, "")

    def _transact(self, frame: Frame) -> Reply | None:
        """Write one frame; with a matcher, read until it decides or the reply timeout passes."""
        port = self._port
        if port is None:
            raise _PortLost("port closed")
        if frame.silence:
            # Modbus RTU finds frame boundaries by 3.5 characters of silence on the line.
            quiet = self._line_busy_until + self._gap - time.monotonic()
            if quiet > 0:
                time.sleep(quiet)  # a few ms of line timing, not synchronisation
        if frame.expect is not None:
            self._drain()  # late answers and noise must not pass for this frame's reply
        try:
            port.write(frame.data)
        except (serial.SerialException, OSError) as exc:
            raise _PortLost(f"write failed: {exc}") from exc
        self.frames_sent += 1
        # The OS queues the bytes; the UART sends them one character time each, after what is queued.
        sent_by = max(time.monotonic(), self._line_busy_until) + len(frame.data) * self._char_time
        self._line_busy_until = sent_by
        if frame.expect is None:
            return None
        deadline = sent_by + self.reply_timeout
        received = bytearray()
        reply: Reply | None = None
        while True:
            reply = frame.expect(bytes(received))
            if reply is not None:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                reply = Reply(False, "no answer" if not received else f"unrecognised answer {received.hex()}")
                break
            data = self._read(left)
            if data:
                received += data
                # An answer starts after our frame has left the wire: the line is busy until now.
                self._line_busy_until = time.monotonic()
                self._deliver(data)
        return reply

    def _drain(self) -> None:
        data = self._read(0)
        while data:
            self._deliver(data)
            data = self._read(0)

    def _read_idle(self, wait: float | None) -> None:
        with self._lock:
            if self._order or self._closed:
                return
        data = self._read(min(wait, 1.0) if wait is not None else 1.0, wake=True)
        if data:
            self._deliver(data)

    def _read(self, timeout: float, wake: bool = False) -> bytes:
        """Bytes that arrive within ``timeout`` (b"" if none); ``wake``: set_state() cuts the wait short."""
        port = self._port
        if port is None:
            raise _PortLost("port closed")
        try:
            if self._fd is None:  # rfc2217: its own reader thread fills a queue
                if timeout <= 0 and not port.in_waiting:
                    return b""
                data: bytes = port.read(1)
                if data and port.in_waiting:
                    data += port.read(port.in_waiting)
                return data
            watch = [self._fd, self._wake_r] if wake else [self._fd]
            ready, _, _ = select.select(watch, [], [], max(timeout, 0))
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 4096)
            if self._fd not in ready:
                return b""
            # A hung-up pty or unplugged adapter is "readable" and then fails (EIO) or reads nothing.
            chunk: bytes = port.read(max(port.in_waiting, 1))
            return chunk
        except (serial.SerialException, OSError, TypeError, ValueError) as exc:
            raise _PortLost(f"read failed: {exc}") from exc

    def _wait_wake(self, timeout: float) -> None:
        with contextlib.suppress(OSError, ValueError):
            ready, _, _ = select.select([self._wake_r], [], [], max(timeout, 0))
            if ready:
                os.read(self._wake_r, 4096)

    def _deliver(self, data: bytes) -> None:
        with self._lock:
            receivers = list(self._receivers)
        for receiver in receivers:
            try:
                receiver(data)
            except Exception:
                log.exception("serial bus %s: a receiver failed", self.name)

    # -- callbacks -----------------------------------------------------------------------

    def _set_bus(self, state: BusState, detail: str) -> None:
        with self._lock:
            if (self._state, self._detail) == (state, detail) or (
                state == self._state == BusState.DISCONNECTED
            ):
                self._detail = detail
                return
            self._state, self._detail = state, detail
        if self._on_bus is not None:
            try:
                self._on_bus(self.name, state, detail)
            except Exception:
                log.exception("serial bus %s: on_bus callback failed", self.name)

    def _set_device(self, device: _Device, state: DeviceState, detail: str) -> None:
        with self._lock:
            if device.state == state:
                device.detail = detail
                return
            device.state, device.detail, device.since = state, detail, time.time()
        if state == DeviceState.FAULTY:
            log.warning("serial bus %s: device %s is faulty (%s)", self.name, device.id, detail)
        if self._on_device is not None:
            try:
                self._on_device(device.id, state, detail)
            except Exception:
                log.exception("serial bus %s: on_device callback failed", self.name)


def fixed_reply(ack: bytes, nak: bytes | None = None) -> ReplyMatcher:
    """A device that answers fixed bytes (``06`` ACK, ``15`` NAK)."""

    def match(received: bytes) -> Reply | None:
        if ack in received:
            return Reply(True)
        if nak and nak in received:
            return Reply(False, "NAK")
        return None

    return match
