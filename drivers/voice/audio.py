"""PCM in, PCM out: read, convert, join and write the WAV files announcements are made of.

Everything inside the voice driver is one format: mono, 16-bit signed
little-endian PCM at one sample rate (espeak-ng's own output: 22,050 Hz). A
recorded clip in another PCM layout (stereo, 8/24/32-bit, another rate) is
converted on load; a clip that is not PCM at all (float, µ-law, ADPCM, MP3 in
a WAV) is refused with an :class:`AudioFormatError` naming the file.

Plain Python with :mod:`array`: announcements are seconds long, and the one
costly step (resampling a clip) happens once per clip, not per call.
"""

from __future__ import annotations

import array
import contextlib
import math
import os
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

SAMPLE_WIDTH = 2  # bytes: 16-bit
DEFAULT_RATE = 22_050


class AudioFormatError(ValueError):
    """A WAV file that cannot be used (not PCM, unreadable, or an unsupported layout)."""


@dataclass(frozen=True)
class Pcm:
    """Mono 16-bit little-endian samples at ``rate`` Hz."""

    rate: int
    frames: bytes

    @property
    def nframes(self) -> int:
        return len(self.frames) // SAMPLE_WIDTH

    @property
    def duration(self) -> float:
        return self.nframes / self.rate

    def __add__(self, other: Pcm) -> Pcm:
        if other.rate != self.rate:
            raise ValueError(f"cannot join {self.rate} Hz and {other.rate} Hz audio")
        return Pcm(self.rate, self.frames + other.frames)


def _samples(frames: bytes) -> array.array[int]:
    a = array.array("h")
    a.frombytes(frames)
    if sys.byteorder == "big":
        a.byteswap()
    return a


def _frames(samples: array.array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def wav_info(path: str | os.PathLike[str]) -> tuple[int, int, int, int]:
    """(channels, sample width in bytes, rate, frames) of a PCM WAV file."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{path}: not a PCM WAV file ({exc})") from exc


def wav_duration(path: str | os.PathLike[str]) -> float:
    _, _, rate, nframes = wav_info(path)
    return nframes / rate


def read_pcm(path: str | os.PathLike[str], rate: int | None = None) -> Pcm:
    """A PCM WAV file as mono 16-bit, resampled to ``rate`` when given and different."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, file_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioFormatError(
            f"{path}: cannot be used as a clip ({exc}); use PCM WAV (8, 16, 24 or 32-bit integer samples)"
        ) from exc
    if channels < 1 or width not in (1, 2, 3, 4):
        raise AudioFormatError(f"{path}: {channels} channel(s) of {width}-byte samples is not supported")
    mono = to_mono16(raw, channels, width)
    pcm = Pcm(file_rate, mono)
    if rate is not None and rate != file_rate:
        pcm = resample(pcm, rate)
    return pcm


def to_mono16(raw: bytes, channels: int, width: int) -> bytes:
    """Interleaved little-endian PCM of any integer width → mono 16-bit (channels averaged)."""
    if width == 2:
        samples = _samples(raw[: len(raw) - len(raw) % 2])
    elif width == 1:  # unsigned 8-bit
        samples = array.array("h", ((b - 128) << 8 for b in raw))
    elif width == 3:
        samples = array.array(
            "h",
            (int.from_bytes(raw[i + 1 : i + 3], "little", signed=True) for i in range(0, len(raw) - 2, 3)),
        )
    else:  # 4: signed 32-bit
        samples = array.array(
            "h",
            (int.from_bytes(raw[i + 2 : i + 4], "little", signed=True) for i in range(0, len(raw) - 3, 4)),
        )
    if channels > 1:
        n = len(samples) // channels
        samples = array.array(
            "h", (sum(samples[i * channels : (i + 1) * channels]) // channels for i in range(n))
        )
    return _frames(samples)


def resample(pcm: Pcm, rate: int) -> Pcm:
    """Linear-interpolation resampling: fine for speech clips; supply clips at one rate for the best."""
    if rate == pcm.rate or not pcm.frames:
        return Pcm(rate, pcm.frames)
    src = _samples(pcm.frames)
    n_out = max(1, round(len(src) * rate / pcm.rate))
    step = pcm.rate / rate
    last = len(src) - 1
    out = array.array("h", bytes(2 * n_out))
    for i in range(n_out):
        pos = i * step
        j = int(pos)
        if j >= last:
            out[i] = src[last]
            continue
        frac = pos - j
        out[i] = int(src[j] + (src[j + 1] - src[j]) * frac)
    return Pcm(rate, _frames(out))


def silence(rate: int, seconds: float) -> Pcm:
    return Pcm(rate, bytes(SAMPLE_WIDTH * round(rate * max(0.0, seconds))))


def scale(pcm: Pcm, volume: float) -> Pcm:
    """Multiply every sample by ``volume`` (0.0 – 1.0 quieter, clipped above full scale)."""
    if volume == 1.0:
        return pcm
    samples = _samples(pcm.frames)
    out = array.array("h", (max(-32768, min(32767, int(s * volume))) for s in samples))
    return Pcm(pcm.rate, _frames(out))


def rms(pcm: Pcm) -> float:
    samples = _samples(pcm.frames)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def join(pieces: list[Pcm], rate: int) -> Pcm:
    """Concatenate pieces that are all at ``rate`` (convert them first)."""
    for p in pieces:
        if p.rate != rate:
            raise ValueError(f"join: a piece is {p.rate} Hz, expected {rate} Hz")
    return Pcm(rate, b"".join(p.frames for p in pieces))


def write_wav(path: str | os.PathLike[str], pcm: Pcm) -> None:
    """Write atomically (a temporary file beside it, then rename): readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(SAMPLE_WIDTH)
            w.setframerate(pcm.rate)
            w.writeframes(pcm.frames)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def chime(rate: int = DEFAULT_RATE, volume: float = 0.5) -> Pcm:
    """A soft two-tone "ding-dong" (E5 then C5, bell-like partials, gentle decay), about 1.3 s.

    Used when a site supplies no ``chime.wav``. Generated, not shipped, so the
    repository holds no binary audio and any sample rate is exact.
    """
    notes = ((659.26, 0.0, 0.65), (523.25, 0.5, 0.8))  # (Hz, start s, length s)
    total = round(rate * 1.35)
    acc = [0.0] * total
    partials = ((1.0, 1.0), (2.0, 0.28), (3.0, 0.08), (4.16, 0.05))  # (multiple, weight): a small bell
    weight = sum(w for _, w in partials)
    for freq, start, length in notes:
        first = round(start * rate)
        n = min(round(length * rate), total - first)
        attack = round(0.008 * rate)
        for i in range(n):
            t = i / rate
            env = math.exp(-4.2 * t / length)
            if i < attack:
                env *= i / attack
            tail = n - i
            if tail < attack:  # fade the last few ms so the note never clicks
                env *= tail / attack
            s = sum(w * math.sin(2 * math.pi * freq * m * t) for m, w in partials) / weight
            acc[first + i] += env * s
    peak = max(abs(v) for v in acc) or 1.0
    gain = 32767 * volume / peak
    return Pcm(rate, _frames(array.array("h", (int(v * gain) for v in acc))))
