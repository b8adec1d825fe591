"""Where a rendered announcement goes: the hub machine's speaker, a directory, or back to the hub.

``PlayerSink`` and ``FileSink`` are plain, picklable settings that run inside
the worker process (a player blocks for as long as the announcement lasts,
which is what keeps announcements from overlapping). ``CallbackSink`` stays in
the parent: the :class:`~drivers.voice.announcer.Announcer` calls it, on its
own thread, as soon as an announcement's WAV is ready (the hub pushes the URL
to the lobby screens).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .engines import copy_into, run_tool
from .settings import VoiceSettings

#: Tried in order when a PlayerSink names no command. aplay also reaches PulseAudio or
#: PipeWire through ALSA's default device where one runs.
DEFAULT_PLAYERS: tuple[tuple[str, ...], ...] = (("aplay", "-q", "{path}"), ("paplay", "{path}"))


class SinkError(RuntimeError):
    """The audio could not be delivered (no player, the player failed or took too long)."""


def find_player() -> tuple[str, ...] | None:
    for command in DEFAULT_PLAYERS:
        if shutil.which(command[0]):
            return command
    return None


@dataclass(frozen=True)
class PlayerSink:
    """Play on this machine's audio device with a command; ``{path}`` is replaced by the WAV's path.

    ``command=None``: ``aplay -q {path}``, else ``paplay {path}``, whichever
    is installed (``apt-get install alsa-utils`` brings aplay). A command
    without ``{path}`` gets the path appended. The player may take the
    announcement's duration plus ``grace`` seconds; then it is killed and the
    announcement is reported failed.
    """

    command: Sequence[str] | None = None
    grace: float = 5.0

    def argv(self, path: str | Path) -> list[str]:
        command = tuple(self.command) if self.command else find_player()
        if not command:
            raise SinkError("no audio player: install alsa-utils (aplay) or pulseaudio-utils (paplay)")
        argv = [str(path) if part == "{path}" else part.replace("{path}", str(path)) for part in command]
        if not any("{path}" in part for part in command):
            argv.append(str(path))
        return argv

    def deliver(self, path: str | Path, duration: float) -> None:
        argv = self.argv(path)
        run_tool(argv, what=f"player {argv[0]!r}", timeout=duration + self.grace, error=SinkError)


@dataclass(frozen=True)
class FileSink:
    """Put each rendered WAV into ``directory`` under its URL-safe name (a hard link when possible).

    For a hub that serves a directory of its own rather than the render cache.
    Keeps the newest ``keep`` files.
    """

    directory: str
    keep: int = 200

    def deliver(self, path: str | Path, duration: float) -> Path:
        dest = copy_into(Path(path), Path(self.directory), Path(path).name)
        self._prune()
        return dest

    def _prune(self) -> None:
        files = sorted(Path(self.directory).glob("*.wav"), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - self.keep)]:
            old.unlink(missing_ok=True)


@dataclass(frozen=True)
class CallbackSink:
    """``fn(audio: RenderedAudio)`` in the parent when an announcement's WAV is ready, before it is played.

    Runs on the announcer's monitor thread (a greenlet under gevent): keep it
    quick — e.g. ``socketio.emit("announcement", {...}, to="lobby")``.
    """

    fn: Callable[[Any], Any]


def make_sinks(
    settings: VoiceSettings, on_audio: Callable[[Any], Any] | None = None
) -> list[PlayerSink | FileSink | CallbackSink]:
    """The sinks a site's ``outputs`` ask for: ``player`` → PlayerSink, ``lobby`` → CallbackSink(on_audio)."""
    sinks: list[PlayerSink | FileSink | CallbackSink] = []
    if "player" in settings.outputs:
        sinks.append(PlayerSink(settings.player_command))
    if "lobby" in settings.outputs:
        if on_audio is None:
            raise ValueError("outputs has 'lobby': pass on_audio, which sends WAVs to the screens")
        sinks.append(CallbackSink(on_audio))
    return sinks
