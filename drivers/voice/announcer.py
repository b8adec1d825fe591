"""The announcer: calls go in at once, the hall hears them one at a time, in order.

The hub calls :meth:`Announcer.announce` and returns: the call is put on a
queue held in the hub's process and a monitor thread (a greenlet under gevent:
it only ever waits cooperatively) hands the calls, one at a time, to a worker
*process* that renders and plays them. The next call goes to the worker only
when the previous one has finished, so announcements never overlap, and the
queue in the parent survives the worker.

An announcement's life, reported through ``on_event(AnnouncementEvent)``::

    queued ──► started ──► rendered ──► finished
      │           │            │
      │           └─(crash before any sound: tried once more)
      ▼                        ▼
    collapsed               failed      (render error, player error, the worker
    (a repeat of a ticket               died or hung while it played, stale,
     still waiting: merged)             announcer closed)

A repeat of a ticket whose call is still waiting is merged into it
(``collapsed``, same ``seq``); a recall after its announcement started is a
new announcement.

When calls pile up, each is shortened as it is taken off the queue
(:mod:`drivers.voice.backlog`: the repeat first, then the second language, the
chime, then faster speech), by how many wait behind it and how late it is;
none is dropped and the order is kept. A call that finds the hall silent waits
up to ``backlog_gather_s`` (or until enough calls have joined it that it can
be shortened no further), so that calls made together are counted together:
the first of six calls made within a second is then shortened like the rest,
instead of being said in full while the other five wait.

Faults: the worker sends a heartbeat every 0.5 s. A worker that dies, stops
beating for ``heartbeat_timeout`` s, or takes longer than ``render_timeout``
to render or than 1.25 × the announcement's length plus the player's grace
plus ``play_grace`` to play (a backstop: the worker times its player out first), is
killed with its process group (any player it started goes too) and a new one
is started at once (after repeated failures, with a back-off of at most 4 s).
``on_status(state, detail)`` reports ``restarting``, then ``degraded`` once
the new worker is up, and ``ok`` after the next announcement is said.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import worker as _worker
from .backlog import Phrasing, choose_phrasing, is_shortest, shortenings
from .phrasing import Announcement
from .settings import VoiceSettings
from .sinks import CallbackSink, FileSink, PlayerSink

log = logging.getLogger(__name__)

OK = "ok"
DEGRADED = "degraded"
RESTARTING = "restarting"

QUEUED = "queued"
COLLAPSED = "collapsed"
STARTED = "started"
RENDERED = "rendered"
FINISHED = "finished"
FAILED = "failed"


@dataclass(frozen=True)
class AnnouncementEvent:
    """One step of one announcement. ``mono`` is ``time.monotonic()`` (system-wide on Linux), taken
    where the step happened (``started``/``rendered``/``finished`` in the worker), so order and
    overlap can be checked across processes; ``at`` is ``time.time()``."""

    kind: str
    seq: int  # the announcement's number in this announcer, from 1
    ticket_id: str
    number: str
    recall: bool
    at: float
    mono: float
    detail: str = ""
    attempt: int = 1
    path: str | None = None  # rendered/finished: the WAV
    name: str | None = None  # its URL-safe file name
    duration: float | None = None  # seconds
    cached: bool | None = None
    texts: tuple[tuple[str, str], ...] = ()  # (lang, text) as said
    clips: int = 0  # recorded clips used
    synthesized: tuple[str, ...] = ()  # pieces that no clip covered
    shortened: tuple[str, ...] = ()  # from started on: the backlog steps taken ((): said in full)


@dataclass(frozen=True)
class RenderedAudio:
    """What a :class:`~drivers.voice.sinks.CallbackSink` receives: a WAV ready to be played."""

    seq: int
    ticket_id: str
    number: str
    recall: bool
    path: str
    name: str
    duration: float
    cached: bool
    texts: tuple[tuple[str, str], ...]
    at: float
    mono: float
    shortened: tuple[str, ...] = ()  # the backlog steps taken ((): said in full)


@dataclass(eq=False)
class _Entry:
    seq: int
    announcement: Announcement
    queued_mono: float
    hold_until: float = 0.0  # called into a silent hall: others made with it may still come
    phrasing: Phrasing | None = None  # chosen when taken off the queue
    attempt: int = 1
    announced: bool = False  # "queued" was reported: the monitor may take it
    played: bool = False  # the hall may have heard part of it: never said twice
    rendered: dict[str, Any] | None = None
    phase: str = ""
    deadline: float = 0.0


OnEvent = Callable[[AnnouncementEvent], Any]
OnStatus = Callable[[str, str], Any]


class Announcer:
    """One per site. ``announce()`` never waits; ``close()`` when the hub stops.

    ``settings``: :class:`VoiceSettings` or the ``[voice]`` table as a mapping.
    ``sinks``: any of :class:`PlayerSink`, :class:`FileSink`, :class:`CallbackSink`.
    ``pace``: without a PlayerSink, the worker waits each announcement's
    length before the next (the lobby screens are playing it); default: True
    exactly when there is no PlayerSink.
    ``clock``: the hall's local time for quiet hours (default ``settings.now``).
    """

    def __init__(
        self,
        settings: VoiceSettings | Mapping[str, Any],
        *,
        sinks: Iterable[PlayerSink | FileSink | CallbackSink] = (),
        on_event: OnEvent | None = None,
        on_status: OnStatus | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        pace: bool | None = None,
        name: str = "voice",
        render_timeout: float = 4.0,
        heartbeat_interval: float = 0.5,
        heartbeat_timeout: float = 2.5,
        start_timeout: float = 15.0,
        play_grace: float = 3.0,
        max_attempts: int = 2,
        autostart: bool = True,
    ) -> None:
        if not isinstance(settings, VoiceSettings):
            settings = VoiceSettings.from_mapping(settings)
        sinks = list(sinks)
        for sink in sinks:
            if not isinstance(sink, (PlayerSink, FileSink, CallbackSink)):
                raise TypeError(f"not a sink: {sink!r}")
        self.settings = settings
        self.name = name
        self._worker_sinks = [s for s in sinks if not isinstance(s, CallbackSink)]
        self._callback_sinks = [s for s in sinks if isinstance(s, CallbackSink)]
        has_player = any(isinstance(s, PlayerSink) for s in sinks)
        self._player_grace = max([s.grace for s in sinks if isinstance(s, PlayerSink)], default=0.0)
        self.pace = (not has_player) if pace is None else pace
        self._on_event = on_event
        self._on_status = on_status
        self._clock = clock or settings.now
        self.render_timeout = render_timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.start_timeout = start_timeout
        self.play_grace = play_grace
        self.max_attempts = max_attempts

        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._pending: collections.deque[_Entry] = collections.deque()
        self._current: _Entry | None = None
        self._seq = 0
        self._closed = False
        self._started = False
        self._status = OK
        self._status_detail = ""
        self._restarts = 0
        self._faults_in_row = 0
        self._last_fault = ""
        self._proc: Any = None
        self._conn: Any = None  # the worker's events (read end)
        self._jobs: Any = None  # jobs for the worker (write end)
        self._ready = False
        self._worker_pid: int | None = None
        self._spawned_at = 0.0
        self._last_seen = 0.0
        self._restart_at = 0.0
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name=f"announcer-{name}", daemon=True)
        if autostart:
            self.start()

    # -- what the hub calls ---------------------------------------------------------

    def start(self) -> None:
        """Start the monitor (and with it the worker). Done by the constructor unless ``autostart=False``."""
        with self._lock:
            if self._started:
                return
            self._started = True
        self._thread.start()

    def announce(self, announcement: Announcement) -> None:
        """Queue a call and return at once; every call is either said or reported ``failed``."""
        if not isinstance(announcement, Announcement):
            raise TypeError(f"announce() takes an Announcement, not {type(announcement).__name__}")
        now = time.monotonic()
        with self._lock:
            closed = self._closed
            entry = None
            if not closed:
                entry = next(
                    (e for e in self._pending if e.announcement.ticket_id == announcement.ticket_id), None
                )
            if entry is not None:
                entry.announcement = announcement  # the newest word on where to go
                kind = COLLAPSED
            else:
                self._seq += 1
                entry = _Entry(self._seq, announcement, now, hold_until=self._gather_until(announcement, now))
                kind = QUEUED
                if not closed:
                    self._pending.append(entry)
        if closed:
            self._emit(FAILED, entry, detail="announcer closed")
            return
        self._emit(
            kind, entry, detail="merged into the waiting call of this ticket" if kind == COLLAPSED else ""
        )
        with self._lock:
            entry.announced = True
        self._wake()

    def _gather_until(self, announcement: Announcement, now: float) -> float:
        """Until when a new call waits for others made with it: only into a silent hall (lock held).

        Waiting is worth it only when the call could be shortened: with nothing to
        shorten (``backlog_shorten = []``, one language said once without a chime)
        it goes at once.
        """
        gather = self.settings.backlog_gather_s
        if not gather or self._current is not None or self._pending:
            return 0.0
        return now + gather if len(shortenings(self.settings, announcement)) > 1 else 0.0

    @property
    def status(self) -> str:
        """``ok`` | ``degraded`` | ``restarting``."""
        return self._status

    @property
    def worker_pid(self) -> int | None:
        """The current worker's process id (None while none is running)."""
        return self._worker_pid if self._ready else None

    def pending(self) -> list[Announcement]:
        """Calls waiting to be said, in order (not the one being said)."""
        with self._lock:
            return [e.announcement for e in self._pending]

    def snapshot(self) -> dict[str, Any]:
        """For the admin page: state, why, worker, queue length, restarts so far."""
        with self._lock:
            current = self._current
            return {
                "state": self._status,
                "detail": self._status_detail,
                "worker_pid": self.worker_pid,
                "pending": len(self._pending),
                "current": current.announcement.number if current else None,
                "restarts": self._restarts,
                "last_fault": self._last_fault,
            }

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (and its player); calls not yet said are reported ``failed``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            started = self._started
        self._wake()
        if started and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        elif not started:
            self._shutdown()

    def __enter__(self) -> Announcer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reporting ---------------------------------------------------------------

    def _emit(
        self,
        kind: str,
        entry: _Entry,
        *,
        detail: str = "",
        mono: float | None = None,
        at: float | None = None,
    ) -> None:
        a = entry.announcement
        info = entry.rendered or {}
        event = AnnouncementEvent(
            kind=kind,
            seq=entry.seq,
            ticket_id=a.ticket_id,
            number=a.number,
            recall=a.recall,
            at=time.time() if at is None else at,
            mono=time.monotonic() if mono is None else mono,
            detail=detail,
            attempt=entry.attempt,
            path=info.get("path"),
            name=info.get("name"),
            duration=info.get("duration"),
            cached=info.get("cached"),
            texts=tuple(tuple(t) for t in info.get("texts", ())),
            clips=info.get("clips", 0),
            synthesized=tuple(info.get("synthesized", ())),
            shortened=entry.phrasing.shortened if entry.phrasing is not None else (),
        )
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("announcer %s: on_event failed", self.name)

    def _set_status(self, state: str, detail: str) -> None:
        if state == self._status and detail == self._status_detail:
            return
        changed = state != self._status
        self._status = state
        self._status_detail = detail
        if changed:
            log.log(
                logging.INFO if state == OK else logging.WARNING,
                "announcer %s: %s %s",
                self.name,
                state,
                detail,
            )
        if changed and self._on_status is not None:
            try:
                self._on_status(state, detail)
            except Exception:
                log.exception("announcer %s: on_status failed", self.name)

    def _wake(self) -> None:
        with self._lock:  # never write to the pipe's number once closed: it may be another file by then
            if self._wake_w < 0:
                return
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"x")

    # -- the monitor -------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    if self._closed:
                        break
                now = time.monotonic()
                if self._proc is None and now >= self._restart_at:
                    self._spawn()
                if self._ready and self._current is None:
                    self._send_next()
                waitables: list[Any] = [self._wake_r]
                if self._proc is not None:
                    waitables += [self._conn, self._proc.sentinel]
                timeout = min(max(self._next_deadline() - time.monotonic(), 0.0), 1.0)
                ready = multiprocessing.connection.wait(waitables, timeout)
                if self._wake_r in ready:
                    with contextlib.suppress(BlockingIOError, OSError):
                        while os.read(self._wake_r, 512):
                            pass
                if self._proc is not None:
                    lost = self._pump()
                    if not lost and not self._proc.is_alive():
                        lost = self._pump() or f"worker exited (code {self._proc.exitcode})"
                    if not lost:
                        lost = self._overdue(time.monotonic())
                    if lost:
                        self._lose_worker(lost)
        except Exception:  # the monitor must not die silently: calls would pile up unseen
            log.exception("announcer %s: monitor failed", self.name)
            self._set_status(DEGRADED, "announcer monitor failed")
        finally:
            self._shutdown()

    def _next_deadline(self) -> float:
        if self._proc is None:
            return self._restart_at
        deadlines = [self._last_seen + self.heartbeat_timeout]
        if self._ready and self._current is None:
            with self._lock:
                if self._pending and self._pending[0].hold_until:
                    deadlines.append(self._pending[0].hold_until)  # the gathering ends: say it
        if not self._ready:
            deadlines.append(self._spawned_at + self.start_timeout)
        if self._current is not None and self._current.deadline:
            deadlines.append(self._current.deadline)
        return min(deadlines)

    def _spawn(self) -> None:
        # Two one-way os.pipe()s, not a socketpair: under gevent a socket is made non-blocking, and
        # the worker would inherit that flag (it belongs to the shared open file) and fail its reads.
        job_r, job_w = self._ctx.Pipe(duplex=False)
        event_r, event_w = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=_worker.main,
            args=(job_r, event_w, self.settings, self._worker_sinks, self.pace, self.heartbeat_interval),
            name=f"qcall-{self.name}-worker",
            daemon=True,
        )
        try:
            proc.start()
        except Exception as exc:
            log.exception("announcer %s: cannot start the worker", self.name)
            for end in (job_r, job_w, event_r, event_w):
                end.close()
            self._fault(f"cannot start the worker: {exc}")
            return
        job_r.close()
        event_w.close()
        self._proc, self._conn, self._jobs = proc, event_r, job_w
        self._ready = False
        self._spawned_at = self._last_seen = time.monotonic()

    def _pump(self) -> str:
        """Handle every message waiting from the worker; a reason when its pipe is gone."""
        try:
            while self._conn.poll():
                self._handle(self._conn.recv())
        except BlockingIOError:  # half a message so far: the rest comes with the next wake-up
            return ""
        except (EOFError, OSError) as exc:
            code = self._proc.exitcode if self._proc is not None and not self._proc.is_alive() else None
            return f"worker exited (code {code})" if code is not None else f"worker pipe closed ({exc!r})"
        return ""

    def _handle(self, message: tuple[Any, ...]) -> None:
        now = time.monotonic()
        self._last_seen = now
        kind = message[0]
        if kind == "hb":
            return
        if kind == "ready":
            _, pid, error = message
            self._ready = True
            self._worker_pid = pid
            if error:
                self._set_status(DEGRADED, f"worker cannot render: {error}")
            elif self._status == RESTARTING:
                self._set_status(DEGRADED, f"worker restarted after: {self._last_fault}")
            return
        entry = self._current
        if entry is None or message[1] != entry.seq:
            return  # a late message about an announcement already given up on
        if kind == STARTED:
            _, _, mono, at = message
            entry.phase, entry.deadline = "render", now + self.render_timeout
            self._emit(STARTED, entry, mono=mono, at=at)
        elif kind == RENDERED:
            _, _, mono, at, info = message
            entry.played = True
            entry.rendered = info
            length = info["duration"]
            # the player's own time-out (length + its grace) comes first; this is the backstop
            entry.phase, entry.deadline = "play", now + length * 1.25 + self._player_grace + self.play_grace
            self._emit(RENDERED, entry, mono=mono, at=at)
            audio = RenderedAudio(
                entry.seq,
                entry.announcement.ticket_id,
                entry.announcement.number,
                entry.announcement.recall,
                info["path"],
                info["name"],
                length,
                info["cached"],
                tuple(tuple(t) for t in info["texts"]),
                at,
                mono,
                entry.phrasing.shortened if entry.phrasing is not None else (),
            )
            for sink in self._callback_sinks:
                try:
                    sink.fn(audio)
                except Exception:
                    log.exception("announcer %s: callback sink failed", self.name)
        elif kind == FINISHED:
            _, _, mono, at, detail = message
            self._current = None
            self._faults_in_row = 0
            self._emit(FINISHED, entry, detail=detail, mono=mono, at=at)
            if self._status != OK:
                self._set_status(OK, "")
        elif kind == FAILED:
            _, _, mono, at, detail, played = message
            self._current = None
            entry.played = entry.played or played
            self._last_fault = detail
            if not entry.played and entry.attempt < self.max_attempts:
                entry.attempt += 1
                entry.phase, entry.deadline = "", 0.0
                with self._lock:
                    self._pending.appendleft(entry)
                log.warning(
                    "announcer %s: %s failed (%s); trying again", self.name, entry.announcement.number, detail
                )
            else:
                self._emit(FAILED, entry, detail=detail, mono=mono, at=at)
            self._set_status(DEGRADED, detail)

    def _overdue(self, now: float) -> str:
        if not self._ready and now - self._spawned_at > self.start_timeout:
            return f"worker did not start within {self.start_timeout:g} s"
        if now - self._last_seen > self.heartbeat_timeout:
            return f"no heartbeat for {now - self._last_seen:.1f} s"
        entry = self._current
        if entry is not None and entry.deadline and now > entry.deadline:
            return f"announcement {entry.announcement.number} hung ({entry.phase or 'start'})"
        return ""

    def _send_next(self) -> None:
        entry = self._take_next()
        if entry is None:
            return
        a = entry.announcement
        try:
            quiet = self.settings.is_quiet(self._clock())
        except Exception:
            log.exception("announcer %s: clock failed", self.name)
            quiet = False
        phrasing = entry.phrasing.to_dict() if entry.phrasing is not None else None
        try:
            self._jobs.send(("job", entry.seq, a.to_dict(), a.languages, a.repeat, quiet, phrasing))
        except (OSError, ValueError) as exc:
            self._lose_worker(f"cannot reach the worker: {exc!r}")

    def _take_next(self) -> _Entry | None:
        """The next call to say, its phrasing chosen now, made current; None: nothing to say yet.

        The phrasing is chosen here, as the call leaves the queue, because only now
        is it known how many wait behind it and how late it is. A call still
        gathering others (``hold_until``) stays, unless it can be shortened no further.
        """
        while True:
            stale = None
            with self._lock:
                if not self._pending or not self._pending[0].announced:
                    return None
                entry = self._pending[0]
                now = time.monotonic()
                waiting, late = len(self._pending) - 1, now - entry.queued_mono
                a = entry.announcement
                if now < entry.hold_until and not is_shortest(self.settings, a, waiting, late):
                    return None
                self._pending.popleft()
                max_age = self.settings.max_age_s
                if max_age is not None and late > max_age:
                    stale = f"waited more than {max_age:g} s: not said"
                else:
                    entry.phrasing = choose_phrasing(self.settings, a, waiting, late)
                    entry.rendered = None
                    entry.phase, entry.deadline = "start", now + self.render_timeout
                    self._current = entry  # under the lock: announce() sees a busy hall from now on
            if stale is None:
                if entry.phrasing is not None and entry.phrasing.shortened:
                    log.info(
                        "announcer %s: %s shortened (%s): %d waiting, %.1f s late",
                        self.name,
                        a.number,
                        ", ".join(entry.phrasing.shortened),
                        waiting,
                        late,
                    )
                return entry
            self._emit(FAILED, entry, detail=stale)

    def _fault(self, reason: str) -> None:
        self._restarts += 1
        self._faults_in_row += 1
        self._last_fault = reason
        backoff = 0.0 if self._faults_in_row <= 1 else min(0.5 * 2 ** (self._faults_in_row - 2), 4.0)
        self._restart_at = time.monotonic() + backoff
        self._set_status(RESTARTING, reason)

    def _lose_worker(self, reason: str) -> None:
        """Kill the worker with its process group; the call it held is tried again or reported."""
        self._kill_worker()
        entry, self._current = self._current, None
        if entry is not None:
            if entry.played:
                self._emit(FAILED, entry, detail=f"interrupted: {reason}")
            elif entry.attempt < self.max_attempts:
                entry.attempt += 1
                entry.phase, entry.deadline = "", 0.0
                with self._lock:
                    self._pending.appendleft(entry)
            else:
                self._emit(FAILED, entry, detail=reason)
        self._fault(reason)

    def _kill_worker(self) -> None:
        proc, conns = self._proc, (self._conn, self._jobs)
        self._proc = self._conn = self._jobs = None
        self._ready = False
        self._worker_pid = None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # the worker leads its group: its player goes too
        with contextlib.suppress(Exception):
            proc.kill()
        proc.join(2.0)
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()
        with contextlib.suppress(Exception):
            proc.close()

    def _shutdown(self) -> None:
        proc, jobs = self._proc, self._jobs
        if proc is not None:
            with contextlib.suppress(Exception):
                jobs.send(("stop",))
            proc.join(0.5)
            self._kill_worker()
        with self._lock:
            self._closed = True
            left = ([self._current] if self._current else []) + list(self._pending)
            self._pending.clear()
            self._current = None
        for entry in left:
            self._emit(FAILED, entry, detail="announcer closed")
        with self._lock:
            fds, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in fds:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


__all__ = [
    "COLLAPSED",
    "DEGRADED",
    "FAILED",
    "FINISHED",
    "OK",
    "QUEUED",
    "RENDERED",
    "RESTARTING",
    "STARTED",
    "AnnouncementEvent",
    "Announcer",
    "RenderedAudio",
]
