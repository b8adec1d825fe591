"""Voice announcements (issue 5): a chime, then each call in Mandarin and English, one at a time, offline.

The hub builds an :class:`Announcement` per call and hands it to an
:class:`Announcer` (one per site), which never blocks: a worker process
renders (espeak-ng, pyttsx3, or a site's recorded clips) and plays, and
rendered WAVs can go to the lobby screens. When calls pile up, each is
shortened as it leaves the queue (:mod:`drivers.voice.backlog`), never dropped.
See ``docs/voice.md``.
"""

from .announcer import (
    DEGRADED,
    OK,
    RESTARTING,
    AnnouncementEvent,
    Announcer,
    RenderedAudio,
)
from .backlog import STEPS as BACKLOG_STEPS
from .backlog import Phrasing, choose_phrasing
from .engines import EngineError, EspeakEngine, Pyttsx3Engine, RenderCache, SegmentEngine
from .phrasing import Announcement, phrases, read_number
from .render import RENDERED_NAME, Rendered, Renderer
from .settings import VoiceSettings
from .sinks import CallbackSink, FileSink, PlayerSink, SinkError, make_sinks

__all__ = [
    "BACKLOG_STEPS",
    "DEGRADED",
    "OK",
    "RENDERED_NAME",
    "RESTARTING",
    "Announcement",
    "AnnouncementEvent",
    "Announcer",
    "CallbackSink",
    "EngineError",
    "EspeakEngine",
    "FileSink",
    "Phrasing",
    "PlayerSink",
    "Pyttsx3Engine",
    "RenderCache",
    "Rendered",
    "RenderedAudio",
    "Renderer",
    "SegmentEngine",
    "SinkError",
    "VoiceSettings",
    "choose_phrasing",
    "make_sinks",
    "phrases",
    "read_number",
]
