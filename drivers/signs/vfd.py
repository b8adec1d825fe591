"""Two-line VFD customer displays (CD5220 and Epson ESC/POS style), 20 characters a line.

Such a display has no address and never answers: it sits alone on its port
(RS-232, or a USB-serial adapter), so a bus carries one VFD. Its health is
``unconfirmed`` while the port works, ``disconnected`` when it does not.

Each show sends the whole screen: clear, cursor to line 1, the padded line,
cursor to line 2, the padded line. ``ESC @`` (initialise) goes first after
every (re)connect. ``text`` may hold two lines separated by ``\\n``.

=============  ============================  ============================
command        ``cd5220``                    ``epson``
=============  ============================  ============================
initialise     ``ESC @`` (1B 40)             ``ESC @`` (1B 40)
clear screen   ``FF`` (0C)                   ``FF`` (0C)
cursor to x,y  ``ESC l x y`` (1B 6C x y)     ``US $ x y`` (1F 24 x y)
=============  ============================  ============================

x and y start at 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from drivers.bus import Frame, SerialBus

from .base import BusDisplays
from .frames import cut_encoded

__all__ = ["CLEAR", "COMMAND_SETS", "INIT", "VfdDisplay", "cursor", "vfd_lines"]

INIT = b"\x1b@"
CLEAR = b"\x0c"
COMMAND_SETS = {"cd5220": b"\x1bl", "epson": b"\x1f$"}


def cursor(command_set: str, x: int, y: int) -> bytes:
    return COMMAND_SETS[command_set] + bytes([x, y])


def vfd_lines(text: str, width: int = 20) -> tuple[str, str]:
    """Text → the two lines as shown (padded or cut to ``width`` characters)."""
    parts = text.split("\n")
    lines = [" ".join(p.split()) for p in [*parts[:2], "", ""][:2]]
    return lines[0][:width].ljust(width), lines[1][:width].ljust(width)


class VfdDisplay(BusDisplays):
    """One VFD on its own port; ``addresses`` is a single label (conventionally its counter)."""

    def __init__(
        self,
        bus: SerialBus,
        addresses: Iterable[int] | Mapping[int, str],
        *,
        command_set: str = "cd5220",
        width: int = 20,
        encoding: str = "ascii",
    ) -> None:
        if command_set not in COMMAND_SETS:
            raise ValueError(f"command_set: one of {sorted(COMMAND_SETS)}, got {command_set!r}")
        if not 1 <= width <= 40:
            raise ValueError(f"width: 1-40 characters, got {width}")
        self.protocol = f"vfd-{command_set}"
        self.command_set = command_set
        self.width = width
        self.encoding = encoding
        super().__init__(bus, addresses)
        if len(self.names) != 1:
            raise ValueError("vfd: one display per port (a VFD has no address)")

    def frames_for(self, address: int, text: str) -> list[Frame]:
        line1, line2 = vfd_lines(text, self.width)
        data = (
            CLEAR
            + cursor(self.command_set, 1, 1)
            + self._encode(line1)
            + cursor(self.command_set, 1, 2)
            + self._encode(line2)
        )
        return [Frame(data)]

    def init_frames(self, address: int) -> list[Frame] | None:
        return [Frame(INIT)]

    def _encode(self, line: str) -> bytes:
        data = line.encode(self.encoding, errors="replace")
        # Control bytes would be taken as commands.
        data = bytes(b if b >= 0x20 else 0x20 for b in data)
        return cut_encoded(data, self.width, self.encoding).ljust(self.width, b" ")
