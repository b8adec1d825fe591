"""Serial buses (RS-485 / RS-232 / serial over Ethernet) shared by several devices.

See :mod:`.serial_bus` and ``docs/displays.md``.
"""

from .serial_bus import (
    BusHealth,
    BusState,
    DeviceHealth,
    DeviceState,
    Frame,
    Reply,
    ReplyMatcher,
    SerialBus,
    fixed_reply,
)

__all__ = [
    "BusHealth",
    "BusState",
    "DeviceHealth",
    "DeviceState",
    "Frame",
    "Reply",
    "ReplyMatcher",
    "SerialBus",
    "fixed_reply",
]
