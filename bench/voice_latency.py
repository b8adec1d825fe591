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

Targets: p99 ≤ 100 ms cached, ≤ 1 s uncached. These series measure the
machinery, so they set ``backlog_gather_s = 0``: with the default (1 s), a call
into a silent hall first waits up to 1 s for others made with it (the burst
below), which is a choice, not a cost of rendering.

``--burst``: a voice that keeps up (issue 10). Six calls within one second
(A001…A006 at counters 1–6), the sample hall's announcement (chime, Mandarin
and English, twice: ≈ 19 s in full), espeak-ng, an empty cache, paced at each
WAV's length as the lobby screens play them, the default backlog rule. Two
patterns: ``together`` (six ``announce()`` in a row) and ``over_one_second``
(one every 0.2 s). For each announcement, from its call (``time.monotonic()``
just before ``announce()``): ``taken_s`` (the worker has it), ``start_s``
(its WAV is ready: the sound starts), ``end_s`` (finished), its length and
what the backlog took away. ``target_met``: in both patterns every call said
once, in call order, none failed, and the sixth starts within 15 s of its
call. ``in_full`` is what the same six would cost said in full (the first
announcement's length × 5: when the sixth would start). ``--baseline`` also
runs the six with ``backlog_shorten = []`` (about two minutes).

    .venv/bin/python bench/voice_latency.py [--calls 50] [--engines espeak,pyttsx3,segments]
    .venv/bin/python bench/voice_latency.py --burst [--baseline]
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
TARGET_SIXTH_START_S = 15.0
#: The sample hall's announcement (config/samples/utility_hall.toml): chime, zh and en, said twice.
BURST_HALL = {"languages": ["zh", "en"], "repeat": 2, "chime": True}
BURST_PATTERNS = {"together": 0.0, "over_one_second": 1.0}

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

    # one call at a time into a silent hall: no gathering, or every call would wait for company
    settings: dict[str, Any] = {"cache_dir": str(workdir / f"cache-{kind}"), "backlog_gather_s": 0}
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


class BurstProbe:
    """Every event of one burst, stamped; waits until all six have ended."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.events: list[Any] = []

    def on_event(self, event: Any) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def ended(self) -> int:
        return sum(e.kind in ("finished", "failed") for e in self.events)

    def wait(self, count: int, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: self.ended() >= count, timeout)


def run_burst(spread: float, workdir: Path, calls: int = 6, shorten: bool = True) -> dict[str, Any]:
    """``calls`` calls within ``spread`` seconds into a warm announcer; every announcement's timing."""
    from drivers.voice import Announcement, Announcer, CallbackSink, FileSink, VoiceSettings

    table: dict[str, Any] = {**BURST_HALL, "cache_dir": str(workdir / "cache")}
    if not shorten:
        table["backlog_shorten"] = []
    probe = BurstProbe()
    announcer = Announcer(
        VoiceSettings.from_mapping(table),
        sinks=[FileSink(str(workdir / "lobby")), CallbackSink(lambda audio: None)],
        on_event=probe.on_event,
        pace=True,  # the hall's time: each announcement lasts its WAV's length
    )
    called: dict[int, float] = {}
    try:
        deadline = time.monotonic() + 30
        while announcer.worker_pid is None and time.monotonic() < deadline:  # a hub's is up long before
            time.sleep(0.02)
        gap = threading.Event()
        for n in range(1, calls + 1):
            called[n] = time.monotonic()
            announcer.announce(Announcement(f"burst-{n}", f"A{n:03d}", f"{n}号窗口", f"counter {n}"))
            if spread and n < calls:
                gap.wait(spread / (calls - 1))
        probe.wait(calls, timeout=60.0 + (0 if shorten else 30.0 * calls))
    finally:
        announcer.close()
    return burst_report(probe.events, called)


def burst_report(events: list[Any], called: dict[int, float]) -> dict[str, Any]:
    """Per announcement: when it was taken, started sounding and ended, from its call; and the verdict."""
    by_kind: dict[str, dict[int, Any]] = {}
    for e in events:
        by_kind.setdefault(e.kind, {}).setdefault(e.seq, e)
    rendered, started, finished = (by_kind.get(k, {}) for k in ("rendered", "started", "finished"))
    rows = []
    for seq in sorted(called):
        r = rendered.get(seq)
        rows.append(
            {
                "seq": seq,
                "number": r.number if r else None,
                "taken_s": round(started[seq].mono - called[seq], 3) if seq in started else None,
                "start_s": round(r.mono - called[seq], 3) if r else None,
                "end_s": round(finished[seq].mono - called[seq], 3) if seq in finished else None,
                "duration_s": round(r.duration, 2) if r else None,
                "shortened": list(r.shortened) if r else None,
                "languages": [lang for lang, _ in r.texts] if r else None,
            }
        )
    order = [e.seq for e in events if e.kind == "rendered"]
    ends = [finished[s].mono for s in sorted(finished)]
    starts = [started[s].mono for s in sorted(started)]
    sixth = rows[-1]["start_s"]
    said = len(finished)
    result = {
        "announcements": rows,
        "sixth_start_s": sixth,
        "said": said,
        "failed": len(by_kind.get("failed", {})),
        "said_twice": sum(1 for e in events if e.kind == "rendered") - len(rendered),
        "in_order": order == sorted(called),
        "overlaps": sum(1 for end, start in zip(ends, starts[1:], strict=False) if start < end),
    }
    result["target_met"] = bool(
        sixth is not None
        and sixth <= TARGET_SIXTH_START_S
        and said == len(called)
        and not result["failed"]
        and not result["said_twice"]
        and result["in_order"]
        and not result["overlaps"]
    )
    return result


def burst_main(baseline: bool) -> None:
    from drivers.voice import VoiceSettings

    defaults = VoiceSettings()
    result: dict[str, Any] = {
        "benchmark": "voice_burst",
        "calls": 6,
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
        "hall": BURST_HALL,
        "backlog": {
            "backlog_shorten": list(defaults.backlog_shorten),
            "backlog_after": defaults.backlog_after,
            "backlog_late_s": defaults.backlog_late_s,
            "backlog_rate": defaults.hurried_rate(),
            "backlog_gather_s": defaults.backlog_gather_s,
        },
        "target_sixth_start_s": TARGET_SIXTH_START_S,
        "patterns": {},
    }
    with tempfile.TemporaryDirectory(prefix="qcall-voice-burst-") as tmp:
        for name, spread in BURST_PATTERNS.items():
            print(f"voice_latency --burst: {name} …", file=sys.stderr, flush=True)
            result["patterns"][name] = run_burst(spread, Path(tmp) / name)
        full = in_full_duration(Path(tmp) / "full")
        result["in_full"] = {"duration_s": round(full, 2), "sixth_start_s": round(5 * full, 1)}
        if baseline:
            print("voice_latency --burst: baseline (said in full) …", file=sys.stderr, flush=True)
            result["baseline_in_full"] = run_burst(0.0, Path(tmp) / "baseline", shorten=False)
    result["sixth_start_s"] = max(
        (p["sixth_start_s"] if p["sixth_start_s"] is not None else math.inf)
        for p in result["patterns"].values()
    )
    result["target_met"] = all(p["target_met"] for p in result["patterns"].values())
    print(json.dumps(result, ensure_ascii=False), flush=True)


def in_full_duration(workdir: Path) -> float:
    """The length of one of the burst's calls said in full (rendered only, not played)."""
    from drivers.voice import Announcement, Renderer, VoiceSettings

    renderer = Renderer(VoiceSettings.from_mapping({**BURST_HALL, "cache_dir": str(workdir)}))
    return renderer.render(Announcement("full-1", "A001", "1号窗口", "counter 1")).duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="calls per series (default 50)")
    parser.add_argument("--engines", default="espeak,pyttsx3,segments")
    parser.add_argument("--burst", action="store_true", help="six calls in one second instead (issue 10)")
    parser.add_argument("--baseline", action="store_true", help="with --burst: also the six said in full")
    args = parser.parse_args()
    if args.burst:
        burst_main(args.baseline)
        return
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
