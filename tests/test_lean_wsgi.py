"""The hub's lean WSGI handler answers exactly as gevent's own (server/lean_wsgi.py).

Header blocks are read by both parsers and compared on everything pywsgi asks of
them; whole requests go to two servers on the same app, one with gevent's
handler and one with the hub's, and the bytes that come back are compared.
"""

from __future__ import annotations

import http.client
import io
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import gevent
import pytest
from flask import Flask, request
from gevent import pywsgi, socket

from server.api.routes import host_url
from server.lean_wsgi import MAX_HEADERS, ONE_SEND, HttpDate, LeanAnswers, RequestHead, read_head
from server.serve import no_delay_handler

BODY = b'{"service": "PAY"}'

PLAIN = [
    b"Host: 127.0.0.1:5000\r\nAuthorization: Bearer qd_abc\r\nContent-Type: application/json\r\n"
    b"Content-Length: 18\r\n\r\n",
    b"host: x\r\ncontent-length: 0\r\nCONNECTION: close\r\n\r\n",
    b"X-Empty:\r\nX-Spaces:    padded value   \r\nX-Tab:\tvalue\twith tab\r\n\r\n",
    b"Cookie: a=1\r\nCookie: b=2\r\nAccept: */*\r\n\r\n",  # a repeated header: the first wins in get()
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    b"X-Odd: a:b:c\r\n\r\n",
    b"\r\n",  # no headers at all
]

UNUSUAL = [
    b"Host: x\r\nX-Folded: first\r\n  second\r\n\r\n",  # obsolete line folding
    b"Host: x\r\nX-Latin: caf\xe9\r\n\r\n",  # a byte outside ASCII
    b"Host: x\r\nno colon here\r\nAccept: */*\r\n\r\n",
    b"Host: x\nAccept: */*\n\n",  # bare LF line ends
    b"Host: x\r\nX-Ctl: a\x0bb\r\n\r\n",  # a vertical tab: a line break to the email parser
    b"Host: x\r\nX-CR: a\rb\r\n\r\n",
    b"From nobody\r\nHost: x\r\n\r\n",
    b"Host x: y\r\n\r\n",  # a blank in the name
    b"Host: x\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n",  # longer than http.client's line limit
    b"Host: x\r\nAccept: */*",  # the connection ends mid-head
]

NAMES = [
    "host",
    "content-type",
    "Content-Length",
    "connection",
    "cookie",
    "x-empty",
    "x-spaces",
    "x-tab",
    "transfer-encoding",
    "x-folded",
    "x-latin",
    "accept",
    "x-odd",
    "x-ctl",
    "x-cr",
    "x-long",
    "missing",
]


def both(head: bytes) -> tuple[Any, Any, bytes, bytes]:
    """What the hub's reader and gevent's make of ``head`` (followed by a body), and what each left unread."""
    ours_file, theirs_file = io.BytesIO(head + BODY), io.BytesIO(head + BODY)
    ours = read_head(ours_file, pywsgi.headers_factory)
    theirs = pywsgi.headers_factory(theirs_file)
    return ours, theirs, ours_file.read(), theirs_file.read()


def answers(message: Any) -> dict[str, Any]:
    """Everything pywsgi reads from a headers object."""
    seen: dict[str, Any] = {
        "status": message.status,
        "lines": list(message.headers),
        "typeheader": message.typeheader,
        "getheader": message.getheader("content-length"),
    }
    for name in NAMES:
        seen[name] = (message.get(name), message.get(name, "default"))
    del message["content-length"]
    seen["after_del"] = (list(message.headers), message.get("content-length"))
    return seen


@pytest.mark.parametrize("head", PLAIN, ids=range(len(PLAIN)))
def test_plain_heads_are_read_directly_and_the_same(head: bytes) -> None:
    ours, theirs, ours_rest, theirs_rest = both(head)
    assert isinstance(ours, RequestHead)
    assert answers(ours) == answers(theirs)
    assert ours_rest == theirs_rest


ENVIRON_HEADS = [
    *PLAIN,
    b"X_Under: dropped\r\nX-Dash-Name: kept\r\nContent-Type: text/plain\r\ncontent-length: 3\r\n\r\n",
    b"Accept: a\r\naccept: b\r\nX-Trail: value \t \r\n\r\n",  # repeated: both, in order
]


@pytest.mark.parametrize("head", ENVIRON_HEADS, ids=range(len(ENVIRON_HEADS)))
def test_plain_heads_give_the_environ_gevent_gives(head: bytes) -> None:
    ours, theirs, _, _ = both(head)
    assert isinstance(ours, RequestHead)
    standard = list(pywsgi.WSGIHandler._headers(SimpleNamespace(headers=theirs)))  # noqa: SLF001
    assert ours.environ_items() == standard
    assert list(LeanAnswers._headers(SimpleNamespace(headers=ours))) == standard  # noqa: SLF001


@pytest.mark.parametrize("head", UNUSUAL, ids=range(len(UNUSUAL)))
def test_unusual_heads_go_to_the_standard_parser(head: bytes) -> None:
    ours, theirs, ours_rest, theirs_rest = both(head)
    assert not isinstance(ours, RequestHead)
    assert answers(ours) == answers(theirs)
    assert ours_rest == theirs_rest


def test_too_many_headers_fail_as_before() -> None:
    head = b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"
    with pytest.raises(http.client.HTTPException, match="got more than 100 headers"):
        read_head(io.BytesIO(head), pywsgi.headers_factory)
    at_limit = b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS)) + b"\r\n"
    assert isinstance(read_head(io.BytesIO(at_limit), pywsgi.headers_factory), RequestHead)


def test_the_date_is_formatted_once_a_second_as_pywsgi_does() -> None:
    now = [1_764_590_400.25]
    date = HttpDate(lambda: now[0])
    first = date()
    assert first == pywsgi.format_date_time(now[0])
    now[0] += 0.5
    assert date() is first  # the same second: not formatted again
    for moment in (1_764_590_401.0, 951_782_400.0, 2_000_000_000.999):
        now[0] = moment
        assert date() == pywsgi.format_date_time(moment)


# -- whole requests: gevent's handler and the hub's, side by side --------------------------------


def app() -> Flask:
    flask_app = Flask("lean-wsgi-test")

    @flask_app.post("/echo")
    def echo() -> Any:
        return {"json": request.get_json(), "headers": dict(request.headers)}, 201

    @flask_app.get("/big")
    def big() -> Any:
        return "x" * (ONE_SEND + 1)

    @flask_app.get("/stream")
    def stream() -> Any:
        return iter([b"one ", b"two"])  # no length: chunked

    @flask_app.get("/empty")
    def empty() -> Any:
        return "", 204

    return flask_app


SENDS: list[int] = []


class CountingLean(no_delay_handler()):  # type: ignore[misc]
    """The hub's handler, counting its sends."""

    def _sendall(self, data: Any) -> None:
        SENDS.append(len(data))
        super()._sendall(data)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[int, int]]:
    flask_app = app()
    plain = pywsgi.WSGIServer(("127.0.0.1", 0), flask_app, log=None)
    lean = pywsgi.WSGIServer(("127.0.0.1", 0), flask_app, log=None, handler_class=CountingLean)
    plain.start()
    lean.start()
    try:
        yield plain.server_port, lean.server_port
    finally:
        plain.stop()
        lean.stop()


def exchange(port: int, raw: bytes) -> bytes:
    """Send raw request bytes on one connection (its last request asks to close it); every byte back,
    each Date line blanked (the two servers may answer in different seconds).

    gevent's sockets, so the servers (greenlets of this thread) run while the client waits.
    """
    received = b""
    with socket.create_connection(("127.0.0.1", port)) as sock, gevent.Timeout(5):
        sock.sendall(raw)
        while chunk := sock.recv(65536):
            received += chunk
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: <date>\r\n", received)


POST = b"POST /echo HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: 18\r\n"
REQUESTS = [
    (POST + b"Connection: close\r\n\r\n" + BODY, 1),
    (POST + b"Connection: close\r\nX-Folded: a\r\n b\r\n\r\n" + BODY, 1),
    (b"GET /big HTTP/1.1\r\nHost: hub\r\n\r\nGET /stream HTTP/1.1\r\nHost: hub\r\n\r\n"
     b"GET /empty HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n", 3),
    (b"HEAD /big HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n", 1),
    (b"GET /missing HTTP/1.0\r\n\r\n", 1),
    (b"GET /big HTTP/1.1\r\nHost: hub\r\nX-Bad: \x01\r\nConnection: close\r\n\r\n", 1),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "count"), REQUESTS, ids=range(len(REQUESTS)))
def test_the_hub_handler_answers_byte_for_byte_as_gevents(
    servers: tuple[int, int], raw: bytes, count: int
) -> None:
    plain, lean = servers
    ours = exchange(lean, raw)
    assert ours == exchange(plain, raw)
    assert ours.count(b"HTTP/1.") == count


def test_a_small_answer_leaves_in_one_send(servers: tuple[int, int]) -> None:
    _, lean = servers
    SENDS.clear()
    answer = exchange(lean, REQUESTS[0][0])
    assert answer.startswith(b"HTTP/1.1 201 CREATED\r\n")
    assert len(SENDS) == 1
    SENDS.clear()
    exchange(lean, b"GET /big HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
    assert len(SENDS) == 2  # a big answer: headers, then the body, as before


def test_a_mixed_in_handler_keeps_pywsgis_order() -> None:
    handler = no_delay_handler()
    assert handler.__mro__.index(LeanAnswers) < handler.__mro__.index(pywsgi.WSGIHandler)


@pytest.mark.parametrize(
    ("scheme", "host"),
    [("http", "127.0.0.1:5000"), ("https", "hall.example"), ("http", "xn--fiq228c.example")],
)
def test_host_url_is_werkzeugs(scheme: str, host: str) -> None:
    flask_app = Flask("host-url-test")
    with flask_app.test_request_context("/", base_url=f"{scheme}://{host}/"):
        assert host_url(request.scheme, request.host) == request.host_url.rstrip("/")
