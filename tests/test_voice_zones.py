"""Voice zones (issue 14): a screen or speaker hears only the calls of its zone's counters.

Three layers: the ``[[zones]]`` table checked by ``load_config`` (one line naming
the file, the key and what was expected); the routing of ``VoiceService`` with
announcers that "render" at once (which announcer gets a call, which room its
announcement goes to, a live change of the config applied at the next call);
and the backlog rule per zone with real announcers, worker processes, real
espeak-ng and a player script standing in for each zone's amplifier: a busy
wing's calls are shortened, the quiet wing's lone call is said in full.

The browser test with two lobby pages in two zones is
``tests/test_browser_voice_zones.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from drivers.voice import Announcement, CallbackSink, PlayerSink
from server.config import ConfigError, SiteConfig, load_config
from server.devices.board import DeviceBoard
from server.devices.listeners import TicketCalled
from server.devices.rooms import VOICE_HALL, voice_room
from server.devices.voice import ANNOUNCEMENT, VoiceService, zone_device
from server.devices.zones import screen_zone, zones_of_counter
from tests.support import write_site
from tests.test_voice import Hall
from tests.test_voice_backlog import need_espeak

ROOT = Path(__file__).resolve().parents[1]

#: Zone A hears counters 1 and 3, zone B counters 2 and 3; counter 4 is in no zone.
ZONES = """
[[zones]]
code = "A"
name_zh = "一楼"
name_en = "Floor 1"
counters = [1, 3]

[[zones]]
code = "B"
name_zh = "二楼"
name_en = "Floor 2"
counters = [2, 3]

[[devices]]
name = "screen-a"
kind = "lobby_screen"
settings = { zone = "A" }

[[devices]]
name = "screen-b"
kind = "lobby_screen"
settings = { zone = "B" }

[[devices]]
name = "screen-hall"
kind = "lobby_screen"
"""

VOICE = """
[voice]
enabled = true
outputs = ["lobby"]
languages = ["zh"]
chime = false
cache_dir = "{cache}"
"""


def site(tmp_path: Path, extra: str, counters: int = 4, name: str = "site.toml") -> Path:
    path = write_site(tmp_path / name, f"sqlite:///{tmp_path / 'qcall.db'}", counters)
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


# -- the site file ---------------------------------------------------------------------------------


def test_zones_are_read_and_a_site_without_them_has_none(tmp_path: Path) -> None:
    config = load_config(site(tmp_path, ZONES))
    assert [(z.code, z.counters) for z in config.zones] == [("A", [1, 3]), ("B", [2, 3])]
    assert zones_of_counter(config, 1) == ("A",)
    assert zones_of_counter(config, 3) == ("A", "B"), "a counter's calls can go to several zones"
    assert zones_of_counter(config, 4) == ()
    assert screen_zone(config, "screen-a") == "A"
    assert screen_zone(config, "screen-hall") is None, "no zone: the whole hall"
    assert screen_zone(config, "no-such-screen") is None
    assert load_config(site(tmp_path, "", name="plain.toml")).zones == []


def test_the_hospital_sample_has_a_zone_per_floor() -> None:
    config = load_config(ROOT / "config" / "samples" / "hospital_outpatient.toml")
    assert [z.code for z in config.zones] == ["F1", "PHARM", "F2", "F3"]
    assert zones_of_counter(config, 21) == ("F1", "PHARM"), "the pharmacy is heard in the main hall too"
    assert zones_of_counter(config, 201) == ("F2",)
    assert screen_zone(config, "lobby-3f") == "F3"
    for name in ("default.toml", "samples/utility_hall.toml", "samples/bank_branch.toml"):
        assert load_config(ROOT / "config" / name).zones == [], name


SPEAKER_A = '\n[[devices]]\nname = "amp-a"\nkind = "speaker"\nsettings = { zone = "A" }\n'


@pytest.mark.parametrize(
    ("extra", "where", "expected"),
    [
        (
            ZONES.replace('code = "B"', 'code = "A"'),
            "zones[1].code: 'A' is used twice",
            "expected each code once",
        ),
        (
            ZONES.replace("counters = [1, 3]", "counters = [1, 9]"),
            "zones[0].counters: no counter 9",
            "[1, 2, 3, 4]",
        ),
        (
            ZONES.replace("counters = [1, 3]", "counters = [1, 1]"),
            "zones[0].counters: counter 1 is listed twice",
            "once",
        ),
        (ZONES.replace("counters = [1, 3]", "counters = []"), "zones[0].counters", "at least 1 item"),
        (ZONES.replace('code = "A"', 'code = "A B"'), "zones[0].code", "expected up to 32 letters"),
        (
            ZONES.replace('zone = "B"', 'zone = "C"'),
            "devices[1].settings.zone: unknown zone 'C'",
            "['A', 'B']",
        ),
        (
            '\n[[devices]]\nname = "s"\nkind = "lobby_screen"\nsettings = { zone = "A" }\n',
            "devices[0].settings.zone: unknown zone 'A'",
            "expected the code of a [[zones]] table",
        ),
        (
            ZONES
            + '\n[[devices]]\nname = "c1"\nkind = "counter_screen"\ncounter = 1\nsettings = { zone = "A" }\n',
            "devices[3].settings.zone: a counter_screen makes no sound",
            "expected zone only on a lobby_screen or a speaker",
        ),
        (
            ZONES + SPEAKER_A + SPEAKER_A.replace("amp-a", "amp-a2"),
            "devices[4].settings.zone: zone 'A' has a speaker already (devices[3])",
            "expected one speaker (amplifier) per zone",
        ),
        (
            ZONES + SPEAKER_A.replace('zone = "A"', 'zone = "A", command = "aplay"'),
            "devices[3].settings.command",
            "expected a list of words",
        ),
    ],
    ids=[
        "duplicate-code",
        "unknown-counter",
        "counter-twice",
        "no-counters",
        "bad-code",
        "unknown-zone",
        "zone-without-zones",
        "zone-on-a-counter-screen",
        "two-speakers",
        "command-not-a-list",
    ],
)
def test_a_bad_zone_is_one_line_naming_file_key_and_expectation(
    tmp_path: Path, extra: str, where: str, expected: str
) -> None:
    path = site(tmp_path, extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    assert where in message and expected in message, message


# -- routing: which announcer, which room ----------------------------------------------------------


class Rendering:
    """An announcer that renders every call at once into its callback sinks (no process, no sound)."""

    made: ClassVar[list[Rendering]] = []

    def __init__(
        self, settings: Any, *, sinks: list[Any], on_status: Any = None, name: str = "voice"
    ) -> None:
        self.sinks, self.name = sinks, name
        self.said: list[Announcement] = []
        self.closed = False
        self.status = "ok"
        Rendering.made.append(self)

    def announce(self, announcement: Announcement) -> None:
        self.said.append(announcement)
        audio = SimpleNamespace(
            seq=len(self.said),
            ticket_id=announcement.ticket_id,
            number=announcement.number,
            recall=announcement.recall,
            name="a-" + "0" * 32 + ".wav",
            duration=1.0,
            texts=(("zh", announcement.number),),
            shortened=(),
        )
        for sink in self.sinks:
            if isinstance(sink, CallbackSink):
                sink.fn(audio)

    def close(self, timeout: float = 5.0) -> None:
        self.closed = True


class Screens:
    """What the hub published: (room, announcement) in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, event: str, payload: dict[str, Any], room: str | None = None) -> None:
        if event == ANNOUNCEMENT:
            assert room is not None
            self.sent.append((room, payload))

    def numbers(self, room: str) -> list[str]:
        return [p["number"] for r, p in self.sent if r == room]


def voice_service(
    config: SiteConfig, screens: Screens, current: Any = None, make: Any = Rendering
) -> VoiceService:
    board = DeviceBoard(
        {d.name: d.kind for d in config.devices}, lambda: dt.datetime.now(dt.UTC), screens.publish
    )
    core: Any = SimpleNamespace(bus=SimpleNamespace(subscribe=lambda fn: None))  # the voice only subscribes
    return VoiceService(
        config, core, board, screens.publish, config.folder, current=current, make_announcer=make
    )


def called(counter: int, number: str) -> TicketCalled:
    return TicketCalled(f"t-{number}", number, counter, f"{counter}号窗口", f"Counter {counter}", False)


def test_a_call_reaches_its_zones_rooms_and_the_whole_hall_not_the_other_zone(tmp_path: Path) -> None:
    config = load_config(site(tmp_path, ZONES + VOICE.format(cache=tmp_path / "cache")))
    screens = Screens()
    voice = voice_service(config, screens)
    try:
        for counter, number in ((1, "A001"), (2, "A002"), (3, "A003"), (4, "A004"), (1, "A005")):
            voice.announce(called(counter, number))
        assert screens.numbers(voice_room("A")) == ["A001", "A003", "A005"], "zone A: counters 1 and 3"
        assert screens.numbers(voice_room("B")) == ["A002", "A003"], "zone B: counters 2 and 3"
        assert screens.numbers(VOICE_HALL) == ["A001", "A002", "A003", "A004", "A005"], "no zone: all"
        assert {p["zone"] for r, p in screens.sent} == {None, "A", "B"}
        assert all(p["zone"] == (r.split(":")[1] if ":" in r else None) for r, p in screens.sent)
        # seqs count per announcer: zone A's three are 1, 2, 3 whatever the other zone said
        assert [p["seq"] for r, p in screens.sent if r == voice_room("A")] == [1, 2, 3]
        assert voice.board.get(zone_device("A")) is not None, "a zone's announcer is on the device board"
        # the rooms a hall socket joins
        assert voice.room_for("screen-a") == "voice:A" and voice.room_for("screen-b") == "voice:B"
        assert (
            voice.room_for("screen-hall") == VOICE_HALL == voice.room_for(None) == voice.room_for("kiosk-1")
        )
    finally:
        voice.close()


def test_a_live_change_of_the_zones_applies_at_the_next_call_and_connection(tmp_path: Path) -> None:
    first = load_config(site(tmp_path, ZONES + VOICE.format(cache=tmp_path / "cache")))
    moved = ZONES.replace("counters = [1, 3]", "counters = [3]").replace(
        "counters = [2, 3]", "counters = [1, 2]"
    )
    second = load_config(site(tmp_path, moved + VOICE.format(cache=tmp_path / "cache"), name="moved.toml"))
    gone = load_config(site(tmp_path, VOICE.format(cache=tmp_path / "cache"), name="gone.toml"))
    now = {"config": first}
    screens = Screens()
    Rendering.made.clear()
    voice = voice_service(first, screens, current=lambda: now["config"])
    try:
        voice.announce(called(1, "A001"))
        now["config"] = second  # the admin page moved counter 1 to zone B
        voice.announce(called(1, "A002"))
        assert screens.numbers(voice_room("A")) == ["A001"]
        assert screens.numbers(voice_room("B")) == ["A002"]
        zone_a = next(a for a in Rendering.made if a.name == zone_device("A"))
        now["config"] = gone  # no zones any more: the zones' announcers stop, screens hear the whole hall
        voice.announce(called(1, "A003"))
        assert zone_a.closed and all(a.closed for a in Rendering.made if a.name != "voice")
        assert screens.numbers(VOICE_HALL) == ["A001", "A002", "A003"]
        assert voice.room_for("screen-a") == VOICE_HALL
    finally:
        voice.close()


def test_a_site_without_zones_speaks_through_one_announcer_to_the_whole_hall(tmp_path: Path) -> None:
    config = load_config(site(tmp_path, VOICE.format(cache=tmp_path / "cache")))
    screens = Screens()
    Rendering.made.clear()
    voice = voice_service(config, screens)
    try:
        for counter in (1, 2, 3):
            voice.announce(called(counter, f"A00{counter}"))
        assert [a.name for a in Rendering.made] == ["voice"]
        assert [r for r, _ in screens.sent] == [VOICE_HALL] * 3
    finally:
        voice.close()


def test_a_zone_with_a_speaker_plays_on_its_command_and_a_silent_zone_has_no_announcer(
    tmp_path: Path,
) -> None:
    speaker = SPEAKER_A.replace('zone = "A"', 'zone = "A", command = ["aplay", "-D", "plughw:1", "{path}"]')
    player_only = VOICE.format(cache=tmp_path / "cache").replace(
        'outputs = ["lobby"]', 'outputs = ["player"]'
    )
    config = load_config(site(tmp_path, ZONES + speaker + player_only))
    Rendering.made.clear()
    voice = voice_service(config, Screens())
    try:
        voice.announce(called(3, "A001"))  # zones A and B: A has an amplifier, B has nothing that sounds
        zones = [a for a in Rendering.made if a.name != "voice"]
        assert [a.name for a in zones] == [zone_device("A")]
        assert zones[0].sinks == [PlayerSink(("aplay", "-D", "plughw:1", "{path}"))]
        assert [a.number for a in zones[0].said] == ["A001"]
    finally:
        voice.close()


# -- the backlog rule, per zone: real announcers, espeak-ng, a player per zone ------------------------


def test_a_busy_zone_is_shortened_and_the_quiet_zone_says_its_call_in_full(tmp_path: Path) -> None:
    """Three calls at once in zone A, one in zone B (each zone's amplifier a player script): A's first
    call is shortened (two wait behind it), B's is said in full; the whole hall's announcer, which hears
    all four, shortens B's call too. Each amplifier plays only its zone's calls, in order."""
    need_espeak()
    hall = Hall()
    try:
        player = list(hall.player(0.2).command or ())
        amps = "".join(
            f'\n[[devices]]\nname = "amp-{z.lower()}"\nkind = "speaker"\n'
            f'settings = {{ zone = "{z}", command = {list(player)!r} }}\n'.replace("'", '"')
            for z in ("A", "B")
        )
        zones = ZONES.replace("counters = [1, 3]", "counters = [1, 2, 3]").replace(
            "counters = [2, 3]", "counters = [4]"
        )
        voice_table = (
            f'\n[voice]\nenabled = true\noutputs = ["lobby"]\nlanguages = ["zh", "en"]\nrepeat = 2\n'
            f'chime = true\ncache_dir = "{tmp_path / "cache"}"\n'
        )
        config = load_config(site(tmp_path, zones + amps + voice_table))
        screens = Screens()
        done = threading.Condition()

        def publish(event: str, payload: dict[str, Any], room: str | None = None) -> None:
            with done:
                screens.publish(event, payload, room)
                done.notify_all()

        board = DeviceBoard({}, lambda: dt.datetime.now(dt.UTC), publish)
        core: Any = SimpleNamespace(bus=SimpleNamespace(subscribe=lambda fn: None))
        voice = VoiceService(config, core, board, publish, config.folder)
        try:
            for counter, number in ((1, "A001"), (4, "A004"), (2, "A002"), (3, "A003")):
                voice.announce(called(counter, number))
            with done:
                assert done.wait_for(lambda: len(screens.sent) == 8, 60), screens.sent
            assert hall.wait(lambda h: len(h.plays) == 4 and all(p["end"] for p in h.plays), 30), hall.plays
        finally:
            voice.close()
    finally:
        hall.close()
    by_room = {
        room: [(p["number"], tuple(p["shortened"])) for r, p in screens.sent if r == room]
        for room in (voice_room("A"), voice_room("B"), VOICE_HALL)
    }
    zone_a, zone_b, whole = by_room[voice_room("A")], by_room[voice_room("B")], by_room[VOICE_HALL]
    assert [n for n, _ in zone_a] == ["A001", "A002", "A003"], "zone A: its calls, in order"
    assert zone_a[0][1][:2] == ("repeat", "second_language"), "two waiting behind it: shortened"
    assert zone_b == [("A004", ())], "zone B's lone call is said in full: A's backlog is not B's"
    assert [n for n, _ in whole] == ["A001", "A004", "A002", "A003"]
    assert dict(whole)["A004"], "the whole hall's announcer, which hears all four, shortens it"
    # each amplifier played its zone's WAVs: A's three, then (or meanwhile) B's one
    urls = {p["url"].rsplit("/", 1)[1]: r for r, p in screens.sent if r != VOICE_HALL}
    played = [urls[p["name"]] for p in hall.plays]
    assert sorted(played) == [voice_room("A")] * 3 + [voice_room("B")]
