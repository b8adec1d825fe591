"""What a lobby screen is told about itself: ``GET /api/v1/screen``.

A TV has one token (role ``display``) whose name is the screen's device name
in the site config (``[[devices]] kind = "lobby_screen"``). The page asks
this once at start and again whenever the hub says ``settings_changed``, so a
layout chosen on the admin page reaches the wall without anyone touching the
TV. The config is read at request time (``hub.config``), never cached here:
whoever makes the config live-editable swaps it and this follows.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..config import LOBBY_LAYOUTS, LOBBY_RECENT_MAX, LobbyScreenSettings
from .auth import current_principal, hub, requires

screen_api = Blueprint("screen", __name__, url_prefix="/api/v1/screen")


@screen_api.get("")
@requires("display")
def screen() -> Response:
    """This screen's name, layout and how many calls it shows; defaults when the config does not list it."""
    name = current_principal().name
    settings = hub().config.lobby_screen(name)
    configured = settings is not None
    if settings is None:
        settings = LobbyScreenSettings()
    return jsonify(
        name=name,
        configured=configured,
        layout=settings.layout,
        recent=settings.recent,
        layouts=list(LOBBY_LAYOUTS),
        recent_max=LOBBY_RECENT_MAX,
    )
