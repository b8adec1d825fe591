"""Each display protocol over a real pty to its virtual twin; assertions on what the twin decoded.

The driver (a :class:`~drivers.bus.SerialBus` and a display driver on it)
opens the twin's pty through a symlink with pyserial, exactly as it would open
``/dev/ttyUSB0``. The twin parses every byte with its own copy of the protocol,
checks checksums, answers, and keeps what each display shows. Tests wait on the
twin's condition or on events set by the driver's callbacks; nothing sleeps to
synchronise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.pdu.register_message import WriteMultipleRegistersRequest

from drivers.bus import DeviceState, SerialBus
from drivers.signs.checksums import crc16_modbus, sum8, xor8
from drivers.signs.framed import FramedDisplays
from drivers.signs.frames import FRAME_PRESETS, FrameFormat, FrameFormatError
from drivers.signs.modbus import ModbusDisplays, text_registers
from drivers.signs.vfd import VfdDisplay
from drivers.twins.virtual_bus import (
    VirtualFramedDisplays,
    VirtualModbusDisplays,
    VirtualSerialBus,
    VirtualVfd,
)

WAIT = 5.0


def preset(name: str) -> FrameFormat:
    return FrameFormat(FRAME_PRESETS[name], name=name)


class Health:
    """on_device / on_bus callbacks, with an Event per (device, state) to wait on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[tuple, threading.Event] = {}
        self.seen: list[tuple[str, str, str]] = []

    def _event(self, key: tuple) -> threading.Event:
        with self._lock:
            return self._events.setdefault(key, threading.Event())

    def on_device(self, device: str, state: DeviceState, detail: str) -> None:
        with self._lock:
            self.seen.append((device, state.value, detail))
        self._event((device, state.value)).set()

    def on_bus(self, name: str, state, detail: str) -> None:
        self._event(("bus", state.value)).set()

    def reached(self, device: str, state: str, timeout: float = WAIT) -> bool:
        return self._event((device, state)).wait(timeout)


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[VirtualSerialBus]:
    bus = VirtualSerialBus(link=tmp_path / "ttyVIRT0")
    yield bus
    bus.stop()


@pytest.fixture
def health() -> Health:
    return Health()


@pytest.fixture
def buses() -> Iterator[list[SerialBus]]:
    made: list[SerialBus] = []
    yield made
    for bus in made:
        bus.close()


def open_bus(twin: VirtualSerialBus, health: Health, buses: list[SerialBus], **options) -> SerialBus:
    options.setdefault("reply_timeout", 0.1)
    bus = SerialBus(twin.path, on_device=health.on_device, on_bus=health.on_bus, **options)
    buses.append(bus)
    return bus


# --------------------------------------------------------------------------- frame formats


def test_checksums_match_pymodbus_and_known_values() -> None:
    data = bytes.fromhex("01 10 00 00 00 02 04 41 30 31 32")
    assert crc16_modbus(data) == int.from_bytes(FramerRTU.compute_CRC(data).to_bytes(2, "big"), "little")
    assert crc16_modbus(b"123456789") == 0x4B37  # the CRC-16/MODBUS check value
    assert sum8(b"\x03\x04A012") == (3 + 4 + 0x41 + 0x30 + 0x31 + 0x32) & 0xFF
    assert xor8(b"\x02\x4b\x01") == 0x02 ^ 0x4B ^ 0x01


def test_generic_stx_frame_bytes_as_documented() -> None:
    fmt = preset("generic-stx")
    frame = fmt.encode(3, fmt.encode_text("A012"))
    # 02 | 03 | 08 | "    A012" (right-aligned in 8) | sum8(03 08 text) | 03
    text = b"    A012"
    assert frame == b"\x02\x03\x08" + text + bytes([sum8(b"\x03\x08" + text)]) + b"\x03"


def test_aa55_frame_bytes_as_documented() -> None:
    fmt = preset("aa55-gb2312")
    payload = fmt.encode_text("请A012")
    assert payload == "请A012".encode("gb2312").ljust(16, b" ")
    frame = fmt.encode(7, payload, "show")
    body = b"\x07\x01\x00\x10" + payload
    assert frame == b"\xaa\x55" + body + crc16_modbus(body).to_bytes(2, "little")
    decoded = fmt.decode(frame)
    assert decoded is not None and decoded.address == 7 and fmt.decode_text(decoded.payload) == "请A012"


def test_parser_finds_frames_among_noise_and_rejects_bad_checksums() -> None:
    fmt = preset("generic-stx")
    good = fmt.encode(1, b"A001")
    bad = bytearray(fmt.encode(2, b"A002"))
    bad[-2] ^= 0x55
    parser = fmt.parser()
    found = []
    stream = b"\x06\x15garbage" + good + bytes(bad) + b"\x00\x06" + fmt.encode(3, b"A003")
    for i in range(0, len(stream), 3):  # arriving in pieces
        found += parser.feed(stream[i : i + 3])
    assert [(type(f).__name__, f.address) for f in found] == [
        ("DecodedFrame", 1),
        ("Rejected", 2),
        ("DecodedFrame", 3),
    ]
    assert found[1].reason == "checksum"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"layout": ["address", "payload"], "header": "02"}, "header"),
        ({"layout": ["header", "address", "payload", "checksum"], "header": "02"}, "trailer"),
        (
            {
                "layout": ["header", "address", "payload", "checksum", "trailer"],
                "header": "02",
                "trailer": "03",
                "checksum": {"kind": "sum8"},
            },
            "ascii-hex",
        ),
        ({**FRAME_PRESETS["generic-stx"], "checksum": {"kind": "crc32"}}, "checksum.kind"),
        ({**FRAME_PRESETS["generic-stx"], "colour": "red"}, "unknown key"),
    ],
)
def test_impossible_formats_are_refused_with_the_key_named(spec: dict, problem: str) -> None:
    with pytest.raises(FrameFormatError, match=problem):
        FrameFormat(spec)


# --------------------------------------------------------------------------- framed displays


@pytest.mark.parametrize(
    ("name", "texts"),
    [
        ("generic-stx", {1: "A001", 2: "B017", 3: "A012"}),
        ("aa55-gb2312", {1: "请A001到1号", 2: "B017 2号窗口", 3: "请A012到3号窗口"}),
    ],
)
def test_framed_preset_several_displays_on_one_bus(
    twin: VirtualSerialBus, health: Health, buses: list[SerialBus], name: str, texts: dict[int, str]
) -> None:
    leds = twin.add(VirtualFramedDisplays(preset(name), [1, 2, 3]))
    twin.start()
    displays = FramedDisplays(open_bus(twin, health, buses), preset(name), [1, 2, 3])
    for address, text in texts.items():
        displays.show(address, text)
    assert twin.wait_for(lambda: leds.texts == texts, WAIT), leds.texts
    for address in texts:
        assert health.reached(f"{name}@{address}", "ok")
    assert twin.rejected == []

    displays.show(3, "A013")
    displays.clear(1)
    assert twin.wait_for(lambda: leds.texts == {**texts, 3: "A013", 1: ""}, WAIT), leds.texts
    assert {a: h.state for a, h in displays.health().items()} == dict.fromkeys((1, 2, 3), DeviceState.OK)


@pytest.mark.parametrize("name", ["generic-stx", "aa55-gb2312"])
def test_wrong_checksum_is_rejected_by_the_twin_and_not_shown(
    twin: VirtualSerialBus, name: str, tmp_path: Path
) -> None:
    fmt = preset(name)
    leds = twin.add(VirtualFramedDisplays(fmt, [5]))
    twin.start()
    good = fmt.encode(5, fmt.encode_text("A100"), "show" if fmt.needs_command else b"")
    bad = bytearray(fmt.encode(5, fmt.encode_text("EVIL"), "show" if fmt.needs_command else b""))
    checksum_at = len(bad) - len(fmt.trailer) - 1
    bad[checksum_at] ^= 0xFF
    with serial.serial_for_url(twin.path, baudrate=9600, timeout=2) as port:
        port.write(good)
        assert twin.wait_for(lambda: leds.texts.get(5) == "A100", WAIT)
        # Read the good frame's ACK (it may still be on its way), so only the NAK is left.
        ack = fmt.ack if fmt.ack is not None else fmt.encode(5, b"", fmt.ack_command)
        assert port.read(len(ack)) == ack
        port.write(bytes(bad))
        assert twin.wait_for(lambda: len(twin.rejected) == 1, WAIT)
        # The display NAKs the damaged frame addressed to it.
        answer = port.read(len(fmt.nak) if fmt.nak else len(fmt.encode(5, b"", fmt.nak_command)))
        if fmt.nak is not None:
            assert answer == fmt.nak
        else:
            decoded = fmt.decode(answer)
            assert decoded is not None and decoded.command == fmt.nak_command and decoded.address == 5
    rejected = twin.rejected[0]
    assert (rejected.reason, rejected.address, rejected.raw) == ("checksum", 5, bytes(bad))
    assert leds.texts[5] == "A100"
    assert [text for _, text in leds.shown] == ["A100"]


def test_a_display_that_does_not_answer_is_marked_faulty(
    twin: VirtualSerialBus, health: Health, buses: list[SerialBus]
) -> None:
    leds = twin.add(VirtualFramedDisplays(preset("generic-stx"), [1, 2], silent=[2]))
    twin.start()
    bus = open_bus(twin, health, buses, reply_timeout=0.05, retries=1)
    displays = FramedDisplays(bus, preset("generic-stx"), {1: "led-1", 2: "led-2"})
    displays.show(2, "A002")
    displays.show(1, "A001")
    assert health.reached("led-2", "faulty")
    assert health.reached("led-1", "ok")
    assert twin.wait_for(lambda: leds.texts == {1: "A001", 2: "A002"}, WAIT)  # shown, never acknowledged
    assert displays.health()[2].state == DeviceState.FAULTY
    assert displays.health()[2].detail == "no answer"
    # The faulty display sent two frames (first try + one retry); the healthy one one.
    assert [a for a, _ in leds.shown].count(2) == 2


def test_a_new_vendor_is_a_config_entry(
    twin: VirtualSerialBus, health: Health, buses: list[SerialBus]
) -> None:
    """ASCII address, no length field, XOR as two hex digits, CR ends the frame, 'OK' answers."""
    vendor = {
        "name": "hall-led-ascii",
        "layout": ["header", "address", "payload", "checksum", "trailer"],
        "header": "24",  # '$'
        "address": "ascii2",
        "encoding": "ascii",
        "text_width": 6,
        "checksum": {"kind": "xor", "covers": ["address", "payload"], "format": "ascii-hex"},
        "trailer": "0D",
        "ack": "4F 4B",  # "OK"
    }
    fmt = FrameFormat(vendor)
    frame = fmt.encode(12, fmt.encode_text("C042"))
    assert frame == b"$12C042  " + f"{xor8(b'12C042  '):02X}".encode() + b"\r"
    leds = twin.add(VirtualFramedDisplays(FrameFormat(vendor), [12, 13]))
    twin.start()
    displays = FramedDisplays(open_bus(twin, health, buses), FrameFormat(vendor), [12, 13])
    displays.show(12, "C042")
    displays.show(13, "C043")
    assert twin.wait_for(lambda: leds.texts == {12: "C042", 13: "C043"}, WAIT)
    assert health.reached("hall-led-ascii@13", "ok")


def test_show_reaches_the_display_within_100_ms(
    twin: VirtualSerialBus, health: Health, buses: list[SerialBus]
) -> None:
    leds = twin.add(VirtualFramedDisplays(preset("generic-stx"), [1, 2, 3]))
    twin.start()
    displays = FramedDisplays(open_bus(twin, health, buses), preset("generic-stx"), [1, 2, 3])
    displays.show(1, "A000")
    assert twin.wait_for(lambda: leds.texts.get(1) == "A000", WAIT)  # connected and idle
    worst = 0.0
    for n in range(1, 21):
        started = time.monotonic()
        displays.show(3, f"A{n:03d}")
        assert twin.wait_for(lambda n=n: leds.texts.get(3) == f"A{n:03d}", WAIT)
        worst = max(worst, time.monotonic() - started)
    assert worst < 0.1, f"slowest show took {worst * 1000:.1f} ms"


def test_show_never_waits_for_a_missing_port(tmp_path: Path, health: Health, buses: list[SerialBus]) -> None:
    bus = SerialBus(str(tmp_path / "ttyUSB-missing"), on_bus=health.on_bus, on_device=health.on_device)
    buses.append(bus)
    displays = FramedDisplays(bus, preset("generic-stx"), [1, 2, 3])
    started = time.monotonic()
    for n in range(300):
        displays.show(1 + n % 3, f"A{n:03d}")
    assert time.monotonic() - started < 0.5
    assert health.reached("bus", "disconnected")
    assert "cannot open" in bus.health().detail
    assert displays.text(3) == "A299"


# --------------------------------------------------------------------------- Modbus RTU


def test_modbus_displays_registers(twin: VirtualSerialBus, health: Health, buses: list[SerialBus]) -> None:
    units = twin.add(VirtualModbusDisplays([1, 2]))
    twin.start()
    registers = {"text": 0, "text_registers": 4, "number": 10, "counter": 11, "brightness": 20}
    displays = ModbusDisplays(
        open_bus(twin, health, buses), [1, 2], registers, counters={1: 3, 2: 4}, brightness=6
    )
    displays.show(1, "A012")
    displays.show(2, "B107")
    expected = {
        1: {0: 0x4130, 1: 0x3132, 2: 0x2020, 3: 0x2020, 10: 12, 11: 3, 20: 6},
        2: {0: 0x4231, 1: 0x3037, 2: 0x2020, 3: 0x2020, 10: 107, 11: 4, 20: 6},
    }
    assert twin.wait_for(lambda: units.registers == expected, WAIT), units.registers
    assert units.text(1, 0, 4) == "A012"
    assert health.reached("modbus@1", "ok") and health.reached("modbus@2", "ok")

    displays.clear(2)
    assert twin.wait_for(lambda: units.registers[2].get(10) == 0, WAIT)
    assert units.text(2, 0, 4) == "" and units.registers[2][11] == 0
    assert text_registers("A012", 2) == [0x4130, 0x3132]


def test_modbus_wrong_crc_is_rejected_and_not_answered(twin: VirtualSerialBus) -> None:
    units = twin.add(VirtualModbusDisplays([1]))
    twin.start()
    framer = FramerRTU(DecodePDU(is_server=False))

    def request(values: list[int]) -> bytes:
        return framer.buildFrame(WriteMultipleRegistersRequest(address=0, registers=values, dev_id=1))

    good, bad = request([0x4131]), bytearray(request([0x4545]))
    bad[-1] ^= 0xFF
    with serial.serial_for_url(twin.path, baudrate=9600, timeout=1) as port:
        port.write(bytes(bad))
        assert twin.wait_for(lambda: len(twin.rejected) == 1, WAIT)
        port.write(good)
        answer = port.read(8)  # the answer to the good request only: 01 10 0000 0001 crc
    assert answer[:6] == bytes.fromhex("01 10 00 00 00 01")
    assert twin.rejected[0].reason == "crc" and twin.rejected[0].raw == bytes(bad)
    assert units.registers[1] == {0: 0x4131}


def test_modbus_unit_that_does_not_answer_is_faulty(
    twin: VirtualSerialBus, health: Health, buses: list[SerialBus]
) -> None:
    twin.add(VirtualModbusDisplays([1]))
    twin.start()
    displays = ModbusDisplays(open_bus(twin, health, buses, retries=0), [1, 9])
    displays.show(9, "A001")
    displays.show(1, "A002")
    assert health.reached("modbus@9", "faulty")
    assert health.reached("modbus@1", "ok")


# --------------------------------------------------------------------------- VFD


@pytest.mark.parametrize("command_set", ["cd5220", "epson"])
def test_vfd_two_lines(
    twin: VirtualSerialBus, health: Health, buses: list[SerialBus], command_set: str
) -> None:
    vfd = twin.add(VirtualVfd(command_set))
    twin.start()
    display = VfdDisplay(open_bus(twin, health, buses), {3: "vfd-3"}, command_set=command_set)
    display.show(3, "A012\nPlease go to counter 3 now")
    assert twin.wait_for(lambda: vfd.lines == ("A012", "Please go to counter"), WAIT), vfd.lines
    assert vfd.inits == 1 and vfd.unknown == 0
    display.show(3, "A013")
    assert twin.wait_for(lambda: vfd.lines == ("A013", ""), WAIT), vfd.lines
    assert vfd.inits == 1  # ESC @ only after a (re)connect
    assert health.reached("vfd-3", "unconfirmed")  # a VFD never answers


@pytest.mark.parametrize(
    "changes",
    [
        {"length": {"size": 1, "covers": ["header", "address", "length", "payload", "checksum", "trailer"]}},
        {"length": {"size": 3, "format": "ascii", "covers": ["payload"]}, "address": "hex2"},
        {"length": {"size": 2, "byteorder": "little", "covers": ["payload"], "adjust": 2}},
        {"checksum": {"kind": "crc16-modbus", "covers": ["header", "address", "length", "payload"]}},
        {"checksum": {"kind": "xor", "format": "ascii-hex", "covers": ["payload"]}, "address": "ascii3"},
        {"checksum": {"kind": "none"}, "ack": None, "nak": None},
    ],
)
def test_format_variants_round_trip_through_the_parser(changes: dict) -> None:
    fmt = FrameFormat({**FRAME_PRESETS["generic-stx"], **changes})
    frames = [fmt.encode(a, fmt.encode_text(t)) for a, t in [(1, "A1"), (12, "B12"), (123, "C123")]]
    found = fmt.parser().feed(b"\x00\x06".join(frames))
    assert [(f.address, fmt.decode_text(f.payload)) for f in found] == [(1, "A1"), (12, "B12"), (123, "C123")]
    damaged = bytearray(frames[1])
    damaged[len(fmt.header) + fmt.address_size + (fmt.length or {}).get("size", 0) + 6] ^= 0x01  # in the text
    result = fmt.decode(bytes(damaged))
    if fmt.checksum is None:
        assert result is not None and fmt.decode_text(result.payload) != "B12"
    else:
        assert result is not None and result.reason == "checksum"
