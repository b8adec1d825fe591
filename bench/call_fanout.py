"""Call-next → ``ticket_called`` at N connected lobby screens: the fan-out latency.

The driver (this process) starts a real hub, issues tickets, connects N display
clients from separate worker processes, then makes ``--calls`` calls through
``POST /api/v1/counters/1/call-next``, one at a time: the next call is made when
every client has the previous ``ticket_called`` (or after ``--timeout``).

The clients are cheap on purpose, so that what is measured is the hub: each is a
raw asyncio connection speaking Engine.IO v4 / Socket.IO v5 over WebSocket
directly (``/socket.io/?EIO=4&transport=websocket``, open packet ``0{…}``,
``40{"token": …}`` → ``40{…}``, ping ``2`` → pong ``3``, events ``42[…]``), with
the WebSocket framing done by the sans-I/O protocol of the ``websockets``
package. By default each client offers permessage-deflate, as a browser does,
so the hub compresses every frame for every screen (``--no-deflate`` to compare).

A client stamps an arrival when the bytes of the frame reach its process
(``time.monotonic()``, one system-wide clock); the driver stamps the send just
before it writes the POST. Latency = arrival - send, over every (call, client).

    .venv/bin/python bench/call_fanout.py                # N = 100, then N = 1000
    .venv/bin/python bench/call_fanout.py --clients 1000 --calls 30

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import requests
from _common import (
    bench_hub,
    cpu_seconds,
    emit,
    loadavg,
    log,
    ms,
    percentile,
    raise_nofile,
    rss_kib,
    start_profiler,
)

from tests.support import masked_frame  # importable once _common has put the repository on the path

TARGET_P99_MS_AT_1000 = 100.0
#: The hub's VmRSS with 1,000 screens connected, at most: 150 MB (as 150,000 KiB, the stricter reading).
TARGET_RSS_KIB_AT_1000 = 150_000
COUNTER = 1
#: The ticket's id is the first "id" in a ticket_called packet: {"ticket": {"id": …
TICKET_ID = re.compile(rb'"id":\s*"([^"]+)"')
CALLED_PREFIX = b'42["ticket_called"'


# -- the client side (worker process) ------------------------------------------------------------


#: RFC 6455 §1.3: the server proves it read the key by hashing it with this GUID.
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CONTINUATION, CLOSE, PING = 0x1, 0x0, 0x8, 0x9


class ScreenClient(asyncio.Protocol):
    """One lobby screen: a WebSocket speaking Engine.IO/Socket.IO, stamping ticket_called arrivals.

    The WebSocket is done here, not by a library: the handshake (the key's accept
    checked), every frame's header read (length, FIN, opcode, no mask from a server)
    and its payload taken, fragments joined, permessage-deflate inflated if the hub
    accepted it, pings and close answered; frames sent are masked, as a client's
    must be. The ``websockets`` package's sans-I/O protocol did the same at ~2.5 times
    the CPU per message, CPU these screens take from the hub's machine (bench/README.md).
    """

    def __init__(self, worker: Worker, path: str, deflate: bool) -> None:
        self.worker = worker
        self.path = path
        self.offer_deflate = deflate
        self.key = base64.b64encode(os.urandom(16))
        self.transport: asyncio.Transport | None = None
        self.joined: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sio_connected = False
        self.open = False  # the handshake's 101 read
        self.buffer = b""
        self.partial: list[bytes] = []
        self.compressed = False  # the message being joined came compressed (RSV1 on its first frame)
        self.inflater: Any = None  # permessage-deflate, when the hub accepted it
        self.fresh_context = False  # server_no_context_takeover: a new inflater per message

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        host = self.path.split("/")[2]
        resource = "/" + self.path.split("/", 3)[3]
        extension = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        self.transport.write(
            b"GET " + resource.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + self.key + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n" + (extension if self.offer_deflate else b"") + b"\r\n"
        )

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.worker.wire_bytes += len(data)
        buf = self.buffer + data if self.buffer else data
        pos = 0
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buf
                return
            if not self._handshake(buf[:end]):
                return
            pos = end + 4
        size_all = len(buf)
        while size_all - pos >= 2:
            first, second = buf[pos], buf[pos + 1]
            if second & 0x80:
                self._fail("a masked frame from the server")
                return
            size, head = second & 0x7F, 2
            if size == 126:
                if size_all - pos < 4:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif size == 127:
                if size_all - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size_all - pos - head < size:
                break
            start = pos + head
            pos = start + size
            self._frame(first, buf[start:pos], now)
        self.buffer = buf[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.joined.done():
            self._fail(f"closed before joining: {exc!r}")
        elif self.sio_connected:
            self.sio_connected = False
            self.worker.lost(self)

    # WebSocket
    def _handshake(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest())
        if not lines[0].startswith(b"HTTP/1.1 101") or headers.get(b"sec-websocket-accept") != accept:
            self._fail(f"handshake: {lines[0]!r}")
            return False
        extensions = headers.get(b"sec-websocket-extensions", b"")
        if b"permessage-deflate" in extensions:
            self.inflater = zlib.decompressobj(-15)
            self.fresh_context = b"server_no_context_takeover" in extensions
        self.open = True
        return True

    def _frame(self, first: int, payload: bytes, now: float) -> None:
        opcode = first & 0x0F
        if opcode in (TEXT, CONTINUATION):
            if opcode == TEXT:
                self.compressed = bool(first & 0x40)
            if not first & 0x80:  # not FIN: more fragments follow
                self.partial.append(payload)
                return
            if self.partial:
                self.partial.append(payload)
                payload, self.partial = b"".join(self.partial), []
            if self.compressed:
                payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
                if self.fresh_context:
                    self.inflater = zlib.decompressobj(-15)
            self._message(payload, now)
        elif opcode == PING:
            self._send(0xA, payload)
        elif opcode == CLOSE:
            self._send(CLOSE, payload[:2])
            if self.transport:
                self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client's frame: FIN, masked (``tests.support.masked_frame``: a pong, a join, a close)."""
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(masked_frame(opcode, payload))

    # Engine.IO / Socket.IO
    def _message(self, message: bytes, now: float) -> None:
        if message.startswith(CALLED_PREFIX):
            found = TICKET_ID.search(message, 0, 512)
            self.worker.arrived(found.group(1).decode() if found else "?", now)
        elif message == b"2":  # Engine.IO ping
            self._send(TEXT, b"3")
        elif message.startswith(b"0{"):  # Engine.IO open: join the default namespace
            self._send(TEXT, b"40" + json.dumps({"token": self.worker.token}).encode())
        elif message.startswith(b"40"):
            self.sio_connected = True
            if not self.joined.done():
                self.joined.set_result(None)
        elif message.startswith(b"44"):
            self._fail(f"refused: {message[:200]!r}")

    def _fail(self, why: str) -> None:
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(why))
        if self.transport:
            self.transport.abort()

    def close(self) -> None:
        if self.transport:
            self.transport.abort()


class Worker:
    """A process holding many screens; talks to the driver in JSON lines on stdin/stdout."""

    def __init__(self, host: str, port: int, token: str, clients: int, deflate: bool) -> None:
        self.host, self.port, self.token = host, port, token
        self.wanted = clients
        self.deflate = deflate
        self.clients: list[ScreenClient] = []
        self.arrivals: dict[str, list[float]] = {}
        self.failures: list[str] = []
        self.lost_count = 0
        self.wire_bytes = 0  # everything the screens received, WebSocket framing included

    @staticmethod
    def say(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    def arrived(self, ticket_id: str, now: float) -> None:
        times = self.arrivals.setdefault(ticket_id, [])
        times.append(now)
        if len(times) == len(self.clients) - self.lost_count:
            self.say({"all": ticket_id})

    def lost(self, _client: ScreenClient) -> None:
        self.lost_count += 1

    async def connect_one(self, gate: asyncio.Semaphore) -> None:
        loop = asyncio.get_running_loop()
        path = f"ws://{self.host}:{self.port}/socket.io/?EIO=4&transport=websocket"
        async with gate:
            try:
                _, client = await asyncio.wait_for(
                    loop.create_connection(
                        lambda: ScreenClient(self, path, self.deflate), self.host, self.port
                    ),
                    30,
                )
                await asyncio.wait_for(client.joined, 30)
            except (TimeoutError, OSError, ConnectionError) as exc:
                self.failures.append(repr(exc))
                return
            self.clients.append(client)

    async def run(self) -> None:
        gate = asyncio.Semaphore(50)  # the hub's listen backlog is finite
        began = time.monotonic()
        await asyncio.gather(*(self.connect_one(gate) for _ in range(self.wanted)))
        self.say(
            {
                "ready": len(self.clients),
                "deflate_negotiated": sum(1 for c in self.clients if c.inflater is not None),
                "failed": len(self.failures),
                "failure_sample": self.failures[:3],
                "connect_s": round(time.monotonic() - began, 3),
            }
        )
        wire_at_ready = self.wire_bytes
        cpu_at_ready = time.process_time()
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "stop":
                break
        self.say(
            {
                "arrivals": self.arrivals,
                "lost": self.lost_count,
                "wire_bytes": self.wire_bytes - wire_at_ready,
                "cpu_s": time.process_time() - cpu_at_ready,
                "rss_kib": rss_kib(os.getpid()),
            }
        )
        for client in self.clients:
            client.close()


def worker_main(args: argparse.Namespace) -> None:
    raise_nofile(args.worker_clients + 256)
    asyncio.run(Worker(args.host, args.port, args.token, args.worker_clients, args.deflate).run())


# -- the driver ----------------------------------------------------------------------------------


class WorkerProcess:
    """A worker process and a thread that turns its stdout lines into queue items."""

    def __init__(self, index: int, port: int, token: str, clients: int, deflate: bool) -> None:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--token",
            token,
            "--worker-clients",
            str(clients),
        ]
        if not deflate:
            command.append("--no-deflate")
        self.index = index
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put({"eof": True})

    def next(self, key: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            item = self.lines.get(timeout=max(0.001, deadline - time.monotonic()))
            if key in item or "eof" in item:
                return item

    def stop(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        result = self.next("arrivals", 60)
        self.proc.wait(30)
        return result


def heard_by_all(workers: list[WorkerProcess], ticket_id: str, timeout: float) -> int:
    """Wait until every client process has heard ``ticket_id`` called; how many did not within ``timeout``."""
    deadline = time.monotonic() + timeout
    missed = 0
    for w in workers:
        try:
            while True:
                item = w.next("all", deadline - time.monotonic())
                if item.get("all") == ticket_id or "eof" in item:
                    break
        except queue.Empty:
            missed += 1
    return missed


def waiting_now(hub_url: str, token: str) -> int:
    """How many tickets wait in the hall now (the snapshot's services), for the record."""
    headers = {"Authorization": f"Bearer {token}"}
    snapshot = requests.get(f"{hub_url}/api/v1/queue", headers=headers, timeout=30)
    return sum(service["waiting"] for service in snapshot.json()["services"])


def run_fanout(
    clients: int,
    calls: int,
    warmup: int,
    procs: int,
    deflate: bool,
    timeout: float,
    profile: str | None = None,
    queue_length: int = 0,
    callgrind: str | None = None,
) -> dict:
    wrapper = (
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={callgrind}/cg.%p"]
        if callgrind
        else []
    )
    instructions = None
    with bench_hub(wrapper=wrapper, start_timeout=300 if callgrind else 30) as (hub, creds):
        pid = hub.proc.pid
        log(f"[{clients}] hub on {hub.url} (pid {pid})")
        kiosk = requests.Session()
        kiosk.headers["Authorization"] = f"Bearer {creds.kiosk}"
        for _ in range(max(queue_length, calls + warmup + 5)):
            kiosk.post(f"{hub.url}/api/v1/tickets", json={"service": "PAY"}, timeout=30).raise_for_status()
        clerk = requests.Session()
        login = clerk.post(
            f"{hub.url}/api/v1/auth/login",
            json={"username": "clerk1", "password": "clerk-password", "counter": COUNTER},
            timeout=30,
        )
        login.raise_for_status()
        clerk.headers["Authorization"] = f"Bearer {login.json()['token']}"
        call_url = f"{hub.url}/api/v1/counters/{COUNTER}/call-next"
        rss_idle = rss_kib(pid)

        procs = max(1, min(procs, clients))
        shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
        workers = [WorkerProcess(i, hub.port, creds.display, n, deflate) for i, n in enumerate(shares)]
        try:
            ready = [w.next("ready", 120) for w in workers]
            connected = sum(r.get("ready", 0) for r in ready)
            failed = sum(r.get("failed", 0) for r in ready)
            took = max(r.get("connect_s", 0) for r in ready)
            log(f"[{clients}] {connected} connected, {failed} failed, in {took} s")
            time.sleep(0.5)  # let the connect snapshots drain
            rss_connected = rss_kib(pid)
            health = requests.get(f"{hub.url}/api/v1/health", timeout=10).json()

            sends: list[tuple[str, float, float]] = []  # ticket id, sent at, HTTP answer took
            timeouts = 0
            waiting_before = waiting_now(hub.url, creds.display)
            load = loadavg()
            load_triple = [round(x, 2) for x in os.getloadavg()]
            cpu_before = cpu_seconds(pid)
            profiler = start_profiler(pid, profile) if profile else None
            for k in range(warmup + calls):
                if k == warmup:
                    cpu_before = cpu_seconds(pid)
                    if callgrind:
                        callgrind_control("-i", "on", pid)
                sent = time.monotonic()
                answer = clerk.post(call_url, timeout=30)
                took = time.monotonic() - sent
                answer.raise_for_status()
                ticket_id = answer.json()["ticket"]["id"]
                if k >= warmup:
                    sends.append((ticket_id, sent, took))
                timeouts += heard_by_all(workers, ticket_id, timeout)
                time.sleep(0.05)  # spaced out: the hall is quiet between calls
            cpu_calls = cpu_seconds(pid) - cpu_before
            if callgrind:
                callgrind_control("-d", pid)
                callgrind_control("-i", "off", pid)
                instructions = sum(counted(dump) for dump in Path(callgrind).glob(f"cg.{pid}.*"))
            load_after = [round(x, 2) for x in os.getloadavg()]
            waiting_after = waiting_now(hub.url, creds.display)
            if profiler:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(60)
            rss_after = rss_kib(pid)
            results = [w.stop() for w in workers]
        finally:
            for w in workers:
                if w.proc.poll() is None:
                    w.proc.kill()

    latencies: list[float] = []
    firsts: list[float] = []  # the first screen to hear of each call
    missing = 0
    for ticket_id, sent, _ in sends:
        arrivals = [t for r in results for t in r["arrivals"].get(ticket_id, [])]
        latencies.extend(t - sent for t in arrivals)
        if arrivals:
            firsts.append(min(arrivals) - sent)
        missing += connected - len(arrivals)
    http = [took for _, _, took in sends]
    p99 = ms(percentile(latencies, 99))
    rss_max = max(r for r in (rss_connected, rss_after) if r is not None)
    at_scale = clients >= 1000
    p99_met = p99 <= TARGET_P99_MS_AT_1000 and missing == 0
    rss_met = rss_max <= TARGET_RSS_KIB_AT_1000
    return {
        "clients": clients,
        "connected": connected,
        "connect_failed": failed,
        "client_processes": procs,
        "deflate_offered": deflate,
        "deflate_negotiated": sum(r.get("deflate_negotiated", 0) for r in ready),
        "calls": calls,
        "queue_length_before_calls": waiting_before,
        "queue_length_after_calls": waiting_after,
        "deliveries": len(latencies),
        "missing": missing,
        "wait_timeouts": timeouts,
        "p50_ms": ms(percentile(latencies, 50)),
        "p90_ms": ms(percentile(latencies, 90)),
        "p99_ms": p99,
        "max_ms": ms(max(latencies)) if latencies else None,
        "first_arrival_p50_ms": ms(percentile(firsts, 50)),
        "call_http_p50_ms": ms(percentile(http, 50)),
        "call_http_max_ms": ms(max(http)) if http else None,
        "hub_cpu_ms_per_call": ms(cpu_calls / calls) if calls else None,
        # --callgrind: the hub's own instructions per call, all threads (the kernel's work not counted);
        # its latencies are then the slowed hub's, not figures.
        "hub_instructions_per_call": round(instructions / calls) if instructions and calls else None,
        "hub_rss_kib_idle": rss_idle,
        "hub_rss_kib_connected": rss_connected,
        "hub_rss_kib_after_calls": rss_after,
        "hub_rss_kib_per_screen": round((rss_max - rss_idle) / max(1, connected), 1) if rss_idle else None,
        "hub_health_connections": health.get("connections"),
        "client_rss_kib": [r.get("rss_kib") for r in results],
        "client_cpu_ms_per_call": [ms(r.get("cpu_s", 0) / (warmup + calls)) for r in results],
        "wire_bytes_per_screen_per_call": round(
            sum(r.get("wire_bytes", 0) for r in results) / max(1, connected) / (warmup + calls)
        ),
        "loadavg_1m_before": load,
        "loadavg_before": load_triple,
        "loadavg_after": load_after,
        "target_p99_ms": TARGET_P99_MS_AT_1000 if at_scale else None,
        "target_p99_met": p99_met if at_scale else None,
        "target_rss_kib": TARGET_RSS_KIB_AT_1000 if at_scale else None,
        "hub_rss_kib_max": rss_max,
        "target_rss_met": rss_met if at_scale else None,
        "target_met": (p99_met and rss_met) if at_scale else None,
    }


def callgrind_control(*args: str | int) -> None:
    subprocess.run(["callgrind_control", *map(str, args)], check=True, capture_output=True)


def counted(dump: Path) -> int:
    """The instructions counted in one callgrind dump (its ``totals:`` line)."""
    found = re.search(r"^totals:\s+(\d+)", dump.read_text(errors="replace"), re.MULTILINE)
    return int(found.group(1)) if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clients", type=int, action="append", help="N screens (repeatable; default 100 and 1000)"
    )
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3, help="calls made first and not measured")
    parser.add_argument(
        "--queue",
        type=int,
        default=100,
        help="tickets issued before the calls (at least calls + warmup + 5): the queue the hall runs at",
    )
    parser.add_argument(
        "--procs", type=int, default=0, help="client processes (default: 1 below 500 clients, else 2)"
    )
    parser.add_argument(
        "--no-deflate", dest="deflate", action="store_false", help="clients do not offer permessage-deflate"
    )
    parser.add_argument("--profile", metavar="FILE", help="py-spy the hub during the calls (folded stacks)")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="run the hub under valgrind's callgrind: its instructions per call (latencies then not figures)",
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="longest wait for one call to reach everyone, s"
    )
    # worker mode (started by the driver)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--worker-clients", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return

    sizes = args.clients or [100, 1000]
    # The hub inherits this limit (HubProcess uses subprocess): 1,000 sockets need > 1,024 descriptors.
    nofile = raise_nofile(max(sizes) * 2 + 1024)
    log(f"RLIMIT_NOFILE {nofile}")
    runs = []
    for n in sizes:
        procs = args.procs or (1 if n < 500 else 2)
        profile = f"{args.profile}.{n}" if args.profile and len(sizes) > 1 else args.profile
        with tempfile.TemporaryDirectory(prefix="qcall-callgrind-") as out:
            runs.append(
                run_fanout(
                    n,
                    args.calls,
                    args.warmup,
                    procs,
                    args.deflate,
                    args.timeout,
                    profile,
                    args.queue,
                    out if args.callgrind else None,
                )
            )
        log(json.dumps(runs[-1]))
    emit({"benchmark": "call_fanout", "nofile_limit": nofile, "runs": runs})


if __name__ == "__main__":
    main()
