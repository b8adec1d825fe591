"""The ticket's layout, once: as ESC/POS for the printer and as a PNG for the admin's preview.

Both outputs walk the same list of blocks (:func:`ticket_blocks`), so the
preview cannot drift from the paper. Chinese text never goes through
python-escpos's automatic encoder (it guesses a code page per character and
breaks on lines made of punctuation only): it is encoded here with GB18030 and
written raw between ``FS &`` and ``FS .``, or drawn into an image for printers
without a Chinese font.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import qrcode
from escpos.constants import QR_ECLEVEL_M
from escpos.escpos import Escpos
from PIL import Image, ImageDraw, ImageFont

from .layout_options import LayoutOptions as LayoutOptions  # its home is layout_options; kept here too
from .ticket import PrintTicket

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"
LF = b"\n"
#: ``FS &``: enter Chinese (two-byte) character mode; ``FS .``: leave it.
CHINESE_ON = FS + b"&"
CHINESE_OFF = FS + b"."
#: ``GS !``: character size; the byte that follows is ``(width-1) << 4 | (height-1)``.
CHAR_SIZE = GS + b"!"
ALIGN = {"left": ESC + b"a\x00", "center": ESC + b"a\x01", "right": ESC + b"a\x02"}

#: Characters per line in font A (12 dots wide): the printed rule is this many dashes.
COLUMNS = {58: 32, 80: 48}
#: The QR code's module size in dots (``GS ( k`` function 167, python-escpos's ``size``).
QR_MODULE_DOTS = {58: 6, 80: 8}
#: Font A is 12×24 dots (a Chinese character 24×24), font B 9×17; a printed line is 30 dots high.
FONT_A_DOTS = 24
FONT_B_DOTS = 17
LINE_GAP_DOTS = 6
#: Where the Noto CJK fonts live on Debian/Ubuntu (fonts-noto-cjk), and the face index of Simplified Chinese.
CJK_FONT_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-{weight}.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-{weight}.ttc", 2),
)


@dataclass(frozen=True)
class TextBlock:
    text: str
    size: int = 1  # width and height multiplier (GS !)
    small: bool = False  # font B
    bold: bool = False


@dataclass(frozen=True)
class RuleBlock:
    pass


@dataclass(frozen=True)
class QRBlock:
    payload: str


@dataclass(frozen=True)
class LogoBlock:
    path: str


Block = TextBlock | RuleBlock | QRBlock | LogoBlock


def clean_text(text: str) -> str:
    """The text without control characters: a service name must not smuggle ESC/POS commands in."""
    text = text.replace("\t", " ")
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


def _lines(text: str, **style: Any) -> Iterator[TextBlock]:
    # Split on real line breaks only: str.splitlines() also splits on FS, GS and RS, which are dropped.
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = clean_text(line).strip()
        if line:
            yield TextBlock(line, **style)


def ticket_blocks(ticket: PrintTicket, options: LayoutOptions) -> list[Block]:
    """The paper, top to bottom (the feed and the cut follow the last block)."""
    blocks: list[Block] = []
    if options.logo:
        blocks.append(LogoBlock(options.logo))
    blocks += _lines(ticket.site_name_zh)
    blocks += _lines(ticket.site_name_en, small=True)
    blocks.append(RuleBlock())
    blocks += _lines(ticket.service_name_zh, size=2, bold=True)
    blocks += _lines(ticket.service_name_en)
    blocks += _lines(ticket.number, size=options.number_multiplier, bold=True)
    if ticket.appointment:
        blocks += _lines("预约 Appointment", size=2, bold=True)
    if ticket.copy:
        blocks += _lines("补打 COPY", size=2, bold=True)
        blocks += _lines("同一号码，请只用一张 / Same number: keep one", small=True)
    blocks += _lines(f"前面还有 {ticket.waiting_ahead} 人")
    blocks += _lines(f"{ticket.waiting_ahead} ahead", small=True)
    if ticket.estimated_wait_minutes is not None:
        blocks += _lines(f"预计等待 {ticket.estimated_wait_minutes} 分钟")
        blocks += _lines(f"Estimated wait {ticket.estimated_wait_minutes} min", small=True)
    elif ticket.no_estimate:
        blocks += _lines("暂无窗口办理，无法估计等待时间")
        blocks += _lines("No counter open: wait unknown", small=True)
    blocks += _lines(ticket.issued_at)
    if ticket.status_url:
        blocks.append(QRBlock(ticket.status_url))
    blocks += _lines(ticket.footer_zh)
    blocks += _lines(ticket.footer_en, small=True)
    return blocks


# -- ESC/POS -----------------------------------------------------------------


def size_byte(width: int, height: int | None = None) -> int:
    """The ``GS !`` argument for a width and height multiplier (1–8 each)."""
    height = width if height is None else height
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError(f"character size multipliers are 1 to 8, got {width}×{height}")
    return (width - 1) << 4 | (height - 1)


def encode_line(text: str) -> bytes:
    """One line's bytes: ASCII as it is, anything else as GB18030 inside ``FS &`` … ``FS .``."""
    if text.isascii():
        return text.encode("ascii")
    return CHINESE_ON + text.encode("gb18030") + CHINESE_OFF


def send_raw(printer: Escpos, data: bytes) -> None:
    """Write ESC/POS bytes to ``printer`` exactly as they are.

    python-escpos (3.1) has no public method for that: ``text()`` re-encodes through
    its code-page guesser, and the byte sink every printer class implements (Dummy,
    Serial, Network, Usb, File; ours in ``connectors`` inherit theirs) is the
    protected ``_raw``. This adapter is the one place that calls it.
    """
    printer._raw(data)  # noqa: SLF001  python-escpos's only raw write; see the docstring


def write_ticket(printer: Escpos, ticket: PrintTicket, options: LayoutOptions) -> None:
    """Send one ticket through a python-escpos printer object, ending with exactly one cut.

    The caller owns the connection and the printer's state: no ``ESC @`` here
    (the spooler resets a printer after a fault); every mode this layout sets
    is set explicitly for each line and reset at the end.
    """
    _declare_paper_width(printer, options)
    for block in ticket_blocks(ticket, options):
        if isinstance(block, TextBlock):
            _write_text(printer, block, options)
        elif isinstance(block, RuleBlock):
            rule = b"-" * COLUMNS[options.paper_mm]
            send_raw(
                printer, ALIGN["center"] + CHAR_SIZE + b"\x00" + ESC + b"M\x00" + ESC + b"E\x00" + rule + LF
            )
        elif isinstance(block, QRBlock):
            send_raw(printer, ALIGN["center"])
            if options.qr == "native":
                printer.qr(block.payload, ec=QR_ECLEVEL_M, size=QR_MODULE_DOTS[options.paper_mm], native=True)
                send_raw(printer, LF)
            else:
                printer.image(_full_width(qr_image(block.payload, options), options.dots))
        elif isinstance(block, LogoBlock):
            printer.image(_full_width(logo_image(block.path, options), options.dots))
    send_raw(printer, CHAR_SIZE + b"\x00" + ESC + b"E\x00" + ESC + b"M\x00" + ALIGN["left"])
    printer.cut()  # feeds past the cutter (ESC d 6), then one GS V


def _write_text(printer: Escpos, block: TextBlock, options: LayoutOptions) -> None:
    mode = ALIGN["center"] + ESC + b"M" + (b"\x01" if block.small else b"\x00")
    mode += ESC + b"E" + (b"\x01" if block.bold else b"\x00")
    if options.chinese == "raster" and not block.text.isascii():
        send_raw(printer, mode + CHAR_SIZE + b"\x00")
        printer.image(text_image(block, options))
        return
    send_raw(printer, mode + CHAR_SIZE + bytes((size_byte(block.size),)) + encode_line(block.text) + LF)


def _declare_paper_width(printer: Escpos, options: LayoutOptions) -> None:
    """Tell python-escpos this printer's width, on this printer object only.

    Its default profile knows no width, and ``image()`` then prints a warning
    to stdout for every image. Profile data is a class attribute shared by every
    printer of that profile, so the copy is set on the instance.
    """
    profile = printer.profile
    media = dict(profile.profile_data.get("media") or {})
    width = dict(media.get("width") or {})
    if width.get("pixels") == options.dots:
        return
    width.update(pixels=options.dots, mm=options.paper_mm)
    media.update(width=width, dpi=203)
    profile.profile_data = {**profile.profile_data, "media": media}


def render_bytes(ticket: PrintTicket, options: LayoutOptions) -> bytes:
    """The ticket as one ESC/POS byte string (what :func:`write_ticket` sends), for spoolers and agents."""
    from escpos.printer import Dummy

    dummy = Dummy()
    write_ticket(dummy, ticket, options)
    data: bytes = dummy.output
    return data


# -- images ------------------------------------------------------------------


def find_cjk_font(bold: bool = False) -> tuple[str, int]:
    """The Noto CJK font file and the index of its Simplified Chinese face (bold falls back to regular)."""
    weights = ("Bold", "Regular") if bold else ("Regular",)
    for weight in weights:
        for pattern, index in CJK_FONT_CANDIDATES:
            path = pattern.format(weight=weight)
            if Path(path).is_file():
                return path, index
    raise FileNotFoundError(
        "no Chinese font found for drawing tickets; install fonts-noto-cjk (looked for "
        + ", ".join(pattern.format(weight="Regular") for pattern, _ in CJK_FONT_CANDIDATES)
        + ")"
    )


_font_lock = threading.Lock()


@lru_cache(maxsize=32)
def _font(px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path, index = find_cjk_font(bold)
    return ImageFont.truetype(path, px, index=index)


def _text_px(block: TextBlock) -> int:
    return (FONT_B_DOTS if block.small else FONT_A_DOTS) * block.size


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy wrap to ``width`` dots: at a space when the line has one, else between characters."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if not line or font.getlength(line + ch) <= width:
            line += ch
            continue
        cut = line.rfind(" ")
        if ch != " " and cut > 0:
            lines.append(line[:cut])
            line = line[cut + 1 :] + ch
        else:
            lines.append(line)
            line = "" if ch == " " else ch
    if line:
        lines.append(line)
    return lines


def text_image(block: TextBlock, options: LayoutOptions) -> Image.Image:
    """One text block drawn centred across the paper's full width, wrapped, in black and white."""
    px = _text_px(block)
    font = _font(px, block.bold)
    line_height = px + LINE_GAP_DOTS * block.size
    with _font_lock:  # one FreeType face is shared by every thread that draws
        lines = _wrap(block.text, font, options.dots) or [""]
        img = Image.new("L", (options.dots, line_height * len(lines)), 255)
        draw = ImageDraw.Draw(img)
        for i, line in enumerate(lines):
            y = i * line_height + line_height // 2
            draw.text((options.dots // 2, y), line, font=font, fill=0, anchor="mm")
    return _threshold(img)


def qr_image(payload: str, options: LayoutOptions) -> Image.Image:
    """The QR code as the printer draws it natively: model 2, level M, the same module size."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=QR_MODULE_DOTS[options.paper_mm], border=2
    )
    code.add_data(payload)
    code.make(fit=True)
    img = code.make_image(fill_color="black", back_color="white").get_image().convert("L")
    if img.width > options.dots:
        img = img.resize((options.dots, options.dots), Image.Resampling.NEAREST)
    return _threshold(img)


def logo_image(path: str, options: LayoutOptions) -> Image.Image:
    """The logo in black and white, shrunk to the paper's width if wider."""
    with Image.open(path) as src:
        img = src.convert("RGBA")
    flat = Image.new("RGB", img.size, (255, 255, 255))
    flat.paste(img, mask=img.getchannel("A"))
    gray = flat.convert("L")
    if gray.width > options.dots:
        gray = gray.resize((options.dots, max(1, round(gray.height * options.dots / gray.width))))
    return gray.convert("1").convert("L")


def _threshold(img: Image.Image) -> Image.Image:
    """Pure black and white ("L" with 0 and 255 only): no dithering speckles around anti-aliased text."""
    return img.point(lambda v: 0 if v < 128 else 255)


def _full_width(img: Image.Image, dots: int) -> Image.Image:
    """Centre ``img`` on a white strip as wide as the paper (raster images ignore ``ESC a``)."""
    strip = Image.new("L", (dots, img.height), 255)
    strip.paste(img, ((dots - img.width) // 2, 0))
    return strip


def _rule_image(options: LayoutOptions) -> Image.Image:
    height = FONT_A_DOTS + LINE_GAP_DOTS
    img = Image.new("L", (options.dots, height), 255)
    draw = ImageDraw.Draw(img)
    dash, y = 12, height // 2
    for x in range(0, options.dots, dash):
        draw.line((x + 2, y, x + dash - 3, y), fill=0, width=2)
    return img


def render_png(ticket: PrintTicket, options: LayoutOptions) -> Image.Image:
    """The ticket as it comes out of the printer: a 1-bit image ``options.dots`` wide (384 or 576).

    Text is drawn with the Noto CJK font at the printer's sizes (24 dots a
    line, font B 17, ``GS !`` multiples), the QR code with the same module
    size as the native one. ``.save(path)`` writes the PNG.
    """
    strips: list[Image.Image] = [Image.new("L", (options.dots, FONT_A_DOTS), 255)]
    for block in ticket_blocks(ticket, options):
        if isinstance(block, TextBlock):
            strips.append(text_image(block, options))
        elif isinstance(block, RuleBlock):
            strips.append(_rule_image(options))
        elif isinstance(block, QRBlock):
            strips.append(_full_width(qr_image(block.payload, options), options.dots))
        elif isinstance(block, LogoBlock):
            strips.append(_full_width(logo_image(block.path, options), options.dots))
    feed = 6 * (FONT_A_DOTS + LINE_GAP_DOTS)  # ESC d 6 before the cut
    strips.append(Image.new("L", (options.dots, feed), 255))
    page = Image.new("L", (options.dots, sum(s.height for s in strips)), 255)
    y = 0
    for strip in strips:
        page.paste(strip, (0, y))
        y += strip.height
    return page.convert("1", dither=Image.Dither.NONE)
