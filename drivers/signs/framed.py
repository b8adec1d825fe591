"""Counter LED displays that speak a framed binary protocol (:mod:`.frames` describes the frame)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from drivers.bus import Frame, Reply, ReplyMatcher, SerialBus, fixed_reply

from .base import BusDisplays
from .frames import DecodedFrame, FrameFormat

__all__ = ["FramedDisplays", "frame_reply"]


def frame_reply(fmt: FrameFormat, address: int) -> ReplyMatcher | None:
    """How the display at ``address`` answers a frame of ``fmt``; None when it does not answer."""
    if fmt.ack is not None:
        return fixed_reply(fmt.ack, fmt.nak)
    if fmt.ack_command is None:
        return None

    def match(received: bytes) -> Reply | None:
        for found in fmt.parser().feed(received):
            if not isinstance(found, DecodedFrame) or found.address != address:
                continue
            if found.command == fmt.ack_command:
                return Reply(True)
            if found.command == fmt.nak_command:
                return Reply(False, "NAK")
        return None

    return match


class FramedDisplays(BusDisplays):
    """7-segment / dot-matrix counter displays on one bus, all of one :class:`FrameFormat`."""

    def __init__(
        self, bus: SerialBus, fmt: FrameFormat, addresses: Iterable[int] | Mapping[int, str]
    ) -> None:
        self.format = fmt
        self.protocol = fmt.name
        super().__init__(bus, addresses)

    def check_address(self, address: int) -> None:
        self.format.encode_address(address)  # raises ValueError when it does not fit

    def frames_for(self, address: int, text: str) -> list[Frame]:
        fmt = self.format
        data = fmt.encode(address, fmt.encode_text(text), "show" if fmt.needs_command else b"")
        return [Frame(data, frame_reply(fmt, address))]

    def clear_frames(self, address: int) -> list[Frame]:
        fmt = self.format
        if "clear" in fmt.commands and fmt.needs_command:
            return [Frame(fmt.encode(address, b"", "clear"), frame_reply(fmt, address))]
        return self.frames_for(address, "")
