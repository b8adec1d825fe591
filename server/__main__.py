"""``python -m server [--config FILE] COMMAND``: run the hub, the demo, make tokens and users.

``run`` and ``demo`` serve with gevent, so the standard library is patched
before anything else is imported.
"""

from __future__ import annotations

import sys

if len(sys.argv) > 1 and any(arg in ("run", "demo") for arg in sys.argv[1:]):
    from gevent import monkey

    monkey.patch_all()

if len(sys.argv) > 1 and "run" in sys.argv[1:]:
    # Before anything imports Flask-SocketIO: the hub serves Socket.IO and is never its client (~12 MB).
    from .lean_imports import load_socketio

    load_socketio()

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
