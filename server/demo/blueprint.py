"""The demo's own pages: the virtual printer's tickets, the virtual LED displays and keypads.

A blueprint that only ``python -m server demo`` registers (:func:`install`): a
real hall (``run``) has no ``/demo/…`` at all. The twins are the app's
``extensions["qcall_demo"]``, one per app, never a module global. The
printed tickets are served by name from a fixed list (the configured
printers, ``ticket-NNNNN.png``), never by joining a path from the URL:
``/demo/prints/../secret_key`` once handed out the session key.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, redirect, request, send_from_directory
from markupsafe import escape
from werkzeug.wrappers import Response

from .twins import DemoHardware

demo = Blueprint("demo", __name__, url_prefix="/demo")
#: Where the demo app keeps its :class:`DemoHardware`.
EXTENSION = "qcall_demo"

#: The names the virtual printers give their images (server/demo/twins.py).
TICKET_IMAGE = re.compile(r"^ticket-[0-9]{1,9}\.png$")

#: What the demo page offers on a virtual keypad or evaluation pad.
#: A keypad's keys, and an evaluation pad's ratings: each device shows its own.
KEYPAD_KEYS = (
    ("call_next", "呼叫 Next"),
    ("recall", "重呼 Recall"),
    ("finish", "办结 Finish"),
)
PAD_KEYS = (
    ("very_satisfied", "非常满意 ★★★"),
    ("satisfied", "满意 ★★"),
    ("dissatisfied", "不满意 ★"),
)


def install(app: Flask, hardware: DemoHardware) -> Flask:
    """Make ``app`` the demo's: its pages, and the twins they show."""
    app.extensions[EXTENSION] = hardware
    app.register_blueprint(demo)
    return app


def hardware() -> DemoHardware:
    return current_app.extensions[EXTENSION]


def var_prints() -> Path:
    """Where the virtual printers put their images, as an absolute path.

    ``send_from_directory`` resolves a relative folder against the app's root
    (``server/``), not the working directory the hub writes to: with the
    default ``QCALL_VAR_DIR=var`` every image was a 404.
    """
    return hardware().prints.resolve()


def printer_names() -> list[str]:
    """The printer devices of this site: the only folders the demo serves images from."""
    config = current_app.extensions["qcall"].config
    return sorted(d.name for d in config.devices if d.kind == "printer")


def _page(title: str, body_class: str, refresh: int, body: str) -> Response:
    page = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{refresh}">'
        f'<title>{title}</title><link rel="stylesheet" href="/static/demo.css">'
        f'<body class="{body_class}">{body}</body></html>'
    )
    return Response(page, mimetype="text/html")


@demo.get("/prints")
def demo_prints() -> Response:
    """What the virtual printers printed, newest first: the demo's stand-in for paper."""
    root = var_prints()
    images = (p for name in printer_names() for p in (root / name).glob("ticket-*.png"))
    shots = sorted(
        (p for p in images if TICKET_IMAGE.match(p.name)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )[:24]
    figures = "".join(
        f'<figure><img src="/demo/prints/{escape(p.parent.name)}/{escape(p.name)}" alt="{escape(p.name)}">'
        f"<figcaption>{escape(p.parent.name)} · {escape(p.name)}</figcaption></figure>"
        for p in shots
    )
    empty = "<p>还没有打印的号票 / Nothing printed yet: take a ticket at the kiosk.</p>"
    title = "虚拟打印机 / Virtual printer"
    return _page(title, "prints", 3, f"<h1>{title}</h1><main>{figures or empty}</main>")


@demo.get("/prints/<printer>/<name>")
def demo_print(printer: str, name: str) -> Response:
    """One printed ticket image: a configured printer's ``ticket-NNNNN.png``, nothing else."""
    if printer not in printer_names() or not TICKET_IMAGE.match(name):
        abort(404)
    return send_from_directory(var_prints() / printer, name, mimetype="image/png")


@demo.get("/displays")
def demo_displays() -> Response:
    """The demo's virtual LED displays and keypads: what each shows, and keys to press."""
    twins = hardware()
    leds = "".join(
        f'<figure><div class="led">{escape(text) or "&nbsp;"}</div>'
        f"<figcaption>{escape(name)}</figcaption></figure>"
        for name, text in sorted(twins.contents().items())
    )
    keys = "".join(
        f'<form method="post" action="/demo/keypad/{escape(name)}"><b>{escape(name)}</b> '
        + "".join(f'<button name="key" value="{k}">{label}</button>' for k, label in _keys(twins, name))
        + "</form>"
        for name in sorted(twins.keypads)
    )
    title = "LED 显示屏 / LED displays"
    return _page(
        title,
        "displays",
        2,
        f"<h1>{title}</h1><main>{leds}</main><h2>呼叫器与评价器 / Keypads and evaluation pads</h2>{keys}",
    )


@demo.post("/keypad/<name>")
def demo_keypad(name: str) -> Response:
    """Press a key (or give a rating) on a virtual keypad: the frame goes over the virtual bus."""
    pad = hardware().keypads.get(name)
    key = request.form.get("key", "")
    if pad is None or key not in dict(_keys(hardware(), name)):
        abort(404, "unknown keypad or key")
    if key.endswith("satisfied"):
        pad.rate(key)
    else:
        pad.press(key)
    return redirect("/demo/displays")


def _keys(twins: DemoHardware, name: str) -> tuple[tuple[str, str], ...]:
    """The keys the named device has: an evaluation pad's ratings, or a keypad's keys."""
    return PAD_KEYS if name in twins.evaluation_pads else KEYPAD_KEYS
