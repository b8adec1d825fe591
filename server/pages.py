"""The pages: kiosk, visitor status, counter console, lobby screen.

They are static files in their own top-level folders (no Python there); the hub
only serves them, with headers that keep tokens in URLs from leaking.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Response, redirect, request, send_from_directory
from markupsafe import escape

ROOT = Path(__file__).resolve().parents[1]
KIOSK = ROOT / "kiosk_ui"
DISPLAY = ROOT / "display"
COUNTER = ROOT / "counter_ui"

pages = Blueprint("pages", __name__)


@pages.get("/")
def index() -> Response:
    return redirect("/counter/")


@pages.get("/kiosk/")
@pages.get("/kiosk/<path:name>")
def kiosk(name: str = "index.html") -> Response:
    return send_from_directory(KIOSK, name)


@pages.get("/t/<ticket_id>")
def ticket_status(ticket_id: str) -> Response:
    return send_from_directory(KIOSK, "status.html")


@pages.get("/counter/")
@pages.get("/counter/<path:name>")
def counter(name: str = "index.html") -> Response:
    return send_from_directory(COUNTER, name)


@pages.get("/display/lobby")
def lobby() -> Response:
    return send_from_directory(DISPLAY, "lobby.html")


@pages.get("/display/counter")
def counter_screen() -> Response:
    return send_from_directory(DISPLAY, "counter.html")


@pages.get("/display/pad")
def evaluation_pad() -> Response:
    return send_from_directory(DISPLAY, "pad.html")


@pages.get("/display/<path:name>")
def display(name: str) -> Response:
    return send_from_directory(DISPLAY, name)


@pages.get("/demo/prints")
def demo_prints() -> Response:
    """What the virtual printers printed, newest first: the demo's stand-in for paper."""
    root = var_prints()
    shots = sorted(root.glob("*/ticket-*.png"), key=lambda p: p.stat().st_mtime, reverse=True)[:24]
    figures = "".join(
        f'<figure><img src="/demo/prints/{p.parent.name}/{p.name}" alt="{p.name}">'
        f"<figcaption>{p.parent.name} · {p.name}</figcaption></figure>"
        for p in shots
    )
    empty = "<p>还没有打印的号票 / Nothing printed yet: take a ticket at the kiosk.</p>"
    page = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta http-equiv="refresh" content="3">'
        "<title>虚拟打印机 / Virtual printer</title>"
        "<style>body{font-family:sans-serif;background:#333;color:#eee;margin:1em}"
        "main{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}"
        "figure{margin:0;background:#fff;padding:.5em}figcaption{color:#333;font-size:.8em}"
        "img{display:block;max-width:300px}</style>"
        f"<h1>虚拟打印机 / Virtual printer</h1><main>{figures or empty}</main></html>"
    )
    return Response(page, mimetype="text/html")


@pages.get("/demo/prints/<printer>/<name>")
def demo_print(printer: str, name: str) -> Response:
    return send_from_directory(var_prints() / printer, name)


@pages.get("/demo/displays")
def demo_displays() -> Response:
    """The demo's virtual LED displays and keypads: what each shows, and keys to press."""
    from .demo_twins import HARDWARE

    if HARDWARE is None:
        return Response("no virtual hardware: this page belongs to the demo", status=404)
    leds = "".join(
        f'<figure><div class="led">{escape(text) or "&nbsp;"}</div>'
        f"<figcaption>{escape(name)}</figcaption></figure>"
        for name, text in sorted(HARDWARE.contents().items())
    )
    keys = "".join(
        f'<form method="post" action="/demo/keypad/{escape(name)}"><b>{escape(name)}</b> '
        + "".join(f'<button name="key" value="{k}">{label}</button>' for k, label in DEMO_KEYS)
        + "</form>"
        for name in sorted(HARDWARE.keypads)
    )
    page = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta http-equiv="refresh" content="2">'
        "<title>LED 显示屏 / LED displays</title>"
        "<style>body{font-family:sans-serif;background:#222;color:#eee}"
        "main{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0}"
        ".led{font:bold 48px monospace;color:#f33;background:#100;padding:.2em .5em;min-width:5em;"
        "text-align:right;border:4px solid #444}button{font-size:1em;margin:.2em}</style>"
        f"<h1>LED 显示屏 / LED displays</h1><main>{leds}</main>"
        f"<h2>呼叫器与评价器 / Keypads and evaluation pads</h2>{keys}</html>"
    )
    return Response(page, mimetype="text/html")


#: What the demo page offers on a virtual keypad or evaluation pad.
DEMO_KEYS = (
    ("call_next", "呼叫 Next"),
    ("recall", "重呼 Recall"),
    ("finish", "办结 Finish"),
    ("very_satisfied", "非常满意 ★★★"),
    ("satisfied", "满意 ★★"),
    ("dissatisfied", "不满意 ★"),
)


@pages.post("/demo/keypad/<name>")
def demo_keypad(name: str) -> Response:
    """Press a key (or give a rating) on a virtual keypad: the frame goes over the virtual bus."""
    from .demo_twins import HARDWARE

    pad = HARDWARE.keypads.get(name) if HARDWARE else None
    key = request.form.get("key", "")
    if pad is None or key not in dict(DEMO_KEYS):
        return Response("unknown keypad or key", status=404)
    if key.endswith("satisfied"):
        pad.rate(key)
    else:
        pad.press(key)
    return redirect("/demo/displays")


@pages.get("/voice/<name>")
def voice_audio(name: str) -> Response:
    """A rendered announcement for the lobby screens (numbers and counters only, nothing personal)."""
    from flask import current_app

    from drivers.voice import RENDERED_NAME

    voice = current_app.extensions["qcall"].voice
    if voice is None or voice.announcer is None or not RENDERED_NAME.match(name):
        return Response("no such announcement", status=404)
    return send_from_directory(voice.cache_dir(), name, mimetype="audio/wav", max_age=3600)


def var_prints() -> Path:
    return Path(os.environ.get("QCALL_VAR_DIR", "var")) / "prints"


@pages.after_app_request
def security_headers(response: Response) -> Response:
    """Tokens ride in page URLs once: never send them on as a Referer."""
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
