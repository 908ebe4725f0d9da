"""The otadata partition the virtual bootloader reads to choose the app slot, as ESP-IDF writes it."""

from __future__ import annotations

import struct
import zlib

from app.sim.ota import selected_sequence

_BLANK = b"\xff" * 0x2000


def _entry(seq: int, crc: int | None = None) -> bytes:
    check = zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF) if crc is None else crc
    return struct.pack("<I20sII", seq, b"\xff" * 20, 0xFFFFFFFF, check)


def _otadata(first: bytes = b"", second: bytes = b"") -> bytes:
    data = bytearray(_BLANK)
    data[: len(first)] = first
    data[0x1000 : 0x1000 + len(second)] = second
    return bytes(data)


def test_erased_otadata_boots_the_factory_app() -> None:
    assert selected_sequence(_BLANK) is None


def test_the_highest_valid_sequence_wins() -> None:
    assert selected_sequence(_otadata(_entry(1))) == 1
    assert selected_sequence(_otadata(_entry(3), _entry(2))) == 3
    assert selected_sequence(_otadata(_entry(5, crc=0x1234), _entry(4))) == 4  # a torn write is ignored
