"""The ticket's layout as bytes and as a picture, the status byte table, and connector settings.

The bytes are checked as a printer would read them: python-escpos's ``Dummy``
printer collects exactly what :func:`write_ticket` sends.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest
from escpos.printer import Dummy

from drivers.printing.connectors import PrinterConnectionError, open_printer
from drivers.printing.layout import LayoutOptions, render_bytes, render_png, write_ticket
from drivers.printing.printer_settings import parse_printer_settings
from drivers.printing.status import PrinterState, can_query_status, parse_status, query_status
from drivers.printing.ticket import PrintTicket
from tests.support import SAMPLE_TICKET

FS_AND = b"\x1c\x26"
FS_DOT = b"\x1c\x2e"
GS_BANG = b"\x1d\x21"
GS_V = b"\x1dV"
QR_STORE = b"\x1d(k"  # GS ( k pL pH cn fn ...

# punctuation only in the footer: python-escpos's magic encoder breaks on this
TICKET = replace(SAMPLE_TICKET, footer_zh="——……。！")


def dummy_output(ticket: PrintTicket, options: LayoutOptions) -> bytes:
    printer = Dummy()
    write_ticket(printer, ticket, options)
    return printer.output


# -- render_png -------------------------------------------------------------


@pytest.mark.parametrize(("paper_mm", "width"), [(58, 384), (80, 576)])
@pytest.mark.parametrize("chinese", ["gb18030", "raster"])
def test_render_png_is_exactly_as_wide_as_the_paper(paper_mm: int, width: int, chinese: str, tmp_path: Path):
    image = render_png(TICKET, LayoutOptions(paper_mm=paper_mm, chinese=chinese))
    assert image.width == width
    assert image.mode in ("1", "L")
    # site, service, number, lines, QR (~35 modules × 6–8 dots), footer: between ~0.7 and 4 paper widths
    assert 500 < image.height < 2000
    gray = image.convert("L")
    histogram = gray.histogram()
    dark = sum(histogram[:128])
    assert 0.02 < dark / (image.width * image.height) < 0.5  # ink, but not a black page
    path = tmp_path / "ticket.png"
    image.save(path)
    assert path.stat().st_size > 1000


def test_render_png_number_is_bigger_with_a_bigger_number_size():
    small = render_png(TICKET, LayoutOptions(paper_mm=80, number_size=2))
    big = render_png(TICKET, LayoutOptions(paper_mm=80, number_size=6))
    assert big.height - small.height >= 4 * 24  # four more 24-dot line heights for the number


def test_render_png_without_estimate_or_footer_still_draws():
    bare = PrintTicket(
        **{**TICKET.to_dict(), "estimated_wait_minutes": None, "footer_zh": "", "footer_en": ""}
    )
    full = render_png(TICKET, LayoutOptions(paper_mm=58))
    image = render_png(bare, LayoutOptions(paper_mm=58))
    assert image.width == 384
    assert image.height < full.height


# -- write_ticket -----------------------------------------------------------


@pytest.mark.parametrize("paper_mm", [58, 80])
def test_chinese_is_gb18030_inside_fs_and(paper_mm: int):
    out = dummy_output(TICKET, LayoutOptions(paper_mm=paper_mm))
    service = TICKET.service_name_zh.encode("gb18030")
    assert FS_AND + service + FS_DOT in out
    assert FS_AND + TICKET.site_name_zh.encode("gb18030") + FS_DOT in out
    assert FS_AND + "前面还有 7 人".encode("gb18030") + FS_DOT in out
    assert FS_AND + "预计等待 18 分钟".encode("gb18030") + FS_DOT in out
    # nothing Chinese leaks out as UTF-8
    assert TICKET.service_name_zh.encode("utf-8") not in out


def test_an_appointment_ticket_says_so_on_paper():
    mark = "预约 Appointment".encode("gb18030")
    assert mark not in dummy_output(TICKET, LayoutOptions(paper_mm=80))
    booked = replace(TICKET, appointment=True)
    assert FS_AND + mark + FS_DOT in dummy_output(booked, LayoutOptions(paper_mm=80))
    assert booked.to_dict()["appointment"] is True and type(booked).from_dict(booked.to_dict()) == booked


def test_punctuation_only_footer_is_encoded_correctly():
    out = dummy_output(TICKET, LayoutOptions(paper_mm=80))
    footer = "——……。！".encode("gb18030")
    assert footer == b"\xa1\xaa\xa1\xaa\xa1\xad\xa1\xad\xa1\xa3\xa3\xa1"
    assert FS_AND + footer + FS_DOT + b"\n" in out


@pytest.mark.parametrize(
    ("paper_mm", "number_size", "expected"),
    [(80, None, 0x33), (58, None, 0x22), (80, 6, 0x55), (58, 1, 0x00), (80, 8, 0x77)],
)
def test_number_is_printed_at_the_configured_size(paper_mm: int, number_size: int | None, expected: int):
    out = dummy_output(TICKET, LayoutOptions(paper_mm=paper_mm, number_size=number_size))
    assert GS_BANG + bytes((expected,)) + b"A012\n" in out
    # and the size is reset before the next line
    after = out.split(b"A012\n", 1)[1]
    assert after.index(GS_BANG + b"\x00") < after.index(FS_AND)


def test_service_name_is_double_size():
    out = dummy_output(TICKET, LayoutOptions())
    assert GS_BANG + b"\x11" + FS_AND + TICKET.service_name_zh.encode("gb18030") in out


def test_native_qr_stores_the_status_url():
    out = dummy_output(TICKET, LayoutOptions(qr="native"))
    url = TICKET.status_url.encode()
    length = len(url) + 3  # cn fn m + data
    store = QR_STORE + bytes((length & 0xFF, length >> 8)) + b"1P0" + url  # cn=49 '1', fn=80 'P', m=48 '0'
    assert store in out
    assert QR_STORE + b"\x04\x001A2\x00" in out  # model 2
    assert QR_STORE + b"\x03\x001Q0" in out  # print the stored symbol


def test_raster_qr_and_raster_chinese_send_images_not_text():
    out = dummy_output(TICKET, LayoutOptions(qr="raster", chinese="raster"))
    assert QR_STORE not in out
    assert FS_AND not in out
    assert TICKET.service_name_zh.encode("gb18030") not in out
    assert out.count(b"\x1dv0") >= 6  # GS v 0: site, service, ahead, wait, footer, QR
    assert GS_BANG + b"\x33" + b"A012" in out  # the number stays text


def test_exactly_one_cut_at_the_end():
    for options in (LayoutOptions(), LayoutOptions(paper_mm=58, qr="raster", chinese="raster")):
        out = dummy_output(TICKET, options)
        assert out.count(GS_V) == 1
        assert out.endswith(b"\x1bd\x06" + GS_V + b"\x00")


def test_no_esc_at_in_the_layout_and_render_bytes_matches_write_ticket():
    out = dummy_output(TICKET, LayoutOptions())
    assert b"\x1b@" not in out  # resetting the printer is the spooler's call
    assert render_bytes(TICKET, LayoutOptions()) == out


def test_control_characters_in_names_are_dropped():
    sneaky = PrintTicket(
        **{**TICKET.to_dict(), "service_name_en": "Cash\x1dV\x00 desk", "site_name_zh": "营业\x1b@厅"}
    )
    out = dummy_output(sneaky, LayoutOptions())
    assert out.count(GS_V) == 1
    assert b"CashV desk" in out
    assert FS_AND + "营业@厅".encode("gb18030") + FS_DOT in out


def test_ticket_and_options_round_trip_as_json_dicts():
    assert PrintTicket.from_dict(TICKET.to_dict()) == TICKET
    options = LayoutOptions(paper_mm=58, chinese="raster", qr="raster", number_size=5)
    assert LayoutOptions.from_dict(options.to_dict()) == options
    with pytest.raises(ValueError, match="'colour'"):
        PrintTicket.from_dict({**TICKET.to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="'number'"):
        PrintTicket.from_dict({k: v for k, v in TICKET.to_dict().items() if k != "number"})


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"paper_mm": 76}, "paper_mm"),
        ({"chinese": "big5"}, "chinese"),
        ({"qr": "png"}, "qr"),
        ({"number_size": 9}, "number_size"),
        ({"number_size": 0}, "number_size"),
    ],
)
def test_layout_options_refuse_bad_values(kwargs: dict, key: str):
    with pytest.raises(ValueError, match=key):
        LayoutOptions(**kwargs)


# -- status bytes -----------------------------------------------------------

OK = 0x12

STATUS_TABLE = [
    # (DLE EOT 1, 2, 3, 4) → state
    ((OK, OK, OK, OK), PrinterState.ONLINE),
    ((OK | 0x08, OK, OK, OK), PrinterState.OFFLINE),
    ((OK | 0x08, OK | 0x04, OK, OK), PrinterState.COVER_OPEN),
    ((OK, OK | 0x04, OK, OK), PrinterState.COVER_OPEN),
    ((OK | 0x08, OK | 0x20, OK, OK), PrinterState.PAPER_OUT),
    ((OK | 0x08, OK | 0x20, OK, OK | 0x60), PrinterState.PAPER_OUT),
    ((OK, OK, OK, OK | 0x60), PrinterState.PAPER_OUT),
    ((OK | 0x08, OK | 0x40, OK | 0x08, OK), PrinterState.ERROR),  # cutter
    ((OK | 0x08, OK | 0x40, OK | 0x20, OK), PrinterState.ERROR),  # unrecoverable
    ((OK | 0x08, OK | 0x40, OK | 0x40, OK), PrinterState.ERROR),  # auto-recoverable
    ((OK, OK, OK, OK | 0x0C), PrinterState.PAPER_NEAR_END),
    ((OK | 0x08, OK | 0x04 | 0x20, OK, OK | 0x60), PrinterState.COVER_OPEN),  # the cover first
    ((OK, OK, OK, OK | 0x0C | 0x60), PrinterState.PAPER_OUT),  # out wins over near end
    ((0x00, OK, OK, OK), PrinterState.UNKNOWN),  # bits 1 and 4 must be set
    ((OK | 0x80, OK, OK, OK), PrinterState.UNKNOWN),  # bit 7 must be clear
    ((OK, None, OK, OK), PrinterState.UNKNOWN),  # one query unanswered
    ((OK, OK, OK), PrinterState.UNKNOWN),  # too few answers
]


@pytest.mark.parametrize(("answers", "expected"), STATUS_TABLE)
def test_status_bytes(answers: tuple, expected: PrinterState):
    assert parse_status(answers) is expected
    if None not in answers:
        assert parse_status(bytes(answers)) is expected


def test_only_online_and_near_end_are_ready():
    assert {s for s in PrinterState if s.ready} == {PrinterState.ONLINE, PrinterState.PAPER_NEAR_END}


def _answering_server(answers: bytes | None) -> tuple[socket.socket, int]:
    """A one-connection TCP peer that answers each DLE EOT n with answers[n-1] (None: never answers)."""
    import threading

    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            buf = b""
            while True:
                data = conn.recv(64)
                if not data:
                    return
                buf += data
                while answers is not None and len(buf) >= 3 and buf[:2] == b"\x10\x04":
                    conn.sendall(answers[buf[2] - 1 : buf[2]])
                    buf = buf[3:]

    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_query_status_over_tcp_reads_one_byte_per_query():
    server, port = _answering_server(bytes((OK, OK, OK, OK | 0x0C)))
    printer = open_printer({"connector": "network", "host": "127.0.0.1", "port": port, "timeout": 2})
    try:
        assert query_status(printer, timeout=2) is PrinterState.PAPER_NEAR_END
        assert query_status(printer, timeout=2) is PrinterState.PAPER_NEAR_END  # again: nothing left over
    finally:
        printer.close()
        server.close()


def test_query_status_of_a_silent_printer_is_unknown_within_the_timeout():
    import time

    server, port = _answering_server(None)
    printer = open_printer({"connector": "network", "host": "127.0.0.1", "port": port, "timeout": 5})
    try:
        started = time.monotonic()
        assert query_status(printer, timeout=0.3) is PrinterState.UNKNOWN
        assert time.monotonic() - started < 1.5
        assert printer.device.gettimeout() == 5  # the socket's own timeout is restored
    finally:
        printer.close()
        server.close()


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("online", PrinterState.ONLINE),
        ("paper_near_end", PrinterState.PAPER_NEAR_END),
        ("cover_open", PrinterState.COVER_OPEN),
        ("silent", PrinterState.UNKNOWN),
    ],
)
def test_query_status_over_a_serial_link(state: str, expected: PrinterState):
    from drivers.twins.virtual_printer import VirtualSerialPrinter

    with VirtualSerialPrinter(state=state) as twin:
        printer = open_printer({"connector": "serial", "port": twin.device_path, "parity": "N", "timeout": 2})
        try:
            assert query_status(printer, timeout=0.5) is expected
        finally:
            printer.close()
        assert query_status(printer, timeout=0.5) is PrinterState.DISCONNECTED  # closed: reopen it


def test_query_status_of_a_file_or_dummy_is_unknown_without_asking(tmp_path: Path):
    target = tmp_path / "spool.bin"
    printer = open_printer({"connector": "file", "path": str(target)})
    try:
        assert not can_query_status(printer)
        assert query_status(printer, timeout=5) is PrinterState.UNKNOWN
    finally:
        printer.close()
    assert target.read_bytes() == b""  # nothing was sent
    assert query_status(Dummy(), timeout=5) is PrinterState.UNKNOWN
    assert query_status(None) is PrinterState.DISCONNECTED


# -- connectors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "connector: missing"),
        ({"connector": "bluetooth"}, "connector: unknown connector 'bluetooth'"),
        ({"connector": "network"}, "host: a network printer needs 'host'"),
        ({"connector": "network", "host": "10.0.0.5", "port": "printer"}, "port: a whole number"),
        ({"connector": "network", "host": "10.0.0.5", "port": 70000}, "port: a whole number from 1 to 65535"),
        ({"connector": "network", "host": "10.0.0.5", "timeout": -1}, "timeout: a positive number"),
        ({"connector": "serial"}, "port: a serial printer needs 'port'"),
        ({"connector": "serial", "port": 3}, "port: a serial printer's port is a device path"),
        (
            {"connector": "serial", "port": "/dev/ttyS0", "baud": 19200},
            "baud: not a setting of a serial printer",
        ),
        ({"connector": "serial", "port": "/dev/ttyS0", "parity": "X"}, "parity"),
        ({"connector": "usb", "vendor_id": 0x0416}, "product_id: a usb printer needs 'product_id'"),
        ({"connector": "usb", "vendor_id": "acme", "product_id": 1}, "vendor_id: a whole number"),
        ({"connector": "file"}, "path: a file printer needs 'path'"),
    ],
)
def test_connector_settings_errors_name_the_key(settings: dict, message: str):
    with pytest.raises(ValueError) as err:
        open_printer(settings)
    assert message in str(err.value)


def test_connector_defaults_and_layout_keys_pass():
    network = parse_printer_settings({"connector": "network", "host": "printer.local", "paper_mm": 58})
    assert network.connection()["port"] == 9100
    serial = parse_printer_settings({"connector": "serial", "port": "/dev/ttyUSB0"})
    assert serial.connection()["baudrate"] == 9600
    usb = parse_printer_settings({"connector": "usb", "vendor_id": "0x0416", "product_id": 0x5011})
    assert usb.connection()["vendor_id"] == 0x0416


def test_unreachable_printers_raise_connection_errors(tmp_path: Path):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(PrinterConnectionError, match="network printer"):
        open_printer({"connector": "network", "host": "127.0.0.1", "port": port, "timeout": 1})
    with pytest.raises(PrinterConnectionError, match="serial printer"):
        open_printer({"connector": "serial", "port": str(tmp_path / "no-such-tty")})
    with pytest.raises(PrinterConnectionError, match="file printer"):
        open_printer({"connector": "file", "path": str(tmp_path / "missing-dir" / "lp0")})


def test_file_printer_appends_whole_tickets(tmp_path: Path):
    target = tmp_path / "spool.bin"
    for _ in range(2):  # reopening must not erase the first ticket
        printer = open_printer({"connector": "file", "path": str(target), "timeout": 5.0})
        write_ticket(printer, TICKET, LayoutOptions())
        printer.close()
    assert target.read_bytes().count(GS_V) == 2
