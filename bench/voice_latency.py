"""Call → first audio byte ready: how long from ``Announcer.announce()`` until the WAV can be played.

Prints one JSON object. For each engine (espeak-ng run directly, pyttsx3 in the
worker, and recorded segments joined with espeak-ng for the rest) a fresh
announcer with its own empty cache and a ``CallbackSink``, no player and no
pacing, so that what is measured is the announcer and the engine:

- ``cold_start``: the first call, which also starts the worker process;
- ``uncached``: ``--calls`` calls with numbers never said before (A001, A002, …
  at counters 1–20): both phrases are synthesised (or joined), the chime comes
  from the cache, the announcement WAV is written;
- ``cached``: the same numbers and counters again (new ticket ids): the whole
  announcement comes from the cache.

Latency = the moment the parent's ``CallbackSink`` is called with the rendered
WAV − the moment just before ``announce()``, both ``time.monotonic()`` in this
process. Calls go one at a time (the next once the previous has finished), so
no call waits behind another. ``worker_ms`` is the part spent in the worker
(its ``started`` → ``rendered`` stamps). ``announce_call`` is the time
``announce()`` itself takes: what the hub pays per call.

Targets: p99 ≤ 100 ms cached, ≤ 1 s uncached.

    .venv/bin/python bench/voice_latency.py [--calls 50] [--engines espeak,pyttsx3,segments]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Only light imports at module level: the announcer's worker is started with "spawn", which
# imports this file again in the worker process.

TARGET_CACHED_P99_MS = 100.0
TARGET_UNCACHED_P99_MS = 1000.0

EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CLIP_TEXTS = {  # clip name → (espeak-ng voice, text): a site's recordings, made here with espeak-ng
    "qing": ("cmn-latn-pinyin", "请"),
    "hao": ("cmn-latn-pinyin", "号"),
    "dao": ("cmn-latn-pinyin", "到"),
    "chuangkou": ("cmn-latn-pinyin", "窗口"),
    "A": ("cmn-latn-pinyin", "A"),
    "zh_10": ("cmn-latn-pinyin", "十"),
    **{f"zh_{d}": ("cmn-latn-pinyin", "零一二三四五六七八九"[d]) for d in range(10)},
    "en_number": ("en", "number"),
    "en_please_go_to": ("en", "please go to"),
    "en_counter": ("en", "counter"),
    "en_A": ("en", "eh"),
    **{f"en_{d}": ("en", w) for d, w in enumerate(EN_DIGITS)},
}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def summary(seconds: list[float]) -> dict[str, float]:
    return {
        f"{name}_ms": round(percentile(seconds, p) * 1000, 2)
        for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
    }


def make_clips(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, (voice, text) in CLIP_TEXTS.items():
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(directory / f"{name}.wav"), text], check=True)


class Probe:
    """Waits for one announcement's rendered WAV and its end."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.rendered: dict[int, float] = {}  # seq → monotonic in this process at the CallbackSink
        self.worker_ms: dict[int, float] = {}
        self.cached: dict[int, bool] = {}
        self.ended: set[int] = set()
        self.failures: list[str] = []
        self._started: dict[int, float] = {}

    def on_audio(self, audio: Any) -> None:
        now = time.monotonic()
        with self.cond:
            self.rendered[audio.seq] = now
            self.cached[audio.seq] = audio.cached
            self.worker_ms[audio.seq] = (audio.mono - self._started.get(audio.seq, audio.mono)) * 1000
            self.cond.notify_all()

    def on_event(self, event: Any) -> None:
        with self.cond:
            if event.kind == "started":
                self._started[event.seq] = event.mono
            elif event.kind in ("finished", "failed"):
                self.ended.add(event.seq)
                if event.kind == "failed":
                    self.failures.append(event.detail)
            self.cond.notify_all()

    def wait(self, seq: int, timeout: float = 30.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: seq in self.ended, timeout)


def run_engine(kind: str, calls: int, workdir: Path) -> dict[str, Any]:
    from drivers.voice import Announcement, Announcer, CallbackSink, VoiceSettings

    settings: dict[str, Any] = {"cache_dir": str(workdir / f"cache-{kind}")}
    if kind == "pyttsx3":
        settings["engine"] = "pyttsx3"
    elif kind == "segments":
        clips = workdir / "clips"
        make_clips(clips)
        settings["segments_dir"] = str(clips)
    probe = Probe()
    announcer = Announcer(
        VoiceSettings.from_mapping(settings),
        sinks=[CallbackSink(probe.on_audio)],
        on_event=probe.on_event,
        pace=False,
    )
    seq = 0
    missing = 0

    def one(ticket: str, number: str, counter: int) -> tuple[float, float, float | None, bool | None]:
        nonlocal seq, missing
        seq += 1
        a = Announcement(ticket, number, f"{counter}号窗口", f"counter {counter}")
        t0 = time.monotonic()
        announcer.announce(a)
        call = time.monotonic() - t0
        if not probe.wait(seq) or seq not in probe.rendered:
            missing += 1
            return call, math.nan, None, None
        return call, probe.rendered[seq] - t0, probe.worker_ms.get(seq), probe.cached.get(seq)

    try:
        _, cold, _, _ = one("warm-0", "Z999", 99)
        series: dict[str, dict[str, Any]] = {}
        announce_calls: list[float] = []
        for name in ("uncached", "cached"):
            latencies, in_worker, cached_flags = [], [], []
            for i in range(1, calls + 1):
                call, latency, worker_ms, cached = one(f"{name}-{i}", f"A{i:03d}", (i - 1) % 20 + 1)
                announce_calls.append(call)
                if not math.isnan(latency):
                    latencies.append(latency)
                    in_worker.append((worker_ms or 0.0) / 1000)
                    cached_flags.append(bool(cached))
            series[name] = {
                **summary(latencies),
                "worker_p50_ms": summary(in_worker)["p50_ms"],
                "from_cache": sum(cached_flags),
                "calls": len(latencies),
            }
    finally:
        announcer.close()
    return {
        "cold_start_ms": round(cold * 1000, 1),
        **series,
        "announce_call": summary(announce_calls),
        "missing": missing,
        "failures": probe.failures[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="calls per series (default 50)")
    parser.add_argument("--engines", default="espeak,pyttsx3,segments")
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    result: dict[str, Any] = {
        "benchmark": "voice_latency",
        "calls_per_series": args.calls,
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
        "target_cached_p99_ms": TARGET_CACHED_P99_MS,
        "target_uncached_p99_ms": TARGET_UNCACHED_P99_MS,
        "engines": {},
    }
    with tempfile.TemporaryDirectory(prefix="qcall-voice-bench-") as tmp:
        for kind in engines:
            print(f"voice_latency: {kind} …", file=sys.stderr, flush=True)
            result["engines"][kind] = run_engine(kind, args.calls, Path(tmp))
    result["target_met"] = all(
        r["cached"]["p99_ms"] <= TARGET_CACHED_P99_MS
        and r["uncached"]["p99_ms"] <= TARGET_UNCACHED_P99_MS
        and r["missing"] == 0
        for r in result["engines"].values()
    )
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
