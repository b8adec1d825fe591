"""A voice that keeps up (issue 10): when calls pile up, each is said shorter, never dropped, in order.

The rule (drivers/voice/backlog.py) is checked as a pure function first; then
the renderer's shortened variants (real espeak-ng, cached by their phrasing);
then the hall itself: six calls within one second through a real announcer,
its worker process and real espeak-ng WAVs, paced at each WAV's length as the
lobby screens play them (``pace``), so that every time measured is the
hall's real time. The sixth call must start being said within 15 s of its
call; said in full (chime, Mandarin and English, twice: ≈ 19 s each) it would
start a minute and a half late.

Waits are on the announcer's events (a condition), with deadlines; the only
timed pause is the test's own input: calls spread over one second.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from drivers.voice import (
    Announcement,
    Announcer,
    CallbackSink,
    FileSink,
    Phrasing,
    Renderer,
    VoiceSettings,
    choose_phrasing,
)
from drivers.voice.audio import read_pcm
from drivers.voice.backlog import is_shortest, pressure, shortenings
from server.config import ConfigError, load_config
from tests.test_voice import Hall, check_wav, espeak_direct
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
#: The sample hall's announcement (config/samples/utility_hall.toml): chime, zh and en, twice.
SAMPLE = {"languages": ["zh", "en"], "repeat": 2, "chime": True}
TARGET_S = 15.0  # the sixth of six calls made within a second starts within this
ALL = ("repeat", "second_language", "chime", "rate")


def call(n: int, **kw: Any) -> Announcement:
    return Announcement(f"t-{n:04d}", f"A{n:03d}", f"{n}号窗口", f"counter {n}", **kw)


def need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but espeak-ng is not installed (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is not installed")


# -- the rule, as a pure function ----------------------------------------------------------------


def test_the_rule_drops_repeat_then_second_language_then_chime_then_speaks_faster() -> None:
    s = VoiceSettings.from_mapping(SAMPLE)
    a = call(1)
    full = Phrasing(("zh", "en"), 2, True, 150)
    assert choose_phrasing(s, a, waiting=0, late=0.0) == full, "nobody waiting, on time: said in full"
    said = [choose_phrasing(s, a, waiting=w, late=0.0) for w in range(6)]
    assert [p.shortened for p in said] == [(), ALL[:1], ALL[:2], ALL[:3], ALL, ALL]
    assert said[1] == Phrasing(("zh", "en"), 1, True, 150, ("repeat",))
    assert said[2] == Phrasing(("zh",), 1, True, 150, ("repeat", "second_language"))
    assert said[3] == Phrasing(("zh",), 1, False, 150, ALL[:3])
    assert said[4] == Phrasing(("zh",), 1, False, 210, ALL), "rate × 1.4 unless backlog_rate says"
    # never shorter than once, in the first language: however long the queue, however late
    assert choose_phrasing(s, a, waiting=500, late=3600.0) == said[4]

    # lateness: every whole 3 s late counts as one more call waiting
    assert [pressure(s, 0, late) for late in (0.0, 2.9, 3.0, 8.9, 9.0)] == [0, 0, 1, 2, 3]
    assert choose_phrasing(s, a, waiting=1, late=6.5).shortened == ALL[:3]
    assert pressure(VoiceSettings.from_mapping({"backlog_late_s": 0}), 2, 600.0) == 2, "0: not counted"

    # backlog_after: how many must wait before the first step is taken
    later = VoiceSettings.from_mapping({**SAMPLE, "backlog_after": 3})
    assert [choose_phrasing(later, a, w, 0.0).shortened for w in (2, 3, 4)] == [(), ALL[:1], ALL[:2]]

    # the order is the site's; [] never shortens
    chime_first = VoiceSettings.from_mapping({**SAMPLE, "backlog_shorten": ["chime", "repeat"]})
    assert [choose_phrasing(chime_first, a, w, 0.0).shortened for w in (1, 2, 9)] == [
        ("chime",),
        ("chime", "repeat"),
        ("chime", "repeat"),
    ]
    never = VoiceSettings.from_mapping({**SAMPLE, "backlog_shorten": []})
    assert choose_phrasing(never, a, 99, 999.0) == full


def test_steps_that_change_nothing_are_skipped_and_a_recall_keeps_its_chime_and_pace() -> None:
    once = VoiceSettings()  # repeat 1: the first step that saves time is the second language
    assert [p.shortened for p in shortenings(once, call(1))] == [(), *(ALL[1:i] for i in (2, 3, 4))]
    assert choose_phrasing(once, call(1), waiting=1, late=0.0).shortened == ("second_language",)
    zh_only = VoiceSettings(languages=("zh",), chime=False)
    assert [p.shortened for p in shortenings(zh_only, call(1))] == [(), ("rate",)]
    # the call's own languages and repeat are shortened the same way
    own = call(1, languages=("en", "zh"), repeat=3)
    assert choose_phrasing(once, own, 2, 0.0) == Phrasing(
        ("en",), 1, True, 150, ("repeat", "second_language")
    )
    # recorded clips cannot be sped up: the "rate" step is skipped with segments_dir
    clips = VoiceSettings(segments_dir=str(ROOT / "config"))
    assert shortenings(clips, call(1))[-1].shortened == ("second_language", "chime")
    # an explicit backlog_rate; equal to rate: nothing to gain, skipped
    assert shortenings(VoiceSettings(backlog_rate=180), call(1))[-1].rate == 180
    assert shortenings(VoiceSettings(backlog_rate=150), call(1))[-1].shortened == ALL[1:3]

    # A recall is for someone who missed the call: it keeps the chime that turns heads and
    # the normal rate, and is still said at least once in the first language.
    s = VoiceSettings.from_mapping(SAMPLE)
    recall = call(1, recall=True)
    assert choose_phrasing(s, recall, waiting=9, late=60.0) == Phrasing(
        ("zh",), 1, True, 150, ("repeat", "second_language")
    )
    assert choose_phrasing(s, recall, waiting=1, late=0.0).shortened == ("repeat",)

    # is_shortest: when more calls could not shorten it further (the announcer stops gathering)
    assert not is_shortest(s, call(1), 3, 0.0) and is_shortest(s, call(1), 4, 0.0)
    assert is_shortest(s, recall, 2, 0.0) and is_shortest(VoiceSettings(backlog_shorten=()), call(1), 0, 0.0)
    chosen = choose_phrasing(s, call(1), 4, 0.0)
    assert Phrasing.from_dict(chosen.to_dict()) == chosen, "it travels to the worker as plain data"


def test_backlog_settings_are_checked_by_name_in_the_voice_table_and_the_hub_config(tmp_path: Path) -> None:
    s = VoiceSettings()
    assert (s.backlog_shorten, s.backlog_after, s.backlog_late_s, s.backlog_rate, s.backlog_gather_s) == (
        ALL,
        1,
        3.0,
        None,
        1.0,
    )
    assert s.hurried_rate() == 210 and VoiceSettings(rate=300).hurried_rate() == 400
    read = VoiceSettings.from_mapping(
        {"backlog_shorten": ["chime"], "backlog_after": 2, "backlog_late_s": 0, "backlog_rate": 0}
    )
    assert (read.backlog_shorten, read.backlog_after, read.backlog_late_s, read.backlog_rate) == (
        ("chime",),
        2,
        None,
        None,
    )
    for bad, match in [
        ({"backlog_shorten": ["chimes"]}, r"^voice: backlog_shorten: 'chimes' is not one of 'repeat'"),
        ({"backlog_shorten": "repeat"}, r"^voice: backlog_shorten: a list"),
        ({"backlog_shorten": ["chime", "chime"]}, r"^voice: backlog_shorten: 'chime' is named twice"),
        ({"backlog_after": 0}, r"^voice: backlog_after: .* got 0"),
        ({"backlog_after": "2"}, r"^voice: backlog_after: a whole number, got '2'"),
        ({"backlog_after": True}, r"^voice: backlog_after: a whole number"),
        ({"backlog_late_s": -1}, r"^voice: backlog_late_s: .* got -1"),
        ({"backlog_rate": 120}, r"^voice: backlog_rate: .*from rate \(150\) to 400, got 120"),
        ({"backlog_rate": 999}, r"^voice: backlog_rate: "),
        ({"backlog_gather_s": 30}, r"^voice: backlog_gather_s: .* got 30"),
        ({"repeat": "2"}, r"^voice: repeat: a whole number, got '2'"),
        ({"backlog_afterr": 1}, r"unknown key 'backlog_afterr'"),
    ]:
        with pytest.raises(ValueError, match=match):
            VoiceSettings.from_mapping(bad)

    # the hub's config check is built on the same settings: one line, the file and the key
    sample = (ROOT / "config" / "samples" / "utility_hall.toml").read_text(encoding="utf-8")
    assert "backlog_shorten" in sample, "the sample documents the backlog keys"
    site = tmp_path / "site.toml"
    assert sample.count("\nbacklog_after = 1\n") == 1
    site.write_text(sample.replace("\nbacklog_after = 1\n", '\nbacklog_after = "one"\n'), encoding="utf-8")
    with pytest.raises(ConfigError) as bad_site:
        load_config(site)
    message = str(bad_site.value)
    assert "\n" not in message and message == f"{site}: voice: backlog_after: a whole number, got 'one'"
    for name in ("default.toml", "samples/utility_hall.toml", "samples/hospital_outpatient.toml"):
        load_config(ROOT / "config" / name)  # the shipped files stay valid


# -- rendering: shortened variants, real espeak-ng, cached by phrasing ----------------------------


def test_shortened_renderings_are_real_and_cached_by_their_phrasing(tmp_path: Path) -> None:
    need_espeak()
    s = VoiceSettings.from_mapping({**SAMPLE, "cache_dir": str(tmp_path / "cache")})
    renderer = Renderer(s)
    a = call(12)
    variants = shortenings(s, a)
    first = [renderer.render(a, phrasing=p) for p in variants]
    assert not any(r.cached for r in first) and len({r.name for r in first}) == len(variants)
    durations = [r.duration for r in first]
    assert durations == sorted(durations, reverse=True), f"each step makes it shorter: {durations}"
    assert durations[0] > 15.0 and durations[-1] < 3.0, durations
    assert [r.shortened for r in first] == [p.shortened for p in variants]
    assert first[-1].texts == (("zh", "请A 零 一 二号到12号窗口"),)

    # the shortest is the very sound of espeak-ng at 210 words per minute: nothing else in the file
    shortest = read_pcm(first[-1].path)
    assert shortest.frames == espeak_direct(tmp_path, "cmn-latn-pinyin", first[-1].texts[0][1], rate=210)
    # in full, it is the same file as a renderer without any phrasing makes (the cache of before)
    assert renderer.render(a).path == first[0].path

    # every variant comes back from the cache, also for a new renderer (a restarted worker)
    again = [Renderer(s).render(a, phrasing=p) for p in variants]
    assert all(r.cached for r in again) and [r.path for r in again] == [r.path for r in first]
    for r in first[1:]:
        check_wav(r.path, 1.0, 30.0)


# -- the hall: six calls within one second ----------------------------------------------------------


def burst(tmp_path: Path, spread: float, hall: Hall) -> tuple[Announcer, dict[int, float], Path]:
    """Six calls (A001…A006 at counters 1–6) within ``spread`` seconds into a warm announcer."""
    settings = VoiceSettings.from_mapping({**SAMPLE, "cache_dir": str(tmp_path / "cache")})
    lobby = tmp_path / "lobby"
    announcer = Announcer(
        settings,
        sinks=[FileSink(str(lobby)), CallbackSink(hall.on_audio)],
        on_event=hall.on_event,
        pace=True,  # each announcement lasts its WAV's length, as on the lobby screens
    )
    wait_until(lambda: announcer.worker_pid, "the announcer's worker is up")  # a hub's starts with it
    called: dict[int, float] = {}
    gap = threading.Event()
    for n in range(1, 7):
        called[n] = time.monotonic()
        announcer.announce(call(n))
        if spread and n < 6:
            gap.wait(spread / 5)  # the test's input: calls made over one second
    return announcer, called, lobby


@pytest.mark.parametrize("spread", [0.0, 1.0], ids=["together", "over-one-second"])
def test_six_calls_in_one_second_are_each_said_once_in_order_the_sixth_within_15_s(
    tmp_path: Path, spread: float
) -> None:
    need_espeak()
    hall = Hall()
    announcer, called, lobby = burst(tmp_path, spread, hall)
    try:
        assert hall.wait(lambda h: len(h.of("finished")) + len(h.of("failed")) == 6, 60), [
            (e.kind, e.number, e.detail) for e in hall.events
        ]
    finally:
        announcer.close()
        hall.close()
    rendered, started, finished = hall.of("rendered"), hall.of("started"), hall.of("finished")
    assert not hall.of("failed") and not hall.of("collapsed")
    assert [e.seq for e in rendered] == [1, 2, 3, 4, 5, 6], "each said once, in call order"
    assert [e.number for e in finished] == [f"A{n:03d}" for n in range(1, 7)]
    assert [a.seq for a in hall.audio] == [1, 2, 3, 4, 5, 6], "the lobby got each WAV once, in order"
    for i in range(5):
        assert finished[i].mono <= started[i + 1].mono, "two announcements at once"
    sound_starts = {e.seq: e.mono - called[e.seq] for e in rendered}  # the WAV is ready: it plays now
    assert sound_starts[6] <= TARGET_S, f"the sixth started {sound_starts[6]:.1f} s after its call"
    # the first of the burst is not said in full while five wait: it gathered them
    assert rendered[0].shortened == ALL and sound_starts[1] <= 1.5, sound_starts
    for event in rendered:
        assert event.texts[0][0] == "zh" and "号窗口" in event.texts[0][1], "first language, at least once"
        assert event.shortened[:1] == ("repeat",), "the repeat goes first"
        path = lobby / str(event.name)
        assert path.exists(), "the lobby's file is there"
        with wave.open(str(path), "rb") as w:
            assert w.getframerate() == 22050 and w.getnframes() > 22050
    assert finished[-1].mono - called[6] <= TARGET_S + 5.0


def test_a_lone_call_gathers_for_a_second_then_is_said_in_full_and_a_recall_keeps_its_chime(
    tmp_path: Path,
) -> None:
    need_espeak()
    hall = Hall()
    settings = VoiceSettings.from_mapping({**SAMPLE, "cache_dir": str(tmp_path / "cache")})
    announcer = Announcer(settings, sinks=[CallbackSink(hall.on_audio)], on_event=hall.on_event, pace=False)
    try:
        wait_until(lambda: announcer.worker_pid, "the announcer's worker is up")
        t0 = time.monotonic()
        announcer.announce(call(1))
        assert hall.wait(lambda h: len(h.of("finished")) == 1)
        first = hall.of("started")[0]
        assert 1.0 <= first.mono - t0 < 1.0 + 2.0, "a call into a silent hall waits 1 s for company"
        assert hall.of("rendered")[0].shortened == () and len(hall.of("rendered")[0].texts) == 2

        # a recall with three calls waiting behind it: it loses its repeat and English, keeps its chime
        announcer.announce(call(1, recall=True))
        for n in (2, 3, 4):
            announcer.announce(call(n))
        assert hall.wait(lambda h: len(h.of("finished")) == 5)
        recall = hall.of("rendered")[1]
        assert recall.recall and recall.number == "A001"
        assert hall.of("rendered")[2].shortened == ALL[:2], "two waiting behind it: two steps"
        assert recall.shortened == ("repeat", "second_language") and recall.texts == (
            ("zh", "请A 零 零 一号到1号窗口"),
        )
        chime = read_pcm(Renderer(settings).cache.path("c", Renderer(settings).chime_key()))
        assert read_pcm(Path(str(recall.path))).frames.startswith(chime.frames), "the recall's chime"
    finally:
        announcer.close()
        hall.close()

    quick = Hall()
    settings = VoiceSettings.from_mapping(
        {**SAMPLE, "cache_dir": str(tmp_path / "cache"), "backlog_gather_s": 0}
    )
    announcer = Announcer(settings, sinks=[CallbackSink(quick.on_audio)], on_event=quick.on_event, pace=False)
    try:
        wait_until(lambda: announcer.worker_pid, "the announcer's worker is up")
        t0 = time.monotonic()
        announcer.announce(call(7))
        assert quick.wait(lambda h: bool(h.of("started")))
        assert quick.of("started")[0].mono - t0 < 0.5, "backlog_gather_s = 0: no waiting"
    finally:
        announcer.close()
        quick.close()
