"""The announcer's worker process: renders and plays one announcement at a time.

Started by :class:`~drivers.voice.announcer.Announcer` with the ``spawn``
context (a fresh interpreter: no copy of the hub's gevent loop, sockets or
database connections, and a pyttsx3 engine of its own). It talks to the
parent over two one-way pipes (plain ``os.pipe()``s, blocking on both sides):

parent → worker
    ``("job", seq, announcement_dict, languages, repeat, quiet, phrasing_dict)``, ``("stop",)``;
    the phrasing (:class:`~drivers.voice.backlog.Phrasing`, None: the full one) is the
    announcer's choice for this call, shortened when calls wait behind it
worker → parent
    ``("ready", pid, error)``, ``("hb", mono)`` every ``heartbeat_interval``,
    ``("started", seq, mono, at)``, ``("rendered", seq, mono, at, info)``,
    ``("finished", seq, mono, at, detail)``, ``("failed", seq, mono, at, detail, played)``

The worker makes itself a process-group leader, so that the parent can end
it together with a player it started (``killpg``): a player orphaned by a
crashed worker would otherwise go on talking over the next announcement.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .backlog import Phrasing
from .phrasing import Announcement
from .settings import VoiceSettings
from .sinks import FileSink, PlayerSink

if TYPE_CHECKING:
    from .render import Renderer


def main(
    jobs: Any,
    events: Any,
    settings: VoiceSettings,
    sinks: Sequence[PlayerSink | FileSink],
    pace: bool,
    heartbeat_interval: float,
) -> None:
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    for end in (jobs, events):  # whatever the parent's flags were, this side waits
        os.set_blocking(end.fileno(), True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the hub's terminal: the parent decides
    send_lock = threading.Lock()
    stop = threading.Event()

    def send(message: tuple[Any, ...]) -> None:
        try:
            with send_lock:
                events.send(message)
        except (OSError, EOFError, ValueError):  # the parent is gone: nobody to speak for
            os._exit(0)

    def heartbeat() -> None:
        while not stop.wait(heartbeat_interval):
            send(("hb", time.monotonic()))

    threading.Thread(target=heartbeat, name="voice-heartbeat", daemon=True).start()

    from .render import Renderer  # after the heartbeat: imports and engine set-up count as alive

    error = ""
    renderer: Renderer | None = None
    try:
        renderer = Renderer(settings)
    except Exception as exc:  # noqa: BLE001  bad clips directory, engine missing: report on every job
        error = f"{type(exc).__name__}: {exc}"
    send(("ready", os.getpid(), error))

    while True:
        try:
            message = jobs.recv()
        except (EOFError, OSError):
            break
        if message[0] == "stop":
            break
        if message[0] == "job":
            _serve_job(message[1:], renderer, error, sinks, pace, stop, send)
    stop.set()


def _serve_job(
    job: tuple[Any, ...],
    renderer: Renderer | None,
    error: str,
    sinks: Sequence[PlayerSink | FileSink],
    pace: bool,
    stop: threading.Event,
    send: Callable[[tuple[Any, ...]], None],
) -> None:
    """Render and play one announcement, reporting each step to the hub.

    Any failure becomes a ``failed`` report for this job: one unsayable text or a
    sound card that went away must not end the worker and silence the hall.
    """
    seq, data, languages, repeat, quiet, phrasing = job
    send(("started", seq, time.monotonic(), time.time()))
    if quiet:
        send(("finished", seq, time.monotonic(), time.time(), "quiet hours: not said"))
        return
    if renderer is None:
        send(("failed", seq, time.monotonic(), time.time(), error, False))
        return
    try:
        rendered = renderer.render(
            Announcement.from_dict(data),
            tuple(languages or ()) or None,
            repeat,
            phrasing=Phrasing.from_dict(phrasing) if phrasing else None,
        )
    except Exception as exc:  # noqa: BLE001  any engine error is this job's failure, reported
        send(("failed", seq, time.monotonic(), time.time(), f"render: {type(exc).__name__}: {exc}", False))
        return
    info = {
        "path": str(rendered.path),
        "name": rendered.name,
        "duration": rendered.duration,
        "cached": rendered.cached,
        "texts": [list(t) for t in rendered.texts],
        "clips": rendered.clips,
        "synthesized": list(rendered.synthesized),
        "shortened": list(rendered.shortened),
    }
    send(("rendered", seq, time.monotonic(), time.time(), info))
    try:
        played = False
        for sink in sinks:
            sink.deliver(rendered.path, rendered.duration)
            played = played or isinstance(sink, PlayerSink)
        if pace and not played:
            stop.wait(rendered.duration)  # the hall's time: lobby screens play it now
    except Exception as exc:  # noqa: BLE001  a player or file sink failing is reported, not fatal
        send(("failed", seq, time.monotonic(), time.time(), f"output: {exc}", True))
        return
    send(("finished", seq, time.monotonic(), time.time(), ""))
