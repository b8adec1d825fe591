"""The checksums serial displays and keypads use: sum8, xor, CRC16/Modbus.

Kept tiny and dependency-free: the framed protocol and its twin both call
these, and the tests check CRC16/Modbus against pymodbus's own.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["CHECKSUMS", "crc16_modbus", "sum8", "xor8"]


def sum8(data: bytes) -> int:
    """The low byte of the sum of all bytes (one byte)."""
    return sum(data) & 0xFF


def xor8(data: bytes) -> int:
    """All bytes XORed together (one byte)."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC16_TABLE = _crc16_table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first on the wire."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC16_TABLE[(crc ^ byte) & 0xFF]
    return crc


#: name → (function, size in bytes, the byte order it is usually sent in)
CHECKSUMS: dict[str, tuple[Callable[[bytes], int], int, str]] = {
    "sum8": (sum8, 1, "big"),
    "xor": (xor8, 1, "big"),
    "crc16-modbus": (crc16_modbus, 2, "little"),
}
