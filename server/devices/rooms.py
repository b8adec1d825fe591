"""The Socket.IO rooms of the hall, spelled once.

Rooms are how an event reaches exactly the screens that may see it; a room
name typed twice in two modules is a screen that silently hears nothing.
"""

from __future__ import annotations

#: Every screen, kiosk page and console: the queue events and the lobby's announcements.
HALL = "hall"
#: Staff consoles and the admin page: device states.
STAFF = "staff"
#: The supervisor's pages (admins and supervisors who asked for it): the supervisor's view, nothing else.
SUPERVISORS = "supervisors"
#: Every visitor's phone: which services' queues moved (``queue_moved``), so a phone whose service
#: moved asks for its ticket's place and estimate again.
VISITORS = "visitors"


def ticket_room(ticket_id: str) -> str:
    """The visitor's phone watching one ticket."""
    return f"ticket:{ticket_id}"


def counter_room(number: int) -> str:
    """The console and screens of one counter."""
    return f"counter:{number}"


def device_room(name: str) -> str:
    """One kiosk or screen page, by its device token's name (its printer's state, its print jobs)."""
    return f"device:{name}"


def agent_room(name: str) -> str:
    """One device agent, by its token's name (the print jobs of its printers)."""
    return f"agent:{name}"


#: The announcements of the whole hall: every socket of the hall room that is not a lobby screen of a zone.
VOICE_HALL = "voice"


def voice_room(zone: str | None) -> str:
    """Who hears a zone's announcements: the lobby screens of that zone (None: the whole hall's room)."""
    return f"voice:{zone}" if zone else VOICE_HALL
