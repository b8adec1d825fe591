"""Counter displays, caller keypads and evaluation pads on serial buses (issue 4).

See ``docs/displays.md``. Protocol (what the bytes mean) is kept apart from
transport (:mod:`drivers.bus`: one worker per port that moves the bytes):

* :mod:`.frames` — framed binary protocols described by data (two vendor presets and a keypad one);
* :mod:`.framed`, :mod:`.modbus`, :mod:`.vfd` — the display drivers, one interface (:class:`Display`);
* :mod:`.keypad` — keypad and evaluation pad frames → ``on_key`` / ``on_rating``;
* :mod:`.sign_settings` — one settings model per protocol (and for keypads), for the hub and the driver;
* :mod:`.site` — :class:`SerialDevices`, built from a site's device settings: what the hub holds;
  :data:`~.site.DISPLAY_PROTOCOLS`, the protocol registry ``{name: (Settings, build)}``.
"""

from .base import BusDisplays, Display
from .framed import FramedDisplays
from .frames import FRAME_PRESETS, DecodedFrame, FrameFormat, FrameFormatError, FrameParser, Rejected
from .keypad import ACTIONS, DEFAULT_KEYS, DEFAULT_RATINGS, FIVE_LEVEL_RATINGS, RATINGS, KeypadListener
from .modbus import ModbusDisplays, RegisterMap
from .site import (
    DISPLAY_PROTOCOLS,
    DisplayProtocol,
    SerialDevices,
    check_serial_device,
    device_settings,
    known_protocols,
)
from .vfd import VfdDisplay

__all__ = [
    "ACTIONS",
    "DEFAULT_KEYS",
    "DEFAULT_RATINGS",
    "DISPLAY_PROTOCOLS",
    "FIVE_LEVEL_RATINGS",
    "FRAME_PRESETS",
    "RATINGS",
    "BusDisplays",
    "DecodedFrame",
    "Display",
    "DisplayProtocol",
    "FrameFormat",
    "FrameFormatError",
    "FrameParser",
    "FramedDisplays",
    "KeypadListener",
    "ModbusDisplays",
    "RegisterMap",
    "Rejected",
    "SerialDevices",
    "VfdDisplay",
    "check_serial_device",
    "device_settings",
    "known_protocols",
]
