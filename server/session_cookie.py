"""The name under which Flask's session cookie carries the staff session id.

Both the REST package (login, logout) and the Socket.IO adapter (a console's
socket that comes with the cookie) read it; it lives apart from both so
neither has to import the other.
"""

from __future__ import annotations

#: The key in Flask's session cookie holding the staff session's id (see server/api/auth.py).
SESSION_KEY = "staff_session"
