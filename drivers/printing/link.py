"""The byte pipe to one printer: ``send``, ``recv(deadline)``, ``drain``.

python-escpos writes the ticket (:mod:`.layout`); what it does not give is a
way to *read* that is the same on every transport, with a deadline, without
reaching into its private ``_device``. A link wraps the transport a connector
opened (a socket, a pyserial port, a pyusb device, a file) and offers the three
calls the status query needs (:func:`.status.query_status`, written once), and
that the spooler uses to send a job's bytes.

Every call either does its job or raises:

* :class:`LinkTimeout` (a ``TimeoutError``): nothing came back before the deadline;
* :class:`LinkClosed` (a ``ConnectionError``): the transport is gone (hung up,
  unplugged, closed under us): reopen it.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import IO, TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import serial
    import usb.core

#: The most bytes one ``recv`` returns (a USB packet; printers answer one byte a query).
RECV_SIZE = 64


class LinkTimeout(TimeoutError):
    """Nothing arrived before the deadline."""


class LinkClosed(ConnectionError):
    """The transport ended: the printer hung up, was unplugged, or the link was closed."""


@runtime_checkable
class PrinterLink(Protocol):
    """What the spooler and the status query need from a transport."""

    #: Whether answers can come back (False: a file, a USB printer without an IN endpoint).
    answers: bool

    def send(self, data: bytes) -> None:
        """Write every byte (or raise :class:`LinkClosed`)."""

    def recv(self, deadline: float) -> bytes:
        """At least one byte that came by ``deadline`` (``time.monotonic()``), at most :data:`RECV_SIZE`."""

    def drain(self) -> None:
        """Discard bytes nobody asked for yet (a late answer to an earlier query)."""


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise LinkTimeout("deadline passed")
    return left


class SocketLink:
    """A TCP connection (port 9100). The socket's own timeout is restored after each read."""

    answers = True

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:  # a timeout on send is a stuck printer too: the job is not confirmed
            raise LinkClosed(f"send failed: {exc}") from exc

    def recv(self, deadline: float) -> bytes:
        left = _remaining(deadline)
        try:
            previous = self.sock.gettimeout()
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(RECV_SIZE)
            finally:
                with contextlib.suppress(OSError):
                    self.sock.settimeout(previous)
        except TimeoutError:
            raise LinkTimeout("no answer") from None
        except OSError as exc:
            raise LinkClosed(f"read failed: {exc}") from exc
        if not data:
            raise LinkClosed("the printer closed the connection")
        return data

    def drain(self) -> None:
        try:
            previous = self.sock.gettimeout()
            self.sock.setblocking(False)
            try:
                while True:
                    try:
                        if not self.sock.recv(RECV_SIZE):
                            raise LinkClosed("the printer closed the connection")
                    except BlockingIOError:
                        return
            finally:
                with contextlib.suppress(OSError):
                    self.sock.settimeout(previous)
        except LinkClosed:
            raise
        except OSError as exc:
            raise LinkClosed(f"read failed: {exc}") from exc


class SerialLink:
    """A serial port (pyserial). Its read timeout is set per read and restored."""

    answers = True

    def __init__(self, port: serial.Serial) -> None:
        self.port = port

    def _open_port(self) -> serial.Serial:
        if not self.port.is_open:
            raise LinkClosed("the port is closed")
        return self.port

    def send(self, data: bytes) -> None:
        import serial

        try:
            self._open_port().write(data)
        except (serial.SerialException, OSError) as exc:
            raise LinkClosed(f"write failed: {exc}") from exc

    def recv(self, deadline: float) -> bytes:
        import serial

        port = self._open_port()
        left = _remaining(deadline)
        previous = port.timeout
        try:
            port.timeout = left
            data: bytes = port.read(1)
            waiting = port.in_waiting
            if data and waiting:
                data += port.read(min(waiting, RECV_SIZE - 1))
        except (serial.SerialException, OSError) as exc:
            raise LinkClosed(f"read failed: {exc}") from exc
        finally:
            with contextlib.suppress(serial.SerialException, OSError, ValueError):
                port.timeout = previous
        if not data:  # a serial line cannot tell silence from absence: silence it is
            raise LinkTimeout("no answer")
        return data

    def drain(self) -> None:
        import serial

        try:
            self._open_port().reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise LinkClosed(f"read failed: {exc}") from exc


class UsbLink:
    """A USB printer (pyusb): bulk OUT for bytes, bulk IN (if it has one) for answers."""

    def __init__(
        self, device: usb.core.Device, out_ep: int, in_ep: int | None, timeout_ms: int, answers: bool
    ) -> None:
        self.device = device
        self.out_ep = out_ep
        self.in_ep = in_ep
        self.timeout_ms = timeout_ms
        self.answers = answers and bool(in_ep)

    def send(self, data: bytes) -> None:
        import usb.core

        try:
            self.device.write(self.out_ep, data, self.timeout_ms)
        except (usb.core.USBError, OSError) as exc:
            raise LinkClosed(f"write failed: {exc}") from exc

    def recv(self, deadline: float) -> bytes:
        import usb.core

        if not self.in_ep:
            raise LinkTimeout("no IN endpoint: the printer cannot answer")
        left_ms = max(1, int(_remaining(deadline) * 1000))
        try:
            data = self.device.read(self.in_ep, RECV_SIZE, left_ms)
        except usb.core.USBTimeoutError:
            raise LinkTimeout("no answer") from None
        except (usb.core.USBError, OSError) as exc:
            raise LinkClosed(f"read failed: {exc}") from exc
        if not len(data):
            raise LinkTimeout("an empty answer")
        return bytes(data)

    def drain(self) -> None:
        """Nothing to do: a USB printer answers only what it is asked, one packet each."""


class FileLink:
    """A file or device file (``/dev/usb/lp0``): bytes go out, nothing comes back."""

    answers = False

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file

    def send(self, data: bytes) -> None:
        try:
            self.file.write(data)
            self.file.flush()
        except (OSError, ValueError) as exc:  # ValueError: the file was closed under us
            raise LinkClosed(f"write failed: {exc}") from exc

    def recv(self, deadline: float) -> bytes:
        raise LinkTimeout("a file cannot answer")

    def drain(self) -> None:
        """Nothing can arrive."""


class ClosedLink:
    """The link of a printer that was closed: every call fails, as the transport would."""

    def __init__(self, answers: bool) -> None:
        self.answers = answers

    def send(self, data: bytes) -> None:
        raise LinkClosed("the printer was closed")

    def recv(self, deadline: float) -> bytes:
        raise LinkClosed("the printer was closed")

    def drain(self) -> None:
        raise LinkClosed("the printer was closed")
