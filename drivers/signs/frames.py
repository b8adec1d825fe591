"""Framed binary protocols described by data: a new vendor's frame is a config entry, not code.

Counter LED displays, caller keypads and evaluation pads from different
vendors all speak "some header, an address, maybe a command, maybe a length,
the payload, a checksum, maybe a trailer". :class:`FrameFormat` reads such a
description (a dict, straight from the site's TOML) and both builds frames
(:meth:`FrameFormat.encode`) and finds them in a byte stream
(:class:`FrameParser`) — the driver and the virtual twin use the same code
path, so a format the driver can write is a format the twin can check.

A description (every key but ``layout`` and ``header`` optional)::

    layout   = ["header", "address", "length", "payload", "checksum", "trailer"]
    header   = "02"            # hex bytes, spaces allowed: "AA 55"
    trailer  = "03"
    address  = "byte"          # one binary byte 0-255; "ascii2"/"ascii3": decimal digits "03";
                               # "hex2": two ASCII hex digits "0A"
    commands = { show = "01", clear = "02" }      # needs "command" in layout
    length   = { size = 1, covers = ["payload"] } # byteorder "big"/"little", format "binary"/"ascii",
                                                  # adjust: added to the count
    payload_size = 1           # a fixed payload (keypads) instead of a length field
    max_payload = 255
    encoding = "ascii"         # or "gb2312" (text payloads)
    text_width = 8             # pad or cut the text to this many bytes; align "left"/"right"
    checksum = { kind = "sum8", covers = ["address", "length", "payload"] }
                               # kind "sum8" / "xor" / "crc16-modbus" / "none";
                               # byteorder (crc16-modbus: "little", low byte first);
                               # format "binary" or "ascii-hex" (two hex digits a byte)
    ack = "06"                 # the display answers these bytes; or { command = "81" }: a frame of
    nak = "15"                 # this format from the display's address with that command

Without a length field and without ``payload_size`` the trailer ends the
frame: the text must not contain the trailer byte and the checksum (if it
comes between payload and trailer) must be ``ascii-hex`` so that it cannot
either; the description is refused otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .checksums import CHECKSUMS

__all__ = [
    "FRAME_PRESETS",
    "DecodedFrame",
    "FrameFormat",
    "FrameFormatError",
    "FrameParser",
    "Rejected",
]

FIELDS = ("header", "address", "command", "length", "payload", "checksum", "trailer")

#: The formats qcall knows by name; a site adds its own (or overrides one key of these) in TOML.
FRAME_PRESETS: dict[str, dict[str, Any]] = {
    # The common "STX frame" of cheap 7-segment counter displays:
    # 02 | addr | len(payload) | ASCII text | sum8(addr, len, text) | 03 ; the display answers 06 (NAK 15).
    "generic-stx": {
        "name": "generic-stx",
        "layout": ["header", "address", "length", "payload", "checksum", "trailer"],
        "header": "02",
        "trailer": "03",
        "address": "byte",
        "length": {"size": 1, "covers": ["payload"]},
        "encoding": "ascii",
        "text_width": 8,
        "align": "right",
        "checksum": {"kind": "sum8", "covers": ["address", "length", "payload"]},
        "ack": "06",
        "nak": "15",
    },
    # Dot-matrix displays with a Chinese font (双基色条屏 style):
    # AA 55 | addr | cmd (01 show, 02 clear) | len(payload), 2 bytes big-endian | GB2312 text |
    # CRC16/Modbus over addr..text, low byte first. The display answers a frame of the same shape
    # from its address with command 81 and no text (NAK: command 82).
    "aa55-gb2312": {
        "name": "aa55-gb2312",
        "layout": ["header", "address", "command", "length", "payload", "checksum"],
        "header": "AA 55",
        "address": "byte",
        "commands": {"show": "01", "clear": "02"},
        "length": {"size": 2, "byteorder": "big", "covers": ["payload"]},
        "encoding": "gb2312",
        "text_width": 16,
        "align": "left",
        "checksum": {"kind": "crc16-modbus", "covers": ["address", "command", "length", "payload"]},
        "ack": {"command": "81"},
        "nak": {"command": "82"},
    },
    # Caller keypads (呼叫器) and evaluation pads (评价器):
    # A5 | addr | cmd ('K' key, 'E' evaluation, 'P' poll from the master) | code | xor(addr, cmd, code) | 5A
    "keypad-a5": {
        "name": "keypad-a5",
        "layout": ["header", "address", "command", "payload", "checksum", "trailer"],
        "header": "A5",
        "trailer": "5A",
        "address": "byte",
        "commands": {"key": "4B", "rating": "45", "poll": "50"},
        "payload_size": 1,
        "checksum": {"kind": "xor", "covers": ["address", "command", "payload"]},
    },
}


class FrameFormatError(ValueError):
    """A frame description that cannot work; the message names the key."""


@dataclass(frozen=True)
class DecodedFrame:
    """A frame whose framing and checksum were right."""

    address: int
    command: bytes  # b"" when the format has no command field
    payload: bytes
    raw: bytes


@dataclass(frozen=True)
class Rejected:
    """A frame that was found but not accepted (``checksum``: its checksum was wrong)."""

    reason: str
    raw: bytes
    address: int | None = None


def parse_hex(value: Any, key: str) -> bytes:
    """``"AA 55"``, ``"aa55"``, ``[0xAA, 0x55]`` or ``170`` → bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, int):
        if not 0 <= value <= 255:
            raise FrameFormatError(f"{key}: a byte is 0-255, got {value}")
        return bytes([value])
    if isinstance(value, list | tuple):
        try:
            return bytes(value)
        except (TypeError, ValueError):
            raise FrameFormatError(f"{key}: a list of bytes 0-255, got {value!r}") from None
    if isinstance(value, str):
        cleaned = re.sub(r"[\s:,]|0x", "", value, flags=re.IGNORECASE)
        try:
            return bytes.fromhex(cleaned)
        except ValueError:
            raise FrameFormatError(f"{key}: hex bytes such as 'AA 55', got {value!r}") from None
    raise FrameFormatError(f"{key}: hex bytes such as 'AA 55', got {value!r}")


def merged_spec(
    value: str | Mapping[str, Any], extra: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A preset name, or a dict (with an optional ``preset`` key to start from) → a full description."""
    known = {**FRAME_PRESETS, **(extra or {})}
    if isinstance(value, str):
        if value not in known:
            raise FrameFormatError(f"frame: unknown format {value!r}; expected one of {sorted(known)}")
        base, own = dict(known[value]), {}
        base.setdefault("name", value)
    else:
        own = dict(value)
        preset = own.pop("preset", None)
        if preset is None:
            base = {}
        elif preset in known:
            base = dict(known[preset])
        else:
            raise FrameFormatError(
                f"frame.preset: unknown format {preset!r}; expected one of {sorted(known)}"
            )
    return {**base, **own}


_SPEC_KEYS = {
    "layout", "header", "trailer", "address", "commands", "length", "payload_size", "max_payload",
    "encoding", "text_width", "align", "checksum", "ack", "nak", "description",
}  # fmt: skip


def _parse_layout(spec: Mapping[str, Any]) -> list[str]:
    """The description's ``layout``, checked: known fields, each once, starting with the header."""
    layout = list(spec.get("layout", ()))
    for field in layout:
        if field not in FIELDS:
            raise FrameFormatError(f"layout: unknown field {field!r}; expected some of {list(FIELDS)}")
    if len(set(layout)) != len(layout) or "address" not in layout or "payload" not in layout:
        raise FrameFormatError("layout: each field once, with at least 'address' and 'payload'")
    if not layout or layout[0] != "header" or not spec.get("header"):
        raise FrameFormatError("header: a frame starts with header bytes (they are how a frame is found)")
    return layout


def _parse_address(spec: Mapping[str, Any]) -> tuple[str, int]:
    """``address`` → (format, size): ("byte", 1), ("ascii", 1-4) or ("hex", 1-4)."""
    address = str(spec.get("address", "byte"))
    match = re.fullmatch(r"(ascii|hex)([1-4])", address)
    if address == "byte":
        return "byte", 1
    if match:
        return match.group(1), int(match.group(2))
    raise FrameFormatError(f"address: 'byte', 'ascii2', 'ascii3' or 'hex2', got {address!r}")


def _command_size(commands: Mapping[str, bytes]) -> int:
    """The size of the command field: all commands must have it."""
    sizes = {len(v) for v in commands.values()}
    if len(sizes) != 1 or 0 in sizes:
        raise FrameFormatError("commands: 'command' in the layout needs commands of one size")
    return sizes.pop()


def _parse_length(spec: Mapping[str, Any], layout: list[str]) -> dict[str, Any] | None:
    """The length field's description (None without a length field in the layout)."""
    if "length" not in layout:
        return None
    length = dict(spec.get("length") or {})
    size = int(length.get("size", 1))
    fmt = length.get("format", "binary")
    covers = list(length.get("covers", ["payload"]))
    if fmt not in ("binary", "ascii") or not 1 <= size <= 4:
        raise FrameFormatError("length: size 1-4, format 'binary' or 'ascii'")
    for field in covers:
        if field not in layout:
            raise FrameFormatError(f"length.covers: {field!r} is not in the layout")
    return {
        "size": size,
        "format": fmt,
        "covers": covers,
        "byteorder": length.get("byteorder", "big"),
        "adjust": int(length.get("adjust", 0)),
    }


def _parse_checksum(spec: Mapping[str, Any], layout: list[str]) -> dict[str, Any] | None:
    """The checksum's description (None without a checksum field, or with kind "none")."""
    if "checksum" not in layout:
        return None
    checksum = dict(spec.get("checksum") or {})
    kind = checksum.get("kind", "sum8")
    if kind == "none":
        return None
    if kind not in CHECKSUMS:
        raise FrameFormatError(f"checksum.kind: one of {[*CHECKSUMS, 'none']}, got {kind!r}")
    function, size, byteorder = CHECKSUMS[kind]
    fmt = checksum.get("format", "binary")
    if fmt not in ("binary", "ascii-hex"):
        raise FrameFormatError("checksum.format: 'binary' or 'ascii-hex'")
    covers = list(checksum.get("covers", [f for f in layout if f not in ("header", "checksum")]))
    for field in covers:
        if field not in layout or field == "checksum":
            raise FrameFormatError(f"checksum.covers: {field!r} is not a field before the checksum")
    return {
        "kind": kind,
        "function": function,
        "size": size * (2 if fmt == "ascii-hex" else 1),
        "value_size": size,
        "format": fmt,
        "byteorder": checksum.get("byteorder", byteorder),
        "covers": covers,
    }


class FrameFormat:
    """One vendor's frame: build frames, parse them, describe the ACK."""

    def __init__(self, spec: Mapping[str, Any], name: str | None = None) -> None:
        spec = dict(spec)
        self.name = name or str(spec.pop("name", "custom"))
        spec.pop("name", None)
        unknown = set(spec) - _SPEC_KEYS
        if unknown:
            raise FrameFormatError(f"frame {self.name}: unknown key(s) {sorted(unknown)}")
        layout = _parse_layout(spec)
        self.layout = layout
        self.header = parse_hex(spec["header"], "header")
        self.trailer = parse_hex(spec["trailer"], "trailer") if "trailer" in layout else b""
        if "trailer" in layout and not self.trailer:
            raise FrameFormatError("trailer: 'trailer' is in the layout but has no bytes")
        self.address_format, self.address_size = _parse_address(spec)
        self.commands = {k: parse_hex(v, f"commands.{k}") for k, v in dict(spec.get("commands", {})).items()}
        self.command_size = _command_size(self.commands) if "command" in layout else 0
        self.length = _parse_length(spec, layout)
        self.payload_size = spec.get("payload_size")
        self.max_payload = int(spec.get("max_payload", 255))
        self.encoding = str(spec.get("encoding", "ascii")).lower()
        if self.encoding not in ("ascii", "gb2312"):
            raise FrameFormatError(f"encoding: 'ascii' or 'gb2312', got {self.encoding!r}")
        self.text_width = spec.get("text_width")
        self.align = spec.get("align", "left")
        if self.align not in ("left", "right", "center"):
            raise FrameFormatError(f"align: 'left', 'right' or 'center', got {self.align!r}")
        self.checksum = _parse_checksum(spec, layout)
        self.ack, self.ack_command = self._reply(spec.get("ack"), "ack")
        self.nak, self.nak_command = self._reply(spec.get("nak"), "nak")
        self._check_payload_end()

    # -- description ---------------------------------------------------------------

    def _reply(self, value: Any, key: str) -> tuple[bytes | None, bytes | None]:
        if value is None or value == "":
            return None, None
        if isinstance(value, Mapping):
            if "command" not in value or "command" not in self.layout:
                raise FrameFormatError(f"{key}: {{command = ..}} needs a 'command' field in the layout")
            command = parse_hex(value["command"], f"{key}.command")
            if len(command) != self.command_size:
                raise FrameFormatError(f"{key}.command: {self.command_size} byte(s)")
            return None, command
        return parse_hex(value, key), None

    def field_size(self, field: str) -> int | None:
        """The fixed size of a field (None for the payload without payload_size).

        Public because the frame parser and the virtual bus (which corrupts checksums
        on purpose) need to know where each field sits in a frame.
        """
        return {
            "header": len(self.header),
            "trailer": len(self.trailer),
            "address": self.address_size,
            "command": self.command_size,
            "length": self.length["size"] if self.length else 0,
            "checksum": self.checksum["size"] if self.checksum else 0,
            "payload": self.payload_size,
        }[field]

    def _check_payload_end(self) -> None:
        if self.length is not None or self.payload_size is not None:
            return
        after = self.layout[self.layout.index("payload") + 1 :]
        if not after or after[-1] != "trailer":
            raise FrameFormatError(
                "layout: without a length field or payload_size the frame must end with a trailer"
            )
        if self.checksum and "checksum" in after and self.checksum["format"] != "ascii-hex":
            raise FrameFormatError(
                "checksum.format: a frame that the trailer ends needs an 'ascii-hex' checksum "
                "(a binary one may equal the trailer byte)"
            )

    @property
    def acknowledged(self) -> bool:
        """Whether a display of this format answers each frame."""
        return self.ack is not None or self.ack_command is not None

    @property
    def needs_command(self) -> bool:
        return "command" in self.layout

    # -- building ----------------------------------------------------------------------

    def command(self, name: str) -> bytes:
        """The bytes of a named command (``show``, ``clear``, ``key``...); b"" without a command field."""
        if not self.needs_command:
            return b""
        if name not in self.commands:
            raise FrameFormatError(f"commands: format {self.name} has no {name!r} command")
        return self.commands[name]

    def encode_address(self, address: int) -> bytes:
        if self.address_format == "byte":
            if not 0 <= address <= 255:
                raise ValueError(f"address {address}: one byte, 0-255")
            return bytes([address])
        digits = self.address_size
        limit = (10 if self.address_format == "ascii" else 16) ** digits
        if not 0 <= address < limit:
            raise ValueError(f"address {address}: {digits} digit(s)")
        text = f"{address:0{digits}d}" if self.address_format == "ascii" else f"{address:0{digits}X}"
        return text.encode("ascii")

    def decode_address(self, raw: bytes) -> int | None:
        if self.address_format == "byte":
            return raw[0]
        try:
            text = raw.decode("ascii")
            return int(text, 10 if self.address_format == "ascii" else 16) if text.isalnum() else None
        except (UnicodeDecodeError, ValueError):
            return None

    def encode_text(self, text: str) -> bytes:
        """Text → payload bytes: one line, in the format's encoding, padded or cut to ``text_width``."""
        line = " ".join(text.split())
        data = line.encode(self.encoding, errors="replace")
        width = self.text_width
        if width:
            if len(data) > width:
                data = cut_encoded(data, width, self.encoding)
            pad = b" " * (width - len(data))
            if self.align == "right":
                data = pad + data
            elif self.align == "center":
                data = pad[: len(pad) // 2] + data + pad[len(pad) // 2 :]
            else:
                data = data + pad
        if self.trailer and self.length is None and self.payload_size is None:
            data = data.replace(self.trailer, b"?")
        return data[: self.max_payload]

    def decode_text(self, payload: bytes) -> str:
        return payload.decode(self.encoding, errors="replace").strip()

    def encode(self, address: int, payload: bytes = b"", command: bytes | str = b"") -> bytes:
        """One frame for ``address``; ``command`` as bytes or a name from ``commands``."""
        if isinstance(command, str):
            command = self.command(command)
        if self.needs_command and len(command) != self.command_size:
            raise ValueError(f"command: {self.command_size} byte(s), got {command!r}")
        if self.payload_size is not None and len(payload) != self.payload_size:
            raise ValueError(f"payload: exactly {self.payload_size} byte(s), got {len(payload)}")
        if len(payload) > self.max_payload:
            raise ValueError(f"payload: at most {self.max_payload} bytes, got {len(payload)}")
        parts: dict[str, bytes] = {
            "header": self.header,
            "address": self.encode_address(address),
            "command": command if self.needs_command else b"",
            "payload": payload,
            "trailer": self.trailer,
        }
        if self.length is not None:
            parts["length"] = self._encode_length(self._count(parts, len(payload)))
        if self.checksum is not None:
            parts["checksum"] = self._encode_checksum(self._checksum_value(parts))
        return b"".join(parts.get(field, b"") for field in self.layout)

    def _count(self, parts: Mapping[str, bytes], payload_len: int) -> int:
        assert self.length is not None
        total: int = self.length["adjust"]
        for field in self.length["covers"]:
            total += (
                payload_len
                if field == "payload"
                else len(parts.get(field, b"")) or (self.field_size(field) or 0)
            )
        return total

    def _encode_length(self, value: int) -> bytes:
        assert self.length is not None
        size = self.length["size"]
        if self.length["format"] == "ascii":
            if not 0 <= value < 10**size:
                raise ValueError(f"length {value} does not fit {size} digit(s)")
            return f"{value:0{size}d}".encode("ascii")
        if not 0 <= value < 256**size:
            raise ValueError(f"length {value} does not fit {size} byte(s)")
        return value.to_bytes(size, self.length["byteorder"])

    def _decode_length(self, raw: bytes) -> int | None:
        assert self.length is not None
        if self.length["format"] == "ascii":
            return int(raw) if raw.isdigit() else None
        return int.from_bytes(raw, self.length["byteorder"])

    def _checksum_value(self, parts: Mapping[str, bytes]) -> int:
        assert self.checksum is not None
        covered = b"".join(parts.get(f, b"") for f in self.layout if f in self.checksum["covers"])
        value: int = self.checksum["function"](covered)
        return value

    def _encode_checksum(self, value: int) -> bytes:
        assert self.checksum is not None
        raw = value.to_bytes(self.checksum["value_size"], self.checksum["byteorder"])
        return raw.hex().upper().encode("ascii") if self.checksum["format"] == "ascii-hex" else raw

    # -- parsing -----------------------------------------------------------------------

    def parser(self) -> FrameParser:
        return FrameParser(self)

    def decode(self, data: bytes) -> DecodedFrame | Rejected | None:
        """The first frame in ``data`` (a whole frame expected); None when there is none."""
        found = self.parser().feed(data)
        return found[0] if found else None

    def parse_at_start(self, buf: bytes | bytearray) -> tuple[str, int, DecodedFrame | Rejected | None]:
        """Parse a frame at the start of ``buf`` (which starts with the header).

        The step :class:`FrameParser` takes each time it has found a header (public
        for it); ``decode`` is the simpler entry point for one whole frame.

        Returns ("need", 0, None) for more bytes, ("framing", 0, None) when this
        is no frame, or ("frame"|"rejected", used, result).
        """
        pos = 0
        parts: dict[str, bytes] = {}
        payload_len = self.payload_size
        for index, field in enumerate(self.layout):
            if field == "payload":
                if payload_len is None:  # the trailer ends the frame
                    tail = sum(self.field_size(f) or 0 for f in self.layout[index + 1 :])
                    start = pos + tail - len(self.trailer)
                    end = buf.find(self.trailer, start)
                    if end < 0:
                        return ("framing", 0, None) if len(buf) - pos > self.max_payload + tail else _NEED
                    payload_len = end - start
                if payload_len > self.max_payload:
                    return "framing", 0, None
                size = payload_len
            else:
                size = self.field_size(field) or 0
            if len(buf) < pos + size:
                return _NEED
            raw = bytes(buf[pos : pos + size])
            pos += size
            parts[field] = raw
            if field == "header" and raw != self.header:
                return "framing", 0, None
            if field == "trailer" and raw != self.trailer:
                return "framing", 0, None
            if field == "address" and self.decode_address(raw) is None:
                return "framing", 0, None
            if field == "length":
                value = self._decode_length(raw)
                if value is None:
                    return "framing", 0, None
                assert self.length is not None
                others = self._count({**parts, "payload": b""}, 0)
                payload_len = value - others if "payload" in self.length["covers"] else payload_len
                if payload_len is None or payload_len < 0:
                    return "framing", 0, None
        address = self.decode_address(parts["address"])
        raw_frame = bytes(buf[:pos])
        if self.checksum is not None and parts["checksum"] != self._encode_checksum(
            self._checksum_value(parts)
        ):
            return "rejected", pos, Rejected("checksum", raw_frame, address)
        assert address is not None
        return "frame", pos, DecodedFrame(address, parts.get("command", b""), parts["payload"], raw_frame)


_NEED: tuple[str, int, None] = ("need", 0, None)


def cut_encoded(data: bytes, width: int, encoding: str) -> bytes:
    """Cut encoded text to ``width`` bytes without splitting a two-byte GB2312 character."""
    cut = data[:width]
    while cut:
        try:
            cut.decode(encoding)
            return cut
        except UnicodeDecodeError:
            cut = cut[:-1]
    return cut


class FrameParser:
    """Finds frames of one format in a byte stream that also carries noise and other devices' bytes.

    ``feed(data)`` returns the frames and rejected frames completed by ``data``;
    ``noise`` counts the bytes skipped while hunting for a header.
    """

    def __init__(self, fmt: FrameFormat) -> None:
        self.format = fmt
        self.noise = 0
        self._buf = bytearray()
        self._limit = (
            len(fmt.header)
            + sum(fmt.field_size(f) or 0 for f in fmt.layout if f != "payload")
            + (fmt.payload_size if fmt.payload_size is not None else fmt.max_payload)
        )

    def reset(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[DecodedFrame | Rejected]:
        self._buf += data
        out: list[DecodedFrame | Rejected] = []
        header = self.format.header
        buf = self._buf
        while buf:
            start = buf.find(header)
            if start < 0:
                keep = len(header) - 1
                dropped = len(buf) - keep if keep else len(buf)
                if dropped > 0:
                    self.noise += dropped
                    del buf[:dropped]
                break
            if start:
                self.noise += start
                del buf[:start]
            state, used, result = self.format.parse_at_start(buf)
            if state == "need":
                if len(buf) > self._limit:  # longer than any frame: the header was noise
                    self.noise += 1
                    del buf[:1]
                    continue
                break
            if state == "framing":
                self.noise += 1
                del buf[:1]
                continue
            del buf[:used]
            assert result is not None
            out.append(result)
        return out
