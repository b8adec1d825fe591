"""Calls said aloud: the hub's side of the announcer.

After a call is committed the core publishes it; this module turns it into an
:class:`~drivers.voice.Announcement` and hands it to the announcer, which
speaks in its own process, one call at a time. The rendered WAVs go to the
hub's speaker and/or to the lobby screens, which play them in order. Nothing
here waits for speech: a dead speaker only turns the voice "degraded" on the
admin page.

Zones (``[[zones]]``, docs/voice.md "Zones"): the whole hall has one announcer,
which says every call to the screens without a zone and the hub's own speaker,
as before zones. Each zone has an announcer of its own (started at its first
call), which says only its counters' calls to its screens' room and its
speaker: a zone's calls queue behind its own calls only, so the backlog rule
shortens a busy wing's calls and leaves the quiet wing's alone. Which zones
hear a counter is read from the hub's config at each call, so a live change
applies to the next call.

Several hub processes on one hall (issue 15): the voice is said once, by the
process holding the voice's lease (:mod:`.leases`, one lease for the whole
hall's announcer and every zone's). Every process hears every committed call;
only the holder runs announcers. Another process starts them when the holder
dies; a call made while nobody holds the lease is not said.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from drivers.voice import Announcement, Announcer, VoiceSettings, make_sinks
from drivers.voice.sinks import CallbackSink, PlayerSink

from ..config import SiteConfig
from ..core.queue import QueueCore
from ..paths import var_dir
from .board import DeviceBoard
from .leases import LeaseKeeper
from .listeners import TicketCalled, listener
from .push import Publish
from .rooms import voice_room
from .zones import screen_zone, zone_codes, zone_speaker, zones_of_counter

log = logging.getLogger(__name__)

#: The voice's name on the device board (the admin page).
VOICE_DEVICE = "voice"
#: The voice's lease (server/devices/leases.py): the whole hall's announcer and every zone's.
VOICE_LEASE = "voice:hall"
ANNOUNCEMENT = "announcement"
#: Who hears the whole hall's announcements over Socket.IO: every hall socket but a zone's lobby screens.
LOBBY_ROOM = voice_room(None)
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


#: Builds an announcer: :class:`~drivers.voice.Announcer` (tests give a fake).
MakeAnnouncer = Callable[..., Announcer]
Sink = PlayerSink | CallbackSink


def zone_device(zone: str) -> str:
    """A zone's announcer on the device board (":" is in no device's name)."""
    return f"{VOICE_DEVICE}:{zone}"


@dataclass
class _ZoneVoice:
    """One zone's announcer and what it was built with (a live change of its speaker builds a new one)."""

    zone: str
    outputs: tuple[Any, ...]
    announcer: Announcer


class VoiceService:
    """Announces every committed call and recall: to the whole hall, and to each zone of its counter.

    ``current``: the site config as it is now (the hub's, changed live by the admin page);
    default: the ``config`` given. ``make_announcer``: how an announcer is built.
    """

    def __init__(
        self,
        config: SiteConfig,
        core: QueueCore,
        board: DeviceBoard,
        publish: Publish,
        base_dir: Path,
        current: Callable[[], SiteConfig] | None = None,
        make_announcer: MakeAnnouncer = Announcer,
        leases: LeaseKeeper | None = None,
    ) -> None:
        self.settings = voice_settings(config, base_dir)
        self.core = core
        self.board = board
        self.publish = publish
        self.current = current or (lambda: config)
        self.make_announcer = make_announcer
        self.announcer: Announcer | None = None
        self._zones: dict[str, _ZoneVoice] = {}
        self._lock = threading.Lock()
        self._speaks = bool(config.voice) and self.settings.enabled
        if not self._speaks:
            return  # a site without a [voice] table is silent
        core.bus.subscribe(listener({TicketCalled: [self.announce]}))
        if leases is None:
            self._start()
        else:
            leases.want(VOICE_LEASE, lambda device, generation: self._start(), lambda device: self._stop())

    def _start(self) -> None:
        """The whole hall's announcer (the zones' start at their first call)."""
        self.announcer = self.make_announcer(
            self.settings,
            sinks=make_sinks(self.settings, on_audio=self.to_lobby),
            on_status=self.status_changed,
        )
        self.status_changed(self.announcer.status, "announcer started")

    @property
    def enabled(self) -> bool:
        """Whether the hall speaks at all (a site without ``[voice]``, or a CLI command's hub, does not),
        whichever of its processes says the calls."""
        return self._speaks

    def close(self) -> None:
        """Stop the announcers: their worker processes end (calls not yet said are reported failed)."""
        if self._stop():
            log.info("stopping: voice worker stopped")

    def _stop(self) -> bool:
        """Stop every announcer of this process; whether there was one."""
        with self._lock:
            zones, self._zones = list(self._zones.values()), {}
            announcer, self.announcer = self.announcer, None
        for zone in zones:
            zone.announcer.close()
        if announcer is not None:
            announcer.close()
        return announcer is not None

    def cache_dir(self) -> Path:
        return Path(self.settings.cache_path())

    def announce(self, event: TicketCalled) -> None:
        """A committed call or recall, said aloud (queued: the announcer speaks in its own process):
        to the whole hall, and to every zone its counter is in, as the config says now.
        Nothing here when another process holds the voice's lease: it says the call."""
        announcer = self.announcer
        if announcer is None:
            return
        announcement = announcement_of(event)
        announcer.announce(announcement)
        config = self.current()
        if self._zones:
            self._close_gone_zones(config)
        for zone in zones_of_counter(config, event.counter):
            announcer = self.zone_announcer(config, zone)
            if announcer is not None:
                announcer.announce(announcement)

    def room_for(self, device: str | None) -> str:
        """The voice room a hall socket joins: its lobby screen's zone's, else the whole hall's.

        ``device``: the device token's name of a screen page (None: a console, a kiosk's page
        without a device entry). Read from the config as it is at the connection.
        """
        return voice_room(screen_zone(self.current(), device) if device else None)

    def zone_announcer(self, config: SiteConfig, zone: str) -> Announcer | None:
        """Zone ``zone``'s announcer, started at its first call; None when nothing in the zone
        makes sound (no ``lobby`` output and no speaker). One whose speaker changed is replaced
        (what the old one had not said yet is dropped: a live change is rare)."""
        outputs = self._zone_outputs(config, zone)
        stale = None
        with self._lock:
            voice = self._zones.get(zone)
            if voice is not None and voice.outputs != outputs:
                stale, voice = self._zones.pop(zone).announcer, None
            if voice is None and outputs:
                voice = self._start_zone(zone, outputs)
        if stale is not None:
            stale.close(timeout=0)  # never waits here: the call's request is waiting
        return voice.announcer if voice is not None else None

    def _close_gone_zones(self, config: SiteConfig) -> None:
        """Zones the config no longer has: their announcers stop (calls they had not said yet are dropped)."""
        codes = zone_codes(config)
        with self._lock:
            gone = [self._zones.pop(code).announcer for code in list(self._zones) if code not in codes]
        for announcer in gone:
            announcer.close(timeout=0)

    def _zone_outputs(self, config: SiteConfig, zone: str) -> tuple[Any, ...]:
        """What a zone's announcer says to: its screens' room (``lobby`` output), its speaker."""
        outputs: list[Any] = []
        if "lobby" in self.settings.outputs:
            outputs.append(voice_room(zone))
        speaker = zone_speaker(config, zone)
        if speaker is not None:
            command = speaker.settings.get("command") or self.settings.player_command or None
            outputs.append(("player", tuple(command) if command else None))
        return tuple(outputs)

    def _start_zone(self, zone: str, outputs: tuple[Any, ...]) -> _ZoneVoice:
        sinks: list[Sink] = []
        for output in outputs:
            if isinstance(output, str):
                sinks.append(CallbackSink(self._to_zone(zone)))
            else:
                sinks.append(PlayerSink(output[1]))
        device = zone_device(zone)
        self.board.register(device, "speaker")

        def on_status(state: str, detail: str = "") -> None:
            self.board.report(device, STATES.get(state, state), detail)

        announcer = self.make_announcer(self.settings, sinks=sinks, on_status=on_status, name=device)
        on_status(announcer.status, "announcer started")
        voice = self._zones[zone] = _ZoneVoice(zone, outputs, announcer)
        log.info("voice: zone %s speaks (%s)", zone, ", ".join(map(str, outputs)))
        return voice

    def _to_zone(self, zone: str) -> Callable[[Any], None]:
        return lambda audio: self._send(audio, zone)

    def test_phrase(self, zone: str | None = None) -> bool:
        """A short test phrase through the same announcer a call takes; False: no voice.

        ``zone``: the zone of the screen or speaker under test: its own announcer says it, to that
        zone's screens and speaker (the whole hall's would not reach them). None, or a zone that
        makes no sound of its own: the whole hall's announcer.
        """
        if self.announcer is None:
            return False
        config = self.current()
        announcer = self.announcer
        if zone is not None and zone in zone_codes(config):
            announcer = self.zone_announcer(config, zone) or self.announcer
        announcer.announce(
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
        """A rendered announcement of the whole hall: the screens without a zone play it, in order."""
        self._send(audio, None)

    def _send(self, audio: Any, zone: str | None) -> None:
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
                # whose announcer said it: a zone's code, None the whole hall's (seqs count per announcer)
                "zone": zone,
            },
            voice_room(zone),
        )

    def status_changed(self, state: str, detail: str = "") -> None:
        self.board.report(VOICE_DEVICE, STATES.get(state, state), detail)
