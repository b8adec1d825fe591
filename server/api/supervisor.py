"""The supervisor's view over REST: ``GET /api/v1/supervisor``.

The same view the supervisor's page gets over Socket.IO (the ``supervisors``
room): waiting per service, the counters and their clerks against the rota,
breaks, devices and alerts. It names clerks, so admins and supervisors read
it; devices, clerks and triage get 403. It names no visitor: ticket numbers only.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..supervisor import supervisor_view
from .auth import hub, requires

supervisor_api = Blueprint("supervisor", __name__, url_prefix="/api/v1/supervisor")


@supervisor_api.get("")
@requires("admin", "supervisor")
def supervisor() -> Response:
    """The hall now for the supervisor's screen, with alerts (those due later carry ``from``)."""
    return jsonify(supervisor_view(hub()))
