"""The virtual printer and its ESC/POS decoder.

The twin is driven by the real python-escpos library over a real TCP socket and
a real pty; the assertions are on what the twin decoded from the bytes, and on
the status bytes that came back over the wire.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from escpos.printer import Network, Serial
from PIL import Image, ImageDraw

from drivers.twins.escpos_decode import (
    RASTER_QR_DECODING,
    ControlEvent,
    EscPosDecoder,
    Feed,
    PrintedBarcode,
    PrintedLine,
    decode,
)
from drivers.twins.virtual_printer import VirtualPrinter, VirtualSerialPrinter

ROOT = Path(__file__).resolve().parents[1]
ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"
CUT = GS + b"V\x00"
URL = "https://qcall.example/t/6f1c2a"


def send(printer: Network | Serial, data: bytes) -> None:
    """Raw bytes on the printer's open connection (python-escpos's public ``device``)."""
    if isinstance(printer, Network):
        printer.device.sendall(data)
    else:
        printer.device.write(data)


def zh(text: str) -> bytes:
    """Chinese the way the ticket driver sends it: FS &, GB18030 bytes, FS ."""
    return FS + b"&" + text.encode("gb18030") + FS + b"."


@pytest.fixture
def printer():
    with VirtualPrinter() as vp:
        yield vp


@pytest.fixture
def net(printer):
    p = Network("127.0.0.1", printer.port, timeout=3)
    yield p
    p.close()


def test_text_sizes_alignment_bold_and_chinese_over_tcp(printer, net):
    net.hw("INIT")
    net.set(align="center", bold=True, double_height=True, double_width=True)
    net.text("A012\n")
    net.set(normal_textsize=True, bold=False, align="left")
    send(net, GS + b"!\x33" + b"B7\n" + GS + b"!\x00")
    net.set(double_height=True)
    net.text("tall\n")
    net.set(normal_textsize=True)
    send(net, zh("请到3号窗口办理\n"))
    send(net, zh("——————\n"))
    send(net, zh("，。！\n"))
    send(net, ESC + b"a\x02" + zh("电费缴纳 Bill payment\n"))
    net.cut()

    assert printer.wait_for_documents(1, timeout=5)
    (doc,) = printer.documents
    assert doc.cut and doc.cut_mode == "full"
    assert doc.lines == [
        PrintedLine("A012", 2, 2, "center", True),
        PrintedLine("B7", 4, 4, "left", False),
        PrintedLine("tall", 1, 2, "left", False),
        PrintedLine("请到3号窗口办理", 1, 1, "left", False),
        PrintedLine("——————", 1, 1, "left", False),
        PrintedLine("，。！", 1, 1, "left", False),
        PrintedLine("电费缴纳 Bill payment", 1, 1, "right", False),
    ]
    assert doc.text.splitlines()[0] == "A012"
    assert not doc.warnings
    # GB18030 double-byte characters take two 12-dot cells, even the dashes.
    assert doc.lines[4].dots == 6 * 24
    assert doc.lines[1].dots == 2 * 12 * 4


def test_native_qr_payload_equals_url(printer, net):
    net.qr(URL, native=True, size=6, ec=3)
    net.cut()
    assert printer.wait_for_documents(1, timeout=5)
    (doc,) = printer.documents
    assert doc.qr_payloads == [URL]
    (qr,) = doc.qr_codes
    assert qr.native and qr.module_size == 6 and qr.error_correction == "H"


def test_raster_qr_is_an_image_and_reads_back(printer, net):
    net.qr(URL, native=False, size=4)
    net.cut()
    assert printer.wait_for_documents(1, timeout=5)
    (doc,) = printer.documents
    assert len(doc.images) == 1
    assert doc.images[0].mode == "1" and doc.images[0].width > 50
    if not RASTER_QR_DECODING:
        pytest.skip("pyzbar/libzbar0 not installed: raster QR payloads are not read back")
    assert doc.qr_payloads == [URL]
    assert not doc.qr_codes[0].native


def test_barcode(printer, net):
    net.barcode("4006381333931", "EAN13")
    net.barcode("QCALL-42", "CODE39", function_type="A")
    net.cut()
    assert printer.wait_for_documents(1, timeout=5)
    (doc,) = printer.documents
    assert [(b.kind, b.data) for b in doc.barcodes] == [("EAN13", "4006381333931"), ("CODE39", "QCALL-42")]


def _picture(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle((8, 8, 40, height - 9), fill="black")
    return image


@pytest.mark.parametrize(
    ("impl", "size"),
    [
        ("bitImageRaster", (96, 40)),  # GS v 0: whole bytes across, so 96 stays 96
        ("graphics", (96, 40)),  # GS ( L
        ("bitImageColumn", (96, 48)),  # ESC *: 24-dot stripes, 40 rows arrive as 48
    ],
)
def test_image_decoded_with_its_size_and_dots(printer, net, impl, size):
    net.image(_picture(96, 40), impl=impl)
    net.cut()
    assert printer.wait_for_documents(1, timeout=5)
    (doc,) = printer.documents
    (image,) = doc.images
    assert image.size == size
    assert image.getpixel((20, 20)) == 0  # inside the rectangle: a printed (black) dot
    assert image.getpixel((70, 20)) == 255
    assert image.getpixel((2, 2)) == 255
    assert not doc.lines


def test_one_document_per_cut(printer, net):
    for number in ("A001", "A002", "A003"):
        net.text(f"{number}\n")
        net.cut()
    send(net, b"B001\n" + GS + b"V\x42\x00")  # python-escpos cut(feed=False): GS V 66 0
    assert printer.wait_for_documents(4, timeout=5)
    docs = printer.documents
    assert [d.text for d in docs] == ["A001", "A002", "A003", "B001"]
    assert [d.cut_mode for d in docs] == ["full", "full", "full", "partial"]
    assert printer.partial_documents == []


def test_to_png_draws_the_ticket(printer, net, tmp_path):
    net.set(align="center", custom_size=True, width=4, height=4)
    net.text("A012\n")
    net.set(normal_textsize=True)
    send(net, zh("前面还有 3 人\n"))
    net.qr(URL, native=True)
    net.cut()
    assert printer.wait_for_documents(1, timeout=5)
    path = printer.documents[0].to_png(tmp_path / "ticket.png")
    assert path.stat().st_size > 500
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.width == 576  # 80 mm paper
        assert png.height > 4 * 24 + 24
        assert png.convert("L").getextrema()[0] == 0  # something black was drawn


# --------------------------------------------------------------------------- status

# The answers a printer sends for DLE EOT 1, 2, 3, 4, per state (docs/printing.md).
EXPECTED_STATUS = {
    "online": (0x12, 0x12, 0x12, 0x12),
    "paper_near_end": (0x12, 0x12, 0x12, 0x1E),
    "paper_out": (0x1A, 0x32, 0x12, 0x72),
    "cover_open": (0x1A, 0x16, 0x12, 0x12),
    "offline": (0x1A, 0x12, 0x12, 0x12),
    "error": (0x1A, 0x52, 0x1A, 0x12),
}


@pytest.mark.parametrize("state", sorted(EXPECTED_STATUS))
def test_status_answers_over_tcp(state):
    with VirtualPrinter(state=state) as vp:
        p = Network("127.0.0.1", vp.port, timeout=3)
        try:
            answers = tuple(p.query_status(DLE + b"\x04" + bytes([n]))[0] for n in (1, 2, 3, 4))
        finally:
            p.close()
        assert answers == EXPECTED_STATUS[state]
        assert vp.status_queries == 4
        # python-escpos's own reading of the bytes agrees
        p = Network("127.0.0.1", vp.port, timeout=3)
        try:
            assert p.is_online() is (state in ("online", "paper_near_end"))
            assert p.paper_status() == {"paper_out": 0, "paper_near_end": 1}.get(state, 2)
        finally:
            p.close()


def test_state_changes_at_runtime(printer, net):
    assert net.query_status(DLE + b"\x04\x04") == b"\x12"
    printer.state = "paper_near_end"
    assert net.query_status(DLE + b"\x04\x04") == b"\x1e"
    printer.state = "cover_open"
    assert net.query_status(DLE + b"\x04\x02") == b"\x16"
    with pytest.raises(ValueError):
        printer.state = "on fire"


def test_silent_printer_never_answers():
    with VirtualPrinter(state="silent") as vp:
        p = Network("127.0.0.1", vp.port, timeout=0.4)
        try:
            with pytest.raises(TimeoutError):
                p.query_status(DLE + b"\x04\x01")
            # it still prints: a silent printer is not a stopped one
            p.text("still printing\n")
            p.cut()
        finally:
            p.close()
        assert vp.wait_for_documents(1, timeout=5)
        assert vp.documents[0].text == "still printing"
        assert vp.status_queries == 1


@pytest.mark.parametrize("state", ["paper_out", "cover_open", "offline"])
def test_stopped_printer_discards_the_job_but_answers(state):
    with VirtualPrinter(state=state) as vp:
        p = Network("127.0.0.1", vp.port, timeout=3)
        try:
            p.text("lost\n")
            p.cut()
            assert p.query_status(DLE + b"\x04\x01")[0] & 0x08  # offline bit
            vp.state = "online"
            assert p.query_status(DLE + b"\x04\x01") == b"\x12"
            p.text("printed\n")
            p.cut()
        finally:
            p.close()
        assert vp.wait_for_documents(1, timeout=5)
        assert [d.text for d in vp.documents] == ["printed"]
        assert b"lost" in vp.raw


def test_paper_running_out_mid_job_leaves_a_partial_document(printer, net):
    net.text("first half\n")
    assert net.query_status(DLE + b"\x04\x04") == b"\x12"  # the bytes above have been decoded
    printer.state = "paper_out"
    net.text("second half\n")
    net.cut()
    assert net.query_status(DLE + b"\x04\x04") == b"\x72"
    assert printer.documents == []
    assert [d.text for d in printer.partial_documents] == ["first half"]


# --------------------------------------------------------------------------- connections


def test_dropped_connection_gives_a_partial_document_and_no_printed_one(printer):
    job = ESC + b"@" + b"A012 first line\n" + b"second line\n" + b"third line\n" + CUT
    printer.drop_next_connection_after(len(ESC + b"@" + b"A012 first line\nsec"))
    with socket.create_connection(("127.0.0.1", printer.port), timeout=3) as sock:
        with contextlib.suppress(OSError):  # the reset may or may not reach our sends
            for i in range(0, len(job), 8):
                sock.sendall(job[i : i + 8])
        assert printer.wait_for_partial_documents(1, timeout=5)
        # the printer reset the connection: reading shows it
        with contextlib.suppress(OSError):
            assert sock.recv(16) == b""
    assert printer.documents == []
    (partial,) = printer.partial_documents
    assert not partial.cut
    assert [line.text for line in partial.lines] == ["A012 first line", "sec"]
    assert CUT not in printer.raw

    # The same job again, whole, on a new connection: printed once, cleanly.
    p = Network("127.0.0.1", printer.port, timeout=3)
    send(p, job)
    p.close()
    assert printer.wait_for_documents(1, timeout=5)
    assert printer.documents[0].text == "A012 first line\nsecond line\nthird line"


def test_one_client_at_a_time_like_port_9100(printer):
    first = socket.create_connection(("127.0.0.1", printer.port), timeout=3)
    first.sendall(b"first job begins\n")
    second = socket.create_connection(("127.0.0.1", printer.port), timeout=3)
    second.sendall(b"second job\n" + CUT)  # waits in the backlog
    first.sendall(b"first job ends\n" + CUT)
    assert printer.wait_for_documents(1, timeout=5)
    assert not printer.wait_for_documents(2, timeout=0.3)  # second still queued
    first.close()
    assert printer.wait_for_documents(2, timeout=5)
    second.close()
    assert [d.text for d in printer.documents] == ["first job begins\nfirst job ends", "second job"]
    assert printer.connections == 2


# --------------------------------------------------------------------------- serial (pty)


def test_serial_printer_on_a_pty():
    with VirtualSerialPrinter() as vp:
        assert vp.device_path and os.path.exists(vp.device_path)
        p = Serial(devfile=vp.device_path, baudrate=19200, timeout=0.3)
        try:
            p.set(align="center", custom_size=True, width=3, height=3)
            p.text("B007\n")
            p.set(normal_textsize=True, align="left")
            send(p, zh("咨询查询\n"))
            p.qr(URL, native=True)
            assert p.query_status(DLE + b"\x04\x01") == b"\x12"
            vp.state = "paper_near_end"
            assert p.query_status(DLE + b"\x04\x04") == b"\x1e"
            p.cut()
        finally:
            p.close()
        assert vp.wait_for_documents(1, timeout=5)
        (doc,) = vp.documents
        assert doc.lines == [PrintedLine("B007", 3, 3, "center"), PrintedLine("咨询查询")]
        assert doc.qr_payloads == [URL]


@pytest.mark.parametrize("state", ["paper_out", "cover_open", "silent"])
def test_serial_status_answers(state):
    with VirtualSerialPrinter(state=state) as vp:
        p = Serial(devfile=vp.device_path, timeout=0.3)
        try:
            answers = [p.query_status(DLE + b"\x04" + bytes([n])) for n in (1, 2, 3, 4)]
        finally:
            p.close()
        if state == "silent":
            assert answers == [b""] * 4  # pyserial's read times out with nothing
        else:
            assert tuple(a[0] for a in answers) == EXPECTED_STATUS[state]


# --------------------------------------------------------------------------- by hand


def test_standalone_printer_writes_pngs(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "drivers.twins.virtual_printer", "--port", "0", "--png-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        banner = proc.stdout.readline()
        port = int(banner.split(" on ")[1].split(",")[0].rsplit(":", 1)[1])
        p = Network("127.0.0.1", port, timeout=3)
        p.text("A012\n")
        p.cut()
        p.close()
        printed = proc.stdout.readline()
        assert printed.startswith("printed ") and "A012" in printed
        assert (tmp_path / "ticket-0001.png").stat().st_size > 0
        proc.stdin.write("paper_out\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "state: paper_out"
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# --------------------------------------------------------------------------- the decoder alone


def test_long_and_unknown_commands_never_desync():
    raster = bytes([0x0A, 0x1D, 0x56, 0x00, 0x1B, 0x40, 0xFF, 0x10]) * 4  # LF, GS V 0, ESC @ inside data
    qr_data = b"\n\x1dV\x00x\x1b@y"
    stream = b"".join(
        [
            ESC + b"@",
            GS + b"v0\x00" + (2).to_bytes(2, "little") + (16).to_bytes(2, "little") + raster,
            GS + b"(k" + (3 + len(qr_data)).to_bytes(2, "little") + b"1P0" + qr_data,  # QR store
            GS + b"(E" + (5).to_bytes(2, "little") + b"\x03\n\x1dV\x00",  # user settings, LF and GS V inside
            ESC + b"*\x21" + (2).to_bytes(2, "little") + b"\x0a\x1d\x56" * 2,  # 24-dot column image
            ESC + b"D\x08\x10\x00",  # tab stops
            ESC + b"&\x03\x41\x41\x02" + b"\x0a\x1d" * 3,  # one user-defined character, 2 columns
            FS + b"q\x01" + b"\x01\x00\x01\x00" + b"\x0a" * 8,  # an NV bit image 8×8
            GS + b"8L" + (4).to_bytes(4, "little") + b"0\x45\x0a\x0a",  # large-data graphics fn we skip
            ESC + b"\x07",  # unknown ESC command: consumed with its byte
            GS + b"k\x04QCALL\x00",
            GS + b"k\x49\x06{BAB12",
            DLE + b"\x14\x01\x00\x05",  # real-time pulse
            b"TEXT\n",
            CUT,
            b"after\n",
        ]
    )
    whole = decode(stream, include_partial=True)
    assert len(whole) == 2
    doc, rest = whole
    assert doc.lines == [PrintedLine("TEXT")]
    assert [(b.kind, b.data) for b in doc.barcodes] == [("CODE39", "QCALL"), ("CODE128", "{BAB12")]
    assert [image.size for image in doc.images] == [(16, 16), (2, 24)]
    assert doc.warnings == ["unknown command ESC 0x07"]
    assert doc.qr_payloads == []  # stored, never printed
    assert doc.raw == stream[: stream.rindex(CUT) + len(CUT)]
    assert not rest.cut and rest.text == "after"
    assert decode(stream) == [doc]  # the uncut rest is not a printed document

    # Fed one byte at a time, the stream decodes the same.
    decoder = EscPosDecoder()
    for byte in stream:
        decoder.feed(bytes([byte]))
    assert [d.text for d in decoder.documents] == ["TEXT"]
    assert decoder.documents[0].barcodes == doc.barcodes
    assert [image.tobytes() for image in decoder.documents[0].images] == [i.tobytes() for i in doc.images]


def test_gb18030_pairs_four_byte_sequences_and_code_page_fallback():
    # 丂 is 0x81 0x40: its trail byte is "@", which must not be read as ASCII.
    # 𠀀 (U+20000) is a four-byte GB18030 sequence.
    text = "丂𠀀€——，。！ok"
    assert b"\x81\x40" in text.encode("gb18030")
    (doc,) = decode(FS + b"&" + text.encode("gb18030") + b"\n" + FS + b"." + b"\xe9t\xe9\n" + CUT)
    assert [line.text for line in doc.lines] == [text, "ΘtΘ"]  # 0xE9 in cp437 is Θ
    assert doc.lines[0].dots == (8 * 2 + 2) * 12
    assert any("cp437" in w for w in doc.warnings)


def test_sizes_modes_and_init_reset():
    stream = b"".join(
        [
            GS + b"!\x70" + b"w8\n",  # width 8, height 1
            GS + b"!\x07" + b"h8\n",  # width 1, height 8
            ESC + b"!\x38" + b"big bold\n",  # ESC ! : bold, double width and height
            ESC + b"E\x00" + ESC + b"a\x31" + b"plain centred\n",
            ESC + b"@" + FS + b"&" + b"reset\n",
            ESC + b"@" + "中".encode("gb18030") + b"\n",  # ESC @ left Chinese mode
            CUT,
        ]
    )
    (doc,) = decode(stream)
    assert doc.lines[:5] == [
        PrintedLine("w8", 8, 1),
        PrintedLine("h8", 1, 8),
        PrintedLine("big bold", 2, 2, "left", True),
        PrintedLine("plain centred", 2, 2, "center", False),
        PrintedLine("reset"),
    ]
    assert doc.lines[5].text == "中".encode("gb18030").decode("cp437") == "╓╨"  # printed from the code page
    # mixed sizes on one line: the line is as tall and wide as its biggest part
    (doc,) = decode(b"No. " + GS + b"!\x11" + b"A012" + GS + b"!\x00" + b"\n" + CUT)
    assert doc.lines == [PrintedLine("No. A012", 2, 2)]
    assert doc.lines[0].dots == (4 + 4 * 2) * 12


def test_cut_forms_and_feeds():
    stream = b"".join(
        [
            b"a\n" + GS + b"V\x00",
            b"b\n" + GS + b"V\x01",
            b"c\n" + GS + b"V\x30",
            b"d\n" + GS + b"V\x31",
            b"e\n" + GS + b"V\x41\x03",  # feed 3 dots then full cut: the 3 is not text
            b"f\n" + GS + b"V\x42\x50",
            b"g" + ESC + b"d\x02" + ESC + b"J\x10" + b"\n\n" + ESC + b"i",
        ]
    )
    docs = decode(stream)
    assert [d.text for d in docs] == list("abcdefg")
    assert [d.cut_mode for d in docs] == ["full", "partial", "full", "partial", "full", "partial", "full"]
    assert docs[4].elements[-1] == Feed(3)
    assert docs[6].elements == [PrintedLine("g"), Feed(2 * 30 + 16 + 2 * 30)]


def test_status_queries_and_realtime_commands_go_to_the_callback():
    events: list[ControlEvent] = []
    decoder = EscPosDecoder(on_control=events.append)
    clear_buffer = DLE + b"\x14\x08\x01\x03\x14\x01\x06\x02\x08"
    decoder.feed(DLE + b"\x04\x01" + b"x" + DLE + b"\x04\x04" + GS + b"r\x01" + clear_buffer)
    decoder.feed(ESC + b"p\x00\x32\x32" + DLE + b"\x04\x07\x01" + b"\n" + CUT)
    assert [(e.command, e.n) for e in events] == [
        ("DLE EOT", 1),
        ("DLE EOT", 4),
        ("GS r", 1),
        ("DLE DC4", 8),
        ("ESC p", 0),
        ("DLE EOT", 7),
    ]
    assert [d.text for d in decoder.documents] == ["x"]
    # while discarding (printer stopped) the queries are still reported
    decoder.discarding = True
    decoder.feed(b"nothing\n" + DLE + b"\x04\x02" + CUT)
    assert events[-1].n == 2
    assert len(decoder.documents) == 1


def test_raster_bits_and_column_stripes():
    # GS v 0, 1 byte wide, 2 rows: top-left and bottom-right dots
    (doc,) = decode(GS + b"v0\x00\x01\x00\x02\x00" + b"\x80\x01" + CUT)
    (image,) = doc.images
    assert image.size == (8, 2)
    assert image.getpixel((0, 0)) == 0 and image.getpixel((7, 1)) == 0 and image.getpixel((1, 0)) == 255
    # ESC * 8-dot stripes separated by LF are one image
    stripe = ESC + b"*\x01\x03\x00" + b"\x80\x00\x01"
    (doc,) = decode(ESC + b"3\x10" + stripe + b"\n" + stripe + b"\n" + ESC + b"2" + b"text\n" + CUT)
    (image,) = doc.images
    assert image.size == (3, 16)
    assert image.getpixel((0, 0)) == 0 and image.getpixel((2, 7)) == 0 and image.getpixel((0, 8)) == 0
    assert doc.lines == [PrintedLine("text")]


def test_two_d_settings_and_barcode_forms():
    qr = b"".join(
        [
            GS + b"(k\x04\x001A2\x00",  # model 2
            GS + b"(k\x03\x001C\x08",  # module size 8
            GS + b"(k\x03\x001E\x31",  # error correction M
            GS + b"(k" + (3 + 5).to_bytes(2, "little") + b"1P0hello",
            ESC + b"a\x01" + GS + b"(k\x03\x001Q0",
        ]
    )
    (doc,) = decode(qr + GS + b"h\x50" + GS + b"H\x02" + GS + b"k\x02" + b"4006381333931\x00" + CUT)
    (code,) = doc.qr_codes
    assert (code.payload, code.module_size, code.error_correction, code.align) == ("hello", 8, "M", "center")
    assert doc.barcodes == [PrintedBarcode("EAN13", "4006381333931", "center", 0x50, 3, 2)]


def test_wait_for_documents_uses_no_sleep(printer):
    results = []
    waiter = threading.Thread(target=lambda: results.append(printer.wait_for_documents(1, timeout=5)))
    waiter.start()
    with socket.create_connection(("127.0.0.1", printer.port), timeout=3) as sock:
        sock.sendall(b"x\n" + CUT)
    waiter.join(timeout=5)
    assert results == [True]
    assert printer.wait_for_documents(2, timeout=0.05) is False
