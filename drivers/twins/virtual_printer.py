"""A receipt printer on a real socket (or a pty) that answers status and decodes what it prints.

``VirtualPrinter`` listens on TCP like a printer's port 9100: one client at a
time (further connections wait in the listen backlog), every byte fed to an
:class:`~drivers.twins.escpos_decode.EscPosDecoder`. It answers ``DLE EOT n``
with the bytes a printer in its current ``state`` would send, so the driver's
real status code is exercised. ``VirtualSerialPrinter`` is the same printer on
a pseudo-terminal: pyserial (or python-escpos ``Serial``) opens
``.device_path``.

States (changeable at any time, from any thread):

=================  ======================  ==========================================
state              prints?                 DLE EOT 1 / 2 / 3 / 4 answers
=================  ======================  ==========================================
``online``         yes                     12 / 12 / 12 / 12
``paper_near_end`` yes                     12 / 12 / 12 / 1E
``paper_out``      no (data discarded)     1A / 32 / 12 / 72
``cover_open``     no (data discarded)     1A / 16 / 12 / 12
``offline``        no (data discarded)     1A / 12 / 12 / 12
``error``          no (data discarded)     1A / 52 / 1A / 12  (an autocutter error)
``silent``         yes                     no answer at all
=================  ======================  ==========================================

Going into a state that does not print ends the document being printed
without a cut: it lands in ``partial_documents``, as does whatever was printed
when a connection ends before its cut. Only cut paper is in ``documents``.

Run one by hand (for trying a kiosk against it)::

    python -m drivers.twins.virtual_printer --port 9100 --png-dir /tmp/tickets
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import struct
import sys
import threading
import tty
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from drivers.twins.escpos_decode import DOTS_PER_LINE, ControlEvent, EscPosDecoder, PrintedDocument

__all__ = ["STATES", "VirtualPrinter", "VirtualSerialPrinter", "status_answer"]

STATES = ("online", "paper_near_end", "paper_out", "cover_open", "offline", "error", "silent")
NOT_PRINTING = frozenset({"paper_out", "cover_open", "offline", "error"})

_FIXED_BITS = 0x12  # bits 1 and 4 are always set in a DLE EOT answer


def status_answer(state: str, n: int) -> bytes | None:
    """The byte a printer in ``state`` sends for ``DLE EOT n`` (None: it sends nothing)."""
    if state == "silent" or n not in (1, 2, 3, 4):
        return None
    value = _FIXED_BITS
    if n == 1 and state in NOT_PRINTING:
        value |= 0x08  # offline
    elif n == 2:
        value |= {"cover_open": 0x04, "paper_out": 0x20, "error": 0x40}.get(state, 0)
    elif n == 3 and state == "error":
        value |= 0x08  # autocutter error
    elif n == 4:
        value |= {"paper_near_end": 0x0C, "paper_out": 0x60}.get(state, 0)
    return bytes([value])


def _transmit_status_answer(state: str, n: int) -> bytes | None:
    """``GS r n``: 1/49 paper sensor (near end bits 0-1, paper end bits 2-3), 2/50 drawer."""
    if state == "silent":
        return None
    if n in (1, 49):
        return bytes([{"paper_near_end": 0x03, "paper_out": 0x0F}.get(state, 0)])
    if n in (2, 50):
        return b"\x00"
    return None


class _PrinterTwin:
    """State, decoder and bookkeeping shared by the TCP and the pty printer."""

    def __init__(
        self,
        state: str = "online",
        *,
        paper_mm: int = 80,
        chinese_default: bool = False,
        on_document: Callable[[PrintedDocument], None] | None = None,
    ) -> None:
        self._check_state(state)
        self._state = state
        self.paper_mm = paper_mm
        self.on_document = on_document
        self._cond = threading.Condition()
        self._decoder = EscPosDecoder(
            paper_width=DOTS_PER_LINE.get(paper_mm, 576),
            on_control=self._on_control,
            chinese_default=chinese_default,
        )
        self._raw = bytearray()
        self._answers: list[bytes] = []
        self._status_queries = 0
        self._thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._stopping = False

    # ---- state

    @staticmethod
    def _check_state(state: str) -> None:
        if state not in STATES:
            raise ValueError(f"unknown printer state {state!r}; one of {', '.join(STATES)}")

    @property
    def state(self) -> str:
        with self._cond:
            return self._state

    @state.setter
    def state(self, value: str) -> None:
        self._check_state(value)
        with self._cond:
            self._state = value
            if value in NOT_PRINTING:
                self._decoder.abandon()  # the paper stops here, uncut
            self._cond.notify_all()

    # ---- what was received and printed (copies, safe to read from any thread)

    @property
    def documents(self) -> list[PrintedDocument]:
        with self._cond:
            return list(self._decoder.documents)

    @property
    def partial_documents(self) -> list[PrintedDocument]:
        with self._cond:
            return list(self._decoder.partial_documents)

    @property
    def raw(self) -> bytes:
        with self._cond:
            return bytes(self._raw)

    @property
    def status_queries(self) -> int:
        """How many ``DLE EOT n`` status queries arrived (answered or not)."""
        with self._cond:
            return self._status_queries

    @property
    def control_events(self) -> list[ControlEvent]:
        with self._cond:
            return list(self._decoder.control_events)

    def wait_for_documents(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``n`` cut documents were printed; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._decoder.documents) >= n, timeout)

    def wait_for_status_queries(self, n: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._status_queries >= n, timeout)

    def wait_for_partial_documents(self, n: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self._decoder.partial_documents) >= n, timeout)

    def clear(self) -> None:
        """Forget what was printed and received (the modes the printer is in stay)."""
        with self._cond:
            self._decoder.documents.clear()
            self._decoder.partial_documents.clear()
            self._decoder.control_events.clear()
            self._raw.clear()
            self._status_queries = 0

    # ---- the byte path

    def _on_control(self, event: ControlEvent) -> None:
        # Called by the decoder, inside _receive, with the lock held.
        answer = None
        if event.command == "DLE EOT":
            self._status_queries += 1
            answer = status_answer(self._state, event.n)
        elif event.command == "GS r":
            answer = _transmit_status_answer(self._state, event.n)
        if answer:
            self._answers.append(answer)

    def _receive(self, data: bytes) -> bytes:
        """Feed received bytes; return the answers to send back (in order)."""
        with self._cond:
            self._raw += data
            self._decoder.discarding = self._state in NOT_PRINTING
            printed = self._decoder.feed(data)
            answers, self._answers = b"".join(self._answers), []
            self._cond.notify_all()
        self._announce(printed)
        return answers

    def _end_of_stream(self) -> None:
        with self._cond:
            self._decoder.end_of_stream()
            self._cond.notify_all()

    def _announce(self, printed: list[PrintedDocument]) -> None:
        if self.on_document is not None:
            for doc in printed:
                self.on_document(doc)

    # ---- life cycle

    def _start_thread(self, name: str) -> None:
        self._stopping = False
        # stop() wakes the serving thread out of select() through this pair: no polling.
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _stop_thread(self) -> None:
        self._stopping = True
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Self:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class VirtualPrinter(_PrinterTwin):
    """A network receipt printer on ``host:port`` (``port=0``: a free port, read ``.port`` after start)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, state: str = "online", **kwargs: Any) -> None:
        super().__init__(state, **kwargs)
        self.host = host
        self.port = port
        self.connections = 0
        self._listener: socket.socket | None = None
        self._drop_after: int | None = None
        self._drop_after_cut = False

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def drop_next_connection_after(self, n_bytes: int) -> None:
        """Reset the connection after ``n_bytes`` more bytes (of the current job, or the next one).

        Bytes past that point never reach the printer; what was printed without
        its cut is kept in ``partial_documents``.
        """
        with self._cond:
            self._drop_after = max(0, n_bytes)

    def drop_next_connection_after_cut(self) -> None:
        """Reset the connection right after the next cut, before answering anything that follows.

        The ticket is on paper, whole, but the sender never hears the printer
        confirm it: the ambiguous case where an at-least-once sender prints twice.
        """
        with self._cond:
            self._drop_after_cut = True

    def start(self) -> VirtualPrinter:
        self._listener = socket.create_server((self.host, self.port), backlog=16)
        self.port = self._listener.getsockname()[1]
        self._start_thread(f"virtual-printer:{self.port}")
        return self

    def stop(self) -> None:
        self._stop_thread()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _serve(self) -> None:
        listener, wake = self._listener, self._wake_r
        assert listener is not None and wake is not None
        while not self._stopping:
            ready, _, _ = select.select([listener, wake], [], [])
            if wake in ready:
                return
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with self._cond:
                self.connections += 1
            self._handle(conn, wake)

    def _handle(self, conn: socket.socket, wake: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        dropped = False
        try:
            while not self._stopping:
                ready, _, _ = select.select([conn, wake], [], [])
                if wake in ready:
                    return
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                with self._cond:
                    if self._drop_after is not None:
                        if len(data) >= self._drop_after:
                            data, dropped = data[: self._drop_after], True
                            self._drop_after = None
                        else:
                            self._drop_after -= len(data)
                with self._cond:
                    cuts_before = len(self._decoder.documents)
                answers = self._receive(data) if data else b""
                with self._cond:
                    if self._drop_after_cut and len(self._decoder.documents) > cuts_before:
                        self._drop_after_cut, dropped = False, True
                if dropped:
                    # SO_LINGER 0: close() sends a reset, like a printer that lost power.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if answers:
                    try:
                        conn.sendall(answers)
                    except OSError:
                        return
        finally:
            conn.close()
            self._end_of_stream()


class VirtualSerialPrinter(_PrinterTwin):
    """The same printer on a pseudo-terminal: open ``.device_path`` with pyserial at any baud rate."""

    def __init__(self, state: str = "online", **kwargs: Any) -> None:
        super().__init__(state, **kwargs)
        self.device_path: str | None = None
        self._master: int | None = None
        self._slave: int | None = None

    def start(self) -> VirtualSerialPrinter:
        self._master, self._slave = os.openpty()
        # Raw mode: no echo, no newline translation. Keeping our own slave fd open
        # means the master never reads EIO when a client closes the port.
        tty.setraw(self._slave)
        self.device_path = os.ttyname(self._slave)
        self._start_thread(f"virtual-serial-printer:{self.device_path}")
        return self

    def stop(self) -> None:
        self._stop_thread()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._end_of_stream()

    def drop_next_connection_after(self, n_bytes: int) -> None:
        raise NotImplementedError("a serial line has no connection to drop; use VirtualPrinter")

    def _serve(self) -> None:
        master, wake = self._master, self._wake_r
        assert master is not None and wake is not None
        while not self._stopping:
            watch: list[int | socket.socket] = [master, wake]
            ready, _, _ = select.select(watch, [], [])
            if wake in ready:
                return
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            answers = self._receive(data)
            if answers:
                os.write(master, answers)


# --------------------------------------------------------------------------- by hand


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drivers.twins.virtual_printer",
        description="Run a virtual ESC/POS receipt printer; every cut ticket is saved as a PNG. "
        "Type a state name (online, paper_out, ...) and Enter to change the printer's state.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--png-dir", type=Path, default=Path("printed"))
    parser.add_argument("--state", default="online", choices=STATES)
    parser.add_argument("--paper-mm", type=int, default=80, choices=sorted(DOTS_PER_LINE))
    parser.add_argument("--serial", action="store_true", help="a pty instead of TCP (prints its path)")
    args = parser.parse_args(argv)
    args.png_dir.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 1_000_000))

    def save(doc: PrintedDocument) -> None:
        path = doc.to_png(args.png_dir / f"ticket-{next(counter):04d}.png")
        first = next((line.text for line in doc.lines if line.text.strip()), "")
        qr = f" QR={doc.qr_payloads}" if doc.qr_payloads else ""
        print(f"printed {path} ({len(doc.lines)} lines) {first!r}{qr}", flush=True)

    printer: _PrinterTwin
    if args.serial:
        printer = VirtualSerialPrinter(args.state, paper_mm=args.paper_mm, on_document=save).start()
        where = printer.device_path
    else:
        printer = VirtualPrinter(args.host, args.port, args.state, paper_mm=args.paper_mm, on_document=save)
        printer.start()
        where = f"{printer.host}:{printer.port}"
    print(f"virtual printer on {where}, state {printer.state}, tickets to {args.png_dir}/", flush=True)
    try:
        for line in sys.stdin:
            wanted = line.strip()
            if not wanted:
                continue
            try:
                printer.state = wanted
                print(f"state: {wanted}", flush=True)
            except ValueError as exc:
                print(exc, flush=True)
        threading.Event().wait()  # stdin closed: keep serving until interrupted
    except KeyboardInterrupt:
        pass
    finally:
        printer.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
