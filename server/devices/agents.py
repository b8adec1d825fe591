"""The devices' side of the Socket.IO server: device agents, and kiosk and screen pages.

A device agent (``drivers/agent.py``) drives printers the hub cannot reach
itself: it joins its room, gets the jobs it has not confirmed, and reports
jobs and printers back. A kiosk or screen page that connects is ``online`` on
the device board, and a kiosk hears its printer's state at once. The
Socket.IO adapter (``server/live.py``) authenticates the socket and hands the
device here; what a device may say and what it is told lives in this module.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import request
from flask_socketio import SocketIO, join_room

from .printing import PRINTER_STATUS, PrintService
from .rooms import agent_room, device_room


class DeviceSockets:
    """Connected agents and device pages, by Socket.IO session id, and the agents' two events."""

    def __init__(self, socketio: SocketIO, printing: PrintService) -> None:
        self.socketio = socketio
        self.printing = printing
        self._lock = threading.Lock()
        self._agents: dict[str, str] = {}
        self._pages: dict[str, str] = {}
        socketio.on("print_status")(self.on_print_status)
        socketio.on("device_status")(self.on_device_status)

    # -- connections (called by the Socket.IO adapter once the socket is authenticated) --------

    def agent_connected(self, sid: str, name: str) -> None:
        """An agent is up: it joins its room and gets every job it has not confirmed."""
        with self._lock:
            self._agents[sid] = name
        join_room(agent_room(name))
        self.printing.agent_connected(name, lambda event, data: self.socketio.emit(event, data, to=sid))

    def page_connected(self, sid: str, name: str, role: str = "") -> None:
        """A kiosk or screen page is up: ``online`` on the board; a kiosk hears its printer's state.

        A name the site file does not list is shown on the board as such (kind: the token's role).
        """
        with self._lock:
            self._pages[sid] = name
        join_room(device_room(name))
        board = self.printing.board
        known = board.get(name)
        if known is None or not known.configured:
            board.report(name, "online", "not in the site file", kind=role or "device")
        else:
            board.report(name, "online")
        for status in self.printing.printers_of_kiosk(name):
            self.socketio.emit(PRINTER_STATUS, status, to=sid)

    def pages(self) -> dict[str, str]:
        """The connected kiosk and screen pages now: Socket.IO session id → device name."""
        with self._lock:
            return dict(self._pages)

    def disconnected(self, sid: str) -> None:
        """A socket ended: a device whose last socket it was is no longer connected."""
        with self._lock:
            page = self._pages.pop(sid, None)
            page_gone = page is not None and page not in self._pages.values()
            agent = self._agents.pop(sid, None)
            agent_gone = agent is not None and agent not in self._agents.values()
        if page_gone:
            status = self.printing.board.get(page)  # type: ignore[arg-type]
            if status is not None and not status.configured:
                self.printing.board.report(page, "disconnected", "not in the site file")  # type: ignore[arg-type]
            else:
                self.printing.board.report(page, "disconnected", "its page is not connected")  # type: ignore[arg-type]
        if agent_gone:
            self.printing.agent_gone(agent)  # type: ignore[arg-type]

    # -- what agents say ----------------------------------------------------------------------

    def on_print_status(self, data: Any) -> None:
        """An agent's word on a print job: ``{"job_id", "ticket_id", "state", "detail"}``.

        Agents older than job ids send ``ticket_id`` only; the hub finds that ticket's job.
        """
        agent = self._agents.get(request.sid)  # type: ignore[attr-defined]
        if not (agent and isinstance(data, dict)):
            return
        job_id = data.get("job_id") if isinstance(data.get("job_id"), str) else data.get("ticket_id")
        if isinstance(job_id, str) and job_id:
            self.printing.agent_job(agent, job_id, str(data.get("state")), str(data.get("detail", "")))

    def on_device_status(self, data: Any) -> None:
        """An agent's word on one of its printers: ``{"printer", "state", "detail"}``."""
        agent = self._agents.get(request.sid)  # type: ignore[attr-defined]
        if agent and isinstance(data, dict) and isinstance(data.get("printer"), str):
            self.printing.agent_printer(
                agent, data["printer"], str(data.get("state")), str(data.get("detail", ""))
            )
