"""The hub's WSGI handler, lean where every request pays: reading headers, the Date, the send, the log.

A kiosk's ticket costs the hub well under a millisecond of CPU; what gevent's
``pywsgi`` does around each request was a third of it (py-spy, ``bench/issue.py``).
:class:`LeanAnswers` is mixed into the hub's handler (``server/serve.py``) and
changes no byte of what goes over the wire.

**Headers.** gevent's WSGI server reads every request's headers with ``http.client.parse_headers``,
which hands the lines to the ``email`` package's feed parser: a general MIME parser
(line splitting on every Unicode line break, header folding, defects, policies) that
cost about a sixth of the hub's CPU per ticket in ``bench/issue.py`` (py-spy, 8
clients). A kiosk, a console or a browser sends plain ``Name: value`` lines, and
for those the answer is simple: the name, and the value without its leading blanks.

:func:`read_head` reads the lines itself, under the same limits as
``http.client`` (65,536 bytes a line, 100 headers), and builds :class:`RequestHead`
when every line is plain; at the first line that is not (folding, a byte outside
printable ASCII, a line without a colon or without CRLF, a limit reached) it hands
the lines read so far, followed by the rest of the stream, to gevent's own
``headers_factory``, so every unusual request is parsed exactly as before.
``tests/test_lean_wsgi.py`` checks both give the same answers.

**The answer.** pywsgi formats ``Date`` for every answer (once a second here), sends
the status line and headers, then the body, in two sends (one here, for a body up to
``ONE_SEND`` bytes), and formats an access-log line that, with logging off, it
writes nowhere (not formatted here then).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any, BinaryIO

from gevent import pywsgi

#: ``http.client``'s limits: longer lines and more headers are its errors to report.
MAX_LINE = 65536
MAX_HEADERS = 100
END_OF_HEAD = (b"\r\n", b"\n", b"")

#: A plain header line: a token name (printable ASCII but ':'), a colon, blanks, a value of
#: printable ASCII and tabs, CRLF. What the email parser reads the same way, and nothing else.
PLAIN_LINE = re.compile(rb"([\x21-\x39\x3b-\x7e]+):[ \t]*([\x20-\x7e\t]*)\r\n")


class RequestHead:
    """The request's headers, with the part of ``http.client.HTTPMessage``'s interface pywsgi uses."""

    __slots__ = ("_first", "_headers")

    status = ""  # no parse error (pywsgi refuses the request when this is set)

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self._headers = headers
        # Each name's first value by its lower case: pywsgi and the handler ask ~8 times a request.
        self._first = {key.lower(): value for key, value in reversed(headers)}

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (any case), like ``email.message.Message.get``."""
        return self._first.get(name.lower(), default)

    getheader = get

    def __delitem__(self, name: str) -> None:
        """Remove every ``name`` header (none there is no error, as in ``Message``)."""
        wanted = name.lower()
        self._headers = [(k, v) for k, v in self._headers if k.lower() != wanted]
        self._first.pop(wanted, None)

    @property
    def headers(self) -> Iterator[str]:
        """The lines as pywsgi reads them into the WSGI environ."""
        for key, value in self._headers:
            yield f"{key}: {value}\r\n"

    @property
    def typeheader(self) -> str | None:
        return self._first.get("content-type")

    def environ_items(self) -> list[tuple[str, str]]:
        """``(HTTP_NAME, value)`` for the environ, as pywsgi's ``_headers`` makes them from ``headers``.

        pywsgi formats each header as a line and splits it again; plain lines need neither.
        A name with ``_`` is dropped (it could pose as another header), ``Content-Type`` and
        ``Content-Length`` go in as ``CONTENT_*`` without the prefix, the value is stripped.
        """
        return [
            (environ_key, value.strip())
            for key, value in self._headers
            if "_" not in key and (environ_key := "HTTP_" + key.replace("-", "_").upper()) not in _UNPREFIXED
        ]


#: Headers pywsgi puts in the environ under their CGI name only.
_UNPREFIXED = frozenset({"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"})


class _Replay:
    """The lines already read, then the rest of the stream: what the standard parser reads instead."""

    def __init__(self, lines: list[bytes], rest: BinaryIO) -> None:
        self._lines = lines
        self._rest = rest

    def readline(self, limit: int = -1) -> bytes:
        if self._lines:
            return self._lines.pop(0)
        return self._rest.readline(limit)


def read_head(rfile: BinaryIO, general: Callable[..., Any]) -> Any:
    """The headers of the request being read from ``rfile``; ``general(stream)`` parses unusual ones."""
    lines: list[bytes] = []
    headers: list[tuple[str, str]] = []
    match = PLAIN_LINE.fullmatch
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if line in END_OF_HEAD:
            return RequestHead(headers)
        lines.append(line)
        plain = match(line)
        if plain is None or len(line) > MAX_LINE or len(lines) > MAX_HEADERS:
            return general(_Replay(lines, rfile))
        headers.append((plain[1].decode("ascii"), plain[2].decode("ascii")))


#: Bytes of body up to which an answer is sent in one piece with its headers.
ONE_SEND = 16384


class HttpDate:
    """``Date``'s value for now, formatted once per second."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        now = int(self._clock())
        if now != self._second:
            self._value = formatdate(now, usegmt=True).encode("latin-1")
            self._second = now
        return self._value


http_date = HttpDate()


class LeanAnswers(pywsgi.WSGIHandler):
    """pywsgi's handler, the same bytes for less CPU (mixed in before ``pywsgi.WSGIHandler``)."""

    def MessageClass(self, rfile: Any, *_: Any) -> Any:
        return read_head(rfile, pywsgi.headers_factory)

    def _headers(self) -> Iterator[tuple[str, str]]:
        head = self.headers
        if type(head) is RequestHead:
            return iter(head.environ_items())
        return super()._headers()  # the standard parser's message

    def finalize_headers(self) -> None:
        if self.provided_date is None:  # type: ignore[has-type]  # pywsgi sets it per request
            self.response_headers.append((b"Date", http_date()))
            self.provided_date = True
        super().finalize_headers()

    def _write_with_headers(self, data: bytes) -> None:
        # A small answer (a ticket's 201, an API refusal) leaves in one send with its
        # headers: half the system calls, and nothing for Nagle to hold back.
        if len(data) > ONE_SEND:
            super()._write_with_headers(data)
            return
        self.headers_sent = True
        self.finalize_headers()
        if self.response_use_chunked:  # known only now (an answer of unknown length)
            self._sendall(self._head())
            self._write(data)
            return
        self._sendall(self._head() + data)

    def _head(self) -> bytearray:
        """The status line and the headers, as pywsgi writes them."""
        head = bytearray(b"HTTP/1.1 ")
        head += self.status
        head += b"\r\n"
        for header, value in self.response_headers:
            head += header
            head += b": "
            head += value
            head += b"\r\n"
        head += b"\r\n"
        return head

    def log_request(self) -> None:
        if not isinstance(self.server.log, pywsgi._NoopLog):  # noqa: SLF001 - logging off: no line to format
            super().log_request()
