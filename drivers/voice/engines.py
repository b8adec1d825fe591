"""How it sounds: text → WAV with espeak-ng or pyttsx3, or joined from a site's recorded clips.

Every engine writes a WAV file for one phrase in one language. Engines:

- :class:`EspeakEngine` runs ``espeak-ng`` (a subprocess with a timeout) with
  ``-v cmn-latn-pinyin`` for Mandarin — the plain ``cmn`` voice reads Chinese
  characters with English rules and mispronounces common ones — and ``-v en``
  for English. 22,050 Hz mono 16-bit.
- :class:`Pyttsx3Engine` drives the same synthesiser through pyttsx3's espeak
  driver (``save_to_file`` + ``runAndWait``). pyttsx3 keeps one engine per
  process and its completion is unreliable, so it is only ever created inside
  the announcer's worker process, whose parent watches it and restarts it.
- :class:`SegmentEngine` joins the site's recorded WAV clips (see
  :data:`CLIP_WORDS_ZH` and ``docs/voice.md`` for the file names) and
  synthesises, with a fallback engine, whatever the clips do not cover.

:class:`RenderCache` keeps rendered WAVs in a directory, named by a hash of
what determines their sound (text, voice, engine settings, clip set): a text
is synthesised once.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .audio import DEFAULT_RATE, AudioFormatError, Pcm, read_pcm, silence, wav_info
from .phrasing import Phrase, say_token

log = logging.getLogger(__name__)

DEFAULT_VOICES: dict[str, str] = {"zh": "cmn-latn-pinyin", "en": "en"}
DEFAULT_RATE_WPM = 150  # espeak's default (175) is brisk for a hall


class EngineError(RuntimeError):
    """Synthesis failed (engine missing, non-zero exit, timeout, empty output)."""


def run_tool(
    argv: list[str],
    *,
    what: str,
    timeout: float,
    error: type[Exception],
    stdin: bytes | None = None,
    missing: str = "",
) -> None:
    """Run an outside program (espeak-ng, a player) to its end; any failure is one ``error`` line.

    Its output is not wanted, its stderr only for the message: a voice that
    cannot be made or played is reported per announcement, never raised raw.
    """
    try:
        feed: dict[str, Any] = {"stdin": subprocess.DEVNULL} if stdin is None else {"input": stdin}
        done = subprocess.run(
            argv,
            **feed,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise error(f"{what} not found{missing}") from exc
    except subprocess.TimeoutExpired as exc:
        raise error(f"{what} took more than {timeout:.1f} s") from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()
        raise error(f"{what} exited {done.returncode}: {err[:200]}")


class Engine(Protocol):
    name: str

    def key(self, lang: str) -> dict[str, Any]:
        """Everything that changes how ``lang`` sounds: part of the cache key."""
        ...

    def synthesize(self, text: str, lang: str, out_path: Path) -> None:
        """Write ``text`` spoken in ``lang`` to ``out_path`` as a PCM WAV file."""
        ...


_LONE_CAPITAL_A = re.compile(r"(?<![\w'])A(?![\w'])")


def speech_text(text: str, lang: str) -> str:
    """The text as handed to espeak-ng: works around its reading of the letter "A" in English.

    espeak-ng's English reads a lone capital "A" as the article (a schwa,
    "Number uh zero one two"); "eh" gets the letter's name. Other letters are
    read by name already (checked with ``espeak-ng -x``). Mandarin needs nothing.
    """
    if lang == "en":
        return _LONE_CAPITAL_A.sub("eh", text)
    return text


def _voice_for(voices: Mapping[str, str], lang: str) -> str:
    try:
        return voices[lang]
    except KeyError:
        raise EngineError(f"no voice configured for language {lang!r}") from None


class EspeakEngine:
    """``espeak-ng -v VOICE -s RATE -a AMPLITUDE -p PITCH -b 1 -w OUT --stdin`` with a timeout.

    The text goes in on stdin (UTF-8), never on the command line, so a text
    that starts with "-" is not an option. ``last_command`` is the argv of the
    last run (for tests and the admin's diagnostics).
    """

    name = "espeak"

    def __init__(
        self,
        voices: Mapping[str, str] | None = None,
        rate: int = DEFAULT_RATE_WPM,
        amplitude: int = 100,
        pitch: int = 50,
        timeout: float = 5.0,
        executable: str = "espeak-ng",
    ) -> None:
        self.voices = {**DEFAULT_VOICES, **(voices or {})}
        if self.voices.get("zh") == "cmn":
            log.warning(
                "voice: plain 'cmn' mispronounces common characters; 'cmn-latn-pinyin' is recommended"
            )
        self.rate = int(rate)
        self.amplitude = int(amplitude)
        self.pitch = int(pitch)
        self.timeout = timeout
        self.executable = executable
        self.last_command: list[str] = []
        self._version: str | None = None
        self._known: set[str] | None = None

    def version(self) -> str:
        if self._version is None:
            try:
                out = subprocess.run(
                    [self.executable, "--version"], capture_output=True, timeout=self.timeout, check=False
                )
                self._version = out.stdout.decode("utf-8", "replace").split("Data at")[0].strip() or "unknown"
            except (OSError, subprocess.SubprocessError):
                self._version = "unknown"
        return self._version

    def known_voices(self) -> set[str]:
        """Every name ``-v`` accepts (language codes, voice names, files), lower case; empty if unknown."""
        if self._known is None:
            try:
                out = subprocess.run(
                    [self.executable, "--voices"], capture_output=True, timeout=self.timeout, check=False
                ).stdout.decode("utf-8", "replace")
            except (OSError, subprocess.SubprocessError):
                out = ""
            known: set[str] = set()
            for line in out.splitlines()[1:]:
                cols = line.split()
                if len(cols) < 5:
                    continue
                known.update(c.lower() for c in (cols[1], cols[3], cols[4], cols[4].rsplit("/", 1)[-1]))
                known.update(code.lower() for code in re.findall(r"\(([^ )]+) \d+\)", line))
            self._known = known
        return self._known

    def check_voice(self, voice: str) -> None:
        """espeak-ng falls back to English, silently, for a voice it does not know: refuse instead."""
        known = self.known_voices()
        if known and voice.split("+", 1)[0].lower() not in known:
            raise EngineError(f"espeak-ng has no voice {voice!r} (see espeak-ng --voices)")

    def key(self, lang: str) -> dict[str, Any]:
        return {
            "engine": self.name,
            "voice": _voice_for(self.voices, lang),
            "rate": self.rate,
            "amplitude": self.amplitude,
            "pitch": self.pitch,
            "version": self.version(),
        }

    def command(self, lang: str, out_path: Path) -> list[str]:
        return [
            self.executable,
            "-v",
            _voice_for(self.voices, lang),
            "-s",
            str(self.rate),
            "-a",
            str(self.amplitude),
            "-p",
            str(self.pitch),
            "-b",
            "1",
            "-w",
            str(out_path),
            "--stdin",
        ]

    def synthesize(self, text: str, lang: str, out_path: Path) -> None:
        self.check_voice(_voice_for(self.voices, lang))
        cmd = self.command(lang, out_path)
        self.last_command = cmd
        run_tool(
            cmd,
            what=self.executable,
            timeout=self.timeout,
            error=EngineError,
            stdin=speech_text(text, lang).encode("utf-8"),
            missing=": install espeak-ng",
        )
        _check_output(out_path, self.executable)


class Pyttsx3Engine:
    """pyttsx3 with its espeak driver: ``save_to_file`` + ``runAndWait``; one engine per process.

    The pyttsx3 engine is created on first use and refuses to be used from
    another process (a forked copy of it would share espeak's state). Use it
    in the announcer's worker only (``engine = "pyttsx3"`` in the settings).
    pyttsx3's espeak driver always writes 22,050 Hz mono 16-bit, and prints
    a line per file on stdout, which is swallowed here.
    """

    name = "pyttsx3"

    def __init__(
        self, voices: Mapping[str, str] | None = None, rate: int = DEFAULT_RATE_WPM, volume: float = 1.0
    ) -> None:
        self.voices = {**DEFAULT_VOICES, **(voices or {})}
        self.rate = int(rate)
        self.volume = float(volume)
        self._engine: Any = None
        self._pid: int | None = None
        self._version: str | None = None

    def key(self, lang: str) -> dict[str, Any]:
        if self._version is None:
            from importlib.metadata import PackageNotFoundError, version

            try:
                self._version = version("pyttsx3")
            except PackageNotFoundError:
                self._version = "unknown"
        return {
            "engine": self.name,
            "voice": _voice_for(self.voices, lang),
            "rate": self.rate,
            "volume": self.volume,
            "version": self._version,
        }

    def _get(self) -> Any:
        if self._engine is None:
            try:
                import pyttsx3
            except ImportError as exc:
                raise EngineError("pyttsx3 is not installed (pip install pyttsx3==2.99)") from exc
            try:
                self._engine = pyttsx3.init("espeak")
            except Exception as exc:
                raise EngineError(f"pyttsx3 could not start its espeak driver: {exc}") from exc
            self._pid = os.getpid()
        elif self._pid != os.getpid():
            raise EngineError("a pyttsx3 engine belongs to the process that created it")
        return self._engine

    def synthesize(self, text: str, lang: str, out_path: Path) -> None:
        engine = self._get()
        try:
            engine.setProperty("voice", _voice_for(self.voices, lang))
            engine.setProperty("rate", self.rate)
            engine.setProperty("volume", self.volume)
            with contextlib.suppress(FileNotFoundError):
                out_path.unlink()
            with contextlib.redirect_stdout(io.StringIO()):
                engine.save_to_file(speech_text(text, lang), str(out_path))
                engine.runAndWait()
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"pyttsx3: {exc}") from exc
        _check_output(out_path, "pyttsx3")


def _check_output(path: Path, who: str) -> None:
    if not path.exists():
        raise EngineError(f"{who} wrote no file")
    try:
        _, _, _, nframes = wav_info(path)
    except AudioFormatError as exc:
        raise EngineError(f"{who} wrote a bad WAV: {exc}") from exc
    if nframes == 0:
        raise EngineError(f"{who} wrote no audio")


def make_engine(
    engine: str,
    voices: Mapping[str, str] | None = None,
    rate: int = DEFAULT_RATE_WPM,
    timeout: float = 5.0,
) -> Engine:
    if engine == "espeak":
        return EspeakEngine(voices, rate=rate, timeout=timeout)
    if engine == "pyttsx3":
        return Pyttsx3Engine(voices, rate=rate)
    raise ValueError(f"engine: {engine!r} is not 'espeak' or 'pyttsx3'")


# -- the cache -----------------------------------------------------------------


def key_hash(key: Any) -> str:
    blob = json.dumps(key, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:32]


class RenderCache:
    """Rendered WAVs in ``directory``, named ``{kind}-{hash}.wav`` (URL-safe: ``[a-z0-9-.]``).

    ``get_or_make(kind, key, make)`` returns ``(path, was_cached)``: an existing
    file is returned as it is (its mtime refreshed: pruning removes the least
    recently used); otherwise ``make(tmp_path)`` writes a temporary file that is
    renamed into place, so a reader (a lobby screen fetching the URL) never sees
    half a file. Beyond ``max_files`` the oldest files are removed.
    """

    def __init__(self, directory: str | os.PathLike[str], max_files: int = 2000) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_files = max_files
        self._made = 0

    def path(self, kind: str, key: Any) -> Path:
        return self.directory / f"{kind}-{key_hash(key)}.wav"

    def get_or_make(self, kind: str, key: Any, make: Callable[[Path], None]) -> tuple[Path, bool]:
        path = self.path(kind, key)
        if path.exists():
            with contextlib.suppress(OSError):
                os.utime(path)
            return path, True
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=self.directory)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            make(tmp)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._made += 1
        if self._made % 50 == 0:
            self.prune()
        return path, False

    def prune(self) -> int:
        """Remove the least recently used files beyond ``max_files``; the number removed."""
        try:
            entries = [
                (e.stat().st_mtime, e.path) for e in os.scandir(self.directory) if e.name.endswith(".wav")
            ]
        except OSError:
            return 0
        excess = len(entries) - self.max_files
        if excess <= 0:
            return 0
        entries.sort()
        removed = 0
        for _, p in entries[: excess + self.max_files // 10]:
            with contextlib.suppress(OSError):
                os.unlink(p)
                removed += 1
        return removed


# -- recorded segments -------------------------------------------------------------

#: Mandarin words with a clip of their own, by pinyin file name (``qing.wav`` is 请).
CLIP_WORDS_ZH: dict[str, str] = {
    "请": "qing",
    "号": "hao",
    "到": "dao",
    "窗口": "chuangkou",
    "诊室": "zhenshi",
    "柜台": "guitai",
    "办理": "banli",
    "就诊": "jiuzhen",
    "再次": "zaici",
    "呼叫": "hujiao",
}
#: Chinese numerals (a counter's "12" is read 十二) → clip names.
ZH_NUMERAL_CLIPS: dict[str, str] = {
    **{c: f"zh_{i}" for i, c in enumerate("零一二三四五六七八九")},
    "十": "zh_10",
    "百": "zh_100",
    "千": "zh_1000",
}
PAUSE_CHARS = ",.;:!?，。；：！？、"
PAUSE_SECONDS = 0.2
_MAX_WORDS = 6  # en: "en_please_go_to_counter.wav" covers up to 6 words


def zh_cardinal(digits: str) -> str:
    """How a counter number is said in Mandarin: "3" → 三, "12" → 十二, "105" → 一百零五 (up to 9999)."""
    n = int(digits)
    if n >= 10_000 or (len(digits) > 1 and digits.startswith("0")):
        return "".join("零一二三四五六七八九"[int(d)] for d in digits)
    if n == 0:
        return "零"
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    out: list[str] = []
    zero_pending = False
    for value, unit in units:
        d = n // value % 10
        if d == 0:
            if out:
                zero_pending = True
            continue
        if zero_pending:
            out.append("零")
            zero_pending = False
        if not (value == 10 and d == 1 and not out):  # 10–19: 十, 十二, not 一十二
            out.append("零一二三四五六七八九"[d])
        out.append(unit)
    return "".join(out)


@dataclass(frozen=True)
class Step:
    """One piece of a joined phrase: a clip, a text for the fallback engine, or a pause."""

    kind: str  # "clip" | "synth" | "pause"
    value: str  # clip name | text | ""
    seconds: float = 0.0


class SegmentEngine:
    """Joins a site's recorded clips into a phrase; the fallback engine says the rest.

    ``directory`` holds ``*.wav`` clips named by token (case-insensitive):
    ``chime``; Mandarin words by pinyin (:data:`CLIP_WORDS_ZH`: ``qing`` 请,
    ``hao`` 号, ``dao`` 到, ``chuangkou`` 窗口, ``zhenshi`` 诊室 …) or as
    ``zh_<汉字>`` (``zh_收费处.wav``); digits ``zh_0``…``zh_9`` and ``en_0``…``en_9``;
    ``zh_10`` 十, ``zh_100`` 百, ``zh_1000`` 千 for counter numbers; letters ``A``…``Z``
    (or per language ``zh_A``, ``en_A``); English words and runs of words as
    ``en_<words joined by _>`` (``en_number``, ``en_please_go_to``, ``en_counter``).
    The longest match wins. A piece no clip covers is synthesised; a comma or
    full stop is a 0.2 s pause.

    All clips are converted to one rate (``rate``; by default the most common
    rate among the clips) and joined end to end, as they are: trim silence in
    the recordings themselves.
    """

    name = "segments"

    def __init__(self, directory: str | os.PathLike[str], fallback: Engine, rate: int | None = None) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ValueError(f"segments_dir: {self.directory} is not a directory")
        self.fallback = fallback
        self.clips: dict[str, Path] = {}
        rates: collections.Counter[int] = collections.Counter()
        fingerprint = hashlib.sha256()
        for path in sorted(self.directory.iterdir()):
            if path.suffix.lower() != ".wav" or not path.is_file():
                continue
            name = path.stem.lower()
            if name in self.clips:
                raise ValueError(f"segments_dir: {path.name} and {self.clips[name].name} are the same clip")
            _, _, clip_rate, _ = wav_info(path)  # refuses non-PCM files up front
            self.clips[name] = path
            rates[clip_rate] += 1
            st = path.stat()
            fingerprint.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        self.rate = rate or (rates.most_common(1)[0][0] if rates else DEFAULT_RATE)
        self.fingerprint = fingerprint.hexdigest()[:24]
        self._loaded: dict[str, Pcm] = {}

    def has(self, name: str) -> bool:
        return name.lower() in self.clips

    def clip(self, name: str) -> Pcm:
        """A clip as mono 16-bit at :attr:`rate` (converted once, then kept)."""
        name = name.lower()
        pcm = self._loaded.get(name)
        if pcm is None:
            pcm = read_pcm(self.clips[name], self.rate)
            self._loaded[name] = pcm
        return pcm

    def key(self, lang: str) -> dict[str, Any]:
        return {
            "engine": self.name,
            "fingerprint": self.fingerprint,
            "rate": self.rate,
            "fallback": self.fallback.key(lang),
        }

    # -- choosing the clips ------------------------------------------------------

    def _first(self, *names: str) -> str | None:
        for name in names:
            if name and self.has(name):
                return name.lower()
        return None

    def plan(self, phrase: Phrase) -> list[Step]:
        """The clips, synthesised texts and pauses that make up the phrase, in order."""
        steps: list[Step] = []
        pending: list[str] = []
        sep = "" if phrase.lang == "zh" else " "

        def flush() -> None:
            if pending:
                text = sep.join(pending).strip()
                if text:
                    steps.append(Step("synth", text))
                pending.clear()

        def clip(name: str) -> None:
            flush()
            steps.append(Step("clip", name))

        for part in phrase.parts:
            if part.kind == "number":
                for token in part.tokens:
                    lang = phrase.lang
                    name = self._first(f"{lang}_{token}", token if token.isalpha() else "")
                    if name:
                        clip(name)
                    else:
                        pending.append(say_token(token, lang))
                continue
            if phrase.lang == "zh":
                self._plan_zh(part.text, pending, clip, flush, steps)
            else:
                self._plan_en(part.text, pending, clip, flush, steps)
        flush()
        return steps

    def _pause(self, steps: list[Step], flush: Callable[[], None]) -> None:
        flush()
        steps.append(Step("pause", "", PAUSE_SECONDS))

    def _plan_zh(
        self,
        text: str,
        pending: list[str],
        clip: Callable[[str], None],
        flush: Callable[[], None],
        steps: list[Step],
    ) -> None:
        i = 0
        longest = max(
            [len(w) for w in CLIP_WORDS_ZH] + [len(n) - 3 for n in self.clips if n.startswith("zh_")] + [1]
        )
        while i < len(text):
            ch = text[i]
            if ch.isspace():
                i += 1
                continue
            if ch in PAUSE_CHARS:
                self._pause(steps, flush)
                i += 1
                continue
            if ch.isascii() and ch.isdigit():
                j = i
                while j < len(text) and text[j].isascii() and text[j].isdigit():
                    j += 1
                run = text[i:j]
                whole = self._first(f"zh_{run}")
                if whole:
                    clip(whole)
                else:
                    for numeral in zh_cardinal(run):
                        name = self._first(ZH_NUMERAL_CLIPS[numeral])
                        if name:
                            clip(name)
                        else:
                            pending.append(numeral)
                i = j
                continue
            for j in range(min(len(text), i + longest), i, -1):
                piece = text[i:j]
                name = self._first(
                    CLIP_WORDS_ZH.get(piece, ""),
                    f"zh_{piece}",
                    ZH_NUMERAL_CLIPS.get(piece, ""),
                    piece if len(piece) == 1 and piece.isascii() and piece.isalpha() else "",
                )
                if name:
                    clip(name)
                    i = j
                    break
            else:
                pending.append(ch)
                i += 1

    def _plan_en(
        self,
        text: str,
        pending: list[str],
        clip: Callable[[str], None],
        flush: Callable[[], None],
        steps: list[Step],
    ) -> None:
        tokens = re.findall(r"[A-Za-z']+|\d+|[^\sA-Za-z\d]", text)
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if not tok[0].isalnum():
                if tok in PAUSE_CHARS:
                    self._pause(steps, flush)
                i += 1
                continue
            if tok.isdigit():
                name = self._first(f"en_{tok}")
                if name:
                    clip(name)
                else:
                    pending.append(tok)
                i += 1
                continue
            for k in range(min(_MAX_WORDS, len(tokens) - i), 0, -1):
                words = tokens[i : i + k]
                if not all(w[0].isalpha() for w in words):
                    continue
                letter = tok if k == 1 and len(tok) == 1 and tok.isupper() else ""
                name = self._first("en_" + "_".join(w.lower() for w in words), letter)
                if name:
                    clip(name)
                    i += k
                    break
            else:
                pending.append(tok)
                i += 1

    # -- joining -------------------------------------------------------------------------

    def render(self, phrase: Phrase, synth: Callable[[str, str], Path]) -> tuple[Pcm, list[Step]]:
        """The joined phrase at :attr:`rate`; ``synth(text, lang)`` returns a WAV of a fallback piece."""
        steps = self.plan(phrase)
        pieces: list[Pcm] = []
        for step in steps:
            if step.kind == "clip":
                pieces.append(self.clip(step.value))
            elif step.kind == "synth":
                pieces.append(read_pcm(synth(step.value, phrase.lang), self.rate))
            else:
                pieces.append(silence(self.rate, step.seconds))
        return Pcm(self.rate, b"".join(p.frames for p in pieces)), steps


def copy_into(src: Path, directory: Path, name: str) -> Path:
    """Put a rendered WAV under ``directory/name`` (hard link when possible), atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / name
    if dest.exists():
        return dest
    tmp = directory / f".tmp-{os.getpid()}-{name}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    return dest
