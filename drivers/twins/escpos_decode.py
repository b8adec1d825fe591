"""Decode an ESC/POS byte stream into what a receipt printer would put on paper.

The virtual printer feeds every byte it receives through :class:`EscPosDecoder`;
tests then assert on the decoded :class:`PrintedDocument` (its lines, sizes, QR
payloads, images, the cut), never on which python-escpos methods were called.

The decoder is a small state machine over bytes. It knows the length of every
command it meets (fixed, length-prefixed, or NUL-terminated), so an unknown or
long command (a raster image, a stored QR) never makes it lose its place in the
stream. Commands it does not understand are consumed whole where the length is
known, and noted in the document's ``warnings``.

What the decoder treats as a *document*: everything between two cuts. A stream
that ends without a cut leaves a *partial* document (paper that came out of the
printer but was never cut off): :meth:`EscPosDecoder.end_of_stream` hands it
back and it is kept apart from the printed documents.

Semantics chosen where ESC/POS leaves room (the twin behaves like a printer with
auto line feed off, font A 12×24 dots, 203 dpi):

- ``LF`` prints the line buffer; ``CR`` is ignored (so ``CR LF`` is one line).
- A ``LF`` on an empty line buffer is paper feed, not a line: ``lines`` holds
  only lines with text (blank feeds are ``Feed`` elements, drawn by ``to_png``).
- A line's ``width_mult``/``height_mult`` are the largest used on that line,
  ``bold`` is true if any of its characters is bold, ``align`` is the alignment
  in force at its first character.
- ``FS &`` switches to Chinese mode: bytes ≥ 0x80 are GB18030 (two-byte pairs
  and four-byte sequences). Outside it they are read as code page 437 and the
  document gets a warning (a real printer prints them as accented Latin junk).
- ``ESC @`` resets the modes and clears the unprinted line buffer; it does not
  end a document.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = [
    "RASTER_QR_DECODING",
    "ControlEvent",
    "EscPosDecoder",
    "Feed",
    "PlacedImage",
    "PrintedBarcode",
    "PrintedDocument",
    "PrintedLine",
    "PrintedQR",
    "TextRun",
    "decode",
]

NUL, HT, LF, FF, CR, DLE, CAN, ESC, FS, GS = 0x00, 0x09, 0x0A, 0x0C, 0x0D, 0x10, 0x18, 0x1B, 0x1C, 0x1D
EOT, ENQ, DC4 = 0x04, 0x05, 0x14

ALIGNS = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}
DOTS_PER_LINE = {58: 384, 80: 576}
FONT_A_HEIGHT = 24  # dots
FONT_A_WIDTH = 12  # dots for a half-width (ASCII) character; CJK characters take two cells
DEFAULT_LINE_SPACING = 30  # dots (ESC 2: about 1/6 inch on a 203 dpi head)

BARCODE_KINDS = {
    0: "UPC-A",
    1: "UPC-E",
    2: "EAN13",
    3: "EAN8",
    4: "CODE39",
    5: "ITF",
    6: "CODABAR",
    65: "UPC-A",
    66: "UPC-E",
    67: "EAN13",
    68: "EAN8",
    69: "CODE39",
    70: "ITF",
    71: "CODABAR",
    72: "CODE93",
    73: "CODE128",
    74: "GS1-128",
    75: "GS1 DATABAR OMNIDIRECTIONAL",
    76: "GS1 DATABAR TRUNCATED",
    77: "GS1 DATABAR LIMITED",
    78: "GS1 DATABAR EXPANDED",
}
TWO_D_KINDS = {
    48: "PDF417",
    49: "QR",
    50: "MAXICODE",
    51: "GS1 DATABAR",
    52: "COMPOSITE",
    53: "AZTEC",
    54: "DATAMATRIX",
}
QR_ECC = {48: "L", 49: "M", 50: "Q", 51: "H"}

_INVERT = bytes(255 - b for b in range(256))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TextRun:
    """A piece of a line printed with one set of modes (used to draw mixed sizes)."""

    text: str
    width_mult: int = 1
    height_mult: int = 1
    bold: bool = False
    # Half-width cells of each character: 1 for a single-byte character, 2 for a
    # GB18030 multi-byte one (the printer draws those from its 24×24 font, even "—").
    cells: tuple[int, ...] = ()

    @property
    def cell_widths(self) -> tuple[int, ...]:
        return self.cells if len(self.cells) == len(self.text) else tuple(_cell(ch) for ch in self.text)


def _cell(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


@dataclass(frozen=True)
class PrintedLine:
    """One printed line of text. Equality compares the five documented fields only."""

    text: str
    width_mult: int = 1
    height_mult: int = 1
    align: str = "left"
    bold: bool = False
    runs: tuple[TextRun, ...] = field(default=(), compare=False, repr=False)

    @property
    def dots(self) -> int:
        """Width of the line on paper, in dots (font A: 12 dots a half-width cell)."""
        runs = self.runs or (TextRun(self.text, self.width_mult, self.height_mult, self.bold),)
        return sum(sum(r.cell_widths) * FONT_A_WIDTH * r.width_mult for r in runs)


@dataclass(frozen=True)
class PrintedQR:
    payload: str
    native: bool = True  # False: found by reading back a printed raster image
    module_size: int = 3
    error_correction: str = "L"
    align: str = "left"


@dataclass(frozen=True)
class PrintedBarcode:
    kind: str  # "EAN13", "CODE39", "CODE128", "PDF417", ...
    data: str
    align: str = "left"
    height: int = 162
    module_width: int = 3
    hri: int = 0  # GS H: 0 none, 1 above, 2 below, 3 both


@dataclass(frozen=True)
class PlacedImage:
    image: Image.Image  # mode "1": black = printed dot
    align: str = "left"
    scale_x: int = 1
    scale_y: int = 1
    command: str = "GS v 0"


@dataclass(frozen=True)
class Feed:
    dots: int


Element = PrintedLine | PrintedQR | PrintedBarcode | PlacedImage | Feed


@dataclass(frozen=True)
class ControlEvent:
    """A command that is not printable content: a status query, a real-time command, a drawer kick."""

    command: str  # "DLE EOT", "GS r", "DLE DC4", "DLE ENQ", "ESC p", "ESC v", "ESC u", "GS I", "GS ( k"
    n: int
    raw: bytes


@dataclass
class PrintedDocument:
    """What came out of the printer between two cuts (or before the stream ended, if ``cut`` is False)."""

    elements: list[Element] = field(default_factory=list)
    cut: bool = False
    cut_mode: str | None = None  # "full" or "partial"
    warnings: list[str] = field(default_factory=list)
    paper_width: int = 576
    raw: bytes = b""

    @property
    def lines(self) -> list[PrintedLine]:
        return [e for e in self.elements if isinstance(e, PrintedLine)]

    @property
    def qr_codes(self) -> list[PrintedQR]:
        return [e for e in self.elements if isinstance(e, PrintedQR)] + [
            q for q in self._raster_qr if q is not None
        ]

    @property
    def qr_payloads(self) -> list[str]:
        """Payloads of native QR codes, then of QR codes read back from raster images."""
        return [q.payload for q in self.qr_codes]

    @property
    def barcodes(self) -> list[PrintedBarcode]:
        return [e for e in self.elements if isinstance(e, PrintedBarcode)]

    @property
    def images(self) -> list[Image.Image]:
        return [e.image for e in self.elements if isinstance(e, PlacedImage)]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def has_content(self) -> bool:
        return any(not isinstance(e, Feed) for e in self.elements)

    # Raster QR codes are read back lazily (pyzbar is slow-ish and optional).
    @property
    def _raster_qr(self) -> list[PrintedQR | None]:
        cache = self.__dict__.setdefault("_raster_qr_cache", {})
        out: list[PrintedQR | None] = []
        for e in self.elements:
            if isinstance(e, PlacedImage):
                key = id(e)
                if key not in cache:
                    cache[key] = read_qr_from_image(e.image, e.align)
                out.extend(cache[key])
        return out

    def to_png(self, path: str | Path) -> Path:
        """Draw the document as the paper would look, at the paper width, and save it as PNG."""
        path = Path(path)
        render_document(self).save(path, format="PNG")
        return path


# --------------------------------------------------------------------------- raster QR read-back

try:  # pyzbar needs the system library libzbar0
    from pyzbar import pyzbar as _pyzbar

    RASTER_QR_DECODING = True
except (ImportError, OSError):  # pragma: no cover - depends on the machine
    _pyzbar = None
    RASTER_QR_DECODING = False


def read_qr_from_image(image: Image.Image, align: str = "left") -> list[PrintedQR]:
    """QR codes found in a printed raster image (empty when pyzbar/libzbar0 is not installed)."""
    if _pyzbar is None:
        return []
    grey = ImageOps.expand(image.convert("L"), border=24, fill=255)
    attempts = [grey]
    if max(image.size) < 400:
        attempts.append(grey.resize((grey.width * 3, grey.height * 3), Image.Resampling.NEAREST))
    for candidate in attempts:
        found = [s for s in _pyzbar.decode(candidate) if s.type == "QRCODE"]
        if found:
            return [PrintedQR(_text_payload(s.data), native=False, align=align) for s in found]
    return []


def _text_payload(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


# --------------------------------------------------------------------------- the decoder


class _Incomplete(Exception):
    """The buffer ends inside a command: wait for more bytes."""


def _le(data: bytes | bytearray, start: int, count: int) -> int:
    return int.from_bytes(data[start : start + count], "little")


# A command handler: given the stream and the position of its ESC / GS byte, it acts on
# the command and returns the position after it (or raises _Incomplete).
_Handler: TypeAlias = "Callable[[EscPosDecoder, bytes, int], int]"


class EscPosDecoder:
    """Streaming ESC/POS decoder: :meth:`feed` bytes as they arrive, in chunks of any size.

    ``on_control(event)`` is called for commands that are not printable content
    (status queries, real-time commands, the cash drawer). While ``discarding``
    is true the decoder still parses (and reports real-time commands) but puts
    nothing on paper and changes no mode: a printer that is offline drops its
    buffer.
    """

    def __init__(
        self,
        paper_width: int = 576,
        on_control: Callable[[ControlEvent], None] | None = None,
        chinese_default: bool = False,
    ) -> None:
        self.paper_width = paper_width
        self.on_control = on_control
        self.chinese_default = chinese_default
        self.discarding = False
        self.documents: list[PrintedDocument] = []
        self.partial_documents: list[PrintedDocument] = []
        self.control_events: list[ControlEvent] = []
        self._buf = bytearray()
        self._reset_modes()
        self._new_document()
        self._qr_store: dict[int, bytes] = {}
        self._graphics_store: Image.Image | None = None
        self._graphics_scale = (1, 1)

    # ---- modes and the document being built

    def _reset_modes(self) -> None:
        self.align = "left"
        self.bold = False
        self.width_mult = 1
        self.height_mult = 1
        self.chinese = self.chinese_default
        self.code_page = 0
        self.line_spacing = DEFAULT_LINE_SPACING
        self.qr_module_size = 3
        self.qr_ecc = "L"
        self.barcode_height = 162
        self.barcode_width = 3
        self.barcode_hri = 0
        self._runs: list[TextRun] = []
        self._line_align = "left"
        self._stripes: list[Image.Image] = []
        self._stripe_align = "left"

    def _new_document(self) -> None:
        self._doc = PrintedDocument(paper_width=self.paper_width)
        self._doc_raw = bytearray()

    def _warn(self, message: str) -> None:
        if message not in self._doc.warnings:
            self._doc.warnings.append(message)

    # ---- public API

    def feed(self, data: bytes) -> list[PrintedDocument]:
        """Decode ``data``; return the documents completed (cut) by it."""
        before = len(self.documents)
        self._buf += data
        pos = 0
        buf = bytes(self._buf)
        while pos < len(buf):
            try:
                pos = self._step(buf, pos)
            except _Incomplete:
                break
        del self._buf[:pos]
        return self.documents[before:]

    def end_of_stream(self) -> PrintedDocument | None:
        """The connection ended: drop an unfinished command; an uncut document becomes partial."""
        if self._buf:
            self._warn(f"stream ended inside a command ({len(self._buf)} bytes dropped)")
            self._buf.clear()
        return self.abandon()

    def abandon(self) -> PrintedDocument | None:
        """End the current document without a cut (it goes to ``partial_documents`` if it has content)."""
        self._flush_line()
        self._flush_stripes()
        doc = self._finish_doc(cut=False)
        if doc.has_content:
            self.partial_documents.append(doc)
            return doc
        return None

    # ---- parser: returns the position after the item at ``pos``

    def _step(self, buf: bytes, pos: int) -> int:
        doc = self._doc
        end = self._dispatch(buf, pos)
        if not self.discarding:
            if doc is self._doc:
                self._doc_raw += buf[pos:end]
            else:  # this item ended the document (a cut): its bytes belong to it
                doc.raw += buf[pos:end]
        return end

    def _dispatch(self, buf: bytes, pos: int) -> int:
        b = buf[pos]
        if b == ESC:
            end = self._esc(buf, pos)
        elif b == GS:
            end = self._gs(buf, pos)
        elif b == FS:
            end = self._fs(buf, pos)
        elif b == DLE:
            end = self._dle(buf, pos)
        elif b == LF:
            end = pos + 1
            self._apply(self._line_feed)
        elif b == FF:
            end = pos + 1
            self._apply(self._flush_line)
        elif b == HT:
            end = pos + 1
            self._apply(self._tab)
        elif b < 0x20 or b == 0x7F:  # CR, NUL, BEL, CAN and other controls: nothing on paper
            end = pos + 1
        elif b < 0x80:
            end = pos + 1
            self._apply(self._text, chr(b), 1)
        elif self.chinese:
            end = self._gb18030(buf, pos)
        else:
            end = pos + 1
            self._apply(self._text, bytes([b]).decode("cp437"), 1)
            self._apply(
                self._warn,
                f"bytes >= 0x80 outside Chinese mode (FS &): printed from code page {self.code_page} "
                "(decoded as cp437)",
            )
        return end

    @staticmethod
    def _need(buf: bytes, end: int) -> None:
        if end > len(buf):
            raise _Incomplete

    def _apply(self, action: Callable[..., object], *args: Any) -> None:
        if not self.discarding:
            action(*args)

    def _control(self, command: str, n: int, raw: bytes) -> None:
        """Real-time and query commands: reported even while discarding."""
        event = ControlEvent(command, n, bytes(raw))
        self.control_events.append(event)
        if self.on_control is not None:
            self.on_control(event)

    def _gb18030(self, buf: bytes, pos: int) -> int:
        b = buf[pos]
        if not 0x81 <= b <= 0xFE:
            self._apply(self._text, "\ufffd", 1)
            self._apply(self._warn, f"byte 0x{b:02X} is not a GB18030 lead byte")
            return pos + 1
        self._need(buf, pos + 2)
        second = buf[pos + 1]
        if 0x30 <= second <= 0x39:
            self._need(buf, pos + 4)
            end = pos + 4
        elif 0x40 <= second <= 0xFE and second != 0x7F:
            end = pos + 2
        else:  # a lead byte followed by something that cannot continue it
            self._apply(self._text, "\ufffd", 1)
            self._apply(self._warn, "broken GB18030 sequence")
            return pos + 1
        try:
            char = buf[pos:end].decode("gb18030")
        except UnicodeDecodeError:
            char = "\ufffd"
            self._apply(self._warn, "broken GB18030 sequence")
        self._apply(self._text, char, 2)
        return end

    # ESC commands whose total length is fixed
    _ESC_FIXED: ClassVar[dict[int, int]] = {
        0x0C: 2,  # ESC FF print page-mode data
        0x20: 3,  # ESC SP n right-side character spacing
        0x24: 4,  # ESC $ nL nH absolute position
        0x25: 3,  # ESC % n user-defined characters
        0x2B: 3,  # ESC + n line spacing n/360"
        0x2D: 3,  # ESC - n underline
        0x3C: 2,  # ESC < return home
        0x3D: 3,  # ESC = n select peripheral
        0x3F: 3,  # ESC ? n cancel user-defined character
        0x41: 3,  # ESC A n line spacing n/60"
        0x42: 4,  # ESC B n t buzzer
        0x47: 3,  # ESC G n double strike
        0x4B: 3,  # ESC K n reverse feed (some models)
        0x4C: 2,  # ESC L page mode
        0x4D: 3,  # ESC M n font
        0x52: 3,  # ESC R n international character set
        0x53: 2,  # ESC S standard mode
        0x54: 3,  # ESC T n print direction (page mode)
        0x55: 3,  # ESC U n unidirectional
        0x56: 3,  # ESC V n 90° rotation
        0x57: 10,  # ESC W print area (page mode)
        0x5C: 4,  # ESC \ nL nH relative position
        0x63: 4,  # ESC c x n panel buttons, paper sensors
        0x65: 3,  # ESC e n reverse feed
        0x72: 3,  # ESC r n colour
        0x7B: 3,  # ESC { n upside down
    }

    def _esc(self, buf: bytes, pos: int) -> int:
        self._need(buf, pos + 2)
        c = buf[pos + 1]
        handler = self._ESC_HANDLERS.get(c)
        if handler is not None:
            return handler(self, buf, pos)
        length = self._ESC_FIXED.get(c)
        if length is None:
            self._apply(self._warn, f"unknown command ESC 0x{c:02X}")
            return pos + 2
        self._need(buf, pos + length)
        return pos + length

    def _arg(self, buf: bytes, pos: int) -> int:
        """The one parameter byte ``n`` of a three-byte command ``X c n`` starting at ``pos``."""
        self._need(buf, pos + 3)
        return buf[pos + 2]

    def _esc_initialize(self, buf: bytes, pos: int) -> int:  # ESC @
        self._apply(self._initialize)
        return pos + 2

    def _esc_print_modes(self, buf: bytes, pos: int) -> int:  # ESC ! n
        self._apply(self._esc_bang, self._arg(buf, pos))
        return pos + 3

    def _esc_align(self, buf: bytes, pos: int) -> int:  # ESC a n
        self._apply(self._set_align, self._arg(buf, pos))
        return pos + 3

    def _esc_bold(self, buf: bytes, pos: int) -> int:  # ESC E n
        self._apply(setattr, self, "bold", bool(self._arg(buf, pos) & 1))
        return pos + 3

    def _esc_line_spacing(self, buf: bytes, pos: int) -> int:  # ESC 3 n
        self._apply(setattr, self, "line_spacing", self._arg(buf, pos))
        return pos + 3

    def _esc_default_line_spacing(self, buf: bytes, pos: int) -> int:  # ESC 2
        self._apply(setattr, self, "line_spacing", DEFAULT_LINE_SPACING)
        return pos + 2

    def _esc_feed_lines(self, buf: bytes, pos: int) -> int:  # ESC d n print and feed n lines
        self._apply(self._feed_dots, self._arg(buf, pos) * self.line_spacing)
        return pos + 3

    def _esc_feed_dots(self, buf: bytes, pos: int) -> int:  # ESC J n print and feed n dots
        self._apply(self._feed_dots, self._arg(buf, pos))
        return pos + 3

    def _esc_code_page(self, buf: bytes, pos: int) -> int:  # ESC t n
        self._apply(setattr, self, "code_page", self._arg(buf, pos))
        return pos + 3

    def _esc_peripheral_status(self, buf: bytes, pos: int) -> int:  # ESC u n transmit peripheral status
        self._control("ESC u", self._arg(buf, pos), buf[pos : pos + 3])
        return pos + 3

    def _esc_paper_status(self, buf: bytes, pos: int) -> int:  # ESC v transmit paper sensor status
        self._control("ESC v", 0, buf[pos : pos + 2])
        return pos + 2

    def _esc_obsolete_cut(self, buf: bytes, pos: int) -> int:  # ESC i / ESC m: full / partial cut
        self._apply(self._cut, "full" if buf[pos + 1] == 0x69 else "partial")
        return pos + 2

    def _esc_drawer_kick(self, buf: bytes, pos: int) -> int:  # ESC p m t1 t2
        self._need(buf, pos + 5)
        self._control("ESC p", buf[pos + 2], buf[pos : pos + 5])
        return pos + 5

    def _esc_column_image(self, buf: bytes, pos: int) -> int:  # ESC * m nL nH d...
        self._need(buf, pos + 5)
        m, columns = buf[pos + 2], _le(buf, pos + 3, 2)
        rows = 24 if m in (32, 33) else 8
        end = pos + 5 + columns * rows // 8
        self._need(buf, end)
        self._apply(self._column_image, m, columns, buf[pos + 5 : end])
        return end

    def _esc_user_characters(self, buf: bytes, pos: int) -> int:  # ESC & y c1 c2 [x d1..d(y*x)]...
        self._need(buf, pos + 5)
        y, c1, c2 = buf[pos + 2], buf[pos + 3], buf[pos + 4]
        end = pos + 5
        for _ in range(max(0, c2 - c1 + 1)):
            self._need(buf, end + 1)
            end += 1 + y * buf[end]
        self._need(buf, end)
        return end

    def _esc_tab_positions(self, buf: bytes, pos: int) -> int:  # ESC D n1..nk NUL
        return self._until_nul(buf, pos + 2, limit=33)

    def _skip_length_prefixed(self, buf: bytes, pos: int) -> int:  # X ( fn pL pH ... (ignored)
        self._need(buf, pos + 5)
        end = pos + 5 + _le(buf, pos + 3, 2)
        self._need(buf, end)
        return end

    _GS_FIXED: ClassVar[dict[int, int]] = {
        0x24: 4,  # GS $ nL nH
        0x2F: 3,  # GS / m print downloaded bit image
        0x3A: 2,  # GS : macro definition
        0x42: 3,  # GS B n reverse
        0x45: 3,  # GS E n head control
        0x48: 3,  # GS H n HRI position
        0x49: 3,  # GS I n transmit printer ID (reported below)
        0x4C: 4,  # GS L nL nH left margin
        0x50: 4,  # GS P x y motion units
        0x54: 3,  # GS T n print position
        0x57: 4,  # GS W nL nH print area width
        0x5C: 4,  # GS \ nL nH
        0x5E: 5,  # GS ^ r t m execute macro
        0x61: 3,  # GS a n automatic status back
        0x62: 3,  # GS b n smoothing
        0x63: 2,  # GS c print counter
        0x66: 3,  # GS f n HRI font
        0x68: 3,  # GS h n barcode height
        0x6A: 3,  # GS j n ink ASB
        0x77: 3,  # GS w n barcode width
        0x7C: 3,  # GS | n density
    }

    def _gs(self, buf: bytes, pos: int) -> int:
        self._need(buf, pos + 2)
        c = buf[pos + 1]
        handler = self._GS_HANDLERS.get(c)
        if handler is not None:
            return handler(self, buf, pos)
        length = self._GS_FIXED.get(c)
        if length is None:
            self._apply(self._warn, f"unknown command GS 0x{c:02X}")
            return pos + 2
        self._need(buf, pos + length)
        if c == 0x68:
            self._apply(setattr, self, "barcode_height", buf[pos + 2])
        elif c == 0x77:
            self._apply(setattr, self, "barcode_width", buf[pos + 2])
        elif c == 0x48:
            self._apply(setattr, self, "barcode_hri", buf[pos + 2] & 3)
        elif c == 0x2F:
            self._apply(self._warn, "GS / prints a downloaded bit image the twin does not keep")
        return pos + length

    def _gs_size(self, buf: bytes, pos: int) -> int:  # GS ! n character size
        self._apply(self._set_size, self._arg(buf, pos))
        return pos + 3

    def _gs_cut(self, buf: bytes, pos: int) -> int:  # GS V m [n]
        m = self._arg(buf, pos)
        end = pos + 3 if m in (0, 1, 48, 49) else pos + 4
        self._need(buf, end)
        if m in (0, 48, 65, 97, 103):
            mode = "full"
        elif m in (1, 49, 66, 98, 104):
            mode = "partial"
        else:
            self._apply(self._warn, f"unknown cut GS V {m}")
            return end
        if m in (65, 66):
            self._apply(self._feed_dots, buf[pos + 3])
        self._apply(self._cut, mode)
        return end

    def _gs_status(self, buf: bytes, pos: int) -> int:  # GS r n transmit status
        self._control("GS r", self._arg(buf, pos), buf[pos : pos + 3])
        return pos + 3

    def _gs_printer_id(self, buf: bytes, pos: int) -> int:  # GS I n transmit printer ID
        self._control("GS I", self._arg(buf, pos), buf[pos : pos + 3])
        return pos + 3

    def _gs_raster_image(self, buf: bytes, pos: int) -> int:  # GS v 0 m xL xH yL yH d...
        self._need(buf, pos + 8)
        if buf[pos + 2] not in (0x30, 0x00):
            self._apply(self._warn, f"unknown command GS v 0x{buf[pos + 2]:02X}")
            return pos + 3
        m, width_bytes, height = buf[pos + 3], _le(buf, pos + 4, 2), _le(buf, pos + 6, 2)
        end = pos + 8 + width_bytes * height
        self._need(buf, end)
        self._apply(self._raster_image, m, width_bytes, height, buf[pos + 8 : end])
        return end

    def _gs_barcode(self, buf: bytes, pos: int) -> int:  # GS k m d... NUL / GS k m n d1..dn
        m = self._arg(buf, pos)
        if m <= 6:
            end = self._until_nul(buf, pos + 3, limit=256)
            data = buf[pos + 3 : end - 1]
        else:
            self._need(buf, pos + 4)
            end = pos + 4 + buf[pos + 3]
            self._need(buf, end)
            data = buf[pos + 4 : end]
        self._apply(self._barcode, BARCODE_KINDS.get(m, f"GS k {m}"), data)
        return end

    def _gs_function(self, buf: bytes, pos: int) -> int:  # GS ( fn pL pH ...
        self._need(buf, pos + 5)
        fn_letter = buf[pos + 2]
        end = pos + 5 + _le(buf, pos + 3, 2)
        self._need(buf, end)
        body = buf[pos + 5 : end]
        if fn_letter == 0x6B:  # GS ( k: 2D codes
            self._two_d(body, buf[pos:end])
        elif fn_letter == 0x4C:  # GS ( L: graphics
            self._apply(self._graphics, body)
        return end

    def _gs_large_function(self, buf: bytes, pos: int) -> int:  # GS 8 fn p1 p2 p3 p4 ... (large GS ( fn)
        self._need(buf, pos + 7)
        end = pos + 7 + _le(buf, pos + 3, 4)
        self._need(buf, end)
        if buf[pos + 2] == 0x4C:
            self._apply(self._graphics, buf[pos + 7 : end])
        return end

    def _gs_define_bit_image(self, buf: bytes, pos: int) -> int:  # GS * x y d... (not kept)
        self._need(buf, pos + 4)
        end = pos + 4 + buf[pos + 2] * buf[pos + 3] * 8
        self._need(buf, end)
        return end

    def _gs_variable_bit_image(self, buf: bytes, pos: int) -> int:  # GS Q 0 m xL xH yL yH d... (not kept)
        self._need(buf, pos + 8)
        end = pos + 8 + _le(buf, pos + 4, 2) * _le(buf, pos + 6, 2)
        self._need(buf, end)
        return end

    def _gs_maintenance_counter(self, buf: bytes, pos: int) -> int:  # GS g 0|2 m aL aH
        self._need(buf, pos + 6)
        return pos + 6

    def _gs_counter_printing(self, buf: bytes, pos: int) -> int:  # GS C ...
        sub = self._arg(buf, pos)
        length = {0x30: 5, 0x31: 9, 0x32: 5}.get(sub)
        if length is None:
            self._apply(self._warn, f"unsupported command GS C 0x{sub:02X}")
            return pos + 3
        self._need(buf, pos + length)
        return pos + length

    # The commands with their own handler (length rules or effects of their own); the
    # rest of ESC / GS is looked up in _ESC_FIXED / _GS_FIXED.
    _ESC_HANDLERS: ClassVar[dict[int, _Handler]] = {
        0x40: _esc_initialize,
        0x21: _esc_print_modes,
        0x61: _esc_align,
        0x45: _esc_bold,
        0x33: _esc_line_spacing,
        0x64: _esc_feed_lines,
        0x4A: _esc_feed_dots,
        0x74: _esc_code_page,
        0x75: _esc_peripheral_status,
        0x32: _esc_default_line_spacing,
        0x76: _esc_paper_status,
        0x69: _esc_obsolete_cut,
        0x6D: _esc_obsolete_cut,
        0x70: _esc_drawer_kick,
        0x2A: _esc_column_image,
        0x26: _esc_user_characters,
        0x44: _esc_tab_positions,
        0x28: _skip_length_prefixed,
    }
    _GS_HANDLERS: ClassVar[dict[int, _Handler]] = {
        0x21: _gs_size,
        0x56: _gs_cut,
        0x72: _gs_status,
        0x49: _gs_printer_id,
        0x76: _gs_raster_image,
        0x6B: _gs_barcode,
        0x28: _gs_function,
        0x38: _gs_large_function,
        0x2A: _gs_define_bit_image,
        0x51: _gs_variable_bit_image,
        0x67: _gs_maintenance_counter,
        0x43: _gs_counter_printing,
    }

    def _fs(self, buf: bytes, pos: int) -> int:
        self._need(buf, pos + 2)
        c = buf[pos + 1]
        if c == 0x26:  # FS &
            self._apply(setattr, self, "chinese", True)
            return pos + 2
        if c == 0x2E:  # FS .
            self._apply(setattr, self, "chinese", False)
            return pos + 2
        if c in (0x21, 0x2D, 0x43, 0x57):  # FS ! n, FS - n, FS C n, FS W n
            self._need(buf, pos + 3)
            return pos + 3
        if c in (0x53, 0x3F, 0x70):  # FS S n1 n2, FS ? c1 c2, FS p n m
            self._need(buf, pos + 4)
            if c == 0x70:
                self._apply(self._warn, "FS p prints an NV image the twin does not keep")
            return pos + 4
        if c == 0x32:  # FS 2 c1 c2 d1..d72 user-defined Kanji
            self._need(buf, pos + 76)
            return pos + 76
        if c == 0x28:  # FS ( fn pL pH ...
            self._need(buf, pos + 5)
            end = pos + 5 + _le(buf, pos + 3, 2)
            self._need(buf, end)
            return end
        if c == 0x71:  # FS q n [xL xH yL yH d...]... define NV bit images
            self._need(buf, pos + 3)
            end = pos + 3
            for _ in range(buf[pos + 2]):
                self._need(buf, end + 4)
                end += 4 + _le(buf, end, 2) * _le(buf, end + 2, 2) * 8
            self._need(buf, end)
            return end
        self._apply(self._warn, f"unknown command FS 0x{c:02X}")
        return pos + 2

    def _dle(self, buf: bytes, pos: int) -> int:
        self._need(buf, pos + 2)
        c = buf[pos + 1]
        if c == EOT:  # DLE EOT n [a]
            self._need(buf, pos + 3)
            n = buf[pos + 2]
            end = pos + 4 if n in (7, 8) else pos + 3
            self._need(buf, end)
            self._control("DLE EOT", n, buf[pos:end])
            return end
        if c == ENQ:  # DLE ENQ n
            self._need(buf, pos + 3)
            self._control("DLE ENQ", buf[pos + 2], buf[pos : pos + 3])
            return pos + 3
        if c == DC4:  # DLE DC4 fn ...
            self._need(buf, pos + 3)
            fn = buf[pos + 2]
            length = {1: 5, 2: 5, 3: 5, 7: 4, 8: 10}.get(fn, 3)
            self._need(buf, pos + length)
            self._control("DLE DC4", fn, buf[pos : pos + length])
            return pos + length
        return pos + 1  # a lone DLE: nothing

    def _until_nul(self, buf: bytes, start: int, limit: int) -> int:
        end = buf.find(b"\x00", start, start + limit)
        if end < 0:
            if len(buf) - start < limit:
                raise _Incomplete
            self._apply(self._warn, "NUL-terminated command without its NUL")
            return start
        return end + 1

    # ---- actions

    def _initialize(self) -> None:
        self._flush_stripes()
        self._reset_modes()

    def _esc_bang(self, n: int) -> None:
        self.bold = bool(n & 0x08)
        self.height_mult = 2 if n & 0x10 else 1
        self.width_mult = 2 if n & 0x20 else 1

    def _set_size(self, n: int) -> None:
        self.width_mult = (n >> 4) + 1
        self.height_mult = (n & 0x0F) + 1

    def _set_align(self, n: int) -> None:
        self.align = ALIGNS.get(n, self.align)

    def _text(self, chars: str, cells: int) -> None:
        self._flush_stripes()
        if not self._runs:
            self._line_align = self.align
        widths = (cells,) * len(chars)
        run = self._runs[-1] if self._runs else None
        if run and (run.width_mult, run.height_mult, run.bold) == (
            self.width_mult,
            self.height_mult,
            self.bold,
        ):
            self._runs[-1] = TextRun(
                run.text + chars, run.width_mult, run.height_mult, run.bold, run.cells + widths
            )
        else:
            self._runs.append(TextRun(chars, self.width_mult, self.height_mult, self.bold, widths))

    def _tab(self) -> None:
        column = sum(sum(r.cells) for r in self._runs)
        self._text(" " * (8 - column % 8), 1)

    def _flush_line(self) -> bool:
        if not self._runs:
            return False
        runs = tuple(self._runs)
        self._runs = []
        self._doc.elements.append(
            PrintedLine(
                text="".join(r.text for r in runs),
                width_mult=max(r.width_mult for r in runs),
                height_mult=max(r.height_mult for r in runs),
                align=self._line_align,
                bold=any(r.bold for r in runs),
                runs=runs,
            )
        )
        return True

    def _line_feed(self) -> None:
        if self._stripes and not self._runs:
            return  # LF ends a row of ESC * stripes
        if not self._flush_line():
            self._add_feed(max(self.line_spacing, FONT_A_HEIGHT * self.height_mult))

    def _feed_dots(self, dots: int) -> None:
        self._flush_line()
        self._flush_stripes()
        if dots:
            self._add_feed(dots)

    def _add_feed(self, dots: int) -> None:
        elements = self._doc.elements
        if elements and isinstance(elements[-1], Feed):
            elements[-1] = Feed(elements[-1].dots + dots)
        else:
            elements.append(Feed(dots))

    def _cut(self, mode: str) -> None:
        self._flush_line()
        self._flush_stripes()
        self._finish_doc(cut=True, mode=mode)

    def _finish_doc(self, cut: bool, mode: str | None = None) -> PrintedDocument:
        doc = self._doc
        doc.cut = cut
        doc.cut_mode = mode
        doc.raw = bytes(self._doc_raw)
        if cut:
            self.documents.append(doc)
        self._new_document()
        return doc

    def _add_image(self, image: Image.Image, scale_x: int, scale_y: int, command: str, align: str) -> None:
        self._flush_line()
        self._doc.elements.append(PlacedImage(image, align, scale_x, scale_y, command))

    @staticmethod
    def _bits_to_image(width_bytes: int, height: int, data: bytes) -> Image.Image:
        """Rows of packed bits, MSB first, 1 = printed dot -> a mode "1" image (black = dot)."""
        return Image.frombytes("1", (width_bytes * 8, height), bytes(data).translate(_INVERT))

    def _raster_image(self, m: int, width_bytes: int, height: int, data: bytes) -> None:
        self._flush_stripes()
        if not width_bytes or not height:
            return
        image = self._bits_to_image(width_bytes, height, data)
        m &= 0x03
        self._add_image(image, 2 if m & 1 else 1, 2 if m & 2 else 1, "GS v 0", self.align)

    def _column_image(self, m: int, columns: int, data: bytes) -> None:
        if not columns:
            return
        rows = 24 if m in (32, 33) else 8
        # Each column is rows/8 bytes, top to bottom, MSB on top: read it as a raster
        # image one column per row, then transpose.
        stripe = self._bits_to_image(rows // 8, columns, data).transpose(Image.Transpose.TRANSPOSE)
        if m in (0, 32):  # single density horizontally: each dot is twice as wide
            stripe = stripe.resize((columns * 2, rows), Image.Resampling.NEAREST)
        if self._runs:
            self._flush_line()
        if not self._stripes:
            self._stripe_align = self.align
        self._stripes.append(stripe)

    def _flush_stripes(self) -> None:
        if not self._stripes:
            return
        stripes, self._stripes = self._stripes, []
        width = max(s.width for s in stripes)
        image = Image.new("1", (width, sum(s.height for s in stripes)), 1)
        y = 0
        for s in stripes:
            image.paste(s, (0, y))
            y += s.height
        self._flush_line()
        self._doc.elements.append(PlacedImage(image, self._stripe_align, 1, 1, "ESC *"))

    def _graphics(self, body: bytes) -> None:
        """GS ( L / GS 8 L: store raster graphics (fn 112) and print them (fn 50)."""
        if len(body) < 2:
            return
        fn = body[1]
        if fn in (112, 0x70) and len(body) >= 10:
            bx, by = body[3], body[4]
            width, height = _le(body, 6, 2), _le(body, 8, 2)
            width_bytes = (width + 7) // 8
            data = body[10 : 10 + width_bytes * height]
            if len(data) == width_bytes * height and width and height:
                self._graphics_store = self._bits_to_image(width_bytes, height, data).crop(
                    (0, 0, width, height)
                )
                self._graphics_scale = (max(1, bx), max(1, by))
        elif fn in (50, 2) and self._graphics_store is not None:
            self._flush_stripes()
            sx, sy = self._graphics_scale
            self._add_image(self._graphics_store, sx, sy, "GS ( L", self.align)

    def _two_d(self, body: bytes, raw: bytes) -> None:
        """GS ( k cn fn ...: QR (cn 49) and the other 2D symbologies."""
        if len(body) < 2:
            return
        cn, fn = body[0], body[1]
        if fn == 82:  # transmit size information: a query
            self._control("GS ( k", fn, raw)
            return
        if cn == 49:
            if fn == 67 and len(body) >= 3:
                self._apply(setattr, self, "qr_module_size", body[2])
            elif fn == 69 and len(body) >= 3:
                self._apply(setattr, self, "qr_ecc", QR_ECC.get(body[2], "L"))
        if fn == 80:  # store data: cn fn m d1..dk
            self._apply(self._qr_store.__setitem__, cn, bytes(body[3:]))
        elif fn == 81:  # print the stored symbol
            self._apply(self._print_two_d, cn)

    def _print_two_d(self, cn: int) -> None:
        data = self._qr_store.get(cn)
        if not data:
            self._warn("2D code printed with no data stored")
            return
        self._flush_line()
        self._flush_stripes()
        payload = _text_payload(data)
        if cn == 49:
            self._doc.elements.append(PrintedQR(payload, True, self.qr_module_size, self.qr_ecc, self.align))
        else:
            self._doc.elements.append(PrintedBarcode(TWO_D_KINDS.get(cn, f"2D {cn}"), payload, self.align))

    def _barcode(self, kind: str, data: bytes) -> None:
        self._flush_line()
        self._flush_stripes()
        self._doc.elements.append(
            PrintedBarcode(
                kind,
                bytes(data).decode("latin-1"),
                self.align,
                self.barcode_height,
                self.barcode_width,
                self.barcode_hri,
            )
        )


def decode(
    data: bytes,
    *,
    paper_width: int = 576,
    include_partial: bool = False,
    chinese_default: bool = False,
) -> list[PrintedDocument]:
    """Decode a whole ESC/POS stream: one document per cut.

    Content after the last cut is not printed-and-cut paper; it is returned (as a
    document with ``cut=False``) only with ``include_partial=True``.
    """
    decoder = EscPosDecoder(paper_width=paper_width, chinese_default=chinese_default)
    decoder.feed(data)
    documents = list(decoder.documents)
    partial = decoder.end_of_stream()
    if include_partial and partial is not None:
        documents.append(partial)
    return documents


# --------------------------------------------------------------------------- rendering

CJK_FONT_DIR = Path("/usr/share/fonts/opentype/noto")


@lru_cache(maxsize=32)
def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "NotoSansCJK-Bold.ttc" if bold else "NotoSansCJK-Regular.ttc"
    for candidate in (CJK_FONT_DIR / name, CJK_FONT_DIR / "NotoSansCJK-Regular.ttc"):
        if candidate.exists():
            try:
                return ImageFont.truetype(str(candidate), size, index=2)  # index 2: Simplified Chinese
            except OSError:
                continue
    return ImageFont.load_default(size=size)


def _render_run(run: TextRun) -> Image.Image:
    font = _font(20, run.bold)
    widths = run.cell_widths
    width = max(1, sum(widths) * FONT_A_WIDTH)
    cell = Image.new("L", (width, FONT_A_HEIGHT), 255)
    draw = ImageDraw.Draw(cell)
    x = 0
    for ch, cells in zip(run.text, widths, strict=True):  # the printer's cell grid, not proportional text
        w = cells * FONT_A_WIDTH
        draw.text((x + w / 2, 19), ch, font=font, fill=0, anchor="ms")
        x += w
    return cell.resize((width * run.width_mult, FONT_A_HEIGHT * run.height_mult), Image.Resampling.NEAREST)


def _x_for(align: str, width: int, paper: int) -> int:
    if align == "center":
        return max(0, (paper - width) // 2)
    if align == "right":
        return max(0, paper - width)
    return 0


def _render_barcode(code: PrintedBarcode) -> Image.Image:
    try:
        import barcode
        from barcode.writer import ImageWriter

        name = {"EAN13": "ean13", "EAN8": "ean8", "UPC-A": "upca", "CODE39": "code39", "ITF": "itf"}.get(
            code.kind
        )
        name = name or ("code128" if code.kind in ("CODE128", "GS1-128") else None)
        if name is not None:
            data = code.data[2:] if name == "code128" and code.data.startswith("{") else code.data
            writer_options = {"write_text": code.hri != 0, "module_height": code.height / 8, "quiet_zone": 1}
            cls = barcode.get_barcode_class(name)
            kwargs = {"add_checksum": False} if name == "code39" else {}
            image: Image.Image = cls(data, writer=ImageWriter(), **kwargs).render(writer_options).convert("L")
            return image
    except Exception:  # noqa: BLE001  a preview falls back to a labelled box: the data is arbitrary bytes
        # from the stream, and python-barcode rejects them with an open set of exceptions (its
        # BarcodeError family, but also IndexError and RuntimeError from code128, ImportError without it).
        pass
    box = Image.new("L", (320, max(40, min(code.height, 200))), 255)
    draw = ImageDraw.Draw(box)
    draw.rectangle((0, 0, box.width - 1, box.height - 1), outline=0, width=2)
    draw.text((8, 8), f"[{code.kind}] {code.data}", font=_font(18, False), fill=0)
    return box


def render_document(doc: PrintedDocument) -> Image.Image:
    """The paper as printed: text in a 12×24-dot cell grid with size multipliers, images, QR codes."""
    import qrcode

    paper = doc.paper_width
    blocks: list[tuple[Image.Image | None, int, int]] = []  # (image, x, height)
    for e in doc.elements:
        if isinstance(e, Feed):
            blocks.append((None, 0, e.dots))
        elif isinstance(e, PrintedLine):
            runs = e.runs or (TextRun(e.text, e.width_mult, e.height_mult, e.bold),)
            rendered = [_render_run(r) for r in runs]
            height = max(r.height for r in rendered)
            line = Image.new("L", (sum(r.width for r in rendered), height), 255)
            x = 0
            for r in rendered:
                line.paste(r, (x, height - r.height))
                x += r.width
            pitch = max(height + 6, DEFAULT_LINE_SPACING)
            if line.width > paper:  # the printer wraps; so does the preview
                for left in range(0, line.width, paper):
                    blocks.append((line.crop((left, 0, min(line.width, left + paper), height)), 0, pitch))
            else:
                blocks.append((line, _x_for(e.align, line.width, paper), pitch))
        elif isinstance(e, PlacedImage):
            image = e.image.convert("L")
            if e.scale_x != 1 or e.scale_y != 1:
                image = image.resize((image.width * e.scale_x, image.height * e.scale_y))
            blocks.append((image, _x_for(e.align, image.width, paper), image.height))
        elif isinstance(e, PrintedQR):
            ecc = {
                "L": qrcode.constants.ERROR_CORRECT_L,
                "M": qrcode.constants.ERROR_CORRECT_M,
                "Q": qrcode.constants.ERROR_CORRECT_Q,
                "H": qrcode.constants.ERROR_CORRECT_H,
            }[e.error_correction]
            code = qrcode.QRCode(box_size=max(1, e.module_size), border=1, error_correction=ecc)
            code.add_data(e.payload)
            code.make(fit=True)
            image = code.make_image().get_image().convert("L")
            blocks.append((image, _x_for(e.align, image.width, paper), image.height + 8))
        elif isinstance(e, PrintedBarcode):
            image = _render_barcode(e)
            blocks.append((image, _x_for(e.align, image.width, paper), image.height + 8))
    margin = 16
    height = margin * 2 + sum(h for _, _, h in blocks) + (12 if doc.cut else 0)
    page = Image.new("L", (paper, max(height, margin * 2)), 255)
    y = margin
    for strip, x, h in blocks:
        if strip is not None:
            page.paste(strip, (x, y))
        y += h
    draw = ImageDraw.Draw(page)
    if doc.cut:  # a dashed line where the cutter went through
        for x in range(0, paper, 12):
            draw.line((x, page.height - 2, x + 6, page.height - 2), fill=0)
    return page
