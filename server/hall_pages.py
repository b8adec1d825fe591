"""The pages: kiosk, visitor status, phone tickets, case progress, counter console, triage desk, lobby.

They are static files in their own top-level folders (no Python there); the hub
only serves them, with headers that keep tokens in URLs from leaking.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, redirect, send_from_directory
from werkzeug.wrappers import Response

from .security import add_missing

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


@pages.get("/phone/")
def phone_ticket() -> Response:
    """The hall's phone page: take a ticket from the phone (a QR at the door or on the lobby), no login.

    Its script and sheet are served with the kiosk's (``/kiosk/phone.js``); ``[phone] enabled``
    decides whether it issues (the page says so when not).
    """
    return send_from_directory(KIOSK, "phone.html")


@pages.get("/case/")
def case_progress() -> Response:
    """The visitor's case page: a case's progress by its code (``/case/?code=…``), no login."""
    return send_from_directory(KIOSK, "case.html")


@pages.get("/counter/")
@pages.get("/counter/<path:name>")
def counter(name: str = "index.html") -> Response:
    return send_from_directory(COUNTER, name)


@pages.get("/triage/")
def triage_desk() -> Response:
    """The triage desk (预检分诊台): a triage nurse issues tickets with a priority category.

    Its script and sheet live with the console's (``/counter/triage.js``): the same login and header.
    """
    return send_from_directory(COUNTER, "triage.html")


@pages.get("/reports/")
def reports() -> Response:
    """The hall manager's reports (报表): admins and supervisors log in here (script: /counter/reports.js)."""
    return send_from_directory(COUNTER, "reports.html")


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


@pages.get("/voice/<name>")
def voice_audio(name: str) -> Response:
    """A rendered announcement for the lobby screens (numbers and counters only, nothing personal)."""
    from flask import current_app

    from drivers.voice import RENDERED_NAME

    voice = current_app.extensions["qcall"].voice
    if not voice.enabled or not RENDERED_NAME.match(name):
        return Response("no such announcement", status=404)
    return send_from_directory(voice.cache_dir().resolve(), name, mimetype="audio/wav", max_age=3600)


#: Set on every answer unless its view set them: no Referer, no type sniffing, no framing.
PAGE_HEADERS = (
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
)


@pages.after_app_request
def security_headers(response: Response) -> Response:
    """Tokens ride in page URLs once: never send them on as a Referer."""
    add_missing(response.headers, PAGE_HEADERS)
    return response
