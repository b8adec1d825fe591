"""One announcement → one WAV: chime, then each language's phrase, repeated, at the site's volume.

The layout of an announcement::

    chime · 0.25 s · zh · 0.5 s · en  [· 0.5 s · zh · 0.5 s · en …repeat]

Phrases and whole announcements are cached (:class:`~drivers.voice.engines.RenderCache`):
the key of an announcement is computed from its inputs before anything is
rendered, so a call whose words were said before (the same number at the same
counter, a recall) is ready after one hash and one ``stat``.

How an announcement is phrased (its languages, repeat, chime and speech rate)
may be shortened by the announcer when calls pile up
(:mod:`drivers.voice.backlog`); every phrasing is keyed by exactly those
inputs, so a shortened variant is cached beside the full one and the next
backlog reuses it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .audio import DEFAULT_RATE, Pcm, chime, read_pcm, scale, silence, wav_duration, write_wav
from .backlog import Phrasing, full_phrasing
from .engines import Engine, RenderCache, SegmentEngine, Step, make_engine
from .phrasing import Announcement, Phrase, build_phrases
from .settings import VoiceSettings

CHIME_VERSION = 1  # bump when chime() changes, so cached chimes are made again

#: The names of rendered files (``Rendered.name``): a hub serving ``cache_dir`` accepts only these.
RENDERED_NAME = re.compile(r"^[a-z]-[0-9a-f]{32}\.wav$")


@dataclass(frozen=True)
class Rendered:
    """A rendered announcement: the WAV to play or to send to the lobby screens."""

    path: Path
    name: str  # the file's name: URL-safe, unique for its content
    duration: float  # seconds
    cached: bool  # True: the whole announcement came from the cache
    texts: tuple[tuple[str, str], ...]  # (lang, text) in the order said
    clips: int = 0  # recorded clips used (segments)
    synthesized: tuple[str, ...] = field(default=())  # pieces the clips did not cover, synthesised
    shortened: tuple[str, ...] = ()  # the backlog steps taken (drivers/voice/backlog.py); (): in full


class Renderer:
    """Builds announcement WAVs from the settings; one per worker process (it holds the engine)."""

    def __init__(self, settings: VoiceSettings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(
            settings.engine, settings.voices, settings.rate, settings.engine_timeout_s
        )
        self.cache = RenderCache(settings.cache_path(), settings.cache_max_files)
        self.segments = (
            SegmentEngine(settings.segments_dir, self.engine, settings.sample_rate)
            if settings.segments_dir
            else None
        )
        self.rate = self.segments.rate if self.segments else (settings.sample_rate or DEFAULT_RATE)
        self._chime: Pcm | None = None
        self._engines: dict[int, Engine] = {settings.rate: self.engine}

    # -- pieces ---------------------------------------------------------------

    def engine_at(self, wpm: int | None) -> Engine:
        """The engine speaking at ``wpm`` words per minute (a backlog's faster speech); made once per rate."""
        wpm = wpm or self.settings.rate
        if wpm not in self._engines:
            s = self.settings
            self._engines[wpm] = make_engine(s.engine, s.voices, wpm, s.engine_timeout_s)
        return self._engines[wpm]

    def phrase_key(self, phrase: Phrase, wpm: int | None = None) -> dict[str, Any]:
        source = self.segments or self.engine_at(wpm)
        return {
            "lang": phrase.lang,
            "text": phrase.text,
            "source": source.key(phrase.lang),
            "rate": self.rate,
        }

    def synthesize(self, text: str, lang: str, wpm: int | None = None) -> Path:
        """``text`` in ``lang`` by the engine at ``wpm``, through the cache (also the segments' fallback)."""
        engine = self.engine_at(wpm)
        key = {"lang": lang, "text": text, "source": engine.key(lang)}
        path, _ = self.cache.get_or_make("s", key, lambda tmp: engine.synthesize(text, lang, tmp))
        return path

    def phrase_pcm(self, phrase: Phrase, wpm: int | None = None) -> tuple[Pcm, list[Step]]:
        if self.segments is None:
            return read_pcm(self.synthesize(phrase.text, phrase.lang, wpm), self.rate), [
                Step("synth", phrase.text)
            ]
        steps: list[Step] = []

        def make(tmp: Path) -> None:
            pcm, plan = self.segments.render(phrase, self.synthesize)  # type: ignore[union-attr]
            steps.extend(plan)
            write_wav(tmp, pcm)

        path, cached = self.cache.get_or_make("p", self.phrase_key(phrase), make)
        if cached:
            steps = self.segments.plan(phrase)
        return read_pcm(path, self.rate), steps

    def chime_key(self, wanted: bool | None = None) -> Any:
        """What the chime is made of; None without one (``wanted``: the phrasing's say, else the site's)."""
        if not (self.settings.chime if wanted is None else wanted):
            return None
        if self.segments is not None and self.segments.has("chime"):
            return {"clip": self.segments.fingerprint, "rate": self.rate}
        return {"generated": CHIME_VERSION, "rate": self.rate}

    def chime_pcm(self, wanted: bool | None = None) -> Pcm | None:
        if not (self.settings.chime if wanted is None else wanted):
            return None
        if self._chime is None:
            if self.segments is not None and self.segments.has("chime"):
                self._chime = self.segments.clip("chime")
            else:
                path, _ = self.cache.get_or_make(
                    "c", self.chime_key(), lambda tmp: write_wav(tmp, chime(self.rate))
                )
                self._chime = read_pcm(path, self.rate)
        return self._chime

    # -- announcements ----------------------------------------------------------

    def phrases(self, announcement: Announcement, languages: tuple[str, ...] | None = None) -> list[Phrase]:
        """The phrases said: in ``languages`` when given (a shortened phrasing), over the call's own."""
        s = self.settings
        if languages:
            announcement = replace(announcement, languages=tuple(languages))
        return build_phrases(announcement, s.templates, s.recall_templates, languages or s.languages)

    def announcement_key(
        self, phrases: list[Phrase], repeat: int, chime: bool | None = None, wpm: int | None = None
    ) -> dict[str, Any]:
        """Everything the announcement's sound depends on: a shortened phrasing is another key."""
        s = self.settings
        return {
            "phrases": [self.phrase_key(p, wpm) for p in phrases],
            "chime": self.chime_key(chime),
            "repeat": repeat,
            "volume": s.volume,
            "gap_ms": s.gap_ms,
            "chime_gap_ms": s.chime_gap_ms,
            "rate": self.rate,
        }

    def render(
        self,
        announcement: Announcement,
        languages: tuple[str, ...] | None = None,
        repeat: int | None = None,
        *,
        phrasing: Phrasing | None = None,
    ) -> Rendered:
        """The announcement's WAV, from the cache when its words were rendered before.

        ``phrasing`` (the announcer's choice, possibly shortened) decides languages,
        repeat, chime and speech rate; without it, the announcement's own or the
        given ``languages``/``repeat``, else the site's.
        """
        if phrasing is None:
            full = full_phrasing(self.settings, announcement)
            phrasing = Phrasing(
                tuple(announcement.languages or languages or full.languages),
                announcement.repeat or repeat or full.repeat,
                full.chime,
                full.rate,
            )
        phrases = self.phrases(announcement, phrasing.languages)
        texts = tuple((p.lang, p.text) for p in phrases)
        key = self.announcement_key(phrases, phrasing.repeat, phrasing.chime, phrasing.rate)
        path = self.cache.path("a", key)
        if path.exists():
            os.utime(path)
            return Rendered(path, path.name, wav_duration(path), True, texts, shortened=phrasing.shortened)
        plans: list[list[Step]] = []

        def make(tmp: Path) -> None:
            pieces = self._pieces(phrases, phrasing, plans)
            whole = Pcm(self.rate, b"".join(p.frames for p in pieces))
            write_wav(tmp, scale(whole, self.settings.volume))

        path, cached = self.cache.get_or_make("a", key, make)
        steps = [step for plan in plans for step in plan]
        return Rendered(
            path,
            path.name,
            wav_duration(path),
            cached,
            texts,
            clips=sum(1 for st in steps if st.kind == "clip") if self.segments else 0,
            synthesized=tuple(st.value for st in steps if st.kind == "synth"),
            shortened=phrasing.shortened,
        )

    def _pieces(self, phrases: list[Phrase], phrasing: Phrasing, plans: list[list[Step]]) -> list[Pcm]:
        """chime · gap · zh · gap · en [· gap · zh · gap · en …repeat], as the phrasing says."""
        s = self.settings
        pieces: list[Pcm] = []
        ding = self.chime_pcm(phrasing.chime)
        if ding is not None:
            pieces += [ding, silence(self.rate, s.chime_gap_ms / 1000)]
        said = []
        for p in phrases:
            pcm, plan = self.phrase_pcm(p, phrasing.rate)
            said.append(pcm)
            plans.append(plan)
        gap = silence(self.rate, s.gap_ms / 1000)
        for r in range(phrasing.repeat):
            for i, pcm in enumerate(said):
                pieces.append(pcm)
                if r < phrasing.repeat - 1 or i < len(said) - 1:
                    pieces.append(gap)
        return pieces
