"""What the hub process loads of python-socketio: the server, without the clients and queues it never uses.

``import socketio`` (Flask-SocketIO does it) imports the whole package: its
Engine.IO *client*, which imports ``requests`` (with urllib3, charset_normalizer,
idna) and ``websocket-client``, and its Redis message queue, which imports
``redis`` when it is installed. Each guards the import and sets the name to
``None`` when it fails, and the hub is never a Socket.IO client nor behind a
message queue; yet they cost ~12 MB of a hub's ~100 MB at rest, every one of them
resident while 1,000 screens are connected (issue 10, bench/README.md "Memory").

:func:`load_socketio` imports Flask-SocketIO with those packages hidden (an
``ImportError`` where python-socketio tries them), then un-hides them: a later
``import requests`` in the hub process loads it as usual. Only the ``run``
command calls it (``server/__main__.py``); the device agent, the tests and the
CLI import python-socketio whole, as before.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: Imported by python-socketio / python-engineio only for what a hub never does (each import guarded):
#: the Engine.IO client's HTTP and WebSocket libraries, and the Redis/Valkey message queues' clients.
UNUSED_BY_THE_HUB = ("requests", "websocket", "redis", "valkey")


@contextmanager
def hidden(names: tuple[str, ...]) -> Iterator[None]:
    """``import name`` raises ImportError inside the block, for each name not already imported."""
    hiding = [name for name in names if name not in sys.modules]
    for name in hiding:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system's "not importable" mark
    try:
        yield
    finally:
        for name in hiding:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


def load_socketio() -> None:
    """Import Flask-SocketIO (and python-socketio, python-engineio) without their client-side packages."""
    with hidden(UNUSED_BY_THE_HUB):
        import flask_socketio  # noqa: F401


def allow_message_queue() -> None:
    """Let python-socketio's Redis message queue find ``redis`` again (a cluster's process needs it).

    :func:`load_socketio` ran before the site file was read, so ``socketio.redis_manager`` took
    ``redis = None``; a hub whose site file has ``[cluster]`` reloads that module (its classes read
    the module's names when they connect, so the manager Flask-SocketIO builds finds the package).
    """
    import importlib

    import socketio.redis_manager

    if socketio.redis_manager.redis is None:
        importlib.reload(socketio.redis_manager)
