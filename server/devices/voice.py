"""Calls said aloud: the hub's side of the announcer.

After a call is committed the core publishes it; this module turns it into an
:class:`~drivers.voice.Announcement` and hands it to the announcer, which
speaks in its own process, one call at a time. The rendered WAVs go to the
hub's speaker and/or to the lobby screens, which play them in order. Nothing
here waits for speech: a dead speaker only turns the voice "degraded" on the
admin page.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path
from types import MappingProxyType
from typing import Any

from drivers.voice import Announcement, Announcer, VoiceSettings, make_sinks

from ..config import SiteConfig
from ..core.queue import QueueCore
from ..paths import var_dir
from .board import DeviceBoard
from .listeners import TicketCalled, listener
from .push import Publish
from .rooms import HALL

log = logging.getLogger(__name__)

#: The voice's name on the device board (the admin page).
VOICE_DEVICE = "voice"
ANNOUNCEMENT = "announcement"
#: Who hears announcements over Socket.IO: every screen in the hall room plays them if it may.
LOBBY_ROOM = HALL
#: The announcer's states in the words of the admin page.
STATES = MappingProxyType({"ok": "online", "degraded": "degraded", "restarting": "restarting"})


def voice_settings(config: SiteConfig, base_dir: Path) -> VoiceSettings:
    """The checked ``[voice]`` table, with the site's languages and time zone as defaults.

    The rendered WAVs go to ``<var dir>/voice-cache`` unless the site names a
    ``cache_dir``: like every file the hub writes, they follow ``QCALL_VAR_DIR``.
    """
    table = {
        "timezone": config.site.timezone,
        "languages": list(config.site.languages),
        "cache_dir": str((var_dir() / "voice-cache").resolve()),
        **config.voice,
    }
    return VoiceSettings.from_mapping(table, base_dir=str(base_dir))


def announcement_of(event: TicketCalled) -> Announcement:
    """What the voice says for a committed call: its number, counter, phrasing and, where the
    site calls by name, the name as the core masked it (a ``{name}`` in the template)."""
    return Announcement(
        ticket_id=event.ticket_id,
        number=event.number,
        counter_name_zh=event.counter_name_zh,
        counter_name_en=event.counter_name_en,
        recall=event.recall,
        templates=dict(event.templates) or None,
        name=event.name,
    )


class VoiceService:
    """Announces every committed call and recall."""

    def __init__(
        self, config: SiteConfig, core: QueueCore, board: DeviceBoard, publish: Publish, base_dir: Path
    ) -> None:
        self.settings = voice_settings(config, base_dir)
        self.core = core
        self.board = board
        self.publish = publish
        self.announcer: Announcer | None = None
        if not config.voice or not self.settings.enabled:
            return  # a site without a [voice] table is silent
        self.announcer = Announcer(
            self.settings,
            sinks=make_sinks(self.settings, on_audio=self.to_lobby),
            on_status=self.status_changed,
        )
        core.bus.subscribe(listener({TicketCalled: [self.announce]}))
        self.status_changed(self.announcer.status, "announcer started")

    @property
    def enabled(self) -> bool:
        """Whether this hub speaks at all (a site without ``[voice]``, or a CLI command's hub, does not)."""
        return self.announcer is not None

    def close(self) -> None:
        """Stop the announcer: its worker process ends (calls not yet said are reported failed)."""
        if self.announcer is not None:
            self.announcer.close()
            log.info("stopping: voice worker stopped")

    def cache_dir(self) -> Path:
        return Path(self.settings.cache_path())

    def announce(self, event: TicketCalled) -> None:
        """A committed call or recall, said aloud (queued: the announcer speaks in its own process)."""
        if self.announcer is None:
            return
        self.announcer.announce(announcement_of(event))

    def test_phrase(self) -> bool:
        """A short test phrase through the same announcer (and so the lobby screens); False: no voice."""
        if self.announcer is None:
            return False
        self.announcer.announce(
            Announcement(
                ticket_id=f"voice-test-{secrets.token_hex(6)}",
                # A template must say a number: "one two three" is the sound check everybody knows.
                number="123",
                counter_name_zh="",
                counter_name_en="",
                templates={"zh": "语音测试，{number}", "en": "Voice test, {number}"},
                repeat=1,
            )
        )
        return True

    def to_lobby(self, audio: Any) -> None:
        """A rendered announcement: the screens fetch and play it in order."""
        self.publish(
            ANNOUNCEMENT,
            {
                "seq": audio.seq,
                "ticket_id": audio.ticket_id,
                "number": audio.number,
                "recall": audio.recall,
                "url": f"/voice/{audio.name}",
                "duration": audio.duration,
                "texts": [list(text) for text in audio.texts],
                # what a backlog took away (docs/voice.md, "When calls pile up"); []: said in full
                "shortened": list(audio.shortened),
            },
            LOBBY_ROOM,
        )

    def status_changed(self, state: str, detail: str = "") -> None:
        self.board.report(VOICE_DEVICE, STATES.get(state, state), detail)
