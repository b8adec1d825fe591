"""The pages: kiosk, visitor status, counter console, lobby screen.

They are static files in their own top-level folders (no Python there); the hub
only serves them, with headers that keep tokens in URLs from leaking.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Response, redirect, send_from_directory

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


def var_prints() -> Path:
    return Path(os.environ.get("QCALL_VAR_DIR", "var")) / "prints"


@pages.after_app_request
def security_headers(response: Response) -> Response:
    """Tokens ride in page URLs once: never send them on as a Referer."""
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response
